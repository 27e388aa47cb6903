"""The MAESTRO layout (Hawthorne et al., 2019): a folder holding ``maestro-v*.csv`` and
the MIDI files it names, each with its official ``split`` (train / validation / test).

``cadenza prepare --corpus maestro PATH`` lists the files the CSV names, with that
split, so a dataset made from MAESTRO is scored on MAESTRO's own test set. A file the
CSV names but the folder lacks is skipped and recorded like any unreadable file.
"""

from __future__ import annotations

import csv
from pathlib import Path

from cadenza.errors import ConfigError

LAYOUT = "maestro"
SPLITS = ("train", "validation", "test")


def maestro_files(folder: str | Path) -> list[tuple[str, str, str]]:
    """(piece id, path, split) for every row of the folder's newest ``maestro-v*.csv``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"--corpus maestro {folder}: not a folder")
    tables = sorted(folder.glob("maestro-v*.csv"))
    if not tables:
        raise ConfigError(f"--corpus maestro {folder}: no maestro-v*.csv (MAESTRO's metadata) "
                          "in that folder")
    table = tables[-1]
    found = []
    with open(table, newline="", encoding="utf-8") as rows:
        reader = csv.DictReader(rows)
        missing = {"midi_filename", "split"} - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"{table}: no column {', '.join(sorted(missing))}; not a MAESTRO "
                              "metadata file")
        for number, row in enumerate(reader, start=2):
            name, split = row["midi_filename"].strip(), row["split"].strip()
            if split not in SPLITS:
                raise ConfigError(f"{table}:{number}: split {split!r} is not one of "
                                  f"{', '.join(SPLITS)}")
            if not name or Path(name).is_absolute() or ".." in Path(name).parts:
                raise ConfigError(f"{table}:{number}: midi_filename {name!r} is not a path "
                                  "inside the folder")
            found.append((name, str(folder / name), split))
    if not found:
        raise ConfigError(f"{table}: lists no pieces")
    return found
