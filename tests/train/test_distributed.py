"""DDP on CPU (gloo, 2 ranks of one thread): N ranks train as one process would, for
every objective; no_sync; one checkpoint, exact resume, and a run that loads in one
process; uneven shards end. Each test launches torchrun (a few seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cadenza.errors import ConfigError
from cadenza.train.checkpoint import MANIFEST, last_weights, load_run
from cadenza.train.config import apply_overrides, load_preset
from cadenza.train.logs import read_log
from cadenza.train.loop import train

SRC = Path(__file__).resolve().parents[2] / "src"
TIMEOUT = 180  # a hang fails the test instead of blocking the suite


def run_ranks(*argv: object, launcher: str = "torchrun", cwd: Path | None = None) -> str:
    """``cadenza <argv>`` in 2 processes (torchrun -m cadenza, or cadenza --nproc 2)."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    args = [str(a) for a in argv]
    if launcher == "torchrun":
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node=2", "-m", "cadenza", *args]
    elif launcher == "cadenza":
        command = [sys.executable, "-m", "cadenza", *args, "--nproc", "2"]
    else:  # a script
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node=2", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def config_of(preset: str, data: Path, overrides: list[str]):
    torch.set_num_threads(1)
    config = load_preset(preset)
    config.data = str(data)
    return apply_overrides(config, overrides)


def sets(overrides: list[str]) -> list[str]:
    return [a for item in overrides for a in ("--set", item)]


def assert_same_weights(a: Path, b: Path) -> None:
    mine, theirs = load_file(last_weights(a)), load_file(last_weights(b))
    assert mine.keys() == theirs.keys()
    for key in mine:
        assert torch.allclose(mine[key], theirs[key], atol=2e-5, rtol=1e-4), key


def val_losses(run: Path) -> list[float]:
    return [float(row["val_nats"]) for row in read_log(run / "log.csv") if row["val_nats"]]


TBPTT = ["train.batch_size=4", "train.epochs=5", "train.eval_every=3", "train.log_every=1",
         "model.hidden=16"]


def test_two_ranks_checkpoint_once_resume_and_match_one_process(tiny_data, tmp_path) -> None:
    run = tmp_path / "ddp"
    out = run_ranks("train", "--preset", "tiny", "--data", tiny_data, "--out", run,
                    *sets([*TBPTT, "train.max_steps=3"]))
    assert "stopped (max_steps) after 3 steps" in out
    assert out.count("stopped") == 1  # rank 0 alone reports
    files = sorted(p.name for p in run.iterdir() if p.suffix in (".safetensors", ".json"))
    assert files == ["checkpoint.json", "codec.json", "config.json", "data.json",
                     "last-3.safetensors", "model.safetensors", "optimizer-3.safetensors",
                     "state-3.json", "vocab.json"]
    assert json.loads((run / MANIFEST).read_text())["step"] == 3
    run_ranks("train", "--out", run, "--resume", *sets(["train.max_steps=6"]))
    one = tmp_path / "one"
    train(config_of("tiny", tiny_data, [*TBPTT, "train.max_steps=6"]), one)
    assert_same_weights(run, one)  # 2 ranks x 2 rows, cut and resumed = 1 x 4 rows
    assert val_losses(run) == pytest.approx(val_losses(one), rel=1e-4)
    loaded = load_run(run, which="last", device="cpu")  # no `module.` prefix
    assert next(loaded.model.parameters()).device.type == "cpu"


def test_resume_with_dropout_is_exact_on_two_ranks(tiny_data, tmp_path) -> None:
    # each rank draws its dropout masks from (seed, rank, step): nothing to save
    drop = ["model.layers=2", "model.dropout=0.3", "model.hidden=8", "train.batch_size=4",
            "train.eval_every=2", "train.grad_accum=2"]
    run_ranks("train", "--preset", "tiny", "--data", tiny_data, "--out", tmp_path / "full",
              *sets([*drop, "train.max_steps=4"]))
    run_ranks("train", "--preset", "tiny", "--data", tiny_data, "--out", tmp_path / "cut",
              *sets([*drop, "train.max_steps=2"]))
    run_ranks("train", "--out", tmp_path / "cut", "--resume", *sets(["train.max_steps=4"]))
    full, cut = (load_file(last_weights(tmp_path / r)) for r in ("full", "cut"))
    assert all(torch.equal(full[k], cut[k]) for k in full)
    assert val_losses(tmp_path / "full") == val_losses(tmp_path / "cut")


def test_random_windows_through_cadenza_nproc(tiny_data, tmp_path) -> None:
    overrides = [*TBPTT, "train.tbptt=false", "train.max_steps=4"]
    run_ranks("train", "--preset", "tiny", "--data", tiny_data, "--out", tmp_path / "ddp",
              *sets(overrides), "--quiet", launcher="cadenza")
    train(config_of("tiny", tiny_data, overrides), tmp_path / "one")
    assert_same_weights(tmp_path / "ddp", tmp_path / "one")


def test_masked_objective_trains_as_one_process(tiny_data, tmp_path) -> None:
    overrides = ["model.layers=1", "model.dim=16", "model.heads=2", "model.dropout=0.0",
                 "objective.frames=16", "objective.batches_per_epoch=3",
                 "objective.eval_crops=5", "train.batch_size=4", "train.threads=1",
                 "train.progress=false", "train.epochs=1", "train.eval_every=2"]
    run_ranks("train", "--preset", "harmonizer", "--data", tiny_data, "--out",
              tmp_path / "ddp", *sets(overrides))
    train(config_of("harmonizer", tiny_data, overrides), tmp_path / "one")
    assert_same_weights(tmp_path / "ddp", tmp_path / "one")
    assert val_losses(tmp_path / "ddp") == pytest.approx(val_losses(tmp_path / "one"),
                                                         rel=1e-4)


def test_multilabel_objective_trains_as_one_process(roll_dataset, tmp_path) -> None:
    data = roll_dataset("roll")
    overrides = ["model.name=frame-rnn", "model.hidden=8", "model.dropout=0.0",
                 "train.batch_size=4", "train.max_steps=4", "train.eval_every=2"]
    run_ranks("train", "--preset", "tiny", "--data", data, "--out", tmp_path / "ddp",
              *sets(overrides))
    train(config_of("tiny", data, overrides), tmp_path / "one")
    assert_same_weights(tmp_path / "ddp", tmp_path / "one")
    assert val_losses(tmp_path / "ddp") == pytest.approx(val_losses(tmp_path / "one"),
                                                         rel=1e-4)


@pytest.fixture(scope="module")
def notes_data(roll_folder, tmp_path_factory) -> Path:
    """The piano-roll test pieces prepared with the notes codec (six heads)."""
    from cadenza.config import DataConfig
    from cadenza.corpus.prepare import prepare
    from cadenza.corpus.preprocess import PreprocessConfig

    out = tmp_path_factory.mktemp("notes") / "data"
    prepare(DataConfig(corpus=str(roll_folder), codec="notes",
                       preprocess=PreprocessConfig(meter=None, satb=False, normalize_key=False,
                                                   quantize=0)),
            out, jobs=1, cache_dir=None, progress=False)
    return out


def test_multihead_objective_trains_as_one_process(notes_data, tmp_path) -> None:
    overrides = ["model.hidden=16", "model.layers=1", "model.embedding=4", "model.dropout=0.0",
                 "train.batch_size=4", "train.seq_len=16", "train.max_steps=4",
                 "train.eval_every=2", "train.threads=1", "train.progress=false"]
    run_ranks("train", "--preset", "notes", "--data", notes_data, "--out", tmp_path / "ddp",
              *sets(overrides))
    train(config_of("notes", notes_data, overrides), tmp_path / "one")
    assert_same_weights(tmp_path / "ddp", tmp_path / "one")
    assert val_losses(tmp_path / "ddp") == pytest.approx(val_losses(tmp_path / "one"),
                                                         rel=1e-4)


def test_elbo_objective_trains_on_two_ranks(roll_dataset, tmp_path) -> None:
    # the ELBO samples its latents, so ranks draw other noise than one process would:
    # it trains, validates (all-reduced), writes its monitors once, and loads on CPU
    run_ranks("train", "--preset", "tiny", "--data", roll_dataset("roll"), "--out",
              tmp_path / "vae", *sets(["model.name=vae-conv", "model.steps=8",
                                       "model.latent=4", "model.channels=16",
                                       "model.downsample=1", "objective.name=elbo",
                                       "train.seq_len=8", "train.batch_size=4",
                                       "train.eval_every=3", "train.max_steps=6"]))
    losses = val_losses(tmp_path / "vae")
    assert len(losses) == 2 and all(0 < v < 1e4 for v in losses)
    monitors = (tmp_path / "vae" / "monitors.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in monitors] == [3, 6]
    assert load_run(tmp_path / "vae", device="cpu").model is not None


def test_uneven_shards_end_without_a_hang(tiny_data, tmp_path) -> None:
    # 8 training pieces on 16 TBPTT rows: rank 1's rows are all empty; 1 validation
    # piece: rank 1 scores nothing. A time budget stops the ranks on the same step.
    out = run_ranks("train", "--preset", "tiny", "--data", tiny_data, "--out", tmp_path / "r",
                    *sets(["train.batch_size=16", "model.hidden=8", "train.epochs=2",
                           "train.max_minutes=0.002"]))
    assert "stopped (max_minutes)" in out or "stopped (epochs)" in out
    assert load_run(tmp_path / "r").model is not None


def test_no_sync_and_unused_parameters(tmp_path) -> None:
    run_ranks(Path(__file__).with_name("ddp_grads_worker.py"), tmp_path, launcher="script")
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for result in results:
        assert result["world"] == 2
        assert not result["local_equal"]  # each rank's own gradients inside no_sync
        assert result["synced_close"]  # the same after the synchronising backward
        assert result["found_unused"]  # and a head the loss never reaches trained along


def test_a_failing_worker_is_one_error_line(tiny_data, tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(  # both workers refuse a transformer with TBPTT, after starting
        [sys.executable, "-m", "cadenza", "train", "--nproc", "2", "--preset", "tiny",
         "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--set",
         "model.name=transformer"], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "cadenza: error: train.tbptt needs a recurrent model, not 'transformer'; use --set "
        "train.tbptt=false"]
    done = subprocess.run(  # refused before any worker starts
        [sys.executable, "-m", "cadenza", "train", "--nproc", "2", "--preset", "tiny",
         "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--set",
         "train.batch_size=3"], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "must be a multiple of --nproc 2" in done.stderr


def test_any_objectives_batch_splits_by_rows() -> None:
    from dataclasses import dataclass

    from cadenza.train.distributed import Ranks, rows_of, take_rows

    @dataclass
    class Segments:  # say, a VAE objective's batch
        notes: torch.Tensor
        lengths: torch.Tensor
        mask: torch.Tensor | None = None

    batch = Segments(torch.arange(12).view(6, 2), torch.arange(6))
    rows = torch.tensor(rows_of(6, Ranks(rank=1, world=2), contiguous=False))
    mine = take_rows(batch, rows)
    assert mine.lengths.tolist() == [1, 3, 5] and mine.mask is None
    assert mine.notes.tolist() == [[2, 3], [6, 7], [10, 11]]
    nested = take_rows({"x": (torch.arange(6), [torch.arange(6) * 2]), "n": 3}, rows)
    assert nested["x"][0].tolist() == [1, 3, 5] and nested["x"][1][0].tolist() == [2, 6, 10]
    assert nested["n"] == 3
    assert rows_of(6, Ranks(rank=1, world=2), contiguous=True) == [3, 4, 5]
    with pytest.raises(ConfigError, match="multiple of the 4"):
        rows_of(6, Ranks(rank=0, world=4), contiguous=True)
