"""Text that tells users what to run names commands and presets that exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from cadenza.cli import build_parser
from cadenza.train.config import preset_names

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_cadenza_command_mentioned_exists() -> None:
    texts = [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "src").rglob("*.py")),
             *sorted((ROOT / "benchmarks").glob("*.py"))]
    commands, mentioned = _commands(), {}
    for path in texts:
        for name in re.findall(r"`cadenza ([a-z][a-z-]*)", path.read_text()):
            mentioned.setdefault(name, str(path.relative_to(ROOT)))
    assert {"evaluate", "harmonize", "continue"} <= set(mentioned)  # the scan finds them
    unknown = {name: where for name, where in mentioned.items() if name not in commands}
    assert not unknown, f"commands that do not exist: {unknown}"


def test_presets_have_one_home() -> None:
    assert not (ROOT / "configs").exists()
    shipped = {p.stem for p in (ROOT / "src" / "cadenza" / "presets").glob("*.toml")}
    assert shipped == set(preset_names())
