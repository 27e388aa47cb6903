"""Every numeric option and ``--set`` key meets NaN, infinities, negatives and huge values:
each is either accepted as a finite number or refused with one line, never passed on."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import math
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.cli import build_parser
from cadenza.config import DataConfig
from cadenza.config import apply_overrides as apply_data_overrides
from cadenza.errors import ConfigError
from cadenza.generate.settings import SamplingSettings
from cadenza.train.config import ExperimentConfig, TrainConfig, apply_overrides

HOSTILE = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e20", "1e308", "-1", "-5",
                     "0", "-0", "1e-320", str(2**64), str(-(2**63)), "", " ", "1.5", "0x10",
                     ",,,"]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def _subcommands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, (*prefix, name))
    if prefix:
        yield prefix, parser


def _numeric_options():
    found = []
    for command, parser in _subcommands(build_parser()):
        for action in parser._actions:
            if action.option_strings and action.type is not None and getattr(
                    action.type, "__name__", "") in ("int", "float", "whole number", "number"):
                found.append((command, parser, action))
    return found


OPTIONS = _numeric_options()


def test_every_numeric_option_is_checked_at_the_edge() -> None:
    """No option parses with a bare int() or float(), which let NaN, inf and negative
    values through: each uses a checked type from cadenza.validate."""
    bare = [f"{' '.join(c)} {a.option_strings[0]}" for c, _, a in OPTIONS
            if a.type in (int, float)]
    assert not bare
    names = {a.option_strings[0] for _, _, a in OPTIONS}
    assert {"--n", "--temperature", "--end-growth", "--min-frames", "--end-after", "--seed",
            "--width", "--jobs", "--max-tokens", "--top-p"} <= names


def _required(parser: argparse.ArgumentParser) -> list[str]:
    argv = []
    for action in parser._actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            argv.append("x")
        elif action.required:
            argv += [action.option_strings[0], "x"]
    return argv


@pytest.mark.parametrize("index", range(len(OPTIONS)),
                         ids=[f"{' '.join(c)} {a.option_strings[0]}" for c, _, a in OPTIONS])
@settings(max_examples=40, deadline=None)
@given(text=HOSTILE)
def test_numeric_option_accepts_finite_or_refuses_in_one_line(index, text) -> None:
    command, parser, action = OPTIONS[index]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = build_parser().parse_args([*command, *_required(parser),
                                              f"{action.option_strings[0]}={text}"])
    except SystemExit as done:
        err = stderr.getvalue().strip().splitlines()
        assert done.code == 2 and len(err) == 1 and err[0].startswith("cadenza: error: ")
        return
    value = getattr(args, action.dest)
    assert isinstance(value, int | float) and math.isfinite(value)
    if action.option_strings[0] not in ("--seed",):
        assert abs(value) < 2**63


def _numeric_fields(cls) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls)
            if {int, float} & {hints[f.name], *typing.get_args(hints[f.name])}]


def _finite_numbers(obj) -> bool:
    return all(math.isfinite(v) for v in dataclasses.asdict(obj).values()
               if isinstance(v, int | float) and not isinstance(v, bool))


@pytest.mark.parametrize("key", _numeric_fields(TrainConfig))
@settings(max_examples=30, deadline=None)
@given(text=HOSTILE)
def test_train_set_keys(key, text) -> None:
    try:
        config = apply_overrides(ExperimentConfig(), [f"train.{key}={text}"])
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    assert _finite_numbers(config.train)


@pytest.mark.parametrize("key", ["frames", "transpose", "voice_share", "batches_per_epoch",
                                 "eval_crops", "eval_seed"])
@settings(max_examples=30, deadline=None)
@given(text=HOSTILE)
def test_masked_objective_options(key, text) -> None:
    """The infilling harmonizer's options (``--set objective.KEY=...``) are checked by
    its objective: a hostile value is one line, an accepted one is finite."""
    from types import SimpleNamespace

    from cadenza.objectives import OBJECTIVES

    config = apply_overrides(ExperimentConfig(), ["objective.name=masked",
                                                  f"objective.{key}={text}"])
    chorales = SimpleNamespace(config={"codec": {"name": "chorale"}})
    try:
        objective = OBJECTIVES["masked"](chorales, **config.objective.options)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    value = getattr(objective, key)
    assert math.isfinite(value)


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(["split", "seed", "preprocess.quantize", "preprocess.augment",
                            "preprocess.meter"]),
       text=st.one_of(HOSTILE, st.lists(HOSTILE, min_size=1, max_size=4).map(",".join)))
def test_data_set_keys(key, text) -> None:
    try:
        config = apply_data_overrides(DataConfig(), [f"{key}={text}"])
        config.check()
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    assert all(math.isfinite(r) and r >= 0 for r in config.split)
    assert config.preprocess.meter is None or config.preprocess.meter.count("/") == 1


@pytest.mark.parametrize("key", _numeric_fields(SamplingSettings))
@settings(max_examples=30, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(-(2**70), 2**70)))
def test_sampling_settings(key, value) -> None:
    """sampling.json and the sampling flags meet one check."""
    try:
        settings_ = SamplingSettings(**{key: value})
    except ConfigError:
        return
    assert _finite_numbers(settings_)


REFUSED = [
    ("train", "train.lr=nan"), ("train", "train.lr=inf"), ("train", "train.grad_clip=nan"),
    ("train", "train.grad_clip=-1"), ("train", "train.max_steps=-5"),
    ("train", "train.max_minutes=-1"), ("train", "train.decay=nan"),
    ("train", "train.min_lr_ratio=-3"), ("data", "split=nan,0,1"), ("data", "split=0,0.5,0.5"),
    ("data", "preprocess.meter=x/y"), ("data", "preprocess.meter=0/0"),
    ("data", "preprocess.meter=3/5"),
]


@pytest.mark.parametrize("section, item", REFUSED)
def test_the_reported_values_are_refused(section, item) -> None:
    with pytest.raises(ConfigError):
        if section == "train":
            apply_overrides(ExperimentConfig(), [item])
        else:
            apply_data_overrides(DataConfig(), [item]).check()


@pytest.mark.parametrize("argv", [
    ["generate", "--temperature", "inf", "--out", "x"],
    ["generate", "--end-growth", "nan", "--out", "x"],
    ["generate", "--end-growth", "inf", "--out", "x"],
    ["generate", "--min-frames", "-5", "--out", "x"],
    ["generate", "--end-after", "-1", "--out", "x"],
    ["generate", "--seed", "1e20", "--out", "x"],
    ["generate", "--seed", str(2**64), "--out", "x"],
    ["generate", "--n", "100000", "--out", "x"],
    ["harmonize", "x", "--width", "100000", "--out", "x"],
    ["prepare", "--jobs", "100000", "--out", "x"],
    ["prepare", "--jobs", "0", "--out", "x"],
])
def test_the_reported_flags_are_refused(argv, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(argv)
    assert done.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_formats_that_name_nothing_are_refused(tmp_path, capsys) -> None:
    from tests.robustness.conftest import refused

    assert "no output format given" in refused(
        capsys, ["generate", "--formats", ",,,", "--out", tmp_path / "out"])
    assert not (tmp_path / "out").exists()
