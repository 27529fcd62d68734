"""Pieces shared by the benchmark scripts: device options, ``--set`` values, the
summary line and the human-numbers token ids.

Every benchmark ends with one ``SUMMARY`` line (tab-separated: benchmark,
device, precision, metric, ours, baseline, our fit seconds, and the overhead
ratio of our fit over a plain PyTorch loop's) that ``benchmarks/gpu_check.sh``
gathers into one table.
"""

from __future__ import annotations

import ast

import numpy as np
import torch

from sknlp_rnn.datasets import human_numbers

PRECISIONS = ("32", "bf16", "fp16")
SUMMARY_FIELDS = (
    "benchmark", "device", "precision", "metric", "ours", "baseline", "fit_s",
    "ours/plain",
)  # fmt: skip


def add_device_arguments(parser):
    """``--device`` and ``--precision`` options, as every estimator takes them."""
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="32", choices=PRECISIONS)


def parse_assignment(pair):
    """``"NAME=VALUE"`` (a ``--set`` option) as ``(NAME, VALUE)``, the value a
    Python literal where it reads as one, else the string."""
    name, _, value = pair.partition("=")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def sync(device):
    """Wait for the device, so that a timer read next includes its work."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def summary(benchmark, args, metric, ours, baseline, fit_s, overhead):
    """Print the benchmark's ``SUMMARY`` line."""
    values = [
        benchmark, args.device, args.precision, metric, f"{ours:.4f}",
        f"{baseline:.4f}", f"{fit_s:.2f}", f"{overhead:.3f}",
    ]  # fmt: skip
    print("SUMMARY\t" + "\t".join(values), flush=True)


def load_ids():
    """Human numbers as one row of ids each for training and validation:
    whitespace tokens to ids, specials first as Vocab orders them."""
    data = human_numbers()
    train, valid = data.train.split(), data.valid.split()
    itos = ["xxunk", "xxpad", "xxbos"] + sorted(set(train))
    stoi = {w: i for i, w in enumerate(itos)}
    to_ids = lambda words: np.array([[stoi[w] for w in words]])  # noqa: E731
    return to_ids(train), to_ids(valid), itos
