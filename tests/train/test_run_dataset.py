"""`cadenza evaluate` finds or rebuilds a run's dataset and maps a subset vocabulary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cadenza.cli import main
from cadenza.generate import default_run

README = Path(__file__).resolve().parents[2] / "README.md"


def _prepare(corpus: Path, out: Path, *settings: str) -> None:
    sets = [x for s in settings for x in ("--set", s)]
    assert main(["prepare", "--corpus", str(corpus), "--out", str(out), "--jobs", "1",
                 "--no-cache", "--quiet", "--set", "split=0.5,0.25,0.25", *sets]) == 0


def _evaluate(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["evaluate", *args, "--split", "test", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory) -> dict[str, Path]:
    """A run trained on transposed copies (more pitches), the same pieces prepared plain,
    and a run trained on the plain pieces."""
    root = tmp_path_factory.mktemp("recipe")
    corpus = tiny_data.parent / "midi"  # tests/train/conftest.py
    _prepare(corpus, root / "aug", "preprocess.augment=5")
    _prepare(corpus, root / "plain")
    for name, data in (("aug_run", "aug"), ("plain_run", "plain")):
        assert main(["train", "--preset", "tiny", "--data", str(root / data), "--out",
                     str(root / name), "--quiet", "--set", "train.max_steps=2",
                     "--set", "model.hidden=16"]) == 0
    return {name: root / name for name in ("aug", "plain", "aug_run", "plain_run")}


def test_a_subset_vocabulary_is_scored_in_the_runs_ids(runs, capsys) -> None:
    aug = json.loads((runs["aug"] / "vocab.json").read_text())["tokens"]
    plain = json.loads((runs["plain"] / "vocab.json").read_text())["tokens"]
    assert set(plain) < set(aug) and plain != aug[:len(plain)]  # ids really differ
    own = _evaluate(capsys, str(runs["aug_run"]), "--data", str(runs["aug"]))
    mapped = _evaluate(capsys, str(runs["aug_run"]), "--data", str(runs["plain"]))
    assert mapped == own  # the test split holds no transposed copies: the same pieces


def test_a_token_the_run_never_saw_is_refused_by_name(runs, capsys) -> None:
    unseen = sorted(set(json.loads((runs["aug"] / "vocab.json").read_text())["tokens"])
                    - set(json.loads((runs["plain"] / "vocab.json").read_text())["tokens"]))
    assert main(["evaluate", str(runs["plain_run"]), "--data", str(runs["aug"])]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("cadenza: error:")
    assert "never seen" in err and repr(unseen[0]) in err


def test_the_recorded_folder_is_used_only_if_its_recipe_matches(runs, tmp_path,
                                                                 capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["aug_run"], run)
    own = _evaluate(capsys, str(run))  # the recorded folder exists and matches data.json
    assert own == _evaluate(capsys, str(run), "--data", str(runs["aug"]))
    # the same path now holds a dataset prepared otherwise: not the run's data
    config = json.loads((run / "config.json").read_text())
    config["data"] = str(runs["plain"])
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "recipe (data.json) names no embedded corpus; pass --data" in err
    assert str(runs["plain"]) in err


def test_the_shipped_run_evaluates_to_the_readme_figure(tmp_path, monkeypatch,
                                                        capsys) -> None:
    """The README's command, from a fresh cache: the run records a folder of the machine
    that trained it; its recipe rebuilds the dataset from the embedded chorales."""
    claimed = re.search(r"\*\*Test NLL ([0-9.]+) nats/token\*\*", README.read_text())
    assert claimed, "the README states the shipped model's test NLL"
    recorded = json.loads((default_run() / "config.json").read_text())["data"]
    monkeypatch.setenv("CADENZA_CACHE", str(tmp_path / "cache"))
    capsys.readouterr()
    assert main(["evaluate", str(default_run()), "--split", "test"]) == 0
    out = capsys.readouterr().out
    if not Path(recorded).exists():  # rebuilt into the cache, not looked for elsewhere
        assert str(tmp_path / "cache") in out
    assert re.search(r"nats/token\s+([0-9.]+)", out).group(1) == claimed.group(1)
