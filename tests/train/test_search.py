"""Optuna search over tiny runs: trials in memory, a pruned trial, two workers on one
journal file, and a killed worker whose trial is failed and retried."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cadenza.errors import ConfigError
from cadenza.search import SearchSettings, load_space
from cadenza.search import run_search as search
from cadenza.search.storage import BEAT, Liveness, open_storage
from cadenza.train.checkpoint import load_run

SRC = Path(__file__).resolve().parents[2] / "src"
SPACE = """
[params]
"model.hidden" = { low = 8, high = 24 }
"train.lr" = { low = 1e-3, high = 3e-2, log = true }
"model.cell" = { choices = ["lstm", "gru"] }
[first]
"model.hidden" = 16
"train.lr" = 1e-2
"model.cell" = "lstm"
"""
FIXED = ["train.max_steps=6", "train.eval_every=2", "train.epochs=3", "train.threads=1"]


@pytest.fixture
def space(tmp_path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    return path


def settings(tiny_data, space, out, **options) -> SearchSettings:
    return SearchSettings(preset="tiny", data=str(tiny_data), space=load_space(space),
                          out=out, overrides=list(FIXED), **options)


def test_three_trials_in_memory(tiny_data, space, tmp_path) -> None:
    best = search(settings(tiny_data, space, tmp_path / "s", trials=3))
    rows = list(csv.DictReader((tmp_path / "s" / "results.csv").open()))
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert all(r["state"] == "COMPLETE" for r in rows)
    first = rows[0]  # the space's first setting, tried first
    assert (first["model.hidden"], float(first["train.lr"]), first["model.cell"]) == (
        "16", 1e-2, "lstm")
    assert best["value"] == min(float(r["value"]) for r in rows)
    assert json.loads((tmp_path / "s" / "best.json").read_text())["run"] == best["run"]
    for name in ("history.png", "importance.png"):
        assert (tmp_path / "s" / name).stat().st_size > 1000
    for row in rows:  # every trial a normal run directory
        assert load_run(row["run"]).config.model.options["hidden"] == int(row["model.hidden"])


def test_a_hopeless_trial_is_pruned(tiny_data, space, tmp_path) -> None:
    journal = tmp_path / "study.log"
    s = settings(tiny_data, space, tmp_path / "s", trials=2, storage=str(journal),
                 startup_trials=1)
    study = optuna.create_study(study_name=s.study, storage=open_storage(str(journal),
                                                                         s.live))
    study.enqueue_trial({"model.hidden": 16, "train.lr": 1e-2, "model.cell": "lstm"})
    study.enqueue_trial({"model.hidden": 8, "train.lr": 1e-3, "model.cell": "gru"})
    s.overrides += ["train.max_steps=12"]
    best = search(s)
    states = [t.state for t in optuna.load_study(study_name=s.study,
                                                 storage=open_storage(str(journal),
                                                                      s.live)).trials]
    assert states[:2] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert best["number"] == 0 and best["states"]["PRUNED"] == 1


def worker(tiny_data, space, out, journal, number, *extra) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "cadenza", "search", "--preset", "tiny", "--data",
               str(tiny_data), "--space", str(space), "--storage", str(journal),
               "--out", str(out), "--worker", str(number), *extra]
    for item in FIXED:
        command += ["--set", item]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_two_workers_share_one_journal(tiny_data, space, tmp_path) -> None:
    journal, out = tmp_path / "study.log", tmp_path / "s"
    workers = [worker(tiny_data, space, out, journal, n, "--trials", "5") for n in (0, 1)]
    for process in workers:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err[-2000:]
    trials = optuna.load_study(study_name="cadenza",
                               storage=open_storage(str(journal), Liveness())).trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials)))  # none lost, none counted twice
    assert 5 <= len(trials) <= 6  # both may start a trial when the 5th is running
    assert all(t.state == TrialState.COMPLETE for t in trials)
    runs = [t.user_attrs["run"] for t in trials]
    assert len(set(runs)) == len(runs) and all(Path(r, "model.safetensors").is_file()
                                               for r in runs)
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)  # the workers' samplers differ


def test_a_killed_worker_leaves_the_study_usable(tiny_data, space, tmp_path) -> None:
    journal, out = tmp_path / "study.log", tmp_path / "s"
    slow = worker(tiny_data, space, out, journal, 0, "--trials", "2", "--heartbeat", "0.2",
                  "--set", "train.max_steps=100000", "--set", "train.epochs=1000")
    storage = open_storage(str(journal), Liveness())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until its first trial is running and beating
        time.sleep(0.5)
        try:
            trials = optuna.load_study(study_name="cadenza", storage=storage).trials
        except KeyError:  # the worker has not created the study yet
            continue
        if trials and BEAT in trials[0].system_attrs:
            break
    slow.send_signal(signal.SIGKILL)
    slow.wait(timeout=30)
    time.sleep(1.5)  # past the grace period below
    best = search(settings(tiny_data, space, out, trials=2, storage=str(journal),
                           live=Liveness(interval=0.2, grace=1.0, retries=1)))
    trials = optuna.load_study(study_name="cadenza", storage=storage).trials
    assert trials[0].state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == trials[0].params
    assert best["finished"] == 2


def test_a_bad_space_is_one_clear_error(tiny_data, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[params]\n"model.bogus" = { low = 1, high = 2 }\n')
    with pytest.raises(ConfigError, match="bogus"):
        search(settings(tiny_data, bad, tmp_path / "s", trials=1))
    bad.write_text('[params]\n"train.lr" = { low = 2, high = 1 }\n')
    with pytest.raises(ConfigError, match="low <= high"):
        load_space(bad)


def test_an_sqlite_study_beats_through_optuna(tiny_data, space, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    search(settings(tiny_data, space, tmp_path / "s", trials=1, storage=url))
    storage = open_storage(url, Liveness())
    assert storage.get_heartbeat_interval() == 10  # Optuna beats, not cadenza
    assert [t.state for t in optuna.load_study(study_name="cadenza", storage=storage).trials
            ] == [TrialState.COMPLETE]
    with pytest.raises(ConfigError, match="journal file path or a sqlite"):
        open_storage("ftp://host/x", Liveness())
