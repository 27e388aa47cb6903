"""A model with a bounded context is scored, enumerated and sampled through a sliding
window: it never sees more positions than it was built (and trained) for."""

from __future__ import annotations

import pytest
import torch

from cadenza.evaluate.infilling import exact_conditional
from cadenza.evaluate.likelihood import target_logprobs, windows
from cadenza.generate.decode import Windowed, greedy
from cadenza.models import build_model


@pytest.mark.parametrize("length,context", [(1, 4), (9, 4), (10, 5), (30, 24), (7, None)])
def test_windows_score_every_position_once_with_bounded_context(length, context):
    seen = []
    for begin, done, end in windows(length, context):
        assert begin <= done < end <= length
        if context is not None:
            assert end - begin <= context
            assert begin == 0 or done - begin >= context // 2  # at least half a context
        seen += range(done, end)
    assert seen == list(range(length))


def _transformer(max_context: int):
    torch.manual_seed(0)
    return build_model("transformer", 7, layers=1, dim=8, heads=2, dropout=0.0,
                       max_context=max_context).eval()


def test_target_logprobs_slide_past_a_bounded_context():
    ids = torch.tensor([[1, 3, 2, 4, 3, 2, 5, 6, 2, 3, 4, 1]])
    wide, narrow = _transformer(16), _transformer(4)
    with pytest.raises(Exception, match="max_context"):
        narrow(ids[:, :-1])  # the model itself refuses what it was not built for
    full = torch.log_softmax(wide(ids[:, :-1])[0].float(), -1)
    expected = full[0].gather(1, ids[0, 1:, None])[:, 0]
    assert torch.allclose(target_logprobs(wide, ids)[0], expected, atol=1e-5)
    got = target_logprobs(narrow, ids)[0]
    assert got.shape == (11,)
    # target 8 (ids[9]) is predicted by the window of inputs [6, 10), as windows() says
    window = torch.log_softmax(narrow(ids[:, 6:10])[0][0].float(), -1)
    assert torch.isclose(got[8], window[-2, ids[0, 9]], atol=1e-5)


def test_exact_conditional_of_a_bounded_model_is_a_distribution():
    model = _transformer(4)
    ids = torch.tensor([1, 3, 2, 4, 3, 2, 5, 6, 2])
    for i in (2, 6, 8):
        logp = exact_conditional(model, ids, i)
        assert torch.isclose(logp.exp().sum(), torch.tensor(1.0), atol=1e-5)
        assert logp[0] == float("-inf")


def test_sliding_window_sampling_goes_past_max_context():
    model = _transformer(4)
    from cadenza.codecs.base import Vocab

    vocab = Vocab(["<pad>"] + [f"t{i}" for i in range(1, 7)], list(range(-1, 6)))
    row = greedy(Windowed(model, cache=False), vocab, prompt_ids=[1, 3], max_tokens=12,
                 grammar=None)
    assert len(row) > 5  # the model alone stops at max_context + 1 tokens
    for t in range(2, len(row) - 1):  # every token is the argmax over the last 4 before it
        logits, _ = model(torch.tensor([row[max(t - 4, 0):t]]))
        assert row[t] == int(logits[0, -1].argmax())


def test_generation_slides_past_the_context_with_the_cache_while_it_fits():
    """sample() on a bounded model goes past max_context (Windowed) and draws exactly
    what the uncached sliding window draws at the same seed."""
    from cadenza.generate.decode import sample

    model = _transformer(6)
    from cadenza.codecs.base import Vocab

    vocab = Vocab(["<pad>"] + [f"t{i}" for i in range(1, 7)], list(range(-1, 6)))
    for prompt in ([1, 3], [1, 3, 2, 4, 3, 2, 5, 6, 2]):  # shorter and longer than C
        fast = sample(model, vocab, n=3, prompt_ids=prompt, max_tokens=20, seed=4,
                      grammar=None)
        slow = sample(Windowed(model, cache=False), vocab, n=3, prompt_ids=prompt,
                      max_tokens=20, seed=4, grammar=None)
        assert fast == slow
        assert max(len(r) for r in fast) > 7  # past max_context + 1
    assert Windowed(model).max_context is None


def test_a_run_is_used_within_the_window_it_trained_on():
    from cadenza.train.checkpoint import trained_context
    from cadenza.train.config import TrainConfig

    model = _transformer(16)
    trained_context(model, TrainConfig(seq_len=8, tbptt=False))
    assert model.max_context == 8  # scored and sampled through a window of 8
    trained_context(model, TrainConfig(seq_len=64, tbptt=False))
    assert model.max_context == 8  # never widened past what it holds
    rnn = build_model("rnn", 7, cell="lstm", layers=1, hidden=4, embedding=4)
    trained_context(rnn, TrainConfig(seq_len=8))
    assert rnn.max_context is None
