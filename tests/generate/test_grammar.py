"""The chorale grammar: whatever the logits, sampled sequences decode and re-encode."""

from __future__ import annotations

from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.generate.grammar import ChoraleGrammar
from cadenza.generate.processors import Context


def sample_under_grammar(grammar: ChoraleGrammar, batch: int, steps: int, seed: int,
                         scale: float) -> list[list[int]]:
    """Draw from random logits with the mask, as the decoder does; close cut rows."""
    generator = torch.Generator().manual_seed(seed)
    state = grammar.init_state(batch)
    rows: list[list[int]] = [[] for _ in range(batch)]
    for _ in range(steps):
        logits = torch.randn(batch, len(grammar.vocab), generator=generator) * scale
        masked = grammar(logits, Context(torch.zeros(batch, 0), 0, {"grammar": state}))
        tokens = torch.multinomial(masked.softmax(-1), 1, generator=generator).squeeze(1)
        state = grammar.advance(state, tokens)
        for row, token in zip(rows, tokens.tolist()):
            if not row or row[-1] != grammar.end:
                row.append(token)
    return [grammar.finish(row) for row in rows]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(1, 120),
       scale=st.floats(0.1, 30.0))
def test_sampled_sequences_decode_and_reencode(vocab, codec, seed, steps, scale) -> None:
    grammar = ChoraleGrammar(vocab)
    for ids in sample_under_grammar(grammar, 4, steps, seed, scale):
        assert ids[0] == grammar.start and ids[-1] == grammar.end
        assert vocab.pad_id not in ids and ids.count(grammar.start) == 1
        codes = vocab.decode(ids)
        score = codec.decode(codes)
        assert codec.encode(score).tolist() == codes.tolist()


def test_rules(vocab) -> None:
    grammar = ChoraleGrammar(vocab)
    ids = lambda *names: [vocab.id(n) for n in names]  # noqa: E731
    state = grammar.init_state(1)

    def allowed_after(tokens: list[int]) -> set[str]:
        s = state
        for t in tokens:
            s = grammar.advance(s, torch.tensor([t]))
        return {vocab.tokens[i] for i in torch.nonzero(grammar.allowed(s)[0]).squeeze(1)}

    assert allowed_after([]) == {"START"}
    start = allowed_after(ids("START"))
    assert "END" not in start and "(.)" in start and "|||" in start and "60~" not in start
    assert "|||" not in allowed_after(ids("START", "(.)"))
    after_frame = allowed_after(ids("START", "72", "64", "|||"))
    assert {"END", "72~", "64~", "(.)"} <= after_frame and "60~" not in after_frame
    full = allowed_after(ids("START", "72", "64", "55", "48"))
    assert full == {"|||"}
    crossing = allowed_after(ids("START", "72", "60"))
    assert "69" in crossing and "70" not in crossing  # at most 9 above the lowest note
    assert "END" not in allowed_after(ids("START", "|||"))  # no trailing empty frame


def test_finish_closes_rows(vocab, codec) -> None:
    grammar = ChoraleGrammar(vocab)
    ids = lambda *names: [vocab.id(n) for n in names]  # noqa: E731
    assert grammar.finish(ids("START", "72", "64")) == ids("START", "72", "64", "|||", "END")
    assert grammar.finish(ids("START", "72", "|||", "|||", "(.)")) == ids(
        "START", "72", "|||", "END")
    assert grammar.finish(ids("START", "|||")) == ids("START", "END")


def test_real_chorales_are_legal(vocab, codec) -> None:
    """Real Bach (preprocessed like the training data) passes the mask token by token."""
    import music21  # a dependency: its corpus is cadenza's embedded data

    from cadenza.corpus.preprocess import PreprocessConfig, preprocess
    from cadenza.io import read

    root = Path(music21.__file__).parent / "corpus" / "bach"
    paths = [root / f"bwv{n}.mxl" for n in ("26.6", "40.8")]
    assert all(p.exists() for p in paths), "music21's Bach corpus is missing"
    grammar = ChoraleGrammar(vocab)
    for path in paths:
        score, _ = preprocess(read(path)[0], PreprocessConfig(meter=None))
        ids = vocab.encode(codec.encode(score)).tolist()
        state = grammar.init_state(1)
        for position, token in enumerate(ids):
            assert grammar.allowed(state)[0, token], (path.name, position, vocab.tokens[token])
            state = grammar.advance(state, torch.tensor([token]))


def test_min_frames_holds_back_end(vocab, rnn) -> None:
    from cadenza.generate import sample
    from cadenza.generate.grammar import MinFrames

    frame, end = vocab.id("|||"), vocab.id("END")

    class EndAtOnce:  # a processor that makes END by far the likeliest token
        def __call__(self, logits, context):
            logits = logits.clone()
            logits[:, end] += 50.0
            return logits

    rows = sample(rnn, vocab, n=3, processors=[EndAtOnce()], seed=0, max_tokens=400)
    assert all(sum(t == frame for t in row) < 3 for row in rows)  # ends almost at once
    rows = sample(rnn, vocab, n=3, processors=[EndAtOnce(), MinFrames(vocab, 12)], seed=0,
                  max_tokens=400)
    assert all(sum(t == frame for t in row) == 12 and row[-1] == end for row in rows)


def test_end_boost_lets_long_pieces_end_at_a_frame(vocab, rnn) -> None:
    import math

    from cadenza.generate import sample
    from cadenza.generate.grammar import EndBoost
    from cadenza.generate.processors import Context

    frame, end = vocab.id("|||"), vocab.id("END")
    boost = EndBoost(vocab, frames=8, growth=2.0)
    logits = torch.zeros(2, len(vocab))
    out = boost(logits, Context(torch.zeros(2, 1, dtype=torch.long), 0,
                                {"end_boost": torch.tensor([5, 10])}))
    assert out[0, end] == 0 and math.isclose(float(out[1, end]), 2 * math.log(2.0), rel_tol=1e-6)
    assert torch.equal(out[:, :end], logits[:, :end])  # nothing else moves

    class NeverEnd:  # a model that would wander on to max_tokens
        def __call__(self, logits, context):
            logits = logits.clone()
            logits[:, end] -= 30.0
            return logits

    def frames(row):
        return sum(t == frame for t in row)

    rows = sample(rnn, vocab, n=3, processors=[NeverEnd()], seed=0, max_tokens=400)
    assert all(frames(row) > 40 for row in rows)
    rows = sample(rnn, vocab, n=3, processors=[NeverEnd(), EndBoost(vocab, 8, math.e ** 2)],
                  seed=0, max_tokens=400)
    assert all(8 <= frames(row) <= 30 and row[-2:] == [frame, end] for row in rows)
