"""Before captum is imported: it imports matplotlib (for its own plotting helpers, unused here).

The engine has no display and must never pick a Qt backend, so matplotlib gets the headless Agg
backend, and its font cache goes under the app's data folder instead of the user's home."""
from __future__ import annotations

import os


def prepare() -> None:
    from ..library.paths import data_dir

    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("MPLCONFIGDIR", str(data_dir() / "matplotlib"))
