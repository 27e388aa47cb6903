"""Fixtures for generation tests: the chorale codec, a vocabulary, tiny models."""

from __future__ import annotations

import pytest
import torch

from cadenza.codecs import Vocab, build_codec
from cadenza.codecs.chorale import note_code
from cadenza.models import build_model

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def codec():
    return build_codec("chorale")


@pytest.fixture(scope="session")
def vocab(codec) -> Vocab:
    """Every note the Bach vocabulary holds (MIDI 31-84), tied and not."""
    codes = [note_code(p, tied) for p in range(31, 85) for tied in (False, True)]
    return Vocab.build(codec, codes)


@pytest.fixture
def rnn(vocab):
    torch.manual_seed(0)
    return build_model("rnn", len(vocab), layers=1, hidden=16, embedding=8, dropout=0.0).eval()


@pytest.fixture
def transformer(vocab):
    torch.manual_seed(0)
    return build_model("transformer", len(vocab), layers=1, dim=16, heads=2, dropout=0.0,
                       max_context=256).eval()
