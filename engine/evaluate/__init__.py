"""Evaluation: metrics with intervals for a run's held-out splits or any labeled folder.

`score` needs only numpy and scikit-learn; `evaluate_run` / `evaluate_folder` load the
model (torch) when called. Names load on first use, so importing a numpy-only module of
this package (`operating`, which the GUI uses) does not import scikit-learn.
"""
from __future__ import annotations

import importlib

_NAMES = {"score": ".metrics", "format_score": ".report", "markdown_confusion": ".report",
          "markdown_score": ".report", "METRICS_FORMAT": ".run", "METRICS_VERSION": ".run",
          "evaluate_folder": ".run", "evaluate_run": ".run"}

__all__ = list(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
