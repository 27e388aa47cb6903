"""apply_overrides: `--set a.b=value` typed conversion and clear refusals."""

from __future__ import annotations

import pytest

from cadenza.config import DataConfig, apply_overrides, from_dict, keys, parse_value, to_dict
from cadenza.errors import ConfigError


def test_defaults():
    c = DataConfig()
    assert (c.corpus, c.codec, c.split, c.seed) == ("bach-chorales", "chorale", [0.8, 0.1, 0.1], 0)
    assert c.preprocess.meter == "4/4" and c.preprocess.quantize == 4
    assert c.preprocess.augment == []


def test_overrides_convert_types():
    c = apply_overrides(DataConfig(), [
        "seed=7",
        "preprocess.quantize=8",
        "preprocess.satb=false",
        "preprocess.normalize_key=Yes",
        "preprocess.augment=-2,2",
        "split=[0.7, 0.2, 0.1]",
        "preprocess.meter=none",
        "corpus=some/folder",
    ])
    assert c.seed == 7 and isinstance(c.seed, int)
    assert c.preprocess.quantize == 8
    assert c.preprocess.satb is False
    assert c.preprocess.normalize_key is True
    assert c.preprocess.augment == [-2, 2]
    assert c.split == [0.7, 0.2, 0.1] and all(isinstance(x, float) for x in c.split)
    assert c.preprocess.meter is None
    assert c.corpus == "some/folder"


def test_override_list_forms_and_optional_str():
    assert apply_overrides(DataConfig(), ["preprocess.augment=[-1, 1]"]).preprocess.augment == [
        -1, 1]
    assert apply_overrides(DataConfig(), ["preprocess.augment="]).preprocess.augment == []
    assert apply_overrides(DataConfig(), ["preprocess.meter=3/4"]).preprocess.meter == "3/4"
    assert apply_overrides(DataConfig(), [" seed = 3"]).seed == 3
    assert parse_value("1", bool, "x") is True and parse_value("off", bool, "x") is False
    assert parse_value("2.5", float, "x") == 2.5


@pytest.mark.parametrize("item, message", [
    ("nope=1", "unknown key"),
    ("preprocess.nope=1", "unknown key"),
    ("nope.quantize=1", "unknown key 'nope'"),
    ("seed.x=1", "unknown key"),
    ("preprocess.quantize=abc", "expected int"),
    ("preprocess.satb=maybe", "expected bool"),
    ("seed=1.5", "expected int"),
    ("split=[0.8, x]", "expected"),
    ("preprocess.augment=1,two", "expected int"),
    ("seed", "expected key=value"),
])
def test_bad_overrides_raise_config_error(item, message):
    with pytest.raises(ConfigError, match=message) as info:
        apply_overrides(DataConfig(), [item])
    assert "\n" not in str(info.value)


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as info:
        apply_overrides(DataConfig(), ["nope=1"])
    assert "preprocess.quantize" in str(info.value)
    assert "preprocess.augment" in keys(DataConfig())


def test_split_check():
    DataConfig().check()
    for bad in ([0.5, 0.5], [0.8, 0.3, -0.1], [0.5, 0.2, 0.2]):
        with pytest.raises(ConfigError, match="split"):
            DataConfig(split=bad).check()


def test_dict_round_trip_and_unknown_key():
    c = apply_overrides(DataConfig(), ["preprocess.augment=-1,1", "seed=4"])
    again = from_dict(DataConfig, to_dict(c))
    assert again == c
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        from_dict(DataConfig, {"bogus": 1})
