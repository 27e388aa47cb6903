"""The table every benchmark prints: measure, result, target, note."""

from __future__ import annotations


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """Rows of (measure, result, target, note), columns sized to their contents."""
    width = max(len(r[0]) for r in rows)
    result = max(len("result"), *(len(r[1]) for r in rows))
    target = max(len("target"), *(len(r[2]) for r in rows))
    print(f"{'measure':{width}}  {'result':>{result}}  {'target':>{target}}  note")
    for name, value, goal, note in rows:
        print(f"{name:{width}}  {value:>{result}}  {goal:>{target}}  {note}")
