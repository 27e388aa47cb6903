"""A checkpoint torn at each of its write steps resumes exactly, or refuses in one line.

The save at step 8 is interrupted before its k-th filesystem step (a weights or optimizer
file half written, a rename, a removal of the step before's files), as a SIGKILL there
would leave it; the run is then resumed to step 12 and must match, float for float,
the run that was never interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cadenza.errors import ConfigError
from cadenza.train import checkpoint as ckpt
from cadenza.train.logs import read_log
from cadenza.train.loop import train

OVERRIDES = ("train.eval_every=4", "train.epochs=5")
COLUMNS = ("step", "epoch", "lr", "train_loss", "val_nats", "val_accuracy")
WRITE_STEPS = 12  # filesystem steps of one save_state (see test_a_save_has_these_steps)


class Killed(BaseException):
    """Not an Exception: nothing in cadenza may catch it, as nothing catches SIGKILL."""


class Crash:
    """Counts the filesystem steps of the save at ``at_step``; raises before the ``kill``-th."""

    def __init__(self, monkeypatch, at_step: int, kill: int | None) -> None:
        self.at_step, self.kill, self.count, self.active = at_step, kill, 0, False
        real_save_state, real_model, real_file = ckpt.save_state, ckpt.save_model, ckpt.save_file
        real_replace, real_unlink = ckpt.os.replace, Path.unlink

        def save_state(out, model, optimizer, state, carry):
            self.active = state["step"] == at_step
            try:
                return real_save_state(out, model, optimizer, state, carry)
            finally:
                self.active = False

        def torn_writer(real):
            def write(obj, path, *args, **kwargs):
                if self.tick():
                    Path(path).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{half")
                    raise Killed
                return real(obj, path, *args, **kwargs)
            return write

        def replace(src, dst):
            if self.tick():
                raise Killed
            return real_replace(src, dst)

        def unlink(path, missing_ok=False):
            if self.tick():
                raise Killed
            return real_unlink(path, missing_ok=missing_ok)

        monkeypatch.setattr(ckpt, "save_state", save_state)
        monkeypatch.setattr("cadenza.train.loop.ckpt.save_state", save_state)
        monkeypatch.setattr(ckpt, "save_model", torn_writer(real_model))
        monkeypatch.setattr(ckpt, "save_file", torn_writer(real_file))
        monkeypatch.setattr(ckpt.os, "replace", replace)
        monkeypatch.setattr(Path, "unlink", unlink)

    def tick(self) -> bool:
        if not self.active:
            return False
        self.count += 1
        return self.count == self.kill


def _log(run: Path) -> list[list[str]]:
    return [[row[c] for c in COLUMNS] for row in read_log(run / "log.csv")]


def _last(run: Path) -> dict[str, torch.Tensor]:
    return load_file(ckpt.last_weights(run))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_data) -> Path:
    from cadenza.train.config import apply_overrides, load_preset

    torch.set_num_threads(1)
    config = load_preset("tiny")
    config.data = str(tiny_data)
    out = tmp_path_factory.mktemp("full") / "run"
    train(apply_overrides(config, [*OVERRIDES, "train.max_steps=12"]), out)
    return out


def test_a_save_has_these_steps(make_config, tmp_path, monkeypatch) -> None:
    crash = Crash(monkeypatch, at_step=8, kill=None)
    train(make_config(*OVERRIDES, "train.max_steps=12"), tmp_path / "run")
    assert crash.count == WRITE_STEPS


@pytest.mark.parametrize("kill", range(1, WRITE_STEPS + 1))
def test_resume_after_a_save_torn_at_each_step(kill, make_config, tmp_path, monkeypatch,
                                               uninterrupted) -> None:
    run = tmp_path / "run"
    Crash(monkeypatch, at_step=8, kill=kill)
    with pytest.raises(Killed):
        train(make_config(*OVERRIDES, "train.max_steps=12"), run)
    monkeypatch.undo()
    step = json.loads((run / ckpt.MANIFEST).read_text())["step"]
    assert step in (4, 8)  # the old checkpoint, or the new one once its manifest is in
    result = train(make_config(*OVERRIDES, "train.max_steps=12"), run, resume=True)
    assert result["steps"] == 12
    assert _log(run) == _log(uninterrupted)
    a, b = _last(run), _last(uninterrupted)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert load_file(run / "model.safetensors").keys() == b.keys()


def test_a_damaged_checkpoint_file_is_refused(make_config, tmp_path) -> None:
    run = tmp_path / "run"
    train(make_config(*OVERRIDES, "train.max_steps=8"), run)
    optimizer = run / json.loads((run / ckpt.MANIFEST).read_text())["files"]["optimizer"]
    data = bytearray(optimizer.read_bytes())
    data[-1] ^= 1
    optimizer.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="differs from the checkpoint manifest"):
        train(make_config(*OVERRIDES, "train.max_steps=12"), run, resume=True)


def test_an_old_style_checkpoint_from_two_steps_is_refused(make_config, tmp_path) -> None:
    """Runs from before the manifest: their three files must carry one step."""
    run = tmp_path / "run"
    train(make_config(*OVERRIDES, "train.max_steps=8"), run)
    manifest = json.loads((run / ckpt.MANIFEST).read_text())
    for role, legacy in zip(ckpt.ROLES, ckpt.LEGACY_FILES):
        (run / manifest["files"][role]).rename(run / legacy)
    (run / ckpt.MANIFEST).unlink()
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "step": 4}))
    with pytest.raises(ConfigError, match="from different steps"):
        train(make_config(*OVERRIDES, "train.max_steps=12"), run, resume=True)
    (run / "state.json").write_text(json.dumps(state))
    assert train(make_config(*OVERRIDES, "train.max_steps=12"), run, resume=True)["steps"] == 12
