"""Predictions as a CSV table: one row per file, unreadable ones included with the reason.

Standard library only: `transfer-studio predict --out` and the app's "Save as CSV" write
the same columns through `write_csv`, so the file does not depend on where it was made.
Columns: path, decision (the bundle's decision rule: the positive class at its threshold, else the
most probable class; empty for an unreadable file), label_1, probability_1, ..., label_k,
probability_k, error.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable

from .atomic import write_text


def header(k: int) -> list[str]:
    return ["path", "decision"] + [c for j in range(1, k + 1) for c in (f"label_{j}", f"probability_{j}")] + ["error"]


def row(item: dict, k: int) -> list[str]:
    """A prediction ({"path", "top": [[label, p], ...]} or {"path", "error"}) as the CSV's cells."""
    top = list(item.get("top") or [])[:k]
    cells = [x for label, p in top for x in (str(label), f"{float(p):.6f}")]
    return [str(item.get("path", "")), str(item.get("decision") or "")] + cells + [""] * (2 * k - len(cells)) + [str(item.get("error") or "")]


def write_csv(path: str, items: Iterable[dict], k: int) -> int:
    """Write the table (atomically: a reader sees the old file or the whole new one); returns the rows written."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header(k))
    n = 0
    for item in items:
        w.writerow(row(item, k))
        n += 1
    write_text(path, buf.getvalue())
    return n
