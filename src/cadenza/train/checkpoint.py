"""The run directory is the checkpoint; nothing in it needs pickle to load.

::

    config.json          the resolved ExperimentConfig, cadenza version, vocabulary size
    vocab.json           the dataset's vocabulary
    codec.json           the codec config (cadenza.codecs.codec_from_config rebuilds it)
    data.json            the data config the dataset was prepared with
    model.safetensors    best weights (lowest validation loss)
    last-<step>.safetensors       latest weights             \
    optimizer-<step>.safetensors  optimizer tensors and the   } resume exactly from here
                                  TBPTT carried state         |
    state-<step>.json    step, epoch, data position, best   /
                         loss, RNG states, optimizer scalars
    checkpoint.json      the manifest: the step, its three files and their SHA-256
    log.csv, tb/, curves.png   logs

The checkpoint is one atomic unit. Its files carry the step in their names, so writing
step N never touches step M's files; ``checkpoint.json`` is written last, by rename, and
is the commit point; only then are older steps' files removed. A process killed at any
instant leaves either the old manifest with its intact files or the new one with its
files, and ``load_state`` checks every file against the manifest's digests, so a
resume is exact or refuses with one line. (A run from before the manifest, with
``last.safetensors``, ``optimizer.safetensors`` and ``state.json``, resumes only when
all three carry the same step.)

``load_run(path)`` serves resume, generation and evaluation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from cadenza import __version__
from cadenza.codecs import Codec, Vocab, codec_from_config
from cadenza.errors import ConfigError
from cadenza.io.weights import build_checked
from cadenza.models import SequenceModel, build_model_for
from cadenza.objectives import model_spec
from cadenza.safety import about, read_json
from cadenza.train.config import ExperimentConfig, from_dict, to_dict

INFO_FILES = ("config.json", "vocab.json", "codec.json")
WEIGHTS = {"best": "model.safetensors", "last": "last.safetensors"}
MANIFEST = "checkpoint.json"
ROLES = {"weights": "last-{}.safetensors", "optimizer": "optimizer-{}.safetensors",
         "state": "state-{}.json"}
LEGACY_FILES = ("last.safetensors", "optimizer.safetensors", "state.json")


@dataclass
class Run:
    """A trained model with everything needed to use it."""

    path: Path
    config: ExperimentConfig
    model: SequenceModel
    vocab: Vocab
    codec: Codec


def load_run(path: str | Path, which: str = "best",
             device: torch.device | str | None = None) -> Run:
    """Load a run directory: its config, vocabulary, codec and ``which`` weights
    (``best`` or ``last``); the model is in eval mode on ``device`` (default CPU)."""
    path = Path(path)
    if which not in WEIGHTS:
        raise ConfigError(f"which must be 'best' or 'last', not {which!r}")
    weights = last_weights(path) if which == "last" else path / WEIGHTS[which]
    _require(path, (*INFO_FILES, weights.name))
    config = read_config(path)
    vocab = load_vocab(path / "vocab.json")
    with about(path / "codec.json"):
        codec = codec_from_config(read_json(path / "codec.json"))
    vocab.adopt_roles(codec.spec)
    spec = model_spec(config.objective.name, codec.spec)
    model = build_checked(weights, lambda: build_model_for(config.model.name, spec, len(vocab),
                                                           **config.model.options))
    load_weights(model, weights)
    trained_context(model, config.train)
    return Run(path, config, model.to(device or "cpu").eval(), vocab, codec)


def trained_context(model: Any, train: Any) -> None:
    """Bound a model's context by the window it trains on: a transformer trained on
    windows of ``seq_len`` tokens never learnt later positions, so it is scored and
    sampled through a window of ``seq_len`` that slides (its ``max_context`` stays the
    most it can hold). Recurrent models (no ``max_context``) are left as they are."""
    context = getattr(model, "max_context", None)
    if context is not None and not train.tbptt and train.seq_len < context:
        model.max_context = train.seq_len


def read_config(path: str | Path) -> ExperimentConfig:
    """The ExperimentConfig saved in a run directory."""
    path = Path(path)
    _require(path, ("config.json",))
    data = read_json(path / "config.json")
    return from_dict({k: data[k] for k in ("data", "model", "objective", "train") if k in data},
                     where=str(path / "config.json"))


def write_run_info(out: Path, config: ExperimentConfig, vocab: Vocab,
                   codec_config: dict[str, Any], data_config: dict[str, Any] | None = None) -> None:
    """Write config.json, vocab.json, codec.json, and data.json (how the dataset was
    prepared, so the same data can be rebuilt where the original folder is missing)."""
    out.mkdir(parents=True, exist_ok=True)
    info = {"cadenza_version": __version__, **to_dict(config), "vocab_size": len(vocab)}
    _write_text(out / "config.json", json.dumps(info, indent=1))
    _write_text(out / "vocab.json", json.dumps(vocab.to_json(), indent=1))
    _write_text(out / "codec.json", json.dumps(codec_config, indent=1))
    if data_config is not None:
        _write_text(out / "data.json", json.dumps(data_config, indent=1))


def load_vocab(path: Path) -> Vocab:
    """A vocab.json, or a one-line error naming it."""
    with about(path):
        return Vocab.from_json(read_json(path))


def check_vocab(expected: Vocab, found: Vocab, what: str) -> None:
    """Refuse a model and a dataset whose vocabularies differ (ids would mean other tokens)."""
    if expected == found:
        return
    missing = [t for t in found.tokens if t not in expected.index]
    extra = [t for t in expected.tokens if t not in found.index]
    detail = (f"{len(missing)} token(s) the run lacks (e.g. {missing[:3]}), {len(extra)} it has "
              f"extra" if missing or extra else "the same tokens in another order")
    raise ConfigError(f"{what}: vocabulary differs ({len(expected)} vs {len(found)} tokens; "
                      f"{detail}); use the dataset the run was trained on")


def save_weights(model: torch.nn.Module, path: Path, step: int = 0) -> None:
    """Weights as safetensors (tied weights stored once), written atomically."""
    tmp = path.with_suffix(".tmp")
    save_model(_on_cpu(model), str(tmp), metadata={"step": str(step)})
    os.replace(tmp, path)


def load_weights(model: torch.nn.Module, path: Path) -> None:
    host = _on_cpu(model)
    try:
        missing, unexpected = load_model(host, str(path), strict=False)
    except (SafetensorError, OSError, RuntimeError) as err:
        raise ConfigError(f"{path}: cannot load weights ({str(err).splitlines()[0]})") from None
    if host is not model:
        model.load_state_dict(host.state_dict())
    if missing or unexpected:
        raise ConfigError(f"{path}: weights do not fit the model (missing {sorted(missing)}, "
                          f"unexpected {sorted(unexpected)})")


def _on_cpu(model: torch.nn.Module) -> torch.nn.Module:
    """The model itself on the CPU, else a CPU copy: on a GPU, cuDNN packs an LSTM's
    weights into one storage, which safetensors refuses to split into named tensors."""
    if all(t.device.type == "cpu" for t in model.state_dict().values()):
        return model
    return copy.deepcopy(model).cpu()


def save_state(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               state: dict[str, Any], carry: tuple[torch.Tensor, ...] | None) -> None:
    """The resumable checkpoint of ``state["step"]``: its three files, then the manifest
    (the commit point), then the older steps' files are removed."""
    tensors, scalars, groups = _split_optimizer(optimizer)
    for i, t in enumerate(carry or ()):
        tensors[f"carry.{i}"] = t.detach().cpu().contiguous()
    step = int(state["step"])
    names = {role: pattern.format(step) for role, pattern in ROLES.items()}
    save_weights(model, out / names["weights"], step)
    tmp = out / f"{names['optimizer']}.tmp"
    save_file(tensors, str(tmp), metadata={"step": str(step)})
    os.replace(tmp, out / names["optimizer"])
    rng = {"torch": torch.get_rng_state().tolist()}
    if torch.cuda.is_available():
        rng["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    full = {**state, "rng": rng, "optimizer": {"scalars": scalars, "param_groups": groups},
            "carry_size": len(carry or ())}
    _write_text(out / names["state"], json.dumps(full))
    manifest = {"step": step, "files": names,
                "sha256": {name: _digest(out / name) for name in names.values()}}
    _write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    keep = set(names.values())
    for pattern in ROLES.values():
        for old in out.glob(pattern.format("*")):
            if old.name not in keep:
                old.unlink(missing_ok=True)
    for name in LEGACY_FILES:  # superseded by the manifest
        (out / name).unlink(missing_ok=True)


def last_weights(out: Path) -> Path:
    """The latest weights: the manifest's, else a run's from before the manifest."""
    if (out / MANIFEST).is_file():
        return out / _manifest(out)["files"]["weights"]
    return out / WEIGHTS["last"]


def _manifest(out: Path) -> dict[str, Any]:
    manifest = read_json(out / MANIFEST)
    try:
        files, digests, step = manifest["files"], manifest["sha256"], int(manifest["step"])
        names = [files[role] for role in ROLES]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{out / MANIFEST}: damaged checkpoint manifest") from None
    if any(Path(n).name != n for n in names) or set(digests) != set(names):
        raise ConfigError(f"{out / MANIFEST}: damaged checkpoint manifest")
    return {"step": step, "files": files, "sha256": digests}


def _checked_files(out: Path) -> dict[str, Path]:
    """The checkpoint's files by role, each verified against the manifest (or, for a run
    from before the manifest, against each other's step)."""
    why = "cannot resume: no complete checkpoint"
    if not (out / MANIFEST).is_file():
        _require(out, LEGACY_FILES, why)
        files = dict(zip(ROLES, (out / name for name in LEGACY_FILES)))
        steps = {_weights_step(files["weights"]), _weights_step(files["optimizer"]),
                 str(read_json(files["state"]).get("step"))}
        if len(steps) != 1:
            raise ConfigError(f"{out}: cannot resume: the checkpoint's files are from "
                              f"different steps ({', '.join(sorted(map(str, steps)))}); it was "
                              "interrupted while saving")
        return files
    manifest = _manifest(out)
    _require(out, tuple(manifest["files"].values()), why)
    for name, digest in manifest["sha256"].items():
        if _digest(out / name) != digest:
            raise ConfigError(f"{out / name}: cannot resume: it differs from the checkpoint "
                              f"manifest (damaged after step {manifest['step']} was saved)")
    return {role: out / manifest["files"][role] for role in ROLES}


def load_state(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               device: torch.device) -> tuple[dict[str, Any], tuple[torch.Tensor, ...] | None]:
    """Restore what ``save_state`` wrote (and the RNG states); returns (state, carry)."""
    files = _checked_files(out)
    state = read_json(files["state"])
    load_weights(model, files["weights"])
    try:
        tensors = load_file(str(files["optimizer"]))
    except (SafetensorError, OSError) as err:
        raise ConfigError(f"{files['optimizer']}: unreadable ({err})") from None
    with about(files["state"], "damaged checkpoint state"):
        return _restore(state, tensors, optimizer, device)


def _restore(state: dict[str, Any], tensors: dict[str, torch.Tensor],
             optimizer: torch.optim.Optimizer,
             device: torch.device) -> tuple[dict[str, Any], tuple[torch.Tensor, ...] | None]:
    saved = {"state": {}, "param_groups": state["optimizer"]["param_groups"]}
    for key, value in tensors.items():
        kind, _, rest = key.partition(".")
        if kind == "state":
            index, _, name = rest.partition(".")
            saved["state"].setdefault(int(index), {})[name] = value
    for key, value in state["optimizer"]["scalars"].items():
        index, _, name = key.partition(".")
        saved["state"].setdefault(int(index), {})[name] = value
    for group in saved["param_groups"]:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict(saved)
    torch.set_rng_state(torch.tensor(state["rng"]["torch"], dtype=torch.uint8))
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8)
                                      for s in state["rng"]["cuda"]])
    n = state["carry_size"]
    carry = tuple(tensors[f"carry.{i}"].to(device) for i in range(n)) if n else None
    return state, carry


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with about(path), path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights_step(path: Path) -> str:
    with about(path, "cannot load weights"):
        with safe_open(str(path), "pt") as file:
            return (file.metadata() or {}).get("step", "?")


def _split_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict, dict, list]:
    """Optimizer state as (tensors by 'state.<param>.<name>', other scalars, param groups)."""
    saved = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in saved["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()}
              for g in saved["param_groups"]]
    return tensors, scalars, groups


def _require(path: Path, files: tuple[str, ...], why: str = "not a complete cadenza run") -> None:
    if not path.is_dir():
        raise ConfigError(f"{path}: no such run directory")
    missing = [f for f in files if not (path / f).is_file()]
    if missing:
        raise ConfigError(f"{path}: {why} (missing {', '.join(missing)})")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
