"""Training the infilling harmonizer: masked-cell cross-entropy on grid crops.

The objective differs from the language models' (hidden cells of a grid, not the
next token), so it has this short loop of its own; the run directory has the
same shape (``config.json``, ``model.safetensors``, ``log.csv``) and loads with
:func:`load_infill_run`.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model
from torch.nn import functional as F

from cadenza import __version__
from cadenza.config import from_dict
from cadenza.data.dataset import PreparedDataset
from cadenza.data.grids import load_grids, sample_batch
from cadenza.errors import ConfigError
from cadenza.io.weights import build_bounded, build_checked
from cadenza.models.infill import InfillConfig, InfillModel
from cadenza.safety import about, read_json, read_text
from cadenza.validate import SEED_MAX, check_optional


@dataclass
class InfillTrainConfig:
    """How the infilling model is trained."""

    steps: int = 6000
    batch_size: int = 24
    frames: int = 128  # crop length: 8 bars of 16ths
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    transpose: int = 3  # random transposition of crops, ± semitones
    voice_share: float = 0.5  # share of examples hiding whole voices (the rest: random cells)
    eval_every: int = 250
    seed: int = 0
    threads: int = 2
    max_minutes: float | None = None  # stop early (the schedule still spans ``steps``)
    max_steps: int | None = None  # likewise; reproduces a run that stopped on time

    def check(self) -> None:
        """NaN, infinities and out-of-range values stop here, before any step."""
        for key, low, high in (("steps", 1, 1e12), ("batch_size", 1, 1 << 20),
                               ("frames", 16, 1 << 16), ("warmup", 0, 1e12),
                               ("weight_decay", 0, 10), ("transpose", 0, 12),
                               ("voice_share", 0, 1), ("eval_every", 1, 1e12),
                               ("seed", 0, SEED_MAX), ("threads", 0, 4096),
                               ("max_steps", 1, 1e12)):
            check_optional(f"train.{key}", getattr(self, key), low, high)
        for key in ("lr", "grad_clip", "max_minutes"):
            check_optional(f"train.{key}", getattr(self, key), 0, 1e9, low_open=True)


@dataclass
class InfillExperiment:
    data: str = ""
    model: InfillConfig = field(default_factory=InfillConfig)
    train: InfillTrainConfig = field(default_factory=InfillTrainConfig)


def _lr(step: int, cfg: InfillTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def masked_loss(model: InfillModel, batch) -> torch.Tensor:
    logits = model(batch.inputs, batch.fermata, batch.offsets)  # [B, F, V, C]
    hidden = batch.hidden
    return F.cross_entropy(logits[hidden], batch.targets[hidden])


@torch.no_grad()
def validation_loss(model: InfillModel, grids, cfg: InfillTrainConfig, batches: int = 8) -> float:
    """Masked-cell NLL on fixed validation crops (same crops every time)."""
    model.eval()
    rng = np.random.default_rng(12345)
    losses = [masked_loss(model, sample_batch(grids, cfg.batch_size, cfg.frames, rng)).item()
              for _ in range(batches)]
    model.train()
    return float(np.mean(losses))


def train_infill(experiment: InfillExperiment, out: str | Path,
                 init_from: str | Path | None = None) -> dict[str, Any]:
    """Train and write the run directory ``out``; returns a summary. ``init_from`` starts
    from another infilling run's weights (same model size)."""
    cfg, out = experiment.train, Path(out)
    cfg.check()
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dataset = PreparedDataset(experiment.data)
    if dataset.config["codec"]["name"] != "chorale":
        raise ConfigError("the infilling harmonizer trains on a chorale-codec dataset")
    train_grids = load_grids(dataset, "train")
    val_grids = load_grids(dataset, "validation")
    model = build_bounded(lambda: InfillModel(experiment.model))
    if init_from is not None:
        source = load_infill_run(init_from)
        if source.config != experiment.model:
            raise ConfigError(f"--init-from {init_from}: its model differs from this preset's")
        model.load_state_dict(source.state_dict())
        model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                  fused=True)  # one kernel for all tensors (see train/loop.py)
    rng = np.random.default_rng(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(
        {"kind": "infill", "version": __version__, **asdict(experiment)}, indent=1))
    best, started, rows = math.inf, time.perf_counter(), []
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, cfg)
        loss = masked_loss(model, sample_batch(train_grids, cfg.batch_size, cfg.frames, rng,
                                               cfg.transpose, cfg.voice_share))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        minutes = (time.perf_counter() - started) / 60
        last = (step == cfg.steps - 1 or step + 1 == cfg.max_steps
                or bool(cfg.max_minutes and minutes > cfg.max_minutes))
        if (step + 1) % cfg.eval_every == 0 or last:
            val = validation_loss(model, val_grids, cfg)
            rows.append({"step": step + 1, "train_loss": loss.item(), "val_loss": val,
                         "minutes": round(minutes, 2)})
            print(f"step {step + 1}: train {loss.item():.4f} val {val:.4f} ({minutes:.1f} min)",
                  flush=True)
            if val < best:
                best = val
                save_model(model, str(out / "model.safetensors"))
        if last:
            break
    with open(out / "log.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {"best_val_loss": best, "steps": rows[-1]["step"], "minutes": rows[-1]["minutes"]}


def load_infill_run(path: str | Path) -> InfillModel:
    """The best weights of an infilling run, in eval mode (safetensors + JSON only)."""
    path = Path(path)
    config_file, weights = path / "config.json", path / "model.safetensors"
    if not config_file.exists() or not weights.exists():
        raise ConfigError(f"{path} is not an infilling run (needs config.json and "
                          "model.safetensors)")
    config = read_json(config_file)
    if config.get("kind") != "infill":
        raise ConfigError(f"{path} is not an infilling run")
    with about(config_file, "bad model settings"):
        model_config = from_dict(InfillConfig, config["model"])
    model = build_checked(weights, lambda: InfillModel(model_config))
    with about(weights, "cannot load weights"):
        load_model(model, str(weights))
    return model.eval()


def infill_preset(name_or_path: str | Path) -> InfillExperiment | None:
    """The preset as an InfillExperiment when it declares ``kind = "infill"``, else None."""
    import tomllib
    from importlib import resources

    text_path = str(name_or_path)
    if text_path.endswith(".toml") or "/" in text_path:
        path = Path(text_path)
        text = read_text(path) if path.is_file() else ""
    else:
        resource = resources.files("cadenza").joinpath("presets", f"{text_path}.toml")
        text = resource.read_text() if resource.is_file() else ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None  # the language-model loader reports the syntax error
    if data.pop("kind", None) != "infill":
        return None
    return from_dict(InfillExperiment, data)
