import pytest
import torch

from sknlp_rnn.nn import SingleRowBatchNorm1d, TabularModule


def test_shapes_and_layers():
    net = TabularModule(
        [4, 7], [2, 3], n_continuous=3, n_outputs=2, hidden_sizes=(8, 5)
    )
    out, aux_loss = net(torch.tensor([[1, 6], [0, 0], [3, 2]]), torch.randn(3, 3))
    assert out.shape == (3, 2) and aux_loss is None
    assert [t.shape for t in net.embeddings.tables()] == [(4, 2), (7, 3)]
    assert net.layers[0].in_features == 2 + 3 + 3


def test_no_embeddings_or_no_continuous():
    mlp = TabularModule([], [], n_continuous=2, hidden_sizes=(4,))
    assert mlp(torch.zeros(5, 0, dtype=torch.long), torch.randn(5, 2))[0].shape == (
        5,
        1,
    )
    emb = TabularModule([3], [2], n_continuous=0, hidden_sizes=())
    assert emb(torch.tensor([[1], [2]]), torch.zeros(2, 0))[0].shape == (2, 1)


def test_y_range_bounds_the_output():
    net = TabularModule([], [], n_continuous=1, hidden_sizes=(), y_range=(-1.0, 2.0))
    net.eval()
    with torch.no_grad():
        net.layers[0].weight.fill_(100.0)
        net.layers[0].bias.zero_()
        x_cont = torch.tensor([[-5.0], [0], [5]])
        out, _ = net(torch.zeros(3, 0, dtype=torch.long), x_cont)
    assert out.min() >= -1.0 and out.max() <= 2.0
    assert torch.allclose(out[1], torch.tensor(0.5, dtype=out.dtype), atol=1e-6)
    with pytest.raises(ValueError, match="low < high"):
        TabularModule([], [], n_continuous=1, y_range=(1.0, 1.0))


def test_evaluation_is_float64_and_independent_of_the_batch():
    torch.manual_seed(0)
    net = TabularModule([5, 4], [3, 2], n_continuous=3, hidden_sizes=(64, 32)).eval()
    x_cat = torch.randint(0, 4, (50, 2))
    x_cont = torch.randn(50, 3)
    full, _ = net(x_cat, x_cont)
    assert full.dtype == torch.float64
    # float64 rounding (1e-16) is far below what float32 weights resolve
    part = net(x_cat[7:9], x_cont[7:9])[0]
    torch.testing.assert_close(part, full[7:9], rtol=1e-12, atol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # mixed precision: still
        assert net(x_cat, x_cont)[0].dtype == torch.float64


def test_per_layer_dropout_and_validation():
    net = TabularModule([], [], n_continuous=1, hidden_sizes=(4, 4), dropout=(0.1, 0.5))
    assert [m.p for m in net.layers if isinstance(m, torch.nn.Dropout)] == [0.1, 0.5]
    with pytest.raises(ValueError, match="2 hidden layers"):
        TabularModule([], [], n_continuous=1, hidden_sizes=(4, 4), dropout=(0.1,))
    with pytest.raises(ValueError, match="cardinalities"):
        TabularModule([3], [], n_continuous=1)


def test_batch_norm_placement():
    net = TabularModule([], [], n_continuous=2, hidden_sizes=(4,))
    assert isinstance(net.bn_continuous, SingleRowBatchNorm1d)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in net.layers)
    full = TabularModule(
        [], [], n_continuous=2, hidden_sizes=(4,), batch_norm_hidden=True
    )
    assert isinstance(full.layers[2], SingleRowBatchNorm1d)
    off = TabularModule([], [], n_continuous=2, batch_norm_continuous=False)
    assert isinstance(off.bn_continuous, torch.nn.Identity)
    full.train()(torch.zeros(1, 0, dtype=torch.long), torch.randn(1, 2))


def test_single_row_batch_norm_uses_running_stats_in_training():
    bn = SingleRowBatchNorm1d(2).train()
    bn.running_mean.fill_(1.0)
    out = bn(torch.tensor([[3.0, 1.0]]))
    expected = (torch.tensor([[3.0, 1.0]]) - 1.0) / torch.sqrt(
        torch.tensor(1.0 + bn.eps)
    )
    assert torch.allclose(out, expected)
    assert torch.equal(bn.running_mean, torch.ones(2))  # not updated
    bn(torch.randn(4, 2))  # a normal batch updates the statistics
    assert not torch.equal(bn.running_mean, torch.ones(2))


def test_concat_embeddings_equal_one_lookup_per_column():
    from sknlp_rnn.nn import ConcatEmbeddings

    torch.manual_seed(0)
    emb = ConcatEmbeddings([4, 7, 2], [2, 3, 1])
    codes = torch.tensor([[0, 6, 1], [3, 2, 0], [3, 6, 1]])
    tables = emb.tables()
    expected = torch.cat([tables[c][codes[:, c]] for c in range(3)], 1)
    out = emb(codes)
    assert torch.equal(out, expected)
    # gradients reach exactly the rows looked up, in each column's table
    out.sum().backward()
    saved, emb.weight.data = emb.weight.data, emb.weight.grad
    grad = emb.tables()  # the gradient, cut like the weights
    emb.weight.data = saved
    assert grad[0][3].tolist() == [2.0, 2.0] and grad[0][1].abs().sum() == 0
    assert grad[1][6].tolist() == [2.0, 2.0, 2.0] and grad[2][1].item() == 2.0
    empty = ConcatEmbeddings([], [])
    assert empty(torch.zeros((3, 0), dtype=torch.int64)).shape == (3, 0)
