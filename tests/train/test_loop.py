"""The training loop: it learns, resumes exactly, stops early, refuses what it must."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from cadenza.errors import ConfigError
from cadenza.train.checkpoint import load_run
from cadenza.train.logs import read_log
from cadenza.train.loop import train


def losses_of(config, out, **options) -> tuple[list[float], dict]:
    seen: list[float] = []

    def hook(metrics: dict) -> None:
        if "train_loss" in metrics:
            seen.append(metrics["train_loss"])

    result = train(config, out, hooks=[hook], **options)
    return seen, result


def test_a_tiny_model_overfits_one_piece(make_config, one_piece_data, tmp_path) -> None:
    config = make_config("train.batch_size=1", "train.epochs=1000", "train.max_steps=80",
                         "train.eval_every=1000", "model.hidden=128", "model.embedding=32",
                         "train.seq_len=64")
    config.data = str(one_piece_data)
    losses, result = losses_of(config, tmp_path / "run")
    assert result["stopped"] == "max_steps"
    assert losses[0] > 3.5 and min(losses[-10:]) < 0.7  # from ln(vocab) to memorized


@pytest.mark.parametrize("extra", [(), ("train.grad_accum=2", "model.dropout=0.2",
                                         "model.layers=2", "train.schedule=step",
                                         "train.decay_epochs=1")])
def test_resume_continues_exactly(make_config, tmp_path, extra) -> None:
    overrides = ("train.eval_every=4", "train.epochs=3", *extra)
    full, _ = losses_of(make_config(*overrides, "train.max_steps=14"), tmp_path / "full")
    first, cut = losses_of(make_config(*overrides, "train.max_steps=6"), tmp_path / "cut")
    assert cut["stopped"] == "max_steps" and cut["steps"] == 6
    rest, done = losses_of(make_config(*overrides, "train.max_steps=14"), tmp_path / "cut",
                           resume=True)
    assert done["steps"] == 14
    assert first + rest == full  # the same floats, step by step
    a, b = load_file(tmp_path / "full" / "last-14.safetensors"), load_file(
        tmp_path / "cut" / "last-14.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    columns = ("step", "epoch", "lr", "train_loss", "val_nats")
    logs = [[[row[c] for c in columns] for row in read_log(tmp_path / run / "log.csv")]
            for run in ("full", "cut")]
    assert logs[0] == logs[1]


def test_early_stopping_on_a_flat_validation_loss(make_config, tmp_path) -> None:
    config = make_config("train.lr=1e-30", "train.eval_every=1", "train.patience=2",
                         "train.epochs=100")
    result = train(config, tmp_path / "run")
    assert result["stopped"] == "early-stop"
    assert result["steps"] == 3 and result["best_step"] == 1


def test_runs_are_refused_on_another_vocabulary(make_config, other_vocab_data, tmp_path) -> None:
    train(make_config("train.max_steps=2"), tmp_path / "run")
    other = make_config("train.max_steps=4")
    other.data = str(other_vocab_data)
    with pytest.raises(ConfigError, match="vocabulary differs"):
        train(other, tmp_path / "run", resume=True)
    with pytest.raises(ConfigError, match="vocabulary differs"):
        train(other, tmp_path / "tuned", init_from=tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a run"):
        train(make_config(), tmp_path / "run")
    with pytest.raises(ConfigError, match="config differs in model.hidden"):
        train(make_config("model.hidden=8"), tmp_path / "run", resume=True)


def test_fine_tuning_starts_from_the_other_runs_weights(make_config, tmp_path) -> None:
    train(make_config("train.max_steps=3"), tmp_path / "base")
    train(make_config("train.max_steps=3", "train.lr=1e-30"), tmp_path / "tuned",
          init_from=tmp_path / "base")
    base, tuned = load_run(tmp_path / "base"), load_run(tmp_path / "tuned", "last")
    assert all(torch.allclose(p, q) for p, q in zip(base.model.parameters(),
                                                     tuned.model.parameters()))


def test_fine_tuning_may_add_frame_features_but_not_change_shapes(make_config, tmp_path,
                                                                   capsys) -> None:
    train(make_config("train.max_steps=2"), tmp_path / "base")
    train(make_config("train.max_steps=2", "train.lr=1e-30", "model.frame_features=true"),
          tmp_path / "tuned", init_from=tmp_path / "base")
    assert "4 new tensor(s) start fresh" in capsys.readouterr().out
    base, tuned = load_run(tmp_path / "base"), load_run(tmp_path / "tuned", "last")
    assert tuned.config.model.options["frame_token"] == tuned.vocab.id("|||")
    old = base.model.state_dict()
    assert all(torch.allclose(old[k], v) for k, v in tuned.model.state_dict().items()
               if k in old)
    with pytest.raises(ConfigError, match="does not fit"):
        train(make_config("model.hidden=8"), tmp_path / "wider", init_from=tmp_path / "base")


def test_a_transformer_trains_on_random_windows(make_config, tmp_path) -> None:
    config = make_config("model.name=transformer", "model.layers=1", "model.dim=16",
                         "model.heads=2", "model.max_context=64", "train.tbptt=false",
                         "train.max_steps=3")
    assert train(config, tmp_path / "run")["steps"] == 3
    with pytest.raises(ConfigError, match="tbptt needs a recurrent model"):
        train(make_config("model.name=transformer", "model.max_context=64"), tmp_path / "x")
