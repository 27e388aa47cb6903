"""Run a study: prepare its data, size its models, train every (model, seed) as a
normal run directory through the one training loop, and score each run on the tracks.

``OUT/runs/<dataset>/L<seq_len>/<model>/seed-<seed>/`` is a run like any other
(``cadenza evaluate`` reads it); ``study-run.json`` beside its weights holds its scores
and marks it finished, so a rerun of the study keeps it. An unfinished run (a study that
was stopped) is resumed from its last checkpoint.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError
from cadenza.evaluate.infilling import infill_set, score_infilling
from cadenza.models import MODELS
from cadenza.safety import write_text
from cadenza.study.budget import match_size
from cadenza.study.search import apply_setting, best_setting, study_space
from cadenza.study.spec import ModelEntry, StudySpec
from cadenza.study.tracks import (
    continuation_nll,
    continuation_pieces,
    continue_primers,
    music_overlap,
)
from cadenza.train.checkpoint import MANIFEST, load_run
from cadenza.train.config import TrainConfig, from_dict
from cadenza.train.logs import run_timing
from cadenza.train.loop import objective_for, train

DONE = "study-run.json"
INFILL_SEED = 12345


def prepare_datasets(spec: StudySpec, out: Path) -> dict[str, PreparedDataset]:
    """Every dataset of the study: a prepared folder, or a recipe prepared (once) into
    ``out/data/<name>``. A dataset without training or test pieces is refused."""
    datasets = {}
    for name, entry in spec.datasets.items():
        if "path" in entry:
            folder = spec.folder / str(entry["path"])
        else:
            folder = out / "data" / name
            if not (folder / "manifest.json").is_file():
                _prepare(name, entry, folder)
        dataset = PreparedDataset(folder)
        for split in ("train", "test"):
            if not dataset.indices(split, augmented=False):
                raise ConfigError(f"dataset {name!r} ({folder}) is empty: no {split} pieces")
        datasets[name] = dataset
    return datasets


def _prepare(name: str, entry: dict[str, Any], folder: Path) -> None:
    from cadenza.config import DataConfig, apply_overrides
    from cadenza.corpus.prepare import prepare

    unknown = sorted(set(entry) - {"corpus", "codec", "set"})
    if unknown or "corpus" not in entry:
        raise ConfigError(f"datasets.{name}: give path = FOLDER, or corpus (and codec, "
                          f"set = [...]); unknown key(s): {', '.join(unknown) or 'none'}")
    config = DataConfig.for_corpus(str(entry["corpus"]), entry.get("codec"))
    config = apply_overrides(config, [str(s) for s in entry.get("set", [])])
    prepare(config, folder, jobs=1, progress=False)


def plan_sizes(spec: StudySpec, datasets: dict[str, PreparedDataset]
               ) -> dict[tuple[str, str], tuple[dict[str, Any], int]]:
    """(dataset, model label) -> (sized options, parameter count). Each model is sized
    within half the tolerance of the budget, and the counts of every pair of models must
    then differ by at most ``spec.tolerance`` of the smaller; an impossible budget is
    refused before anything trains."""
    sizes = {}
    for name, data in datasets.items():
        for m in spec.models:
            sizes[(name, m.label)] = match_size(m.name, len(data.vocab), m.options,
                                                spec.params, spec.tolerance / 2)
        counts = {m.label: sizes[(name, m.label)][1] for m in spec.models}
        low, high = min(counts.values()), max(counts.values())
        if high - low > spec.tolerance * low:
            raise ConfigError(f"impossible parameter budget {spec.params} on {name!r}: the "
                              f"sized models differ by more than {spec.tolerance:.0%} "
                              f"({', '.join(f'{k}: {v}' for k, v in counts.items())})")
    return sizes


def run_study(spec: StudySpec, out: Path, say: Callable[[str], None] = print,
              jobs: int = 1) -> list[dict[str, Any]]:
    """Train and score every run of the study (keeping finished ones), ``jobs`` at a
    time in separate processes (each run on its own thread budget, so the numbers do not
    depend on ``jobs``); returns the records of every run."""
    space = study_space(spec)  # a bad space is refused before anything trains
    datasets = prepare_datasets(spec, out)
    sizes = plan_sizes(spec, datasets)
    searches = []
    for name, data in datasets.items():
        for model in spec.models if space is not None else ():
            base = run_config(spec, data, model, sizes[(name, model.label)][0],
                              spec.seq_lens[0], spec.seeds[0])
            folder = out / "search" / name / model.label
            if not (folder / "study-search.json").is_file():
                say(f"search {model.label} on {name}: {spec.search_trials} trials")
            searches.append(((name, model.label), (spec, space, data.folder, model, base,
                                                   folder)))
    searched = dict(zip([key for key, _ in searches],
                        _map(_search, [task for _, task in searches], jobs)))
    tasks, folders = [], []
    for name, data in datasets.items():
        for seq_len in spec.seq_lens:
            for model in spec.models:
                for seed in spec.seeds:
                    folder = out / "runs" / name / f"L{seq_len}" / model.label / f"seed-{seed}"
                    folders.append((name, folder))
                    if (folder / DONE).is_file():
                        say(f"kept {folder}")
                        continue
                    options, count = sizes[(name, model.label)]
                    tasks.append((spec, data.folder, model, options, count, seq_len, seed,
                                  folder, searched.get((name, model.label))))
    _map(_run, tasks, jobs, say)
    return [{"dataset": name, **json.loads((folder / DONE).read_text())}
            for name, folder in folders]


def _map(function: Callable[[tuple], Any], tasks: list[tuple], jobs: int,
         say: Callable[[Any], None] | None = None) -> list[Any]:
    """``function`` over ``tasks``, in up to ``jobs`` spawned processes (in this one for
    one job); each result is passed to ``say`` as it comes, and all are returned in the
    tasks' order. A failed task stops the study once the running ones end."""
    if jobs <= 1 or len(tasks) <= 1:
        results = []
        for task in tasks:
            results.append(function(task))
            if say is not None:
                say(results[-1])
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no forked torch threads
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(function, task): i for i, task in enumerate(tasks)}
        results: list[Any] = [None] * len(tasks)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if say is not None:
                say(results[futures[future]])
    return results


def _search(task: tuple) -> dict[str, Any]:
    spec, space, folder, model, base, out = task
    return best_setting(spec, space, PreparedDataset(folder), model, base, out)


def _run(task: tuple) -> str:
    spec, data_folder, model, options, count, seq_len, seed, folder, searched = task
    lines: list[str] = []
    started = time.monotonic()
    _train_and_score(spec, PreparedDataset(data_folder), model, options, count, seq_len,
                     seed, folder, lines.append, searched)
    return f"{lines[0]}: done in {time.monotonic() - started:.0f} s"


def true_continuations(spec: StudySpec, datasets: dict[str, PreparedDataset]
                       ) -> dict[str, list[int]]:
    """Per dataset, the true tokens of the first piece every model continued (first
    primer length): what the report shows beside the models' continuations."""
    k = spec.primers[0]
    found = {}
    for name, data in datasets.items():
        pieces = continuation_pieces(data, "test", k + spec.continuation, 1)
        if pieces:
            found[name] = [int(t) for t in pieces[0]]
    return found


def run_config(spec: StudySpec, data: PreparedDataset, model: ModelEntry,
               options: dict[str, Any], seq_len: int, seed: int,
               searched: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's config in the file layout of ``config.json``, with the searched
    setting put in. A model with a bounded context gets the window as its context; with
    ``study.tokens`` the run stops after that many window tokens."""
    objective: dict[str, Any] = {"name": model.objective}
    if model.objective == "masked_tokens":
        objective |= {"length": spec.infill_length, "positions": spec.infill_positions}
    if "max_context" in {f.name for f in fields(MODELS[model.name].config_class)}:
        options = {**options, "max_context": seq_len}
    train = {**spec.train, **model.train, "seed": seed, "seq_len": seq_len,
             "progress": False}
    layout = {"data": str(data.folder), "model": {"name": model.name, **options},
              "objective": objective, "train": train}
    if searched is not None:
        layout = apply_setting(layout, searched["params"])
    if spec.tokens:
        batch = int(layout["train"].get("batch_size", TrainConfig.batch_size))
        layout["train"]["max_steps"] = math.ceil(spec.tokens / (batch * seq_len))
    return layout


def _train_and_score(spec: StudySpec, data: PreparedDataset, model: ModelEntry,
                     options: dict[str, Any], count: int, seq_len: int, seed: int,
                     folder: Path, say: Callable[[str], None],
                     searched: dict[str, Any] | None = None) -> None:
    layout = run_config(spec, data, model, options, seq_len, seed, searched)
    config = from_dict(layout, where=f"study run {model.label}")
    resume = (folder / MANIFEST).is_file()
    if not resume and folder.exists():  # stopped before its first checkpoint: start over
        shutil.rmtree(folder)
    say(f"{'resume' if resume else 'train'} {folder} ({model.name}, {count} parameters)")
    started = time.monotonic()
    summary = train(config, folder, resume=resume)
    spent = _add_wall_time(folder, time.monotonic() - started)
    record = {"seq_len": seq_len, "model": model.label, "name": model.name, "seed": seed,
              "options": options, "params": count, "objective": config.objective.name,
              "contract": "autoregressive" if model.autoregressive else "whole-sequence",
              "steps": summary["steps"], "stopped": summary["stopped"],
              "best_step": summary["best_step"], "wall_s": round(spent, 3),
              "units_per_s": run_timing(folder / "log.csv")["units_per_s"], "search": searched,
              **score_run(spec, folder, data)}
    write_text(folder / DONE, json.dumps(_finite(record), indent=1))


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity as None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _add_wall_time(folder: Path, seconds: float) -> float:
    """Training seconds of the run over all its sessions (a resumed run adds up)."""
    path = folder / "study-wall.json"
    total = seconds + (json.loads(path.read_text())["seconds"] if path.is_file() else 0.0)
    write_text(path, json.dumps({"seconds": total}))
    return total


@torch.no_grad()
def score_run(spec: StudySpec, folder: Path, data: PreparedDataset) -> dict[str, Any]:
    """The tracks of one run on the test split (best weights). An autoregressive model
    gets a teacher-forced NLL (a) and the conditional NLL of each continuation (b); a
    masked model a pseudo-log-likelihood in its own key instead; all get infilling (c)."""
    run = load_run(folder)
    objective = objective_for(run.config, data)
    held_out = objective.evaluate(run.model, "test")
    autoregressive = run.model.contract == "autoregressive"
    infill = score_infilling(run.model, infill_set(data, "test", spec.infill_length,
                                                   spec.infill_positions, INFILL_SEED))
    result: dict[str, Any] = {
        "nll": held_out["loss"] if autoregressive else None,
        "pseudo_nll": None if autoregressive else held_out["loss"],
        "unit": held_out["unit"],
        "infill_nats": infill["infill_nats"], "infill_accuracy": infill["infill_accuracy"],
        "infill_conditional": infill["conditional"], "infill_count": infill["positions"],
    }
    for k in spec.primers:
        result[f"continuation_nll_k{k}"] = (continuation_nll(run.model, data, "test", k,
                                                             spec.continuation)
                                            if autoregressive else None)
        pieces = continuation_pieces(data, "test", k + spec.continuation,
                                     spec.continuation_pieces)
        samples = continue_primers(run.model, run.vocab, pieces, k, spec.continuation,
                                   spec.gibbs_sweeps, run.config.train.seed)
        music = music_overlap(run.codec, run.vocab, samples, pieces)
        result[f"overlap_k{k}"] = music["overlap_mean"]
        result[f"decoded_k{k}"] = music["decoded"] / max(music["sampled"], 1)
        result[f"music_k{k}"] = {**music, "samples": samples}
    return result
