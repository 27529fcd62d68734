"""Devices, precision and reproducible kernels (private leaf module).

Resolves the ``device`` and ``precision`` arguments, casts mixed-precision
outputs back to float32, and switches torch to deterministic kernels for a
seeded fit on CUDA. Depends on torch only; no sknlp_rnn module imports here.
"""

from __future__ import annotations

import contextlib
import os

import torch
from torch.torch_version import TorchVersion

__all__ = [
    "PRECISIONS",
    "autocast_context",
    "check_precision",
    "deterministic_kernels",
    "fused_adam_available",
    "resolve_device",
    "to_float32",
]

# ``precision`` values and the autocast dtype each one trains in.
PRECISIONS = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# cuBLAS needs a fixed workspace configuration for reproducible results when
# torch's deterministic mode is on (see torch's reproducibility notes).
_CUBLAS_WORKSPACE = ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def resolve_device(device):
    """Turn the ``device`` argument into a torch device string.

    ``"auto"`` picks CUDA when it is available, else CPU. An explicit CUDA device
    on a machine without CUDA raises ``ValueError``.

    Parameters
    ----------
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    device : str
        The torch device string.

    Examples
    --------
    >>> from sknlp_rnn._device import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        ) from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; "
            "use device='auto' or device='cpu'."
        )
    return str(parsed)


def check_precision(precision, device):
    """Raise ``ValueError`` when ``precision`` cannot run on ``device``.

    Parameters
    ----------
    precision : {"32", "bf16", "fp16"}
        The training precision.
    device : str
        A resolved torch device string.

    Examples
    --------
    >>> from sknlp_rnn._device import check_precision
    >>> check_precision("bf16", "cpu")  # bf16 autocast runs on CPU too
    """
    device_type = torch.device(device).type
    if precision == "fp16" and device_type != "cuda":
        raise ValueError(
            f"precision='fp16' needs a CUDA device, but the model trains on "
            f"{device!r}; use precision='bf16' (supported on CPU) or '32'."
        )
    if (
        precision == "bf16"
        and device_type == "cuda"
        and not torch.cuda.is_bf16_supported()
    ):
        raise ValueError(
            "precision='bf16' is not supported by this GPU; use 'fp16' or '32'."
        )


def fused_adam_available(device):
    """Whether torch has a fused Adam/AdamW kernel for ``device``.

    CUDA has had one since torch 2.0, the CPU since torch 2.4.

    Examples
    --------
    >>> from sknlp_rnn._device import fused_adam_available
    >>> fused_adam_available("cuda")
    True
    """
    if torch.device(device).type == "cuda":
        return True
    return TorchVersion(torch.__version__) >= (2, 4)


def autocast_context(precision, device):
    """The context in which forward passes run in ``precision`` on ``device``.

    Parameters
    ----------
    precision : {"32", "bf16", "fp16"}
        The precision the model trained in.
    device : str or torch.device
        The model's device.

    Returns
    -------
    context : context manager
        ``torch.autocast`` in the precision's dtype, or a null context for
        ``"32"`` (and for ``"fp16"`` off CUDA, where float16 never runs).

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn._device import autocast_context
    >>> with autocast_context("bf16", "cpu"):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.bfloat16
    """
    dtype = PRECISIONS[precision]
    device_type = torch.device(device).type
    if dtype is None or (dtype is torch.float16 and device_type != "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=dtype)


def to_float32(out):
    """Cast half-precision tensors (also inside tuples/lists) to float32.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn._device import to_float32
    >>> to_float32((torch.ones(1, dtype=torch.bfloat16), 3))[0].dtype
    torch.float32
    """
    if torch.is_tensor(out):
        return out.float() if out.dtype in (torch.float16, torch.bfloat16) else out
    if isinstance(out, (tuple, list)):
        return type(out)(to_float32(o) for o in out)
    return out


@contextlib.contextmanager
def deterministic_kernels(device, enabled=True):
    """Run the block with deterministic torch kernels on CUDA, then restore.

    On a CUDA ``device`` (and when ``enabled``), the block runs under
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` with cuDNN's
    deterministic, non-benchmarking algorithms and a fixed cuBLAS workspace
    (unless ``CUBLAS_WORKSPACE_CONFIG`` is already set): a seeded fit then
    gives bit-identical weights on the same GPU and software. Scatter-adds
    (embedding gradients) run in a slower, sorted order; an operation without
    a deterministic kernel warns instead of failing. Every setting is put back
    on exit. On CPU, torch's kernels are already deterministic and nothing
    changes.

    Parameters
    ----------
    device : str
        A resolved torch device string.
    enabled : bool, default=True
        ``False`` runs the block unchanged.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn._device import deterministic_kernels
    >>> with deterministic_kernels("cpu"):
    ...     torch.are_deterministic_algorithms_enabled()
    False
    """
    if not enabled or torch.device(device).type != "cuda":
        yield
        return
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.utils.deterministic.fill_uninitialized_memory,
    )
    name, value = _CUBLAS_WORKSPACE
    set_env = name not in os.environ
    if set_env:
        os.environ[name] = value
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    # Our kernels never read memory they did not write: skip the NaN fill.
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic = saved[2]
        torch.backends.cudnn.benchmark = saved[3]
        torch.utils.deterministic.fill_uninitialized_memory = saved[4]
        if set_env:
            os.environ.pop(name, None)
