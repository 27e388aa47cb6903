"""The objective contract, and exact per-frame likelihoods on hand-computed cases."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cadenza.codecs.pianoroll import PianoRollCodec
from cadenza.data.dataset import PreparedDataset
from cadenza.models import build_model_for
from cadenza.objectives import OBJECTIVES, build_objective, default_objective
from cadenza.train.config import TrainConfig


class Uniform(torch.nn.Module):
    """Zero logits everywhere: every allowed continuation equally likely."""

    inputs = "tokens"
    max_context = None

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, state=None):
        shape = x.shape[:2] if x.dim() > 2 else x.shape
        return torch.zeros(*shape, self.size) + 0 * self.anchor, state


@pytest.mark.parametrize("layout, name, model", [("tokens", "next_token", "rnn"),
                                                 ("roll", "multilabel", "frame-rnn")])
def test_contract_loss_measure_unit(roll_dataset, layout, name, model) -> None:
    dataset = PreparedDataset(roll_dataset(layout))
    assert default_objective(dataset) == name and name in OBJECTIVES
    objective = build_objective(name, dataset)
    assert objective.unit == "nats/frame"
    net = build_model_for(model, dataset.codec.spec, len(dataset.vocab),
                          **({"hidden": 8, "layers": 1} if model == "frame-rnn" else
                             {"hidden": 8, "layers": 1, "embedding": 4}))
    train = TrainConfig(batch_size=2, seq_len=8)
    batches = objective.batches("train", train)
    step = objective.loss(net, batches.batch(0, 0))
    assert step.loss.dim() == 0 and torch.isfinite(step.loss) and step.count > 0
    step.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    result = objective.evaluate(net, "test")
    frames = sum(len(dataset.tokens(i)) for i in dataset.indices("test"))
    if layout == "tokens":  # a token dataset counts its frames by their delimiters
        frames = sum(int((np.asarray(dataset.tokens(i)) == dataset.vocab.role_id("frame"))
                         .sum()) for i in dataset.indices("test"))
    assert result["unit"] == "nats/frame" and result["count"] == frames > 0
    assert 0 < result["loss"] < 100


def test_multilabel_frame_nll_is_the_sum_over_pitches(roll_dataset) -> None:
    dataset = PreparedDataset(roll_dataset("roll"))
    result = build_objective("multilabel", dataset).evaluate(Uniform(88), "test")
    assert result["loss"] == pytest.approx(88 * math.log(2), rel=1e-6)


def test_rising_frames_hand_computed_and_normalised(tmp_path) -> None:
    """Uniform logits over pitches 60-63: the frame {61, 63} costs log 5 (at a frame
    start: 4 pitches or '|') + log 3 (after 61: 62, 63 or '|') + log 1 (after 63 only
    '|'), and the 16 possible frames sum to one."""
    codec = PianoRollCodec(layout="tokens")
    objective = _objective_over(codec, [60, 61, 62, 63])
    ids = objective.vocab_ids
    model = Uniform(len(objective.dataset.vocab))

    def frame_nll(pitches: list[int]) -> float:
        seq = [ids["BOS"]] + [ids[f"p{p}"] for p in sorted(pitches)] + [ids["|"]]
        x = torch.tensor([seq[:-1]])
        logits = objective.constrain(model(x)[0], x)
        logp = logits.log_softmax(-1)[0, torch.arange(len(seq) - 1), torch.tensor(seq[1:])]
        return float(-logp.sum().detach())

    assert frame_nll([61, 63]) == pytest.approx(math.log(5) + math.log(3))
    assert frame_nll([]) == pytest.approx(math.log(5))
    total = sum(math.exp(-frame_nll(list(c))) for k in range(5)
                for c in itertools.combinations([60, 61, 62, 63], k))
    assert total == pytest.approx(1.0, rel=1e-6)


def _objective_over(codec: PianoRollCodec, pitches: list[int]):
    """A next_token objective whose dataset vocabulary holds exactly ``pitches``."""
    from cadenza.codecs import Vocab

    vocab = Vocab.build(codec, [codec.code_of(f"p{p}") for p in pitches])
    objective = OBJECTIVES["next_token"](SimpleNamespace(codec=codec, vocab=vocab))
    objective.vocab_ids = vocab.index
    return objective
