"""Experiment configs: presets, type-checked overrides, schedules."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.errors import ConfigError
from cadenza.train.config import (
    ExperimentConfig,
    apply_overrides,
    from_dict,
    load_preset,
    preset_names,
    to_dict,
)
from cadenza.train.schedule import lr_at

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "src" / "cadenza" / "presets"


@pytest.mark.parametrize("name", ["bachbot", "transformer", "tiny"])
def test_presets_load_by_name_or_path(name: str) -> None:
    config = load_preset(name)
    assert name in preset_names()
    assert config == load_preset(PRESETS / f"{name}.toml")  # the one copy, in the package
    assert to_dict(from_dict(to_dict(config))) == to_dict(config)


def test_bachbot_preset_is_bachbot() -> None:
    config = load_preset("bachbot")
    assert config.model.name == "rnn"
    bachbot = {"cell": "lstm", "layers": 3, "hidden": 256, "embedding": 32, "dropout": 0.3,
               "tie_weights": False, "frame_features": False}
    assert {k: config.model.options[k] for k in bachbot} == bachbot
    t = config.train
    assert (t.optimizer, t.lr, t.schedule) == ("adam", 2e-3, "step")
    assert (t.decay, t.decay_epochs) == (0.5, 5)
    assert (t.batch_size, t.seq_len, t.grad_clip, t.tbptt) == (50, 128, 5.0, True)


def test_overrides_are_typed_against_the_chosen_model() -> None:
    config = apply_overrides(load_preset("bachbot"), ["model.layers=2", "train.lr=1e-3",
                                                      "train.max_steps=7", "data=/x"])
    assert config.model.options["layers"] == 2 and config.train.lr == 1e-3
    assert config.train.max_steps == 7 and config.data == "/x"
    for bad in ("model.layers=two", "train.lr=fast", "train.tbptt=maybe"):
        with pytest.raises(ConfigError, match="expected"):
            apply_overrides(load_preset("bachbot"), [bad])
    with pytest.raises(ConfigError, match="unknown option of model 'rnn'.*hidden"):
        apply_overrides(load_preset("bachbot"), ["model.heads=4"])
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(load_preset("bachbot"), ["train.bogus=1"])
    with pytest.raises(ConfigError, match="positive int"):
        apply_overrides(load_preset("bachbot"), ["model.layers=0"])


def test_switching_model_drops_the_old_options() -> None:
    config = apply_overrides(load_preset("bachbot"), ["model.heads=2", "model.name=transformer",
                                                      "model.dim=32"])
    assert config.model.name == "transformer"
    assert config.model.options["heads"] == 2 and config.model.options["dim"] == 32
    assert "cell" not in config.model.options


def test_config_files_are_type_checked(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[model]\nname = "rnn"\nlayers = "3"\n')
    with pytest.raises(ConfigError, match="model.layers: expected int"):
        load_preset(path)
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict({"train": {"lr": 1, "speed": 3}})
    with pytest.raises(ConfigError, match="unknown preset"):
        load_preset("nope")
    assert from_dict({"train": {"lr": 1}}).train.lr == 1.0  # ints pass as floats


def test_schedules() -> None:
    t = ExperimentConfig().train  # step decay: halve every 5 epochs
    assert [lr_at(s, t, 10) for s in (0, 49, 50, 100)] == [2e-3, 2e-3, 1e-3, 5e-4]
    t.schedule, t.warmup_steps, t.epochs, t.min_lr_ratio = "cosine", 10, 10, 0.1
    assert lr_at(0, t, 10) == pytest.approx(2e-4)
    assert lr_at(9, t, 10) == pytest.approx(2e-3)
    assert lr_at(10, t, 10) == pytest.approx(2e-3)
    assert lr_at(100, t, 10) == pytest.approx(2e-4)
