"""Lazy Adam for collaborative filtering: ours vs torch's SparseAdam + Adam.

``CollabFilterRegressor(optimizer="lazy_adam")`` trains with
``sknlp_rnn._optim.LazyAdam``: one optimizer that updates only the factor rows
a batch looked up (sparse gradients) and gives every dense parameter a fused
Adam step. torch's own way to the same updates is two optimizers:
``torch.optim.SparseAdam`` for the sparse factor table and ``torch.optim.Adam``
(fused) for the rest. This script times one training step (forward, backward,
optimizer) of the default model on MovieLens-sized ids (671 users, 9,066
items, batches of 1536) with each, alternating, on one torch thread, checks
how far their weights end apart (the two differ only in where ``eps`` enters
the denominator: with ``eps`` negligible they agree to float32 rounding), and
prints the medians and their ratio.

    python benchmarks/lazy_adam.py [--steps 200] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sknlp_rnn._optim import LazyAdam
from sknlp_rnn.nn import DotProductBias

USERS, ITEMS, BATCH = 671, 9066, 1536


def make_model(seed):
    torch.manual_seed(seed)
    return DotProductBias(
        [USERS + 1, ITEMS + 1], n_factors=50, y_range=(0.05, 5.45), sparse=True,
        factor_l2=0.08, target_mean=3.5,
    )  # fmt: skip


def optimizers(model, kind, lr):
    if kind == "ours":
        return [LazyAdam(model.parameters(), lr=lr)]
    sparse = [model.factors.embedding.weight]
    dense = [p for p in model.parameters() if p is not sparse[0]]
    return [
        torch.optim.SparseAdam(sparse, lr=lr),
        torch.optim.Adam(dense, lr=lr, fused=True),
    ]


def train(kind, batches, lr=1e-2):
    model = make_model(0)
    opts = optimizers(model, kind, lr)
    start = time.perf_counter()
    for x, y in batches:
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        rating, aux = model(x)
        (torch.nn.functional.mse_loss(rating, y) + aux).backward()
        for opt in opts:
            opt.step()
    return model, (time.perf_counter() - start) / len(batches)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.stack(
                [
                    torch.randint(1, USERS + 1, (BATCH,), generator=gen),
                    torch.randint(1, ITEMS + 1, (BATCH,), generator=gen),
                ],
                1,
            ),
            torch.rand(BATCH, generator=gen) * 4.5 + 0.5,
        )
        for _ in range(args.steps)
    ]
    train("ours", batches[:10])  # warm-up
    train("torch", batches[:10])
    times = {"ours": [], "torch": []}
    for i in range(args.repeats):
        for kind in ("ours", "torch")[:: 1 if i % 2 == 0 else -1]:
            model, seconds = train(kind, batches)
            times[kind].append(seconds)
            if i == 0:
                times.setdefault(kind + "_model", model)
    ours, theirs = times["ours_model"], times["torch_model"]
    diff = max(
        (a - b).abs().max().item()
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True)
    )
    med = {k: statistics.median(times[k]) for k in ("ours", "torch")}
    print(f"{args.steps} steps, batches of {BATCH}, {args.repeats} alternated runs")
    print(f"LazyAdam (ours)            {1e6 * med['ours']:8.0f} us/step")
    print(f"SparseAdam + fused Adam    {1e6 * med['torch']:8.0f} us/step")
    print(f"ratio ours / torch: {med['ours'] / med['torch']:.3f}")
    print(f"max |weight difference| after {args.steps} steps: {diff:.2e}")


if __name__ == "__main__":
    main()
