"""The demo's figures: training curves and embedding maps, written as PNG.

Depends on numpy and scikit-learn; matplotlib is imported only here, lazily,
with the non-interactive Agg backend.
"""

from __future__ import annotations

import importlib.util

import numpy as np

#: Pixels per inch of the written PNG files.
DPI = 110


def plots_available():
    """True when matplotlib is installed (the ``plot`` extra)."""
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_curve(curve):
    """A figure of ``curve``'s training and validation loss per epoch.

    A second panel shows the validation metric when the curve names one and
    the history records it.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    history = curve.history
    epochs = [row["epoch"] for row in history]
    has_metric = curve.metric is not None and all(curve.metric in r for r in history)
    fig, axes = plt.subplots(
        1, 2 if has_metric else 1, figsize=(9 if has_metric else 5, 3.4)
    )
    axes = np.atleast_1d(axes)
    loss_ax = axes[0]
    for key, label in (("train_loss", "training"), ("valid_loss", "validation")):
        if all(key in row for row in history):
            loss_ax.plot(epochs, [row[key] for row in history], "o-", label=label)
    loss_ax.set(xlabel="epoch", ylabel=curve.loss, title="loss")
    if curve.log_loss:
        loss_ax.set_yscale("log")
    loss_ax.legend()
    if has_metric:
        values = [row[curve.metric] for row in history]
        axes[1].plot(epochs, values, "o-", color="C2", label="validation")
        axes[1].set(xlabel="epoch", ylabel=curve.metric_label, title=curve.metric_label)
        axes[1].legend()
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(curve.title)
    fig.tight_layout()
    return fig


def draw_map(embedding_map):
    """A figure of the 2-D PCA of the map's vectors, each point labelled."""
    from sklearn.decomposition import PCA

    plt = _pyplot()
    vectors = np.asarray(embedding_map.vectors, dtype=float)
    xy = PCA(n_components=2).fit_transform(vectors)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(xy[:, 0], xy[:, 1], s=12)
    for (x, y), label in zip(xy, embedding_map.labels, strict=True):
        ax.annotate(str(label)[:24], (x, y), fontsize=7)
    ax.set(xlabel="principal component 1", ylabel="principal component 2")
    ax.set_title(embedding_map.title)
    fig.tight_layout()
    return fig


def write_plots(outcome, output):
    """Draw every curve and map of ``outcome`` to ``output/<name>.png``.

    Maps of fewer than two points or dimensions are skipped. Returns the paths
    written.
    """
    plt = _pyplot()
    figures = [(c.name, draw_curve(c)) for c in outcome.curves]
    figures += [
        (m.name, draw_map(m))
        for m in outcome.maps
        if len(m.vectors) >= 2 and np.shape(m.vectors)[1] >= 2
    ]
    paths = []
    for name, fig in figures:
        path = output / f"{name}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        paths.append(path)
    return paths
