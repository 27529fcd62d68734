"""Devices and precision.

Tests marked ``gpu`` need CUDA: they are deselected by default and skip without
it; run them with ``python -m pytest -m gpu tests/test_gpu.py``. The others
check the CPU side of the same features (bf16 on CPU, the fp16 loss-scaling
path, clear errors).
"""

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sknlp_rnn import RNNTextClassifier, load, save
from sknlp_rnn._nets import TorchNet
from sknlp_rnn._testing import (
    _token_ids,
    case,
    fitted_case,
    tolerance,
    trained_estimators,
    variants,
)

torch.set_num_threads(1)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
NET_ESTIMATORS = trained_estimators()
# (label, class, case): every trained estimator's tiny case, then the variants
FITTED_NETS = [(name, cls, case) for name, cls in NET_ESTIMATORS] + variants()


class _TensorCounter(pickle.Pickler):
    """Pickles into nothing, counting tensors and storages pickled directly.

    A tensor reached by the pickler itself is restored by ``torch.load`` on
    the device it was saved from: a CUDA tensor then cannot load on a machine
    without CUDA. skorch's own path (bytes re-read with a device map) hides
    its tensors inside a ``bytes`` object, which this scan does not count.
    """

    def __init__(self):
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.found = []

    def reducer_override(self, obj):
        if isinstance(obj, (torch.Tensor, torch.UntypedStorage, torch.TypedStorage)):
            self.found.append(type(obj).__name__)
        return NotImplemented


@pytest.mark.parametrize(
    "label, cls, make", FITTED_NETS, ids=[label for label, _, _ in FITTED_NETS]
)
def test_pickle_holds_no_tensor_outside_the_device_map(label, cls, make):
    # What `joblib.dump` writes for a GPU-trained model must load on a CPU-only
    # machine: every tensor goes through skorch's device-mapping path.
    est, X = fitted_case(cls, make)
    counter = _TensorCounter()
    counter.dump(est)
    assert counter.found == [], f"{len(counter.found)} raw tensors in the pickle"
    clone = pickle.loads(pickle.dumps(est))
    for method in ("predict_proba", "predict"):
        if hasattr(est, method):
            np.testing.assert_array_equal(
                getattr(clone, method)(X), getattr(est, method)(X)
            )
            break


def small_clf(**params):
    params = {"max_epochs": 8, **params}
    return RNNTextClassifier(embedding_dim=8, hidden_size=16, random_state=0, **params)


def test_bf16_on_cpu_learns_and_predicts_float64():
    X, y = _token_ids(n=200)
    clf = small_clf(precision="bf16", device="cpu").fit(X, y)
    assert clf.score(X, y) > max(np.mean(y == "yes"), np.mean(y == "no")) + 0.1
    assert clf.predict_proba(X).dtype == np.float64
    loaded = load(save(clf, io.BytesIO()))
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_fp16_needs_cuda():
    X, y = _token_ids()
    with pytest.raises(ValueError, match="precision='fp16' needs a CUDA device"):
        small_clf(precision="fp16", device="cpu").fit(X, y)


def test_unknown_precision_is_rejected():
    X, y = _token_ids()
    with pytest.raises(ValueError, match="'precision' parameter"):
        small_clf(precision="16").fit(X, y)


def test_loss_scaling_path_gives_the_same_model(monkeypatch):
    # The fp16 path (scaled backward, unscale, clip, scaler.step) runs on CPU in
    # float32 here: the scale is a power of two, so it must change nothing.
    X, y = _token_ids(n=64)
    plain = small_clf(device="cpu", max_epochs=3).fit(X, y)
    initialize = TorchNet.initialize

    def with_cpu_scaler(self):
        initialize(self)
        self.grad_scaler_ = torch.amp.GradScaler("cpu")
        return self

    monkeypatch.setattr(TorchNet, "initialize", with_cpu_scaler)
    scaled = small_clf(device="cpu", max_epochs=3).fit(X, y)
    assert scaled.net_.grad_scaler_.get_scale() == 2.0**16
    assert scaled.history_[:, "train_loss"] == plain.history_[:, "train_loss"]
    assert np.array_equal(scaled.predict_proba(X), plain.predict_proba(X))


def test_auto_device_is_cuda_when_present():
    X, y = _token_ids()
    clf = small_clf(max_epochs=1).fit(X, y)
    assert clf.device_ == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(
    "name, cls", NET_ESTIMATORS, ids=[n for n, _ in NET_ESTIMATORS]
)
@pytest.mark.parametrize("precision", ["32", "bf16", "fp16"])
def test_fit_on_cuda(name, cls, precision):
    est, X, y = case(cls)
    params = {"device": "cuda"}
    if "precision" in est.get_params():
        params["precision"] = precision
    elif precision != "32":
        pytest.skip(f"{name} has no precision parameter yet")
    est.set_params(**params)
    est.fit(X) if y is None else est.fit(X, y)
    assert est.device_.startswith("cuda")
    assert next(est.net_.module_.parameters()).is_cuda
    if precision == "fp16":
        assert est.net_.grad_scaler_ is not None
    for method in ("predict", "predict_proba"):
        if hasattr(est, method):
            out = np.asarray(getattr(est, method)(X))
            assert out.dtype.kind not in "fc" or np.isfinite(out).all()


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(
    "name, cls", NET_ESTIMATORS, ids=[n for n, _ in NET_ESTIMATORS]
)
def test_gpu_trained_model_loads_on_cpu(name, cls, tmp_path):
    est, X = fitted_case(cls)  # device="auto": CUDA here
    assert est.device_.startswith("cuda")
    expected = est.predict_proba(X) if hasattr(est, "predict_proba") else None
    expected = est.predict(X) if expected is None else expected
    # Safe format, asked for the CPU explicitly.
    on_cpu = load(save(est, io.BytesIO()), device="cpu")
    assert on_cpu.device_ == "cpu"
    got = on_cpu.predict_proba(X) if expected.ndim == 2 else on_cpu.predict(X)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # Safe format and pickle in a process that sees no GPU: warns and works.
    save(est, tmp_path / "model.zip")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(est))
    script = (
        "import pickle, warnings, numpy as np, sknlp_rnn\n"
        "from sknlp_rnn.exceptions import DeviceFallbackWarning\n"
        f"d = {str(tmp_path)!r}\n"
        "for how in ('zip', 'pkl'):\n"
        "    with warnings.catch_warnings(record=True) as w:\n"
        "        warnings.simplefilter('always')\n"
        "        est = (sknlp_rnn.load(d + '/model.zip') if how == 'zip' else\n"
        "               pickle.load(open(d + '/model.pkl', 'rb')))\n"
        "    assert any(issubclass(x.category, DeviceFallbackWarning) for x in w)\n"
        "    assert est.device_ == 'cpu', est.device_\n"
        "print('ok')\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(
    "label, cls, make", FITTED_NETS, ids=[label for label, _, _ in FITTED_NETS]
)
def test_seeded_refits_on_cuda_are_identical(label, cls, make):
    # a seeded fit runs with deterministic kernels on CUDA (_device)
    outputs = []
    for _ in range(2):
        est, X, y = make(cls)
        est.set_params(device="cuda")
        est.fit(X) if y is None else est.fit(X, y)
        method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
        outputs.append(getattr(est, method)(X))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not torch.are_deterministic_algorithms_enabled()  # restored after fit


@pytest.mark.gpu
@needs_cuda
def test_language_model_rows_read_alike_in_any_batch_on_cuda():
    from sknlp_rnn import SequenceLMRegressor

    X, _ = _token_ids(n=40)
    lm = SequenceLMRegressor(
        embedding_dim=8, hidden_size=16, max_epochs=2, device="cuda", random_state=0
    ).fit(X)
    whole = lm.predict_proba(X)
    parts = np.concatenate([lm.predict_proba(X[i : i + 7]) for i in range(0, 40, 7)])
    np.testing.assert_allclose(parts, whole, **tolerance(lm.device_))
