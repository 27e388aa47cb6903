"""The run directory: pickle-free files, one loader, clear errors for broken runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from cadenza.codecs import Vocab
from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError
from cadenza.models import RNNConfig, SequenceModel
from cadenza.train.checkpoint import check_vocab, load_run
from cadenza.train.loop import train


@pytest.fixture
def run(make_config, tmp_path) -> Path:
    train(make_config("train.max_steps=3", "train.eval_every=2"), tmp_path / "run")
    return tmp_path / "run"


def test_checkpoint_files_need_no_pickle(run: Path) -> None:
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "vocab.json", "codec.json", "model.safetensors", "last-3.safetensors",
            "optimizer-3.safetensors", "state-3.json", "checkpoint.json", "log.csv",
            "curves.png", "tb"} <= names
    shapes = {k: tuple(v.shape) for k, v in load_run(run).model.state_dict().items()}
    for name in ("model.safetensors", "last-3.safetensors"):
        with safe_open(str(run / name), "pt") as file:  # safetensors only: no code runs on load
            assert {k: tuple(file.get_tensor(k).shape) for k in file.keys()} == shapes, name
    with safe_open(str(run / "optimizer-3.safetensors"), "pt") as file:
        assert file.keys() and all(k.startswith(("state.", "carry.")) for k in file.keys())
        assert all(bool(file.get_tensor(k).isfinite().all()) for k in file.keys())
    for path in run.glob("*.json"):
        json.loads(path.read_text())
    for path in run.iterdir():
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path.name} looks pickled"
    config = json.loads((run / "config.json").read_text())
    assert config["cadenza_version"] and config["model"]["name"] == "rnn"
    assert config["model"]["hidden"] == 32 and config["train"]["max_steps"] == 3
    assert (run / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_load_run_gives_config_model_vocab_codec(run: Path, tiny_data) -> None:
    loaded = load_run(run)
    assert isinstance(loaded.model, SequenceModel) and not loaded.model.training
    assert isinstance(loaded.model.config, RNNConfig) and loaded.model.config.hidden == 32
    assert loaded.vocab == PreparedDataset(tiny_data).vocab
    assert loaded.codec.config() == PreparedDataset(tiny_data).config["codec"]
    assert loaded.config.train.max_steps == 3 and loaded.path == run
    last = load_run(run, "last")
    assert not all(torch.equal(p, q) for p, q in zip(loaded.model.parameters(),
                                                      last.model.parameters()))


def test_broken_runs_give_clear_errors(run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such run directory"):
        load_run(tmp_path / "nothing")
    partial = tmp_path / "partial"
    shutil.copytree(run, partial)
    (partial / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match="missing model.safetensors"):
        load_run(partial)
    (partial / "last-3.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ConfigError, match="cannot load weights"):
        load_run(partial, "last")


def test_check_vocab_refuses_a_different_vocabulary() -> None:
    a = Vocab(["<pad>", "START", "END"], [-1, 0, 1])
    check_vocab(a, Vocab(["<pad>", "START", "END"], [-1, 0, 1]), "same")
    with pytest.raises(ConfigError, match="vocabulary differs"):
        check_vocab(a, Vocab(["<pad>", "START", "END", "x"], [-1, 0, 1, 2]), "other")
