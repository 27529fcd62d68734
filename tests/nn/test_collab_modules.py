"""Tests of the collaborative-filtering torch modules."""

import itertools

import pytest
import torch

from sknlp_rnn.nn import (
    CollabNN,
    DotProductBias,
    IdTables,
    embedding_size,
    sigmoid_range,
)


def ids(*columns):
    return torch.tensor(list(zip(*columns, strict=True)))


def factors(model, field, x):
    return model.factor_table(field)[x[:, field]]


def biases(model, field, x):
    return model.bias_table(field)[x[:, field], 0]


def test_two_fields_is_biased_matrix_factorization():
    torch.manual_seed(0)
    model = DotProductBias([5, 7], n_factors=3)
    x = ids([1, 2, 4], [6, 3, 1])
    u, i = factors(model, 0, x), factors(model, 1, x)
    bu, bi = biases(model, 0, x), biases(model, 1, x)
    expected = (u * i).sum(1) + bu + bi + model.global_bias
    rating, aux = model(x)
    torch.testing.assert_close(rating, expected)
    assert aux is None  # factor_l2 is 0


def test_more_fields_sum_every_pairwise_dot_product():
    torch.manual_seed(0)
    model = DotProductBias([4, 5, 3, 6], n_factors=2)
    with torch.no_grad():
        torch.nn.init.normal_(model.biases.embedding.weight)
        model.biases.embedding.weight[model.biases.offsets] = 0.0  # unknown slots
    x = ids([1, 3], [4, 2], [2, 1], [5, 0])
    vectors = [factors(model, f, x) for f in range(4)]
    pairs = sum((a * b).sum(1) for a, b in itertools.combinations(vectors, 2))
    bias = sum(biases(model, f, x) for f in range(4))
    torch.testing.assert_close(model(x)[0], pairs + bias + model.global_bias)


def test_id_tables_share_one_embedding_with_offsets():
    tables = IdTables([3, 5, 2], width=4)
    assert tables.embedding.num_embeddings == 10
    x = ids([2, 0], [4, 1], [1, 1])
    rows = tables(x)
    for f in range(3):
        torch.testing.assert_close(rows[:, f], tables.table(f)[x[:, f]])
        assert torch.count_nonzero(tables.table(f)[0]) == 0  # unknown slots


def test_unknown_slot_is_zero_and_gets_no_gradient():
    model = DotProductBias([3, 3], n_factors=4, y_range=(0.0, 5.5), target_mean=3.5)
    x = ids([0, 0], [0, 2])
    out, _ = model(x)
    # both ids unknown: the output is the initial target mean
    assert out[0].item() == pytest.approx(3.5, rel=1e-5)
    out.sum().backward()
    for f in range(2):
        start = int(model.factors.offsets[f])
        for kind in (model.factors, model.biases):
            weight = kind.embedding.weight
            assert torch.count_nonzero(weight[start]) == 0
            assert torch.count_nonzero(weight.grad[start]) == 0


def test_unknown_slot_gets_no_sparse_gradient():
    model = DotProductBias([3, 4], n_factors=2, sparse=True)
    # rows: user 1 and item 3 (table rows 1 and 3 + 3); user 2, unknown item
    model(ids([1, 2], [3, 0]))[0].sum().backward()
    grad = model.factors.embedding.weight.grad
    assert grad.is_sparse
    grad = grad.to_dense()
    assert torch.count_nonzero(grad[3]) == 0  # the item field's unknown slot
    assert torch.count_nonzero(grad[1]) > 0 and torch.count_nonzero(grad[6]) > 0


def test_y_range_bounds_outputs():
    model = DotProductBias([3, 3], n_factors=2, y_range=(1.0, 2.0))
    with torch.no_grad():
        model.global_bias.fill_(100.0)
    assert model(ids([1], [2]))[0].item() <= 2.0
    assert sigmoid_range(torch.tensor(-100.0), 1.0, 2.0).item() == pytest.approx(1.0)


def test_training_forward_returns_l2_penalty_of_used_factors():
    model = DotProductBias([3, 3], n_factors=2, factor_l2=0.5)
    with torch.no_grad():
        torch.nn.init.normal_(model.biases.embedding.weight)  # not penalised
    x = ids([1, 2], [2, 0])
    rows = [factors(model, f, x).square().sum(1) for f in range(2)]
    _, aux = model(x)
    torch.testing.assert_close(aux, 0.5 * (rows[0] + rows[1]).mean())
    rating, aux = model.eval()(x)
    assert rating.dtype == torch.float64 and aux is None


def test_collab_nn_shapes_and_range():
    model = CollabNN(
        [10, 20, 4],
        embedding_sizes=[3, 5, 2],
        hidden_sizes=(8, 4),
        y_range=(0, 1),
        factor_l2=0.1,
    )
    out, aux = model(ids([1, 9, 0], [19, 0, 3], [3, 2, 1]))
    assert out.shape == (3,) and ((out > 0) & (out < 1)).all()
    assert aux.item() > 0
    out, aux = model.eval()(ids([1, 9, 0], [19, 0, 3], [3, 2, 1]))
    assert out.dtype == torch.float64 and aux is None


def test_collab_nn_rows_do_not_depend_on_their_batch():
    torch.manual_seed(0)
    model = CollabNN([30, 40], embedding_sizes=[8, 8], hidden_sizes=(64,)).eval()
    x = ids(list(range(1, 30)), list(range(5, 34)))
    full = model(x)[0]
    assert torch.equal(model(x[3:4])[0], full[3:4])


def test_embedding_size_rule():
    assert embedding_size(1) == 2
    assert embedding_size(10**9) == 600
    assert embedding_size(671) == 61


def test_needs_two_fields():
    with pytest.raises(ValueError, match="at least 2 id field"):
        DotProductBias([3])
    with pytest.raises(ValueError, match="at least 2 id field"):
        DotProductBias([3, 4, 5], bias_only_fields=2)
    with pytest.raises(ValueError, match="bias_only_fields >= 0"):
        CollabNN([3, 4], embedding_sizes=[2, 2], bias_only_fields=-1)


@pytest.mark.parametrize("model_class", [DotProductBias, CollabNN])
def test_bias_only_fields_add_their_bias_to_the_score(model_class):
    torch.manual_seed(0)
    kwargs = {"n_factors": 2} if model_class is DotProductBias else {}
    if model_class is CollabNN:
        kwargs["embedding_sizes"] = [2, 3]
    model = model_class([4, 5, 6, 3], bias_only_fields=2, **kwargs).eval()
    # factors / embeddings only for user and item
    assert [model.factor_table(f).shape[0] for f in range(2)] == [4, 5]
    assert model.factor_table(2) is None and model.factor_table(3) is None
    side = [model.bias_table(2), model.bias_table(3)]
    assert [t.shape[0] for t in side] == [6, 3]
    with torch.no_grad():
        for table in side:
            torch.nn.init.normal_(table[1:])
    x = ids([1, 3, 2], [4, 2, 0], [5, 0, 1], [2, 1, 0])
    unknown_side = x.clone()
    unknown_side[:, 2:] = 0
    added = side[0][x[:, 2], 0] + side[1][x[:, 3], 0]
    torch.testing.assert_close(
        model(x)[0], model(unknown_side)[0] + added.double(), check_dtype=False
    )
    model.train()
    model(x)[0].sum().backward()  # side biases train; unknown slots do not
    weight = model.biases.embedding.weight
    offsets = model.biases.offsets.tolist()[-2:]
    grads = [
        weight.grad[start : start + len(t)]
        for start, t in zip(offsets, side, strict=True)
    ]
    assert all(g[1:].abs().sum() > 0 for g in grads)
    assert all(g[0].abs().sum() == 0 for g in grads)


def rated_lists():
    # user 1 rated items 1, 2; user 2 rated item 4; user 3 nothing
    return [0, 0, 2, 3, 3], [1, 2, 4]


def test_implicit_feedback_adds_normalised_sum_to_user_factors():
    torch.manual_seed(0)
    model = DotProductBias([4, 5], n_factors=3, implicit=rated_lists())
    y = model.implicit_factors.embedding.weight
    with torch.no_grad():
        torch.nn.init.normal_(y)
    x = ids([1, 2, 3, 0, 1], [3, 3, 3, 3, 1])
    extra = torch.stack(
        [
            (y[1] + y[2]) / 2**0.5,
            y[4],
            torch.zeros(3),
            torch.zeros(3),
            (y[1] + y[2]) / 2**0.5,
        ]
    )
    u, i = factors(model, 0, x) + extra, factors(model, 1, x)
    bias = biases(model, 0, x) + biases(model, 1, x)
    expected = (u * i).sum(1) + bias + model.global_bias
    torch.testing.assert_close(model(x)[0], expected)
    # evaluation: float64, same values, and a row does not depend on its batch
    model.eval()
    full = model(x)[0]
    assert full.dtype == torch.float64
    torch.testing.assert_close(full.float(), expected.detach())
    assert torch.equal(model(x[2:3])[0], full[2:3])


def test_implicit_penalty_and_gradients():
    torch.manual_seed(0)
    model = DotProductBias([4, 5], n_factors=2, implicit=rated_lists(), factor_l2=1.0)
    y = model.implicit_factors.embedding.weight
    with torch.no_grad():
        torch.nn.init.normal_(y)
    x = ids([1, 2], [3, 3])
    rating, aux = model(x)
    (rating.sum() + aux).backward()
    squares = sum(factors(model, f, x).square().sum(1) for f in range(2))
    sums = torch.stack([y[1].square().sum() + y[2].square().sum(), y[4].square().sum()])
    torch.testing.assert_close(aux, (squares + sums).mean())
    grad = y.grad.abs().sum(1)
    assert grad[0] == 0 and grad[3] == 0  # unknown slot, item rated by nobody
    assert (grad[[1, 2, 4]] > 0).all()


def test_implicit_needs_one_list_per_user():
    with pytest.raises(ValueError, match="indptr"):
        DotProductBias([4, 5], implicit=([0, 1], [1]))


def test_implicit_lists_are_not_in_state_dict():
    model = DotProductBias([4, 5], n_factors=2, implicit=rated_lists())
    assert "implicit_factors.embedding.weight" in model.state_dict()
    assert not any("implicit_items" in key for key in model.state_dict())
