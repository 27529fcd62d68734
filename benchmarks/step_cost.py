"""The cost of one training step: ours vs a plain PyTorch loop, per estimator.

On a GPU, a small network's training step costs what the host spends on it:
Python, dispatching each operation, and launching one kernel per operation.
This script measures that cost model for the four estimators and for a plain
PyTorch loop training the same module on the same kind of batches (data on the
device, batches cut by index, the same optimizer, schedule and loss):

* **us/step**: wall microseconds per training step, from the difference between
  a 1-epoch and a 3-epoch fit (so set-up costs cancel), medians of alternated
  runs;
* **ops/step**: operations per training step that launch work (torch profiler:
  the innermost ``aten::`` operations, views and metadata-only operations
  excluded), from the same difference. On CUDA each is about one kernel launch;
  with ``--device cuda`` the script counts the CUDA kernels themselves.

Two blocks are printed: the documented widths (the arithmetic a step does) and
``tiny`` widths (4-8 units), where the arithmetic is negligible and us/step is
the host's cost per step, the figure that bounds GPU speed for small models.
Data are generated (shapes like diamonds, MovieLens, human numbers and short
texts), so no extra is needed.

    python benchmarks/step_cost.py [--device cpu] [--repeats 5] [--only entity]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile

from sknlp_rnn import (
    CollabFilterRegressor,
    EntityEmbeddingRegressor,
    RNNTextClassifier,
)
from sknlp_rnn._batches import (
    BucketBatchSampler,
    StreamBatches,
    row_lengths,
    trim_collate,
)
from sknlp_rnn._device import fused_adam_available
from sknlp_rnn._optim import LazyAdam
from sknlp_rnn.datasets import human_numbers
from sknlp_rnn.recipes import human_numbers_lm
from sknlp_rnn.text._stream import join_rows

# aten operations that only make views or read metadata: no kernel launch
_NO_KERNEL = {
    "aten::view", "aten::reshape", "aten::_reshape_alias", "aten::as_strided",
    "aten::t", "aten::transpose", "aten::expand", "aten::slice", "aten::select",
    "aten::unsqueeze", "aten::squeeze", "aten::detach", "aten::alias",
    "aten::resolve_conj", "aten::resolve_neg", "aten::empty", "aten::empty_like",
    "aten::empty_strided", "aten::lift_fresh", "aten::_unsafe_view", "aten::split",
    "aten::unbind", "aten::permute", "aten::numpy_T", "aten::chunk", "aten::narrow",
    "aten::is_nonzero", "aten::result_type", "aten::set_", "aten::item",
    "aten::_local_scalar_dense", "aten::size", "aten::stride", "aten::dim",
    "aten::to",  # a leaf "to" is a no-op (a real copy runs aten::copy_ inside)
}  # fmt: skip


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def launches(run, device):
    """Kernels (CUDA) or innermost working aten ops (CPU) of ``run()``."""
    activities = [ProfilerActivity.CPU]
    if device.startswith("cuda"):
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        run()
        sync(device)
    events = prof.events()
    if device.startswith("cuda"):
        return sum(e.device_type == torch.autograd.DeviceType.CUDA for e in events)
    return sum(
        e.name.startswith("aten::")
        and e.name not in _NO_KERNEL
        and not any(c.name.startswith("aten::") for c in e.cpu_children)
        for e in events
    )


# -- data -----------------------------------------------------------------------


def table(n=6000, seed=0):
    """A diamonds-shaped table: 3 categorical and 6 continuous columns."""
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(
        {
            "cut": pd.Categorical(rng.choice(list("abcde"), n)),
            "color": pd.Categorical(rng.choice(list("abcdefg"), n)),
            "clarity": pd.Categorical(rng.choice(list("abcdefgh"), n)),
        }
    )
    for k in range(6):
        X[f"x{k}"] = rng.normal(size=n)
    y = X["x0"] * 2 + X["cut"].cat.codes + rng.normal(scale=0.1, size=n)
    return X, y.to_numpy()


def ratings(n=30000, users=671, items=3000, seed=0):
    rng = np.random.RandomState(seed)
    X = np.c_[rng.randint(users, size=n), rng.randint(items, size=n)]
    return X, rng.uniform(0.5, 5, size=n).round(1)


def numbers(n_tokens=20000):
    words = human_numbers().train.split()[:n_tokens]
    itos = ["xxunk", "xxpad", "xxbos", *sorted(set(words))]
    stoi = {w: i for i, w in enumerate(itos)}
    return np.array([[stoi[w] for w in words]])


def texts(n=2000, vocab=5000, seed=0):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(5, 31, size=n)
    X = np.ones((n, 30), dtype=np.int64)
    for i, k in enumerate(lengths):
        X[i, :k] = rng.randint(2, vocab, size=k)
    return X, np.where(X[:, 0] % 2, "pos", "neg")


# -- the four workflows: (estimator, data, plain loop) ----------------------------


def one_cycle_loop(module, optimizer, lr, n, batch_size, epochs, device, batch_loss):
    """A plain loop over shuffled row batches on ``device`` with a one-cycle
    schedule stepped per batch; ``batch_loss(rows)`` is a batch's loss.
    Returns the number of steps."""
    steps = epochs * -(-n // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps, pct_start=0.25
    )
    module.train()
    for _ in range(epochs):
        for rows in torch.randperm(n, device=device).split(batch_size):
            optimizer.zero_grad()
            batch_loss(rows).backward()
            optimizer.step()
            schedule.step()
    return steps


def plain_entity(est, X, y, epochs, device):
    inputs = est._inputs(X)
    x_cat = torch.as_tensor(inputs["x_cat"], device=device)
    x_cont = torch.as_tensor(inputs["x_cont"], device=device)
    z = est.target_scaler_.transform(y.reshape(-1, 1)).astype(np.float32)
    z = torch.as_tensor(z, device=device)
    module = est._build_module().to(device)
    fused = fused_adam_available(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=est.lr, fused=fused)

    def batch_loss(rows):
        prediction, _ = module(x_cat[rows], x_cont[rows])
        return torch.nn.functional.mse_loss(prediction, z[rows])

    return one_cycle_loop(
        module, optimizer, est.lr, len(z), est.batch_size, epochs, device, batch_loss
    )


def plain_collab(est, X, y, epochs, device):
    codes = torch.as_tensor(est._encode(np.asarray(X)), device=device)
    target = torch.as_tensor(y, dtype=torch.float32, device=device)
    module = est._build_module().to(device)
    optimizer = LazyAdam(module.parameters(), lr=est.lr)

    def batch_loss(rows):
        rating, penalty = module(codes[rows])  # factor_l2 x the squares
        return torch.nn.functional.mse_loss(rating, target[rows]) + penalty

    n = len(target)
    return one_cycle_loop(
        module, optimizer, est.lr, n, est.batch_size, epochs, device, batch_loss
    )


def plain_lm(est, X, y, epochs, device):
    module = est._build_module().to(device)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=est.lr, fused=fused_adam_available(device)
    )
    stream = join_rows(X, pad_idx=est.pad_idx, bos_idx=est.bos_idx)
    batches = StreamBatches(stream, est.batch_size, est.bptt, vary=True)
    data = batches.data.to(device)
    steps = 0
    for _ in range(epochs):
        module.train()
        module.reset_state()
        start = 0
        for size in batches.window_lengths():
            x, t = data[:, start : start + size], data[:, start + 1 : start + size + 1]
            start += size
            optimizer.zero_grad()
            logits, penalty = module(x)  # the module's AR/TAR penalty
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), t.reshape(-1)
            )
            loss = loss + penalty
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), est.clip_norm)
            optimizer.step()
            steps += 1
    return steps


def plain_text(est, X, y, epochs, device):
    module = est._build_module().to(device)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=est.lr, fused=fused_adam_available(device)
    )
    dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(X), torch.from_numpy(np.searchsorted(est.classes_, y))
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=BucketBatchSampler(row_lengths(X, est.pad_idx), est.batch_size),
        collate_fn=lambda batch: trim_collate(batch, est.pad_idx),
    )
    steps = 0
    module.train()
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                module(xb["tokens"].to(device), xb["lengths"])[0], yb.to(device)
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), est.clip_norm)
            optimizer.step()
            steps += 1
    return steps


WORKFLOWS = {
    "entity": (
        lambda tiny: EntityEmbeddingRegressor(
            hidden_sizes=(8, 4) if tiny else (200, 100)
        ),
        table,
        plain_entity,
    ),
    "collab": (
        lambda tiny: CollabFilterRegressor(n_factors=4 if tiny else None),
        ratings,
        plain_collab,
    ),
    "lm": (
        lambda tiny: human_numbers_lm(width=8 if tiny else 256),
        lambda: (numbers(), None),
        plain_lm,
    ),
    "text": (
        lambda tiny: RNNTextClassifier(
            embedding_dim=8 if tiny else 100, hidden_size=8 if tiny else 128,
            dropout=0.3, batch_size=64,
        ),
        texts,
        plain_text,
    ),
}  # fmt: skip


def measure(name, tiny, device, repeats):
    make, data, plain = WORKFLOWS[name]
    X, y = data()
    est = make(tiny).set_params(device=device, random_state=0, max_epochs=1)
    est.fit(X) if y is None else est.fit(X, y)  # fitted sizes for the plain loop

    def ours(epochs):
        est.set_params(max_epochs=epochs)
        est.fit(X) if y is None else est.fit(X, y)
        sync(device)
        return sum(epoch["train_batch_count"] for epoch in est.history_)

    def theirs(epochs):
        torch.manual_seed(0)
        steps = plain(est, X, y, epochs, device)
        sync(device)
        return steps

    runs = {"ours": ours, "plain": theirs}
    result = {}
    for label, run in runs.items():
        counts = [launches(lambda e=e, run=run: run(e), device) for e in (1, 3)]
        steps = [run(e) for e in (1, 3)]
        result[label] = {"ops": (counts[1] - counts[0]) / (steps[1] - steps[0])}
    times = {label: [] for label in runs}
    for i in range(repeats):
        order = list(runs.items())[:: 1 if i % 2 == 0 else -1]
        for label, run in order:
            walls = []
            for epochs in (1, 3):
                start = time.perf_counter()
                steps = run(epochs)
                walls.append((time.perf_counter() - start, steps))
            (t1, s1), (t3, s3) = walls
            times[label].append(1e6 * (t3 - t1) / (s3 - s1))
    for label in runs:
        result[label]["us"] = statistics.median(times[label])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted(WORKFLOWS), action="append")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.only or list(WORKFLOWS)
    unit = "kernels" if args.device.startswith("cuda") else "ops"
    print(f"device {args.device}, torch {torch.__version__}, {args.threads} thread(s)")
    for tiny in (False, True):
        print(f"\n{'tiny widths (host cost)' if tiny else 'documented widths'}")
        head = f"{'estimator':<10}{'ours us/step':>14}{'plain us/step':>15}{'ratio':>7}"
        print(head + f"{'ours ' + unit + '/step':>18}{'plain ' + unit + '/step':>19}")
        for name in names:
            r = measure(name, tiny, args.device, args.repeats)
            o, p = r["ours"], r["plain"]
            print(
                f"{name:<10}{o['us']:>14.0f}{p['us']:>15.0f}{o['us'] / p['us']:>7.2f}"
                f"{o['ops']:>18.1f}{p['ops']:>19.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
