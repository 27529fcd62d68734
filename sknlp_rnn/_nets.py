"""The skorch nets that train every sknlp_rnn module (private).

One net, :class:`TorchNet`, holds the training step for all estimators; the
three subclasses only choose how batches are made (``get_iterator``):

- :class:`TabularNet`: whole tensors copied to the device once, batches cut by
  index (entity embeddings, collaborative filtering);
- :class:`StreamNet`: windows over one token stream, truncated BPTT (the
  language model);
- :class:`BucketNet`: documents of similar length per training batch (the text
  classifier).

The contract with the modules: ``forward`` returns ``(output, aux_loss)``,
where ``aux_loss`` is a scalar tensor added to the training loss (a penalty
the module computed from its own activations or weights, in training mode) or
``None``. Validation and prediction use ``output`` alone.

Depends on torch, skorch, numpy and the leaf modules ``_device`` and
``_batches``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import get_len, unpack_data
from skorch.exceptions import DeviceWarning
from skorch.utils import TeeGenerator, to_tensor

from ._batches import (
    StreamBatches,
    WholeTensorBatches,
    bucket_loader,
    on_device,
    ordered_loader,
    unwrap_subsets,
)
from ._device import autocast_context, to_float32

__all__ = ["BucketNet", "StreamNet", "TabularNet", "TorchNet", "pack_weights"]

# Net attributes (prefixes) pickled through skorch's device-mapping path.
_DEVICE_BOUND_ATTRIBUTES = ("module", "criterion", "callbacks", "grad_scaler_")

# Rows per batch when the tabular nets evaluate (validation loss, prediction):
# no gradients, and their modules give the same output whatever the batch.
PREDICT_BATCH_SIZE = 4096


def pack_weights(y, sample_weight):
    """``y`` (one row per sample) with ``sample_weight`` as a last column, in
    float32, and the shape of one sample's target (``TorchNet.target_shape``).

    Class codes survive the cast exactly (below 2**24 classes).
    """
    y = np.asarray(y)
    flat = y.reshape(len(y), -1).astype(np.float32)
    packed = np.column_stack([flat, np.asarray(sample_weight, dtype=np.float32)])
    return packed, tuple(y.shape[1:])


def split_output(y_pred):
    """``(output, aux_loss)`` of a module's return value (``aux_loss`` may be
    ``None``); a plain tensor is an output without auxiliary loss."""
    if isinstance(y_pred, tuple):
        return y_pred
    return y_pred, None


class TorchNet(NeuralNet):
    """The skorch net every estimator trains with.

    Its changes to skorch's ``NeuralNet``:

    - modules return ``(output, aux_loss)``: the training loss is the
      criterion's on ``output`` plus ``aux_loss``; the step records both
      (``loss`` and ``data_loss``); validation and prediction see ``output``;
    - one training step for every module, without the optimizer closure (only
      ``LBFGS`` keeps skorch's), and one hook for the backward pass,
      :meth:`backward`, where float16 loss scaling lives;
    - ``precision`` (``"32"``, ``"bf16"``, ``"fp16"``): forward passes run under
      ``torch.autocast`` in that dtype; losses and outputs are float32;
    - batch losses stay on the device and are read once per epoch (no host
      synchronisation per batch); a non-finite loss stops ``fit`` with a
      ``ValueError``;
    - ``target_shape`` (not ``None``) marks targets packed with sample weights:
      each row of ``y`` is the flattened target followed by its weight
      (:func:`pack_weights`), and the loss is the weighted mean of the
      criterion's per-sample losses (built with ``reduction="none"``);
    - ``base_lrs_``: each parameter group's rate as the optimizer was built,
      which the learning-rate schedules start from (:meth:`reset_lrs`);
    - callbacks are only called for the hooks they implement;
    - every attribute that may hold a device tensor is pickled through
      skorch's device-mapping path, so a net trained on a GPU unpickles on a
      CPU-only machine (the owning estimator warns there, so this net does not).
    """

    def __init__(self, *args, precision="32", target_shape=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.target_shape = target_shape

    def initialize(self):
        super().initialize()
        self.cuda_dependent_attributes_ = [
            *self.cuda_dependent_attributes_,
            *(
                name
                for name in _DEVICE_BOUND_ATTRIBUTES
                if name not in self.cuda_dependent_attributes_
            ),
        ]
        on_cuda = torch.device(self.device or "cpu").type == "cuda"
        self.grad_scaler_ = (
            torch.amp.GradScaler("cuda")
            if self.precision == "fp16" and on_cuda
            else None
        )
        return self

    def initialize_optimizer(self, *args, **kwargs):
        super().initialize_optimizer(*args, **kwargs)
        self.base_lrs_ = [group["lr"] for group in self.optimizer_.param_groups]
        return self

    def reset_lrs(self, lr):
        """Set every group's rate back to its base rate, rescaled to ``lr``
        (a continued fit starts from the rates it was built with)."""
        scale = lr / self.lr
        self.base_lrs_ = [base * scale for base in self.base_lrs_]
        for group, base in zip(
            self.optimizer_.param_groups, self.base_lrs_, strict=True
        ):
            group["lr"] = base
        self.lr = lr

    def batches_per_epoch(self, dataset):
        """Training batches in one pass over ``dataset`` (expected number for
        random window lengths)."""
        return len(self.get_iterator(dataset, training=True))

    def infer(self, x, **fit_params):
        with autocast_context(self.precision, self.device or "cpu"):
            return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        output, aux = split_output(y_pred)
        output = to_float32(output)
        if self.target_shape is None:
            loss = super().get_loss(output, y_true, X=X, training=training)
        else:
            packed = to_tensor(y_true, device=self.device)
            weight = packed[:, -1]
            target = packed[:, :-1].reshape(-1, *self.target_shape)
            if target.dim() < output.dim():  # class indices (logits per class)
                target = target.long()
            per_sample = super().get_loss(output, target, X=X, training=training)
            loss = (per_sample.reshape(len(weight), -1).mean(1) * weight).mean()
        return loss + aux if training and aux is not None else loss

    def backward(self, loss):
        """Backpropagate ``loss`` (scaled first when training in float16)."""
        scaler = getattr(self, "grad_scaler_", None)  # None under accelerate
        (loss if scaler is None else scaler.scale(loss)).backward()

    def train_step_single(self, batch, **fit_params):
        # Modules switch to training mode only when they are not in it:
        # walking every submodule at every batch is a measurable part of a
        # cheap step.
        if not self.module_.training:
            self._set_training(True)
        Xi, yi = unpack_data(batch)
        output, aux = split_output(self.infer(Xi, **fit_params))
        data_loss = self.get_loss(output, yi, X=Xi, training=True)
        loss = data_loss if aux is None else data_loss + aux
        self.backward(loss)
        return {"loss": loss, "y_pred": output, "data_loss": data_loss}

    def train_step(self, batch, **fit_params):
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        if any(isinstance(opt, torch.optim.LBFGS) for opt in optimizers):
            return super().train_step(batch, **fit_params)
        scaler = getattr(self, "grad_scaler_", None)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        step = self.train_step_single(batch, **fit_params)
        if scaler is not None:  # callbacks (clipping) see unscaled gradients
            for optimizer in optimizers:
                scaler.unscale_(optimizer)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for optimizer in optimizers:
            if scaler is None:
                optimizer.step()
            else:  # skips the step when the gradients overflowed
                scaler.step(optimizer)
        if scaler is not None:
            scaler.update()
        return step

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            output, _ = split_output(self.infer(Xi, **fit_params))
            output = to_float32(output)
            loss = self.get_loss(output, yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": output}

    def evaluation_step(self, batch, training=False):
        output, _ = split_output(super().evaluation_step(batch, training=training))
        return to_float32(output)

    def notify(self, method_name, **cb_kwargs):
        """skorch's ``notify``, skipping callbacks that leave the hook empty.

        Most callbacks act once per epoch; calling their empty per-batch
        methods three times a step is a measurable share of a cheap step.
        """
        getattr(self, method_name)(self, **cb_kwargs)
        default = getattr(Callback, method_name, None)
        for _, cb in self.callbacks_:
            if getattr(type(cb), method_name, None) is not default:
                getattr(cb, method_name)(self, **cb_kwargs)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over ``iterator``, reading the batch losses once at the end.

        skorch's loop reads each batch loss with ``.item()``, which waits for
        the device to finish the batch; here the detached losses are kept on
        the device and read together after the pass, then recorded per batch
        as skorch does.
        """
        if iterator is None:
            return
        losses, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            sizes.append(_batch_len(batch))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        values = torch.stack(losses).float().tolist() if losses else []
        batches = self.history[-1]["batches"]
        records = batches[len(batches) - len(values) :]
        for record, value, size in zip(records, values, sizes, strict=True):
            record[prefix + "_loss"] = value
            record[prefix + "_batch_size"] = size
        self.history.record(prefix + "_batch_count", len(values))
        bad = [i for i, value in enumerate(values) if not math.isfinite(value)]
        if bad:
            raise ValueError(
                f"The {prefix} loss became {values[bad[0]]} in batch {bad[0] + 1} "
                f"of epoch {len(self.history)}. Likely causes: targets or inputs "
                "too large for float32 (rescale them, e.g. log_target=True or "
                "standardise), or a learning rate too high (lower lr)."
            )

    def __setstate__(self, state):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)


class TabularNet(TorchNet):
    """Batches cut on the device from whole tensors.

    The training data go to the net's device once per ``fit``; every batch is
    then an index into them (:class:`~sknlp_rnn._batches.WholeTensorBatches`).
    Evaluation batches hold at least ``PREDICT_BATCH_SIZE`` rows.
    """

    def get_iterator(self, dataset, training=False):
        base, indices = unwrap_subsets(dataset)
        X, y = on_device(base, self.device or "cpu")
        if training:
            shuffle = self.get_params_for("iterator_train").get("shuffle", True)
            batch_size = self.batch_size
        else:
            shuffle, batch_size = False, max(self.batch_size, PREDICT_BATCH_SIZE)
        return WholeTensorBatches(X, y, indices, batch_size, shuffle)


class StreamNet(TorchNet):
    """Truncated BPTT over a token stream.

    ``fit`` receives the joined 1-D stream. Batches are windows of
    :class:`~sknlp_rnn._batches.StreamBatches` (never shuffled; random window
    lengths in training when ``vary_bptt``); the module carries its hidden
    state from window to window. The loss is the cross-entropy over every
    position of a window (plus the module's AR/TAR penalty in training).
    """

    def __init__(self, *args, bptt=32, vary_bptt=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.bptt = bptt
        self.vary_bptt = vary_bptt

    def get_iterator(self, dataset, training=False):
        return StreamBatches(
            dataset.X,
            n_streams=self.batch_size,
            bptt=self.bptt,
            vary=training and self.vary_bptt,
        )

    def get_loss(self, y_pred, y_true, X=None, training=False):
        output, aux = split_output(y_pred)
        logits = output.reshape(-1, output.size(-1))
        targets = to_tensor(y_true, device=self.device).reshape(-1)
        return super().get_loss((logits, aux), targets, X=X, training=training)


class BucketNet(TorchNet):
    """Training batches that group documents of similar length.

    Batches come trimmed of their all-pad columns with each row's length
    measured on the host (``_batches.trim_collate``); the lengths stay in host
    memory, where packing the sequences reads them, so no batch waits for the
    device.
    """

    def __init__(self, *args, pad_idx=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad_idx = pad_idx

    def get_iterator(self, dataset, training=False):
        if not training:
            return ordered_loader(dataset, self.batch_size, self.pad_idx)
        return bucket_loader(dataset, self.batch_size, self.pad_idx)

    def infer(self, x, **fit_params):
        if not (isinstance(x, dict) and "lengths" in x):
            return super().infer(x, **fit_params)
        tokens = to_tensor(x["tokens"], device=self.device)
        with autocast_context(self.precision, self.device or "cpu"):
            return self.module_(tokens, lengths=x["lengths"], **fit_params)


def _batch_len(batch):
    """Rows in a batch: the target's length when it is a tensor (cheap), else
    skorch's ``get_len`` of the inputs."""
    if isinstance(batch, (tuple, list)):
        if len(batch) > 1 and torch.is_tensor(batch[1]) and batch[1].dim():
            return batch[1].shape[0]
        return get_len(batch[0])
    return get_len(batch)
