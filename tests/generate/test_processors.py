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


def test_group_temperature_sharpens_inside_the_group_and_keeps_its_mass() -> None:
    from cadenza.generate.processors import GroupTemperature

    probs = torch.tensor([[0.4, 0.3, 0.2, 0.1]])  # group: ids 1 and 2 (mass 0.5)
    out = GroupTemperature(0.5, [1, 2])(probs.log(), CONTEXT).softmax(-1)[0]
    assert torch.allclose(out[[0, 3]], probs[0, [0, 3]])  # outside: untouched
    assert torch.isclose(out[1] + out[2], torch.tensor(0.5))  # the group keeps its share
    assert out[1] / out[2] == pytest.approx((0.3 / 0.2) ** 2, rel=1e-4)  # sharper inside
    forbidden = torch.tensor([[0.0, -torch.inf, -torch.inf, 1.0]])
    assert torch.equal(GroupTemperature(0.5, [1, 2])(forbidden, CONTEXT), forbidden)
    with pytest.raises(ConfigError):
        GroupTemperature(0.0, [1])


def test_pitch_temperature_needs_onsets(vocab) -> None:
    from cadenza.generate.grammar import onset_ids

    with pytest.raises(ConfigError, match="note onsets"):
        sampling_processors(pitch_temperature=0.8)
    onsets = onset_ids(vocab)
    assert all(not vocab.tokens[i].endswith("~") and vocab.tokens[i][0].isdigit()
               for i in onsets.tolist())
    assert len(onsets) == 84 - 31 + 1
    assert len(sampling_processors(pitch_temperature=0.8, onset_ids=onsets)) == 1


def test_run_sampling_settings(tmp_path) -> None:
    import json

    from cadenza.generate.settings import SamplingSettings, load_sampling

    assert load_sampling(tmp_path) == SamplingSettings()
    (tmp_path / "sampling.json").write_text(json.dumps({"pitch_temperature": 0.8}))
    settings = load_sampling(tmp_path)
    assert settings.pitch_temperature == 0.8 and settings.temperature == 1.0
    assert settings.override(temperature=0.9, top_k=None).temperature == 0.9
    (tmp_path / "sampling.json").write_text(json.dumps({"heat": 2}))
    with pytest.raises(ConfigError, match="unknown sampling setting"):
        load_sampling(tmp_path)


def test_length_settings_build_their_constraints(vocab) -> None:
    from cadenza.generate.grammar import EndBoost, MinFrames
    from cadenza.generate.settings import SamplingSettings

    chain = SamplingSettings(min_frames=96, end_after=256, end_growth=1.2).processors(vocab)
    kinds = {type(p): p for p in chain}
    assert kinds[MinFrames].frames == 96 and kinds[EndBoost].frames == 256
    assert SamplingSettings().processors(vocab) == []
    with pytest.raises(ConfigError, match="end_growth"):
        SamplingSettings(end_after=10, end_growth=0.5).processors(vocab)
