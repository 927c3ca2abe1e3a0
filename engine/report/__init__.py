"""The evaluation report handed to whoever decides whether the model may be used (issue 22).

`write_report(run_or_bundle, out)`: one self-contained HTML file (engine/report/html.py),
charts as SVG built from numbers (svg.py), no Qt and no plotting library.
"""
from __future__ import annotations

from pathlib import Path


def write_report(model: str | Path, out: str | Path) -> Path:
    """Render the report of a run or bundle to `out` (written atomically); returns its path."""
    from ..atomic import write_text
    from .context import load
    from .html import render

    import os

    out = Path(out).expanduser()
    write_text(out, render(load(model)))
    os.chmod(out, 0o644)  # a document to hand over, not a private temp file
    return out


__all__ = ["write_report"]
