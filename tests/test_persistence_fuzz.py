"""Seeded fuzzing of the safe format: a damaged file loads or raises ModelFileError.

Files saved by every public estimator are damaged in a few hundred ways (byte
flips and truncations of the zip and of each member, edits of the parsed
metadata); loading each one must either succeed or raise
:class:`~sknlp_rnn.exceptions.ModelFileError`, never another exception.
"""

import copy
import io
import json
import warnings

import numpy as np
import pytest
import torch

from sknlp_rnn import load
from sknlp_rnn._testing import (
    fitted_case,
    public_estimators,
    saved_bytes,
    zip_bytes,
    zip_members,
)
from sknlp_rnn.exceptions import ModelFileError

torch.set_num_threads(1)

ESTIMATORS = public_estimators()
CASES_PER_ESTIMATOR = 40
# Values a metadata edit may put anywhere.
REPLACEMENTS = [
    None,
    True,
    -1,
    0,
    1.5,
    10**12,
    "bogus",
    "",
    [],
    {},
    [1, 2, 3],
    {"$t": "bogus"},
    {"$t": "class", "v": "os:system"},
    {"$t": "ndarray", "key": "missing"},
    {"$t": "map", "v": []},
]


@pytest.fixture(scope="module")
def saved_files():
    out = {}
    for name, cls in ESTIMATORS:
        out[name] = saved_bytes(fitted_case(cls)[0])
    return out


def flip_bytes(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if data:
            data[rng.randint(len(data))] ^= 1 << rng.randint(8)
    return bytes(data)


def truncate(data, rng):
    return data[: rng.randint(len(data))] if data else data


def nodes(value, path=()):
    """Every ``(path, node)`` of a parsed JSON document."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from nodes(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from nodes(child, (*path, i))


def edit_metadata(meta, rng):
    """Replace, delete or duplicate one node of the metadata."""
    meta = copy.deepcopy(meta)
    found = [(p, v) for p, v in nodes(meta) if p]
    path, _ = found[rng.randint(len(found))]
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    action = rng.randint(3)
    if action == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == 1:
        parent[path[-1]] = copy.deepcopy(found[rng.randint(len(found))][1])
    else:
        parent[path[-1]] = copy.deepcopy(REPLACEMENTS[rng.randint(len(REPLACEMENTS))])
    return meta


def damaged(data, rng):
    """One damaged copy of the saved file ``data``."""
    kind = rng.randint(4)
    if kind == 0:
        return flip_bytes(data, rng) if rng.randint(2) else truncate(data, rng)
    files = zip_members(data)
    if kind == 1:
        meta = json.loads(files["metadata.json"])
        files["metadata.json"] = json.dumps(edit_metadata(meta, rng))
    else:
        member = sorted(files)[rng.randint(len(files))]
        damage = flip_bytes if kind == 2 else truncate
        files[member] = damage(files[member], rng)
    return zip_bytes(files)


@pytest.mark.parametrize("name", [name for name, _ in ESTIMATORS])
def test_damaged_files_load_or_raise_model_file_error(saved_files, name):
    rng = np.random.RandomState(sum(map(ord, name)))
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(CASES_PER_ESTIMATOR):
        payload = damaged(saved_files[name], rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                load(io.BytesIO(payload))
            except ModelFileError:
                outcomes["refused"] += 1
            else:
                outcomes["loaded"] += 1
    assert outcomes["refused"] > 0
