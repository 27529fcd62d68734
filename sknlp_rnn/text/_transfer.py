"""ULMFiT pieces for RNNTextClassifier: a pretrained encoder, layer groups,
gradual unfreezing and discriminative learning rates.

Depends on torch, skorch and scikit-learn.
"""

from __future__ import annotations

from sklearn.frozen import FrozenEstimator
from skorch.callbacks import Freezer, Unfreezer

from ..exceptions import NotFittedError
from ..nn import RNNEncoder
from ._language_model import SequenceLMRegressor


def language_model_of(encoder):
    """The fitted :class:`SequenceLMRegressor` behind ``encoder`` (or ``None``).

    ``encoder`` may be the model itself or a
    :class:`sklearn.frozen.FrozenEstimator` wrapping it (which ``clone`` keeps
    fitted, so grid searches and cross-validation reuse the pretrained model).
    """
    if encoder is None:
        return None
    lm = encoder.estimator if isinstance(encoder, FrozenEstimator) else encoder
    if not isinstance(lm, SequenceLMRegressor):
        raise TypeError(
            "encoder must be None, a fitted SequenceLMRegressor or a "
            f"FrozenEstimator wrapping one, got {type(lm).__name__}."
        )
    if not hasattr(lm, "net_"):
        raise NotFittedError(
            "encoder is an unfitted SequenceLMRegressor. Fit it first; note that "
            "clone() (used by GridSearchCV and cross_val_score) returns unfitted "
            "copies of estimator parameters, so pass "
            "encoder=sklearn.frozen.FrozenEstimator(fitted_lm) to keep it fitted."
        )
    return lm


def check_compatible(clf, lm, X):
    """Raise ``ValueError`` when ``clf`` cannot read ``X`` with ``lm``'s encoder."""
    for name in ("pad_idx", "unk_idx"):
        if getattr(clf, name) != getattr(lm, name):
            raise ValueError(
                f"{name}={getattr(clf, name)} differs from the language model's "
                f"{name}={getattr(lm, name)}; both must use the same Vocab."
            )
    top = int(X.max(initial=0))
    if top >= lm.vocab_size_:
        raise ValueError(
            f"Vocabulary size mismatch: X holds token id {top} but the language "
            f"model given as encoder knows {lm.vocab_size_} ids. Encode the "
            "classifier's text with the same fitted Tokenizer/Vocab as the "
            "language model (e.g. FrozenEstimator(vocab) in the pipeline)."
        )


def pretrained_encoder(lm, *, dropout):
    """A fresh :class:`RNNEncoder` with ``lm``'s architecture and weights.

    The copy has ``lm``'s embedding and recurrent weights (its decoder is left
    behind), its embedding and weight dropout, and the classifier's
    ``dropout``.
    """
    encoder = RNNEncoder(
        vocab_size=lm.vocab_size_,
        embedding_dim=lm.embedding_dim,
        hidden_size=lm.hidden_size,
        n_layers=lm.n_layers,
        cell=lm.cell,
        dropout=dropout,
        embedding_dropout=lm.embedding_dropout,
        weight_dropout=lm.weight_dropout,
        pad_idx=lm.pad_idx,
        last_hidden_size=lm.embedding_dim if lm.tie_weights else None,
        nonlinearity=lm.nonlinearity,
    )
    encoder.load_state_dict(lm.net_.module_.encoder.state_dict())
    return encoder


def layer_groups(n_layers):
    """Parameter-name patterns of the encoder's layer groups, bottom first."""
    return ["encoder.embedding.*"] + [f"encoder.rnns.{i}.*" for i in range(n_layers)]


def discriminative_lrs(n_layers, lr, lr_decay):
    """skorch ``optimizer__param_groups``: each group below the head gets the
    learning rate of the group above it divided by ``lr_decay``."""
    groups = layer_groups(n_layers)
    return [
        (pattern, {"lr": lr / lr_decay ** (len(groups) - i)})
        for i, pattern in enumerate(groups)
    ]


def unfreezing_callbacks(n_layers, freeze_epochs):
    """Freeze the encoder, then unfreeze one group per epoch from the top.

    The head trains alone for ``freeze_epochs`` epochs; in each following epoch
    one more encoder group (last recurrent layer first, embedding last)
    becomes trainable.
    """
    if freeze_epochs == 0:
        return []
    callbacks = [("freeze_encoder", Freezer("encoder.*", at=1))]
    for k, pattern in enumerate(reversed(layer_groups(n_layers))):
        unfreeze = Unfreezer(pattern, at=freeze_epochs + 1 + k)
        callbacks.append((f"unfreeze_{k}", unfreeze))
    return callbacks
