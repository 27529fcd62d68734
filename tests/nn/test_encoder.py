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
