"""The training loop: one function, read top to bottom, for every objective.

The loop knows no loss: an objective (``cadenza.objectives``) draws the batches, turns
a model and a batch into a loss, and scores held-out data in its unit. The loop does
the rest: Adam/AdamW with a schedule that is a pure function of the step, gradient
clipping and accumulation, bfloat16 autocast on CUDA, validation every ``eval_every``
steps (or epoch), early stopping, best and last checkpoints, exact resume,
CSV/TensorBoard logs, hooks. Under torchrun it trains on every rank with
DistributedDataParallel (:mod:`cadenza.train.distributed`); rank 0 writes the files.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from cadenza.codecs import Vocab
from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError
from cadenza.io.weights import build_bounded
from cadenza.models import SequenceModel, build_model_for
from cadenza.models.structure import fill_structure_tokens
from cadenza.objectives import Objective, build_objective, default_objective
from cadenza.train import checkpoint as ckpt
from cadenza.train import distributed as ddp
from cadenza.train.config import BUDGET_KEYS, ExperimentConfig, TrainConfig, to_dict
from cadenza.train.logs import RunLog, plot_curves
from cadenza.train.schedule import lr_at

Hook = Callable[[dict[str, Any]], None]


def train(config: ExperimentConfig, out: str | Path, resume: bool = False,
          init_from: str | Path | None = None, hooks: Sequence[Hook] = ()) -> dict[str, Any]:
    """Train ``config`` into the run directory ``out``; returns a summary dict.

    ``resume`` continues the checkpoint in ``out`` exactly (same batches, RNG, schedule);
    only the budget fields (``max_steps``, ``max_minutes``, ...) may change. ``init_from``
    starts from another run's best weights (fine-tuning; vocabularies must match).
    ``hooks`` are called with the metrics dict of every log step and evaluation (on
    rank 0 under DDP, where ``batch_size`` is the global batch).
    """
    config = copy.deepcopy(config).resolve()
    t, out = config.train, Path(out)
    if t.threads:
        torch.set_num_threads(t.threads)
    ranks = ddp.init(t.device)
    device = ranks.device
    use_amp = t.amp and device.type == "cuda"
    dataset = PreparedDataset(config.data)
    objective = objective_for(config, dataset)
    torch.manual_seed(t.seed)
    if dataset.main.kind == "tokens":
        config.model.options = fill_structure_tokens(config.model.options, dataset.vocab.id)
    spec = objective.model_spec(dataset.codec.spec)
    model = build_bounded(lambda: build_model_for(config.model.name, spec, len(dataset.vocab),
                                                  **config.model.options)).to(device)
    if t.tbptt and getattr(model, "max_context", None) is not None:
        raise ConfigError(f"train.tbptt needs a recurrent model, not {config.model.name!r}; "
                          "use --set train.tbptt=false")
    ckpt.trained_context(model, t)  # validation reads it as it will be used
    windows = ddp.shard(objective.batches("train", t), t.batch_size, ranks)
    objective.share = (ranks.rank, ranks.world)
    steps_per_epoch = math.ceil(windows.windows_per_epoch / t.grad_accum)
    optimizer = _optimizer(model, t)
    pos, carry = _prepare_run(config, out, dataset, model, optimizer, resume, init_from, device,
                              ranks)
    dims = _batch_dims(model) if windows.carries_state else ()
    carry = ddp.split_state(carry, dims, ranks)
    extra = tuple(objective.metric_names)
    log = RunLog(out, pos["step"] if resume else None,
                 extra=[f"{s}_{n}" for s in ("train", "val") for n in extra]
                 ) if ranks.main else None
    bar = tqdm(total=t.epochs * steps_per_epoch, initial=pos["step"],
               disable=not (t.progress and ranks.main), unit="step", dynamic_ncols=True)
    started = tick = time.monotonic()
    interval_loss, interval_tokens = 0.0, 0
    parts: dict[str, Any] = {}  # per-head losses (objective.metric_names) x units, rank 0's
    timed = t.max_minutes is not None
    stop = ddp.agree(_stop_reason(pos, t, started), ranks, timed)
    probe = ranks.active and ddp.leaves_unused(model, objective.loss(
        model, windows.batch(pos["epoch"], pos["window"]).to(device)).loss)
    net = ddp.wrap(model, ranks, find_unused=probe)  # the model itself in one process
    model.train()
    while not stop:
        lr = lr_at(pos["step"], t, steps_per_epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        ddp.seed_step(t.seed, ranks, pos["step"])
        for i in range(t.grad_accum):  # consecutive windows (TBPTT) or fresh random ones
            batch = windows.batch(pos["epoch"], pos["window"]).to(device)
            last = i == t.grad_accum - 1 or pos["window"] + 1 == windows.windows_per_epoch
            with ddp.sync_context(net, sync=last):  # gradients all-reduced once a step
                carry, loss, tokens = _forward_backward(objective, net, batch, carry,
                                                        t.grad_accum, use_amp, ranks, parts)
            interval_loss, interval_tokens = interval_loss + loss * tokens, interval_tokens + tokens
            pos["window"] += 1
            if pos["window"] == windows.windows_per_epoch:
                break
        if t.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        pos["step"] += 1
        epoch_done = pos["window"] == windows.windows_per_epoch
        if epoch_done:
            pos["epoch"], pos["window"], carry = pos["epoch"] + 1, 0, None
        bar.update()
        if pos["step"] % t.log_every == 0 or epoch_done:
            now = time.monotonic()
            local_tokens = interval_tokens  # the per-head parts are this rank's own
            interval_loss, interval_tokens = ddp.all_sum([interval_loss, interval_tokens], ranks)
            metrics = {"step": pos["step"], "epoch": pos["epoch"], "lr": lr,
                       "train_loss": interval_loss / max(interval_tokens, 1),
                       "tokens_per_s": interval_tokens / max(now - tick, 1e-9),
                       "seconds": round(now - started, 3),
                       **{f"train_{k}": float(v) / max(local_tokens, 1)
                          for k, v in parts.items()}}
            bar.set_postfix(loss=f"{metrics['train_loss']:.3f}",
                            tok_s=f"{metrics['tokens_per_s']:.0f}")
            _report(log, hooks, metrics)
            interval_loss, interval_tokens, tick = 0.0, 0, time.monotonic()
            parts.clear()
        if pos["epoch"] >= t.epochs or (t.eval_every and pos["step"] % t.eval_every == 0) or (
                not t.eval_every and epoch_done):
            _validate(objective, model, pos, t, out, log, hooks, ranks)
            _save_state(out, model, optimizer, pos, carry, dims, ranks)
        stop = ddp.agree(_stop_reason(pos, t, started), ranks, timed)
    bar.close()
    if pos["last_eval_step"] != pos["step"]:  # interrupted between evaluations
        _save_state(out, model, optimizer, pos, carry, dims, ranks)
    if ranks.main and not (out / ckpt.WEIGHTS["best"]).exists():  # keep the run loadable
        ckpt.save_weights(model, out / ckpt.WEIGHTS["best"], pos["step"])
    if log is not None:
        log.close()
        plot_curves(log.path, out / "curves.png")
    ddp.barrier(ranks)
    return {"path": out, "stopped": stop, "steps": pos["step"], "epochs": pos["epoch"],
            "best_loss": pos["best"], "best_step": pos["best_step"], "unit": objective.unit}


def _stop_reason(pos: dict[str, Any], t: TrainConfig, started: float) -> str:
    """Why training stops now ("" to go on): the last epoch, patience, or a budget."""
    if pos["epoch"] >= t.epochs:
        return "epochs"
    if t.patience and pos["bad"] >= t.patience:
        return "early-stop"
    if t.max_steps is not None and pos["step"] >= t.max_steps:
        return "max_steps"
    if t.max_minutes is not None and time.monotonic() - started > 60 * t.max_minutes:
        return "max_minutes"
    return ""


def objective_for(config: ExperimentConfig, dataset: PreparedDataset) -> Objective:
    """The config's objective over ``dataset`` (``auto`` resolved and written back)."""
    if config.objective.name == "auto":
        config.objective.name = default_objective(dataset)
    return build_objective(config.objective.name, dataset, **config.objective.options)


def _forward_backward(objective: Objective, net: torch.nn.Module, batch: Any, carry: Any,
                      accum: int, use_amp: bool, ranks: ddp.Ranks = ddp.SINGLE,
                      parts: dict[str, Any] | None = None) -> tuple[Any, float, int]:
    """One window: the objective's loss, backward (scaled for accumulation, and under
    DDP by the rank's share of the global units); returns (state to carry, loss, units
    it averaged over). ``net`` is the model, or its DDP wrapper. The step's metrics, times
    its units, are added into ``parts`` (tensors: read once per log line, not per step)."""
    model = ddp.unwrap(net)
    keep = getattr(batch, "keep", None)
    if carry is not None and keep is not None:
        carry = _reset_rows(model, carry, keep)
    with torch.autocast(batch.inputs.device.type, dtype=torch.bfloat16, enabled=use_amp):
        step = objective.loss(net, batch, carry)
    (step.loss * ddp.loss_share(step.count, ranks) / accum).backward()
    if parts is not None and step.metrics:
        for key, value in step.metrics.items():
            parts[key] = parts.get(key, 0.0) + value * step.count
    carry = model.detach_state(step.state) if keep is not None else None
    return carry, step.loss.item(), step.count


def _batch_dims(model: SequenceModel) -> list[int]:
    """The batch axis of each tensor of the model's recurrent state."""
    one, two = model.init_state(1, "cpu"), model.init_state(2, "cpu")
    return [next(d for d, (x, y) in enumerate(zip(a.shape, b.shape)) if x != y)
            for a, b in zip(one, two)]


def _save_state(out: Path, model: SequenceModel, optimizer: torch.optim.Optimizer,
                pos: dict[str, Any], carry: Any, dims: Sequence[int], ranks: ddp.Ranks) -> None:
    """The checkpoint, written by rank 0 with every rank's carried state; all wait."""
    carry = ddp.gather_state(carry, dims, ranks)
    if ranks.main:
        ckpt.save_state(out, model, optimizer, pos, carry)
    ddp.barrier(ranks)


def _reset_rows(model: SequenceModel, state: tuple[torch.Tensor, ...],
                keep: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Zero the state of the rows where a new piece starts (``keep`` False)."""
    if bool(keep.all()):
        return state
    reset = []
    for tensor, dim in zip(state, _batch_dims(model)):
        shape = [-1 if d == dim else 1 for d in range(tensor.dim())]
        reset.append(tensor * keep.view(shape).to(tensor.dtype))
    return tuple(reset)


def _validate(objective: Objective, model: SequenceModel, pos: dict[str, Any],
              t: TrainConfig, out: Path, log: RunLog | None, hooks: Sequence[Hook],
              ranks: ddp.Ranks = ddp.SINGLE) -> None:
    """The objective's held-out measure on the validation split (each rank scores its
    share; the sums are all-reduced); the best weights are saved, the evaluations
    without progress counted. With no validation pieces, the latest weights count as
    the best."""
    result = objective.evaluate(model, "validation", batch_size=min(t.batch_size, 32))
    result = ddp.reduce_result(result, ranks, objective.metric_names)
    pos["last_eval_step"] = pos["step"]
    nats = result["loss"] if result["count"] else None
    if nats is None or pos["best"] is None or nats < pos["best"] - t.min_delta:
        pos["best"], pos["best_step"], pos["bad"] = nats, pos["step"], 0
        if ranks.main:
            ckpt.save_weights(model, out / ckpt.WEIGHTS["best"], pos["step"])
    else:
        pos["bad"] += 1
    if "monitors" in result and ranks.main:  # an objective's collapse monitors (elbo)
        with open(out / "monitors.jsonl", "a") as lines:
            lines.write(json.dumps({"step": pos["step"], **result["monitors"]}) + "\n")
    accuracy = result.get("accuracy", result.get("frame_accuracy"))
    heads = {f"val_{k}": result[k] for k in objective.metric_names if k in result}
    _report(log, hooks, {"step": pos["step"], "epoch": pos["epoch"], "val_nats": nats,
                         "val_accuracy": accuracy, "best": pos["best"], **heads})


def _report(log: RunLog | None, hooks: Sequence[Hook], metrics: dict[str, Any]) -> None:
    if log is None:  # a rank other than 0: rank 0 logs and calls the hooks
        return
    log.write(metrics)
    for hook in hooks:
        hook(dict(metrics))


def _prepare_run(config: ExperimentConfig, out: Path, dataset: PreparedDataset,
                 model: SequenceModel, optimizer: torch.optim.Optimizer, resume: bool,
                 init_from: str | Path | None, device: torch.device,
                 ranks: ddp.Ranks = ddp.SINGLE) -> tuple[dict, Any]:
    """A fresh run directory (optionally from another run's weights), or the resumed one
    (its carried state is every rank's, joined)."""
    if resume:
        _check_same(ckpt.read_config(out), config, out)
        ckpt.check_vocab(Vocab.load(out / "vocab.json"), dataset.vocab,
                         f"resume {out} with {dataset.folder}")
        state, carry = ckpt.load_state(out, model, optimizer, device)
        return {k: state[k] for k in _fresh_position()}, carry
    if (out / "config.json").exists() and not ddp.restart_count():
        raise ConfigError(f"{out} already holds a run; resume it (--resume) or choose another "
                          "--out")
    if init_from is not None:
        source = ckpt.load_run(init_from)
        ckpt.check_vocab(source.vocab, dataset.vocab, f"init from {init_from}")
        _load_weights_from(model, source, config, init_from)
    ddp.barrier(ranks)  # every rank has looked before rank 0 writes
    if ranks.main:
        ckpt.write_run_info(out, config, dataset.vocab, dataset.config["codec"],
                            dataset.config.get("data"))
    return _fresh_position(), None


def _load_weights_from(model: SequenceModel, source: Any, config: ExperimentConfig,
                       init_from: str | Path) -> None:
    """Start from another run's weights. The model may add parameters the source lacks
    (say, frame features, which start at zero); every source weight must find its place."""
    theirs, ours = source.model.state_dict(), model.state_dict()
    misfit = [k for k, v in theirs.items() if k not in ours or ours[k].shape != v.shape]
    if source.config.model.name != config.model.name or misfit:
        raise ConfigError(f"init from {init_from}: its model ({source.config.model.name} "
                          f"{source.config.model.options}) does not fit this config's "
                          f"({config.model.name} {config.model.options})")
    fresh = sorted(set(ours) - set(theirs))
    model.load_state_dict(theirs, strict=False)
    if fresh:
        print(f"init from {init_from}: {len(fresh)} new tensor(s) start fresh: "
              f"{', '.join(fresh)}")


def _fresh_position() -> dict[str, Any]:
    return {"step": 0, "epoch": 0, "window": 0, "best": None, "best_step": None, "bad": 0,
            "last_eval_step": 0}


def _check_same(saved: ExperimentConfig, config: ExperimentConfig, out: Path) -> None:
    a, b = to_dict(saved), to_dict(config)
    for key in BUDGET_KEYS:
        a["train"].pop(key), b["train"].pop(key)
    a.pop("data"), b.pop("data")  # a moved dataset is fine; its vocabulary is checked
    diff = [f"{s}.{k}" for s in ("model", "objective", "train") for k in a[s]
            if a[s][k] != b[s].get(k)]
    if diff:
        raise ConfigError(f"cannot resume {out}: config differs in {', '.join(diff)} "
                          f"(only {', '.join('train.' + k for k in BUDGET_KEYS)} may change)")


def _optimizer(model: SequenceModel, t: TrainConfig) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    # The fused kernel updates every tensor in one pass: on CPU the default per-tensor
    # loop took 11-29 ms a step for BachBot's model, the fused one 1.1-2.5 ms, 10-12x
    # less (python benchmarks/bench_kernels.py, two runs on a shared 2-core machine).
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point()
                for p in model.parameters())
    return cls(model.parameters(), lr=t.lr, weight_decay=t.weight_decay, fused=fused)

