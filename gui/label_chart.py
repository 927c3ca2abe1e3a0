"""Test accuracy against the number of labels: do more labels still help?

The points are the finished runs on the same data folder, read from the runs folder
(engine.history, the same index the Runs view reads): no state of its own, so a run
trained yesterday counts as much as one trained now. The label count is what the engine
recorded for the run (`RunSummary.labels["examples"]`), else its split counts.
"""
from __future__ import annotations

import os

import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine import history


def _same_folder(a: str, b: str) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def labels_of(run: history.RunSummary) -> int | None:
    """The labeled examples the run learned from (the engine's labels.json; older runs: their split counts)."""
    n = (getattr(run, "labels", None) or {}).get("examples")
    if isinstance(n, int) and n > 0:
        return n
    total = sum(v for v in run.counts.values() if isinstance(v, int))
    return total or None


def learning_curve(runs_root: str, root: str) -> list[tuple[int, float]]:
    """(labels, held-out accuracy) of each finished run on `root` alone, fewest labels first."""
    points = []
    for run in history.list_runs(runs_root):
        if len(run.data) != 1 or not _same_folder(run.data[0], root):
            continue
        n, acc = labels_of(run), run.figures.get("accuracy")
        if n and isinstance(acc, (int, float)):
            points.append((n, float(acc)))
    return sorted(points)


def curve_note(points: list[tuple[int, float]]) -> str:
    """One sentence on what the curve says (the last two runs decide)."""
    if not points:
        return "Train on your labels to see how accuracy grows with them."
    if len(points) == 1:
        return f"{points[0][1]:.0%} with {points[0][0]} labels. Label more and train again to see the trend."
    (n0, a0), (n1, a1) = points[-2], points[-1]
    if n1 <= n0:
        return f"{a1:.0%} with {n1} labels."
    gain = (a1 - a0) * 100
    verdict = "more labels still help" if gain >= 1 else "the last labels changed little: check the errors first"
    return f"{a0:.0%} → {a1:.0%} from {n0} to {n1} labels: {verdict}."


class LearningCurve(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setBackground(self.palette().color(QPalette.ColorRole.Base))
        item = self.plot.getPlotItem()
        item.setTitle("Test accuracy <span style='font-size:small'>(by number of labels)</span>")
        item.setLabel("bottom", "labels")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        item.setYRange(0, 1, padding=0.02)
        item.enableAutoRange(False)
        self.curve = item.plot(pen=pg.mkPen("#2e7d32", width=2), symbol="o", symbolSize=7, symbolBrush="#2e7d32")
        self.plot.setMinimumSize(160, 130)
        self.plot.setAccessibleName("Test accuracy by number of labels")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        self.points: list[tuple[int, float]] = []
        self.set_points([])

    def set_points(self, points: list[tuple[int, float]]) -> None:
        self.points = list(points)
        self.curve.setData([n for n, _ in points], [a for _, a in points])
        item = self.plot.getPlotItem()
        item.setYRange(0, 1, padding=0.02)
        # labels are whole numbers: an empty chart reads 0-100 labels, not 0.1 ... 0.9
        item.setXRange(0, max([n for n, _ in points] + [90]) * 1.1, padding=0)
