"""What a reader looks at and listens to: each model's continuation of the same primer
(the first held-out piece long enough, the first primer length, the first seed) as a
piano roll, a MIDI file and, where FluidSynth is installed, a WAV, beside the true one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError


def write_continuations(out: Path, records: list[dict[str, Any]], primer: int,
                        truth: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Files for the first seed's first sample of every (dataset, window, model) in
    ``out/continuations``; ``truth``: per dataset, the true tokens of that piece. Returns
    one entry per figure: its title and file names (None where nothing decoded)."""
    from cadenza.train.checkpoint import load_run

    folder = out / "continuations"
    folder.mkdir(parents=True, exist_ok=True)
    entries, seen = [], set()
    for record in records:
        key = (record["dataset"], record["seq_len"], record["model"])
        samples = record.get(f"music_k{primer}", {}).get("samples")
        if key in seen or not samples:
            continue
        seen.add(key)
        run = load_run(out / "runs" / key[0] / f"L{key[1]}" / key[2] /
                       f"seed-{record['seed']}")
        if key[0] not in {e["dataset"] for e in entries}:  # the truth once per dataset
            entries.append(_render(run, truth[key[0]], folder, f"{key[0]}-truth",
                                   f"{key[0]}: the true continuation", key[0]))
        entries.append(_render(run, samples[0], folder, "-".join(map(str, key)),
                               f"{key[0]}, windows of {key[1]}: {key[2]}", key[0]))
    return entries


def _render(run: Any, ids: list[int], folder: Path, stem: str, title: str,
            dataset: str) -> dict[str, Any]:
    from cadenza.io.audio import render_wav
    from cadenza.io.plot import piano_roll
    from cadenza.io.write import write_midi

    entry: dict[str, Any] = {"dataset": dataset, "title": title, "png": None, "wav": None}
    try:
        score = run.codec.decode(run.vocab.decode([int(t) for t in ids]))
    except (CadenzaError, ValueError, KeyError, IndexError) as err:
        entry["error"] = f"does not decode: {err}"
        return entry
    piano_roll(score, folder / f"{stem}.png", title=title)
    write_midi(score, folder / f"{stem}.mid")
    wav = render_wav(folder / f"{stem}.mid", folder / f"{stem}.wav")
    entry.update(png=f"continuations/{stem}.png", mid=f"continuations/{stem}.mid",
                 wav=None if wav is None else f"continuations/{stem}.wav")
    return entry
