"""Tests of the collaborative-filtering torch modules."""

import itertools

import pytest
import torch

from sknlp_rnn.nn import CollabNN, DotProductBias, embedding_size, sigmoid_range


def ids(*columns):
    return torch.tensor(list(zip(*columns, strict=True)))


def test_two_fields_is_biased_matrix_factorization():
    torch.manual_seed(0)
    model = DotProductBias([5, 7], n_factors=3)
    x = ids([1, 2, 4], [6, 3, 1])
    u, i = model.factors[0](x[:, 0]), model.factors[1](x[:, 1])
    bu, bi = model.biases[0](x[:, 0])[:, 0], model.biases[1](x[:, 1])[:, 0]
    expected = (u * i).sum(1) + bu + bi + model.global_bias
    torch.testing.assert_close(model(x), expected)


def test_more_fields_sum_every_pairwise_dot_product():
    torch.manual_seed(0)
    model = DotProductBias([4, 5, 3, 6], n_factors=2)
    for table in model.biases:
        torch.nn.init.normal_(table.weight)
    x = ids([1, 3], [4, 2], [2, 1], [5, 0])
    vectors = [table(x[:, f]) for f, table in enumerate(model.factors)]
    pairs = sum((a * b).sum(1) for a, b in itertools.combinations(vectors, 2))
    biases = sum(table(x[:, f])[:, 0] for f, table in enumerate(model.biases))
    torch.testing.assert_close(model.score(x), pairs + biases + model.global_bias)


def test_unknown_slot_is_zero_and_gets_no_gradient():
    model = DotProductBias([3, 3], n_factors=4, y_range=(0.0, 5.5), target_mean=3.5)
    x = ids([0, 0], [0, 2])
    out = model(x)
    # both ids unknown: the output is the initial target mean
    assert out[0].item() == pytest.approx(3.5, rel=1e-5)
    out.sum().backward()
    for table in [*model.factors, *model.biases]:
        assert torch.count_nonzero(table.weight[0]) == 0
        assert torch.count_nonzero(table.weight.grad[0]) == 0


def test_y_range_bounds_outputs():
    model = DotProductBias([3, 3], n_factors=2, y_range=(1.0, 2.0))
    with torch.no_grad():
        model.global_bias.fill_(100.0)
    assert model(ids([1], [2])).item() <= 2.0
    assert sigmoid_range(torch.tensor(-100.0), 1.0, 2.0).item() == pytest.approx(1.0)


def test_training_forward_stores_l2_penalty_of_used_factors():
    model = DotProductBias([3, 3], n_factors=2)
    for table in model.biases:
        torch.nn.init.normal_(table.weight)  # biases are not penalised
    x = ids([1, 2], [2, 0])
    rows = [model.factors[f](x[:, f]).square().sum(1) for f in range(2)]
    model(x)
    torch.testing.assert_close(model.last_penalty, (rows[0] + rows[1]).mean())
    model.eval()
    model.last_penalty = None
    assert model(x).dtype == torch.float64 and model.last_penalty is None


def test_collab_nn_shapes_and_range():
    model = CollabNN(
        [10, 20, 4], embedding_sizes=[3, 5, 2], hidden_sizes=(8, 4), y_range=(0, 1)
    )
    out = model(ids([1, 9, 0], [19, 0, 3], [3, 2, 1]))
    assert out.shape == (3,) and ((out > 0) & (out < 1)).all()
    assert model.last_penalty.item() > 0


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
    tables = model.factors if model_class is DotProductBias else model.embeddings
    assert [t.num_embeddings for t in tables] == [4, 5]
    side = model.biases[-2:]
    assert [t.num_embeddings for t in side] == [6, 3]
    for table in side:
        torch.nn.init.normal_(table.weight[1:])
    x = ids([1, 3, 2], [4, 2, 0], [5, 0, 1], [2, 1, 0])
    unknown_side = x.clone()
    unknown_side[:, 2:] = 0
    added = side[0](x[:, 2])[:, 0] + side[1](x[:, 3])[:, 0]
    torch.testing.assert_close(
        model(x), model(unknown_side) + added.double(), check_dtype=False
    )
    model.train()
    model(x).sum().backward()  # side biases train; unknown slots do not
    assert all(t.weight.grad[1:].abs().sum() > 0 for t in side)
    assert all(t.weight.grad[0].abs().sum() == 0 for t in side)


def rated_lists():
    # user 1 rated items 1, 2; user 2 rated item 4; user 3 nothing
    return [0, 0, 2, 3, 3], [1, 2, 4]


def test_implicit_feedback_adds_normalised_sum_to_user_factors():
    torch.manual_seed(0)
    model = DotProductBias([4, 5], n_factors=3, implicit=rated_lists())
    torch.nn.init.normal_(model.implicit_factors.weight)
    x = ids([1, 2, 3, 0, 1], [3, 3, 3, 3, 1])
    y = model.implicit_factors.weight
    extra = torch.stack(
        [
            (y[1] + y[2]) / 2**0.5,
            y[4],
            torch.zeros(3),
            torch.zeros(3),
            (y[1] + y[2]) / 2**0.5,
        ]
    )
    u, i = model.factors[0](x[:, 0]) + extra, model.factors[1](x[:, 1])
    biases = model.biases[0](x[:, 0])[:, 0] + model.biases[1](x[:, 1])[:, 0]
    expected = (u * i).sum(1) + biases + model.global_bias
    torch.testing.assert_close(model.score(x), expected)
    # evaluation: float64, same values, and a row does not depend on its batch
    model.eval()
    full = model.score(x)
    assert full.dtype == torch.float64
    torch.testing.assert_close(full.float(), expected.detach())
    assert torch.equal(model.score(x[2:3]), full[2:3])


def test_implicit_penalty_and_gradients():
    torch.manual_seed(0)
    model = DotProductBias([4, 5], n_factors=2, implicit=rated_lists())
    torch.nn.init.normal_(model.implicit_factors.weight)
    x = ids([1, 2], [3, 3])
    model(x).sum().backward()
    y = model.implicit_factors.weight
    factors = sum(model.factors[f](x[:, f]).square().sum(1) for f in range(2))
    sums = torch.stack([y[1].square().sum() + y[2].square().sum(), y[4].square().sum()])
    torch.testing.assert_close(model.last_penalty, (factors + sums).mean())
    grad = y.grad.abs().sum(1)
    assert grad[0] == 0 and grad[3] == 0  # unknown slot, item rated by nobody
    assert (grad[[1, 2, 4]] > 0).all()


def test_implicit_needs_one_list_per_user():
    with pytest.raises(ValueError, match="indptr"):
        DotProductBias([4, 5], implicit=([0, 1], [1]))


def test_implicit_lists_are_not_in_state_dict():
    model = DotProductBias([4, 5], n_factors=2, implicit=rated_lists())
    assert "implicit_factors.weight" in model.state_dict()
    assert not any("implicit_items" in key for key in model.state_dict())
