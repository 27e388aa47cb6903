"""Where pieces come from: music21's embedded corpora, or any folder of music files
(MAESTRO's layout, ``maestro:PATH``, with its official split).

A source lists :class:`SourceFile` entries (a stable id and a path); reading them
happens later, in the preparation workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cadenza.corpus.benchmarks import BENCHMARKS, benchmark_folder, fixed_split
from cadenza.errors import ConfigError
from cadenza.io.read import SUFFIXES

BACH_CHORALES = "bach-chorales"
# music21's folk-tune collections (ABC, one melody a tune), by cadenza's name
FOLK = {"essen": "essenFolksong", "oneills": "oneills1850", "ryans": "ryansMammoth"}
EMBEDDED = (BACH_CHORALES, *BENCHMARKS, *FOLK)
LAYOUTS = ("maestro",)  # --corpus LAYOUT PATH
_PREFERRED_SUFFIX = (".mxl", ".musicxml", ".xml", ".krn")


@dataclass(frozen=True)
class SourceFile:
    """One file to read: ``piece_id`` names it in splits and manifests; ``split`` is
    its published split where the corpus has one (else the seeded split decides)."""

    piece_id: str
    path: str
    split: str | None = None


def list_sources(corpus: str, suffixes: tuple[str, ...] | None = None) -> list[SourceFile]:
    """The files of an embedded corpus (by name) or of a folder (searched recursively);
    ``suffixes``: the file types to list (default: the music files ``read`` knows)."""
    if corpus == BACH_CHORALES:
        return bach_chorale_files()
    if corpus in FOLK:
        return folk_files(corpus)
    if corpus.startswith("maestro:"):
        from cadenza.corpus.maestro import maestro_files

        return [SourceFile(*row) for row in maestro_files(corpus.split(":", 1)[1])]
    if corpus in BENCHMARKS:
        from cadenza.corpus.cache import default_cache_dir

        corpus = str(benchmark_folder(corpus, default_cache_dir()))
    folder = Path(corpus)
    if not folder.exists():
        raise ConfigError(
            f"corpus {corpus!r} is neither an embedded corpus ({', '.join(EMBEDDED)}) "
            "nor an existing folder"
        )
    if folder.is_file():
        return [SourceFile(folder.name, str(folder))]
    published = fixed_split(folder) or {}
    return [SourceFile(name, os.path.join(folder, name), published.get(name))
            for name in _music_files(folder, suffixes or SUFFIXES)]


def corpus_name(values: list[str]) -> str:
    """``--corpus`` as one string: an embedded name or a folder, or ``LAYOUT:PATH`` for
    a folder in a published layout (``--corpus maestro PATH``)."""
    if len(values) == 1:
        return values[0]
    if len(values) == 2 and values[0] in LAYOUTS:
        return f"{values[0]}:{values[1]}"
    raise ConfigError(f"--corpus takes a name or folder, or one of {', '.join(LAYOUTS)} and a "
                      f"folder; got {' '.join(values)}")


def folk_files(name: str) -> list[SourceFile]:
    """The ABC files of one of music21's folk collections (each holds many tunes), found
    in music21's installed corpus folder without importing music21."""
    from importlib.util import find_spec

    spec = find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"corpus {name!r} needs music21, which is not installed")
    folder = Path(list(spec.submodule_search_locations)[0]) / "corpus" / FOLK[name]
    files = sorted(folder.glob("*.abc"))
    if not files:
        raise ConfigError(f"corpus {name!r}: music21's {folder} holds no .abc files")
    return [SourceFile(f"{name}/{f.name}", str(f)) for f in files]


def _music_files(folder: Path, suffixes: tuple[str, ...] = SUFFIXES) -> list[str]:
    """Relative paths of the music files under ``folder``, sorted.

    ``os.walk`` with plain strings rather than ``Path.rglob``: the listing is the only
    part of preparation that grows with the corpus, so it is kept small.
    """
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(root, folder)
        for name in names:
            if os.path.splitext(name)[1].lower() in suffixes:
                found.append(name if rel == "." else os.path.join(rel, name))
    found.sort()
    return found


def bach_chorale_files() -> list[SourceFile]:
    """The Bach chorales shipped inside music21, in BWV order (353 with music21 10.x)."""
    from music21 import corpus

    names = corpus.chorales.Iterator(numberingSystem="bwv", returnType="filename")
    return [SourceFile(name.split("/")[-1], str(_resolve(name))) for name in names]


def _resolve(name: str) -> Path:
    """The file for a corpus name; where music21 holds several, the exact one."""
    from music21 import corpus

    found = corpus.getWork(name)
    if not isinstance(found, list):
        return Path(found)
    stem = name.split("/")[-1]
    exact = [Path(p) for p in found if Path(p).stem == stem]
    candidates = exact or [Path(p) for p in found]
    return min(candidates, key=lambda p: _rank(p.suffix))


def _rank(suffix: str) -> int:
    ranks = _PREFERRED_SUFFIX
    return ranks.index(suffix) if suffix in ranks else len(ranks)
