"""Contract tests for the sequence models (tiny sizes, CPU, each test well under 2 s)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from cadenza.models import (
    MODELS,
    KVCache,
    ModelConfigError,
    RNNLanguageModel,
    SequenceModel,
    TransformerLanguageModel,
    build_model,
    count_parameters,
)

torch.set_num_threads(1)

VOCAB = 11
SPECS = {
    "rnn-lstm": ("rnn", {"cell": "lstm", "layers": 2, "hidden": 16, "embedding": 8}),
    "rnn-gru": ("rnn", {"cell": "gru", "layers": 2, "hidden": 16, "embedding": 8}),
    "rnn-rnn": ("rnn", {"cell": "rnn", "layers": 2, "hidden": 16, "embedding": 8}),
    "rnn-lstm-frames": ("rnn", {"cell": "lstm", "layers": 2, "hidden": 16, "embedding": 8,
                                "frame_features": True, "start_token": 1, "frame_token": 2,
                                "fermata_token": 3}),
    "transformer": ("transformer", {"layers": 2, "dim": 16, "heads": 2, "max_context": 64}),
}
RNN_SPECS = [k for k in SPECS if k.startswith("rnn")]


def make(spec: str, **overrides: object) -> SequenceModel:
    """A tiny seeded model in eval mode."""
    torch.manual_seed(0)
    name, config = SPECS[spec]
    model = build_model(name, VOCAB, **{**config, **overrides}).eval()
    if getattr(model, "structure", None) is not None:  # the tables start at zero: make
        for table in model.structure.children():     # the features matter in the tests
            torch.nn.init.normal_(table.weight)
    return model


def tokens(batch: int = 3, length: int = 10, seed: int = 1) -> torch.Tensor:
    """Random token ids [batch, length]."""
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def run_steps(model: SequenceModel, seq: torch.Tensor, state: object = None) -> torch.Tensor:
    """Logits [B, T, V] from feeding `seq` one token at a time through `step`."""
    state = model.init_state(seq.shape[0], seq.device) if state is None else state
    out = []
    for t in range(seq.shape[1]):
        logits, state = model.step(seq[:, t], state)
        out.append(logits)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("spec", SPECS)
def test_shapes(spec: str) -> None:
    model = make(spec)
    logits, _ = model(tokens(3, 10))
    assert logits.shape == (3, 10, VOCAB)
    step_logits, state = model.step(tokens(3, 1)[:, 0], model.init_state(3, "cpu"))
    assert step_logits.shape == (3, VOCAB)
    assert state is not None
    assert count_parameters(model) > 0


@pytest.mark.parametrize("spec", SPECS)
def test_no_causal_leak(spec: str) -> None:
    model = make(spec)
    seq = tokens(2, 12)
    base, _ = model(seq)
    for t in (0, 5, 11):
        changed = seq.clone()
        changed[:, t:] = (changed[:, t:] + 1 + t) % VOCAB
        logits, _ = model(changed)
        torch.testing.assert_close(logits[:, :t], base[:, :t], atol=1e-6, rtol=0)
        assert not torch.allclose(logits[:, t], base[:, t])


@pytest.mark.parametrize("spec", SPECS)
def test_step_matches_forward(spec: str) -> None:
    model = make(spec)
    seq = tokens(3, 14)
    with torch.no_grad():
        full, _ = model(seq)
        stepped = run_steps(model, seq)
    torch.testing.assert_close(stepped, full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("spec", SPECS)
def test_chunked_state_matches_forward(spec: str) -> None:
    """Prefill a state with a chunk, then continue: equals one full pass."""
    model = make(spec)
    seq = tokens(2, 12)
    with torch.no_grad():
        full, _ = model(seq)
        first, state = model(seq[:, :5], model.init_state(2, "cpu"))
        second, state = model(seq[:, 5:9], state)
        rest = run_steps(model, seq[:, 9:], model.detach_state(state))
    torch.testing.assert_close(torch.cat((first, second, rest), 1), full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("spec", RNN_SPECS)
def test_tbptt_windows_match_whole_sequence(spec: str) -> None:
    model = make(spec)
    seq = tokens(2, 16)
    full, full_state = model(seq)
    a, state = model(seq[:, :7])
    b, end_state = model(seq[:, 7:], model.detach_state(state))
    assert all(not s.requires_grad for s in model.detach_state(state))
    torch.testing.assert_close(torch.cat((a, b), 1), full, atol=1e-5, rtol=0)
    for s, f in zip(end_state, full_state, strict=True):
        torch.testing.assert_close(s, f, atol=1e-5, rtol=0)


@pytest.mark.parametrize("spec", SPECS)
def test_overfits_one_batch(spec: str) -> None:
    model = make(spec, dropout=0.0).train()
    batch = tokens(4, 16, seed=3)
    batch[:, 0] = torch.arange(4)  # distinct first tokens: every prefix is unambiguous
    inputs, targets = batch[:, :-1], batch[:, 1:]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
    assert loss.item() < 0.1


@pytest.mark.parametrize("spec", SPECS)
def test_select_state(spec: str) -> None:
    model = make(spec)
    seq = tokens(4, 6)
    index = torch.tensor([2, 0, 2])
    with torch.no_grad():
        _, state = model(seq, model.init_state(4, "cpu"))
        nxt = tokens(4, 1, seed=9)[:, 0]
        picked, _ = model.step(nxt[index], model.select_state(state, index))
        _, sub_state = model(seq[index], model.init_state(3, "cpu"))
        expected, _ = model.step(nxt[index], sub_state)
    torch.testing.assert_close(picked, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("spec", SPECS)
def test_state_is_not_mutated(spec: str) -> None:
    """An old state stays valid after stepping from it (needed by beam search)."""
    model = make(spec)
    with torch.no_grad():
        _, state = model(tokens(2, 4), model.init_state(2, "cpu"))
        a, _ = model.step(torch.tensor([1, 2]), state)
        model.step(torch.tensor([3, 4]), state)
        b, _ = model.step(torch.tensor([1, 2]), state)
    torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_registry_errors() -> None:
    assert set(MODELS) >= {"rnn", "transformer", "note-rnn"}
    with pytest.raises(ValueError,
                       match="unknown model .x.; choose from: " + ", ".join(sorted(MODELS))):
        build_model("x", VOCAB)
    with pytest.raises(
        ValueError,
        match=r"unknown option\(s\) for model 'rnn': foo.*accepted:.*"
        r"cell, layers, hidden, embedding, dropout, tie_weights",
    ):
        build_model("rnn", VOCAB, foo=1)
    with pytest.raises(ModelConfigError, match="heads"):
        build_model("transformer", VOCAB, dim=16, heads=3)
    with pytest.raises(ValueError, match="cell"):
        build_model("rnn", VOCAB, cell="tcn")
    with pytest.raises(ValueError, match="vocab_size"):
        build_model("rnn", 0)


def test_defaults_and_classes() -> None:
    rnn = build_model("rnn", VOCAB)
    assert isinstance(rnn, RNNLanguageModel) and rnn.max_context is None
    assert (rnn.config.layers, rnn.config.hidden, rnn.config.embedding) == (3, 256, 32)
    tf = build_model("transformer", VOCAB, layers=1, dim=16, heads=2)
    assert isinstance(tf, TransformerLanguageModel) and tf.max_context == 1024
    assert tf.head.weight is tf.embed.weight  # tied by default
    assert rnn.model_name == "rnn" and tf.model_name == "transformer"


@pytest.mark.parametrize("embedding", [8, 16])
def test_rnn_tied_weights(embedding: int) -> None:
    model = make("rnn-lstm", tie_weights=True, embedding=embedding)
    assert model.head.weight is model.embed.weight
    logits, _ = model(tokens(2, 5))
    assert logits.shape == (2, 5, VOCAB)


def test_transformer_context_limit() -> None:
    model = make("transformer", max_context=8)
    state = model.init_state(1, "cpu")
    _, state = model(tokens(1, 8), state)
    assert isinstance(state, KVCache) and state.position == 8
    with pytest.raises(ValueError, match="max_context"):
        model.step(torch.tensor([1]), state)
    with pytest.raises(ValueError, match="max_context"):
        model(tokens(1, 9))
    logits, none_state = model(tokens(1, 8))
    assert none_state is None and logits.shape == (1, 8, VOCAB)


def test_frame_structure_counters() -> None:
    from cadenza.models.structure import NO_FERMATA, FrameStructure

    structure = FrameStructure(4, start=1, frame=2, fermata=3)
    # START, n n |||, (.) n |||, n |||
    seq = torch.tensor([[1, 5, 6, 2, 3, 7, 2, 8, 2]])
    after, last = structure.counters(seq, FrameStructure.initial_counters(1))
    assert after[0, :, 0].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 0]  # slot in the frame
    assert after[0, :, 1].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3]  # frames since START
    assert after[0, :, 2].tolist() == [NO_FERMATA] * 3 + [NO_FERMATA + 1, 0, 0, 1, 1, 2]
    assert last[0].tolist() == after[0, -1].tolist()


def test_frame_features_need_their_tokens() -> None:
    from cadenza.models.structure import fill_structure_tokens

    ids = {"START": 1, "|||": 3, "(.)": 4}
    filled = fill_structure_tokens({"frame_features": True}, ids.__getitem__)
    assert (filled["start_token"], filled["frame_token"], filled["fermata_token"]) == (1, 3, 4)
    with pytest.raises(ModelConfigError, match="needs a '\\|\\|\\|' token"):
        fill_structure_tokens({"frame_features": True}, {"START": 1}.__getitem__)
    with pytest.raises(ModelConfigError, match="frame_features needs"):
        build_model("rnn", VOCAB, frame_features=True)


@pytest.mark.parametrize("spec", list(SPECS))
def test_inference_sees_weights_updated_in_place(spec: str) -> None:
    """Validation runs without gradients between optimizer steps. The fused optimizers
    update weights without bumping their version counters, so nothing computed from the
    weights may be kept across forwards (a cached frame-feature table once was, and
    validation silently used stale weights)."""
    model = make(spec).train(False)
    tokens = torch.randint(1, VOCAB, (2, 9))
    with torch.no_grad():
        before, _ = model(tokens)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    torch.optim.Adam(model.parameters(), lr=0.1, fused=True).step()
    with torch.no_grad():
        after, _ = model(tokens)
    fresh, _ = model(tokens)  # with gradients: always recomputed from the weights
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, fresh.detach())
