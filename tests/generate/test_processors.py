"""Logits processors: each filter keeps exactly what its definition says."""

from __future__ import annotations

import pytest
import torch

from cadenza.errors import ConfigError
from cadenza.generate.processors import (
    PROCESSORS,
    Context,
    MinP,
    Temperature,
    TopK,
    TopP,
    apply,
    build_processor,
    sampling_processors,
)

CONTEXT = Context(ids=torch.zeros(1, 1, dtype=torch.long))


def kept(logits: torch.Tensor) -> set[int]:
    return set(torch.nonzero(torch.isfinite(logits[0])).squeeze(1).tolist())


def test_temperature_scales_logits() -> None:
    logits = torch.tensor([[1.0, 2.0, -4.0]])
    assert torch.allclose(Temperature(0.5)(logits, CONTEXT), logits * 2)
    flat = Temperature(100.0)(logits, CONTEXT).softmax(-1)
    assert flat.max() - flat.min() < 0.1
    with pytest.raises(ConfigError):
        Temperature(0.0)


def test_top_k_keeps_k() -> None:
    logits = torch.tensor([[0.1, 3.0, 2.0, -1.0, 5.0]])
    assert kept(TopK(2)(logits, CONTEXT)) == {4, 1}
    assert kept(TopK(10)(logits, CONTEXT)) == set(range(5))


def test_top_p_keeps_the_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.05, 0.3, 0.15]])
    logits = probs.log()
    assert kept(TopP(0.5)(logits, CONTEXT)) == {0}
    assert kept(TopP(0.79)(logits, CONTEXT)) == {0, 2}
    assert kept(TopP(0.81)(logits, CONTEXT)) == {0, 2, 3}
    assert kept(TopP(0.01)(logits, CONTEXT)) == {0}  # always the top token
    assert kept(TopP(1.0)(logits, CONTEXT)) == {0, 1, 2, 3}


def test_min_p_scales_with_the_top_token() -> None:
    probs = torch.tensor([[0.5, 0.05, 0.3, 0.15]])
    assert kept(MinP(0.5)(probs.log(), CONTEXT)) == {0, 2}
    assert kept(MinP(0.2)(probs.log(), CONTEXT)) == {0, 2, 3}


def test_registry_and_chain() -> None:
    assert {"temperature", "top_k", "top_p", "min_p"} <= set(PROCESSORS)
    with pytest.raises(ConfigError, match="unknown logits processor"):
        build_processor("nope")
    chain = sampling_processors(temperature=0.5, top_k=2)
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    out = apply(chain, logits, CONTEXT)
    assert kept(out) == {1, 2} and out[0, 2] == 4.0
    assert sampling_processors() == []
