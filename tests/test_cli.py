"""The ``sknlp-rnn`` command line."""

import argparse

import pytest
import torch

from sknlp_rnn import _demo
from sknlp_rnn.cli import _parser, main

torch.set_num_threads(1)


def test_help_describes_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_demo_help_lists_the_options_and_every_workflow(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--quick",
        "--full",
        "--output",
        "--device",
        "--synthetic",
        "--only",
    ):
        assert option in out
    assert "--tiny" not in out
    for wf in _demo.WORKFLOWS:
        assert f"  {wf.key} " in out


def _demo_action(dest):
    demo = next(
        a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices["demo"]
    return next(a for a in demo._actions if a.dest == dest)


def test_only_choices_come_from_the_registry():
    assert list(_demo_action("only").choices) == [wf.key for wf in _demo.WORKFLOWS]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--only", "nope"], "invalid choice"),  # unknown workflow
        (["demo", "--quick", "--full"], "not allowed with"),
        (["demo", "--device", "tpu"], "invalid choice"),
    ],
)
def test_bad_options_are_argparse_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: sknlp-rnn" in capsys.readouterr().out


def _one_line_error(capsys):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_output_that_is_a_file_is_a_one_line_error(capsys, tmp_path):
    path = tmp_path / "plots.png"
    path.write_bytes(b"not a directory")
    assert main(["demo", "--tiny", "--synthetic", "--output", str(path)]) == 2
    line = _one_line_error(capsys)
    assert line.startswith("sknlp-rnn demo: error: --output ")
    assert "is an existing file, not a directory" in line
    assert path.read_bytes() == b"not a directory"


def test_output_under_a_file_is_a_one_line_error(capsys, tmp_path):
    path = tmp_path / "plots.png"
    path.write_bytes(b"")
    assert main(["demo", "--tiny", "--output", str(path / "sub")]) == 2
    assert "cannot create the directory" in _one_line_error(capsys)


def test_cuda_without_cuda_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["demo", "--tiny", "--synthetic", "--device", "cuda"]) == 2
    line = _one_line_error(capsys)
    assert line == (
        "sknlp-rnn demo: error: --device cuda was requested but CUDA is not "
        "available here; use --device auto or --device cpu."
    )


def test_tiny_demo_runs_every_workflow(capsys, tmp_path):
    status = main(
        ["demo", "--tiny", "--synthetic", "--device", "cpu", "--output", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Data: generated (--synthetic)." in out
    assert "Expected time:" in out.split("[1/")[0]
    n = len(_demo.WORKFLOWS)
    for i, wf in enumerate(_demo.WORKFLOWS, 1):
        assert f"[{i}/{n}] {wf.title}: started" in out
        assert f"[{i}/{n}] {wf.title}: done in " in out
    table = out.split("Summary")[1]
    assert "fit s" in table and "text classification" in table
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 0 for p in pngs)
    assert {p.name for p in pngs} <= {line.split("/")[-1] for line in out.splitlines()}


def test_only_runs_the_named_workflows(capsys):
    assert (
        main(["demo", "--tiny", "--synthetic", "--device", "cpu", "--only", "collab"])
        == 0
    )
    out = capsys.readouterr().out
    assert "[1/1] collaborative filtering: done" in out
    assert "language model" not in out


@pytest.mark.parametrize(
    ("flags", "cuda", "size"),
    [
        ([], False, "default"),
        ([], True, "full"),
        (["--full"], False, "full"),
        (["--quick"], True, "quick"),
    ],
)
def test_run_size_follows_the_flags_and_the_device(
    capsys, monkeypatch, flags, cuda, size
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(_demo, "WORKFLOWS", ())
    assert main(["demo", "--synthetic", *flags]) == 0
    assert f"sknlp-rnn demo ({size} run, device=auto)" in capsys.readouterr().out


def test_summary_table_formats_missing_baselines():
    rows = [
        _demo.Result("task a", "data", "accuracy", 0.9, 0.5, "chance", 1.25),
        _demo.Result("task b", "data", "RMSE", 0.8, float("nan"), "x", 2.0),
    ]
    table = _demo.format_table(rows).splitlines()
    assert table[0].split() == [
        "task",
        "data",
        "metric",
        "model",
        "baseline",
        "fit",
        "s",
    ]
    assert "0.5000 (chance)" in table[2] and table[3].split()[-2:] == ["-", "2.0"]
