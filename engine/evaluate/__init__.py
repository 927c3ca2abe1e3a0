"""Evaluation: metrics with intervals for a run's held-out splits or any labeled folder.

`score` needs only numpy and scikit-learn; `evaluate_run` / `evaluate_folder` load the
model (torch) when called.
"""
from .metrics import score
from .report import format_score, markdown_confusion, markdown_score
from .run import METRICS_FORMAT, METRICS_VERSION, evaluate_folder, evaluate_run

__all__ = ["score", "evaluate_run", "evaluate_folder", "format_score", "markdown_score", "markdown_confusion",
           "METRICS_FORMAT", "METRICS_VERSION"]
