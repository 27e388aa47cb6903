"""The infilling harmonizer through the one loop: the masked objective's contract, and a
tiny model that trains, stops early and resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cadenza.codecs.grid import GRID_SPEC, MASK
from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError
from cadenza.harmonize import DEFAULT_HARMONIZER, load_harmonizer
from cadenza.models import InfillModel, build_model_for
from cadenza.objectives import build_objective
from cadenza.train.checkpoint import last_weights, load_run, read_config
from cadenza.train.config import ObjectiveSection, apply_overrides, load_preset, to_dict
from cadenza.train.logs import read_log
from cadenza.train.loop import train

TINY = ("model.layers=1", "model.dim=16", "model.heads=2", "objective.frames=16",
        "objective.batches_per_epoch=4", "objective.eval_crops=8", "train.batch_size=4",
        "train.threads=1", "train.progress=false", "train.log_every=1", "train.warmup_steps=2",
        "train.epochs=4", "train.eval_every=3", "train.max_steps=null")


def harmonizer_config(data, *overrides):
    torch.set_num_threads(1)
    config = load_preset("harmonizer")
    config.data = str(data)
    return apply_overrides(config, [*TINY, *overrides])


def losses_of(config, out, **options):
    seen: list[float] = []
    result = train(config, out, hooks=[lambda m: seen.append(m["train_loss"])
                                       if "train_loss" in m else None], **options)
    return seen, result


def test_the_masked_objective_scores_hidden_cells_in_nats(tiny_data) -> None:
    objective = build_objective("masked", PreparedDataset(tiny_data), frames=16,
                                eval_crops=6, voice_share=1.0)
    torch.manual_seed(0)
    model = build_model_for("infill", objective.model_spec(None), 1, layers=1, dim=16,
                            heads=2).eval()
    batch = objective.batches("train", load_preset("tiny").train).batch(0, 0)
    step = objective.loss(model, batch)
    assert step.count == int(batch.hidden.sum()) > 0
    logits = model(batch.inputs, batch.fermata, batch.offsets)
    by_hand = -torch.log_softmax(logits, -1).gather(-1, batch.targets[..., None])[..., 0]
    assert torch.allclose(step.loss, by_hand[batch.hidden].mean())
    first = objective.evaluate(model, "validation", batch_size=4)
    assert first["unit"] == "nats/cell" and first["count"] == first["cells"] > 0
    assert first == objective.evaluate(model, "validation", batch_size=3)  # fixed crops
    # voice_share 1: every held-out crop hides whole voices, never scattered cells
    crops = objective.fixed_crops("validation")
    for hidden in crops.hidden:  # [16 frames, 4 voices]; the tiny pieces are longer
        voices = hidden.any(0)
        assert voices.any() and not voices.all()
        assert torch.equal(hidden, voices.expand(16, -1))
    assert bool((crops.inputs[crops.hidden] == MASK).all())


def test_bad_masked_options_are_refused(tiny_data) -> None:
    with pytest.raises(ConfigError, match="objective.frames"):
        build_objective("masked", PreparedDataset(tiny_data), frames=8)
    with pytest.raises(ConfigError, match="voice_share"):
        build_objective("masked", PreparedDataset(tiny_data), voice_share=2)
    with pytest.raises(ConfigError, match="objective 'masked'"):
        build_objective("masked", PreparedDataset(tiny_data), steps=3)


def test_the_harmonizer_trains_through_the_one_loop(tiny_data, tmp_path) -> None:
    losses, result = losses_of(harmonizer_config(tiny_data, "train.lr=1e-2"), tmp_path / "run")
    assert result["stopped"] == "epochs" and result["steps"] == 16
    assert result["unit"] == "nats/cell"
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.5
    run = load_run(tmp_path / "run")
    assert isinstance(run.model, InfillModel) and run.config.objective.name == "masked"
    assert last_weights(tmp_path / "run").exists()
    harmonizer = load_harmonizer(tmp_path / "run")
    assert harmonizer.kind == "infill" and harmonizer.window == 16
    # fine-tuning starts from the run's best weights (a step at lr 1e-30 leaves them)
    train(harmonizer_config(tiny_data, "train.lr=1e-30", "train.max_steps=1"),
          tmp_path / "tuned", init_from=tmp_path / "run")
    a, b = load_file(tmp_path / "run/model.safetensors"), load_file(last_weights(
        tmp_path / "tuned"))
    assert all(torch.allclose(a[k], b[k], atol=1e-12) for k in a)


def test_the_harmonizer_stops_early(tiny_data, tmp_path) -> None:
    config = harmonizer_config(tiny_data, "train.lr=1e-30", "train.eval_every=1",
                               "train.patience=2", "train.epochs=50")
    result = train(config, tmp_path / "run")
    assert result["stopped"] == "early-stop" and result["steps"] == 3


def test_the_harmonizer_resumes_exactly(tiny_data, tmp_path) -> None:
    full, _ = losses_of(harmonizer_config(tiny_data, "train.max_steps=11"), tmp_path / "full")
    first, cut = losses_of(harmonizer_config(tiny_data, "train.max_steps=5"), tmp_path / "cut")
    assert cut["stopped"] == "max_steps" and cut["steps"] == 5
    rest, done = losses_of(harmonizer_config(tiny_data, "train.max_steps=11"), tmp_path / "cut",
                           resume=True)
    assert done["steps"] == 11
    assert first + rest == full  # the same floats, step by step
    a, b = (load_file(last_weights(tmp_path / run)) for run in ("full", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    columns = ("step", "train_loss", "val_nats", "val_accuracy")
    logs = [[[row[c] for c in columns] for row in read_log(tmp_path / run / "log.csv")]
            for run in ("full", "cut")]
    assert logs[0] == logs[1]


def test_the_shipped_harmonizer_loads_as_an_ordinary_run() -> None:
    run = load_run(DEFAULT_HARMONIZER)
    assert run.config.model.name == "infill" and run.config.objective.name == "masked"
    assert isinstance(run.model, InfillModel) and run.model.voices == GRID_SPEC.main.shape[0]
    assert load_harmonizer(DEFAULT_HARMONIZER).window == run.config.objective.options["frames"]


def test_the_readme_recipe_of_the_shipped_harmonizer_sets_keys_that_exist() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    commands = re.findall(r"cadenza train --preset harmonizer (?:[^\n]*\\\n)*[^\n]*", readme)
    assert len(commands) >= 4
    for command in commands:
        overrides = re.findall(r"--set (\S+)", command)
        config = apply_overrides(load_preset("harmonizer"), overrides)
        assert config.objective.name == "masked"
    # the last stage's command is the shipped run's config, as migrated
    shipped = to_dict(read_config(DEFAULT_HARMONIZER))
    assert {**to_dict(config), "data": ""} == {**shipped, "data": ""}


def test_a_model_and_an_objective_that_do_not_fit_are_refused(tiny_data, tmp_path) -> None:
    lm = apply_overrides(load_preset("tiny"), [f"data={tiny_data}", "objective.name=masked"])
    with pytest.raises(ConfigError, match="reads tokens, but this codec produces grid"):
        train(lm, tmp_path / "a")
    infill_lm = harmonizer_config(tiny_data)
    infill_lm.objective = ObjectiveSection("next_token")  # the grid model, a token objective
    with pytest.raises(ConfigError, match="reads grid, but this codec produces tokens"):
        train(infill_lm, tmp_path / "b")
