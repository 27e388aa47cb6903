"""Held-out NLL: every target of every piece scored once, from START, padding excluded."""

from __future__ import annotations

import math

import pytest
import torch

from cadenza.config import DataConfig
from cadenza.corpus.prepare import prepare
from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.likelihood import evaluate_nll, score_batch
from cadenza.models import build_model

torch.set_num_threads(1)


@pytest.fixture
def dataset(satb_folder, tmp_path) -> PreparedDataset:
    prepare(DataConfig(corpus=str(satb_folder(6, bars=2)), split=[0.34, 0.33, 0.33]),
            tmp_path / "data", jobs=1, cache_dir=None, progress=False)
    return PreparedDataset(tmp_path / "data")


def test_a_uniform_model_scores_log_vocab(dataset: PreparedDataset) -> None:
    torch.manual_seed(0)
    model = build_model("rnn", len(dataset.vocab), layers=1, hidden=8, embedding=4).train()
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    result = evaluate_nll(model, dataset, "test", batch_size=2)
    pieces = dataset.indices("test")
    assert result["pieces"] == len(pieces) >= 2
    assert result["tokens"] == sum(len(dataset.tokens(i)) - 1 for i in pieces)
    assert result["nats"] == pytest.approx(math.log(len(dataset.vocab)))
    assert result["bits"] == pytest.approx(result["nats"] / math.log(2))
    assert result["perplexity"] == pytest.approx(len(dataset.vocab))
    assert model.training  # the caller's mode is kept


def test_batching_and_padding_do_not_change_the_score(dataset: PreparedDataset) -> None:
    torch.manual_seed(0)
    model = build_model("rnn", len(dataset.vocab), layers=1, hidden=8, embedding=4)
    one = evaluate_nll(model, dataset, "validation", batch_size=1)
    many = evaluate_nll(model, dataset, "validation", batch_size=8)
    assert one["tokens"] == many["tokens"]
    assert one["nats"] == pytest.approx(many["nats"], rel=1e-5)
    assert one["accuracy"] == pytest.approx(many["accuracy"])


def test_long_pieces_slide_a_window_over_a_bounded_context() -> None:
    torch.manual_seed(0)
    model = build_model("transformer", 12, layers=1, dim=16, heads=2, max_context=64).eval()
    ids = torch.randint(1, 12, (2, 50))
    ids[1, 30:] = 0  # a shorter piece, right-padded
    full = score_batch(model, ids)
    assert full[2] == 49 + 29
    model.max_context = 16  # every target still scored once, now through 6 windows
    nll, correct, count = score_batch(model, ids)
    assert count == full[2] and 0 < nll and nll != pytest.approx(full[0])
    model.max_context = 49  # one window holding everything gives the same score
    assert score_batch(model, ids)[0] == pytest.approx(full[0], rel=1e-5)
