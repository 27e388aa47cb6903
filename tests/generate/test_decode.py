"""Sampling, greedy and beam search through the model contract."""

from __future__ import annotations

import pytest
import torch

from cadenza.errors import ConfigError
from cadenza.generate.decode import Recompute, beam_search, greedy, log_prob, sample
from cadenza.generate.processors import TopK, sampling_processors


def decodes(ids: list[int], vocab, codec) -> bool:
    codes = vocab.decode(ids)
    return codec.encode(codec.decode(codes)).tolist() == codes.tolist()


def test_same_seed_same_pieces(rnn, vocab) -> None:
    chain = sampling_processors(temperature=0.9, top_p=0.95)
    a = sample(rnn, vocab, n=4, processors=chain, max_tokens=80, seed=7)
    b = sample(rnn, vocab, n=4, processors=chain, max_tokens=80, seed=7)
    c = sample(rnn, vocab, n=4, processors=chain, max_tokens=80, seed=8)
    assert a == b and a != c and len(a) == 4


def test_rows_stop_at_end_or_max_length(rnn, vocab, codec) -> None:
    end = vocab.id("END")
    rows = sample(rnn, vocab, n=8, max_tokens=60, seed=3)
    assert any(len(r) < 60 for r in rows)  # a random tiny model ends some rows early
    for row in rows:
        assert row[0] == vocab.id("START") and row[-1] == end and row.count(end) == 1
        assert len(row) <= 60 and decodes(row, vocab, codec)


def test_max_length_rows_still_decode(rnn, vocab, codec) -> None:
    end = vocab.id("END")
    never_end = lambda logits, context: logits.index_fill(-1, torch.tensor([end]), -1e9)  # noqa: E731
    rows = sample(rnn, vocab, n=3, processors=[never_end], max_tokens=40, seed=0)
    for row in rows:
        assert 30 <= len(row) <= 40 and row[-1] == end and decodes(row, vocab, codec)


def test_prompt_is_kept(rnn, vocab) -> None:
    prompt = [vocab.id(t) for t in ("START", "72", "64", "55", "48", "|||")]
    for row in sample(rnn, vocab, n=2, max_tokens=50, seed=1, prompt_ids=prompt):
        assert row[:len(prompt)] == prompt


def test_kv_cache_matches_recomputing(transformer, vocab) -> None:
    cached = sample(transformer, vocab, n=2, max_tokens=40, seed=5)
    recomputed = sample(Recompute(transformer), vocab, n=2, max_tokens=40, seed=5)
    assert cached == recomputed


def test_beam_width_one_is_greedy(rnn, vocab) -> None:
    best = greedy(rnn, vocab, max_tokens=120)
    beam = beam_search(rnn, vocab, width=1, max_tokens=120)
    assert beam.ids == best


@pytest.mark.parametrize("width", [3, 6])
def test_wider_beam_is_no_less_likely(rnn, vocab, codec, width) -> None:
    chain = [TopK(8)]
    best = greedy(rnn, vocab, processors=chain, max_tokens=100)
    beam = beam_search(rnn, vocab, width=width, processors=chain, max_tokens=100)
    assert decodes(beam.ids, vocab, codec)
    greedy_lp = log_prob(rnn, vocab, best, processors=chain)
    beam_lp = log_prob(rnn, vocab, beam.ids, processors=chain)
    assert beam_lp >= greedy_lp - 1e-4


def test_model_scoring_ranks_by_the_models_own_log_probability(rnn, vocab) -> None:
    chain = [TopK(3)]  # renormalized over three tokens, the processed scores are higher
    options = {"max_tokens": 60, "grammar": None}  # 59 tokens scored, then END appended
    for width in (1, 4):
        processed = beam_search(rnn, vocab, width, chain, **options)
        model = beam_search(rnn, vocab, width, chain, scoring="model", **options)
        assert model.log_prob == pytest.approx(
            log_prob(rnn, vocab, model.ids[:59], grammar=None), abs=1e-3)
        assert processed.log_prob == pytest.approx(
            log_prob(rnn, vocab, processed.ids[:59], processors=chain, grammar=None), abs=1e-3)
        assert model.log_prob < processed.log_prob


def test_bad_settings(rnn, vocab) -> None:
    with pytest.raises(ConfigError):
        sample(rnn, vocab, max_tokens=2)
    with pytest.raises(ConfigError):
        beam_search(rnn, vocab, width=0)
    with pytest.raises(ConfigError, match="scoring"):
        beam_search(rnn, vocab, scoring="best")
