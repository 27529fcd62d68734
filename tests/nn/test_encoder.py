"""RNNEncoder's one layer loop, as the encoder and the language model use it."""

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from sknlp_rnn.nn import LanguageModelModule, RNNEncoder


def _encoder(cell, **params):
    torch.manual_seed(0)
    return RNNEncoder(
        vocab_size=12, embedding_dim=4, hidden_size=6, n_layers=2, cell=cell, **params
    )


def _by_hand(enc, tokens):
    """Embedding and the layers called one after the other (eval mode)."""
    x, state = enc.embedding(tokens), []
    for rnn in enc.rnns:
        x, h = rnn(x)
        state.append(h)
    return x, state


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_run_layers_matches_the_layers_by_hand(cell):
    enc = _encoder(cell, last_hidden_size=3).eval()
    tokens = torch.tensor([[2, 3, 4, 5], [6, 7, 8, 9]])
    want, want_state = _by_hand(enc, tokens)
    raw, out, state = enc.run_layers(tokens)
    torch.testing.assert_close(raw, want)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(state, want_state)
    forward_out, forward_state = enc(tokens)
    torch.testing.assert_close(forward_out, want)
    torch.testing.assert_close(forward_state, want_state)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_packed_rows_read_as_if_alone(cell):
    """With lengths the layers run packed: each row as if it had no pads."""
    enc = _encoder(cell).eval()
    tokens = torch.tensor([[2, 3, 4, 5], [6, 7, 1, 1], [8, 1, 1, 1]])
    lengths = torch.tensor([4, 2, 1])
    raw, out, _ = enc.run_layers(tokens, lengths)
    assert isinstance(raw, PackedSequence) and isinstance(out, PackedSequence)
    padded, _ = enc(tokens, lengths)
    unpacked, _ = pad_packed_sequence(out, batch_first=True, total_length=4)
    torch.testing.assert_close(padded, unpacked)
    for i, n in enumerate(lengths.tolist()):
        alone, _ = _by_hand(enc, tokens[i : i + 1, :n])
        torch.testing.assert_close(padded[i, :n], alone[0], rtol=1e-5, atol=1e-6)
        assert torch.all(padded[i, n:] == 0)


def test_dropout_sits_after_the_last_layer_in_training():
    enc = _encoder("lstm", dropout=0.5).train()
    raw, out, _ = enc.run_layers(torch.tensor([[2, 3, 4, 5, 6, 7]]))
    kept = out != 0
    assert 0 < kept.sum() < out.numel()
    torch.testing.assert_close(out[kept], 2 * raw[kept])


def test_language_model_run_is_the_encoder_pass():
    """The LM's run and the encoder's forward draw the same dropout masks."""
    torch.manual_seed(0)
    lm = LanguageModelModule(
        vocab_size=12, embedding_dim=4, hidden_size=6, n_layers=2, dropout=0.3
    ).train()
    tokens = torch.tensor([[2, 3, 4, 5], [6, 7, 8, 9]])
    torch.manual_seed(1)
    logits, raw, out, state = lm.run(tokens)
    torch.manual_seed(1)
    want, want_state = lm.encoder(tokens)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(state, want_state)
    torch.testing.assert_close(logits, lm.decoder(want))
    assert not torch.equal(raw, out)


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("gru", 3), ("lstm", 4)])
def test_identity_init_sets_each_gate_block_to_the_identity(cell, gates):
    enc = _encoder(cell, init="identity", bidirectional=True, last_hidden_size=3)
    for rnn in enc.rnns:
        width = rnn.hidden_size
        for name, param in rnn.named_parameters():
            if name.startswith("weight_hh"):
                assert param.shape == (gates * width, width)
                torch.testing.assert_close(
                    param.detach(), torch.eye(width).repeat(gates, 1)
                )
            elif name.startswith("bias_hh"):
                assert torch.all(param == 0)
            else:  # the input weights keep torch's initialisation
                assert torch.any(param != 0)
    default = _encoder(cell)
    assert not torch.equal(default.rnns[0].weight_hh_l0, enc.rnns[0].weight_hh_l0)


def test_irnn_carries_its_state_unchanged_without_input():
    """ReLU and identity recurrence: with zero input weights, the state stays."""
    enc = _encoder("rnn", nonlinearity="relu", init="identity").eval()
    assert [rnn.nonlinearity for rnn in enc.rnns] == ["relu", "relu"]
    with torch.no_grad():
        for rnn in enc.rnns:
            rnn.weight_ih_l0.zero_()
            rnn.bias_ih_l0.zero_()
    state = [torch.rand(1, 1, 6), torch.rand(1, 1, 6)]
    out, new_state = enc(torch.tensor([[2, 3, 4, 5]]), state=state)
    torch.testing.assert_close(new_state, state)
    torch.testing.assert_close(out[0], state[1][0].expand(4, -1))


def test_relu_rnn_outputs_are_non_negative_and_gated_cells_ignore_it():
    tokens = torch.tensor([[2, 3, 4, 5, 6, 7]])
    relu = _encoder("rnn", nonlinearity="relu").eval()
    raw, _, _ = relu.run_layers(tokens)
    assert torch.all(raw >= 0) and torch.any(raw > 0)
    tanh = _encoder("rnn").eval()
    assert torch.any(tanh.run_layers(tokens)[0] < 0)
    for cell in ("lstm", "gru"):  # same weights, same outputs
        a, b = _encoder(cell).eval(), _encoder(cell, nonlinearity="relu").eval()
        torch.testing.assert_close(a(tokens), b(tokens))


@pytest.mark.parametrize(
    "params, match",
    [({"nonlinearity": "sigmoid"}, "nonlinearity"), ({"init": "orthogonal"}, "init")],
)
def test_bad_cell_options(params, match):
    with pytest.raises(ValueError, match=match):
        _encoder("rnn", **params)


def test_weight_dropout_on_an_identity_rnn_leaves_the_weights():
    """DropConnect drops entries of the recurrent matrix for one pass only."""
    enc = _encoder("rnn", init="identity", weight_dropout=0.5)
    tokens = torch.tensor([[2, 3, 4, 5, 6, 7]])
    enc.train()
    torch.manual_seed(0)
    a, _ = enc(tokens)
    torch.manual_seed(1)
    b, _ = enc(tokens)
    assert not torch.allclose(a, b)
    torch.testing.assert_close(enc.rnns[0].weight_hh_l0.detach(), torch.eye(6))
    enc.eval()
    plain = _encoder("rnn", init="identity").eval()
    torch.testing.assert_close(enc(tokens), plain(tokens))


def test_stateless_language_model_starts_every_call_from_zeros():
    torch.manual_seed(0)
    lm = LanguageModelModule(
        vocab_size=12, embedding_dim=4, hidden_size=6, cell="rnn", stateful=False
    ).eval()
    x = torch.randint(2, 12, (3, 8))
    lm(x[:, :4])
    second, _ = lm(x[:, 4:])
    assert lm.state is None
    torch.testing.assert_close(second, lm(x[:, 4:])[0])
    lm.stateful = True
    lm(x[:, :4])
    carried, _ = lm(x[:, 4:])
    assert not torch.allclose(carried, second)
