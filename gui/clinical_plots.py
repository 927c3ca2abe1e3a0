"""ROC, precision-recall and reliability plots (pyqtgraph) for the clinical evaluation.

The curves come from the engine (metrics.json); the operating point is moved here when
the threshold slider moves, from figures the model recomputed without any inference.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QWidget

COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457")
POINT = "#ffb300"


def _plot(title: str, x: str, y: str, background) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setBackground(background)  # the window's own base colour, as the training plots do
    p = w.getPlotItem()
    p.setTitle(title)
    p.setLabel("bottom", x)
    p.setLabel("left", y)
    p.setXRange(0, 1, padding=0.02)
    p.setYRange(0, 1, padding=0.02)
    p.showGrid(x=True, y=True, alpha=0.2)
    p.setMouseEnabled(x=False, y=False)
    p.hideButtons()
    p.addLegend(offset=(-8, -8))
    w.setMinimumSize(220, 220)
    w.setMaximumHeight(340)
    return w


class ClinicalPlots(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        pal = self.palette()
        pg.setConfigOptions(foreground=pal.color(QPalette.ColorRole.WindowText))  # as gui/plots.py sets it
        base = pal.color(QPalette.ColorRole.Base)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.roc = _plot("ROC (test)", "1 − specificity", "sensitivity", base)
        self.pr = _plot("Precision–recall (test)", "recall (sensitivity)", "precision (PPV)", base)
        self.rel = _plot("Reliability (test)", "predicted probability", "observed frequency", base)
        for w in (self.roc, self.pr, self.rel):
            lay.addWidget(w)
        self.roc_point = self._point(self.roc)
        self.pr_point = self._point(self.pr)

    @staticmethod
    def _point(w: pg.PlotWidget) -> pg.ScatterPlotItem:
        item = pg.ScatterPlotItem(size=13, brush=pg.mkBrush(POINT), pen=pg.mkPen("k", width=1.2), name="threshold")
        item.setZValue(10)
        w.getPlotItem().addItem(item)
        return item

    def _reset(self, w: pg.PlotWidget, point: pg.ScatterPlotItem | None) -> None:
        p = w.getPlotItem()
        for item in list(p.listDataItems()):
            if item is not point:
                p.removeItem(item)
        if p.legend is not None:
            p.legend.clear()
            if point is not None:
                p.legend.addItem(point, "threshold")

    def show_curves(self, curves: list[tuple[str, dict]], calibration: dict | None) -> None:
        self._reset(self.roc, self.roc_point)
        self._reset(self.pr, self.pr_point)
        self._reset(self.rel, None)
        dash = pg.mkPen("#999", width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        self.roc.plot([0, 1], [0, 1], pen=dash)
        for i, (label, c) in enumerate(curves):
            pen = pg.mkPen(COLOURS[i % len(COLOURS)], width=2)
            roc, pr = c["roc"], c["pr"]
            self.roc.plot(roc["fpr"], roc["tpr"], pen=pen, name=f"{label} AUC {roc['auc']:.3f}", antialias=True)
            self.pr.plot(pr["recall"], pr["precision"], pen=pen, name=f"{label} AP {pr['ap']:.3f}", antialias=True)
            if len(curves) == 1:
                self.pr.plot([0, 1], [pr["prevalence"]] * 2, pen=dash)
        if calibration:
            self.rel.plot([0, 1], [0, 1], pen=dash)
            for label, bins, colour in (("before scaling", calibration["bins_before"], COLOURS[1]),
                                        ("after scaling", calibration["bins_after"], COLOURS[0])):
                if bins:
                    self.rel.plot([b["mean_predicted"] for b in bins], [b["observed"] for b in bins],
                                  pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=7,
                                  symbolBrush=colour, name=label, antialias=True)

    def show_point(self, point) -> None:
        """Move the operating-point markers: ((x, y) on ROC, (x, y) on PR) or None to hide them."""
        if point is None:
            self.roc_point.setData([], [])
            self.pr_point.setData([], [])
            return
        (rx, ry), (px, py) = point
        self.roc_point.setData([rx], [ry])
        self.pr_point.setData([px], [py])
