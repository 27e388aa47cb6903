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


def print_grid(header: list[str], rows: list[list[str]]) -> None:
    """A plain table: a header and rows of strings, columns sized to their contents."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(f"{h:<{w}}" for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(row, widths)))
