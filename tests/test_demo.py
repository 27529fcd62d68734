"""The demo's workflow registry (``sknlp_rnn._demo``) and its plots."""

import matplotlib
import numpy as np
import pytest
import torch

from sknlp_rnn import _demo

matplotlib.use("Agg")
torch.set_num_threads(1)

TINY = _demo.RunOptions(size="tiny", device="cpu", real_data=False, log=lambda _: None)


def test_every_workflow_has_a_key_a_title_and_expected_times():
    keys = [wf.key for wf in _demo.WORKFLOWS]
    assert len(set(keys)) == len(keys)
    for wf in _demo.WORKFLOWS:
        assert wf.key and wf.title and wf.summary
        for size in ("quick", "default", "full"):
            assert wf.expected_seconds(size) > 0, (wf.key, size)
    assert _demo.expected_total(_demo.WORKFLOWS, "quick") < _demo.expected_total(
        _demo.WORKFLOWS, "default"
    )


def test_unmeasured_times_say_so():
    assert _demo.expected_total(_demo.WORKFLOWS, "tiny") is None
    assert _demo.format_duration(None) == "unmeasured"
    assert _demo.format_duration(45) == "45 s"
    assert _demo.format_duration(600) == "about 10 min"


@pytest.fixture(scope="module")
def collab_outcome():
    workflow = next(wf for wf in _demo.WORKFLOWS if wf.key == "collab")
    return workflow.run(TINY)


def test_a_tiny_run_returns_rows_and_histories(collab_outcome):
    assert collab_outcome.rows
    for row in collab_outcome.rows:
        assert isinstance(row, _demo.Result)
        assert np.isfinite(row.score) and row.fit_seconds >= 0
        assert row.metric == "RMSE" and row.baseline_name == "global mean"
    (curve,) = collab_outcome.curves
    assert {"train_loss", "valid_loss"} <= set(curve.history[-1])


def test_curves_have_labelled_axes_and_legends(collab_outcome):
    fig = _demo.draw_curve(collab_outcome.curves[0])
    (ax,) = fig.axes
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["training", "validation"]
    assert ax.get_legend() is not None and fig.texts  # the suptitle


def test_a_curve_with_a_metric_gets_a_second_panel():
    history = [
        {"epoch": 1, "train_loss": 1.0, "valid_loss": 1.1, "valid_acc": 0.5},
        {"epoch": 2, "train_loss": 0.8, "valid_loss": 0.9, "valid_acc": 0.6},
    ]
    curve = _demo.Curve(
        "c", "a title", history, "cross-entropy", "valid_acc", "accuracy"
    )
    loss_ax, metric_ax = _demo.draw_curve(curve).axes
    assert loss_ax.get_ylabel() == "cross-entropy"
    assert (metric_ax.get_xlabel(), metric_ax.get_ylabel()) == ("epoch", "accuracy")
    assert list(metric_ax.get_lines()[0].get_ydata()) == [0.5, 0.6]


def test_maps_have_labelled_axes_and_points(collab_outcome):
    (embedding_map,) = collab_outcome.maps
    (ax,) = _demo.draw_map(embedding_map).axes
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(ax.texts) == len(embedding_map.labels)


def test_write_plots_names_the_files_after_the_outcome(collab_outcome, tmp_path):
    paths = _demo.write_plots(collab_outcome, tmp_path)
    names = [c.name for c in collab_outcome.curves + collab_outcome.maps]
    assert [p.name for p in paths] == [f"{n}.png" for n in names]
    assert all(p.stat().st_size > 0 for p in paths)
