"""Live training plots (pyqtgraph): loss, accuracy, learning rate against epochs.

Points go into growing numpy buffers as messages arrive; a 10 Hz timer pushes them to
the curves only when something changed. Peak-mode auto-downsampling and clip-to-view
keep the drawn point count bounded by the plot's pixel width, so 100k steps stay smooth.
pyqtgraph is imported here only, so the window can open before it loads.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QWidget

from .series import Series, SmoothedSeries

REDRAW_MS = 100
COLORS = {"raw": "#90caf9", "smooth": "#1565c0", "train": "#ef6c00", "val": "#2e7d32", "lr": "#8e24aa"}


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class LivePlots(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        pal = self.palette()
        pg.setConfigOptions(antialias=False, foreground=pal.color(QPalette.ColorRole.WindowText))
        self.series = {name: Series() for name in
                       ("loss", "train_loss", "val_loss", "train_acc", "val_acc", "lr")}
        self.series["loss_smooth"] = SmoothedSeries(0.9)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = self._plot("Loss", "lower is better")
        self.acc_plot = self._plot("Accuracy", "higher is better", legend_at_bottom=True)  # curves rise to the top
        self.lr_plot = self._plot("Learning rate", "", legend=False)
        lay.addWidget(self.loss_plot, 3)
        lay.addWidget(self.acc_plot, 2)
        lay.addWidget(self.lr_plot, 2)

        lp, ap, rp = (w.getPlotItem() for w in (self.loss_plot, self.acc_plot, self.lr_plot))
        self.curves = {
            "loss": lp.plot(name="loss per step", pen=pg.mkPen(COLORS["raw"], width=1)),
            "loss_smooth": lp.plot(name="smoothed", pen=pg.mkPen(COLORS["smooth"], width=2)),
            "train_loss": lp.plot(name="train (epoch)", pen=pg.mkPen(COLORS["train"], width=2),
                                  symbol="o", symbolSize=6, symbolBrush=COLORS["train"]),
            "val_loss": lp.plot(name="validation (epoch)", pen=pg.mkPen(COLORS["val"], width=2),
                                symbol="s", symbolSize=6, symbolBrush=COLORS["val"]),
            "train_acc": ap.plot(name="train", pen=pg.mkPen(COLORS["train"], width=2),
                                 symbol="o", symbolSize=6, symbolBrush=COLORS["train"]),
            "val_acc": ap.plot(name="validation", pen=pg.mkPen(COLORS["val"], width=2),
                               symbol="s", symbolSize=6, symbolBrush=COLORS["val"]),
            "lr": rp.plot(name="learning rate", pen=pg.mkPen(COLORS["lr"], width=2)),
        }
        for c in self.curves.values():
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
            c.setSkipFiniteCheck(True)
        ap.setYRange(0, 1, padding=0.02)
        self.dirty: set[str] = set()
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def _plot(self, title: str, subtitle: str, legend: bool = True, legend_at_bottom: bool = False):
        w = pg.PlotWidget()
        w.setBackground(self.palette().color(QPalette.ColorRole.Base))
        item = w.getPlotItem()
        item.setTitle(f"{title} <span style='font-size:small'>({subtitle})</span>" if subtitle else title)
        item.setLabel("bottom", "epoch")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        if legend:  # in the corner the curves usually leave free, on a see-through backing
            backing = self.palette().color(QPalette.ColorRole.Base)
            backing.setAlpha(210)
            item.addLegend(offset=(-5, -5 if legend_at_bottom else 5), labelTextSize="8pt", brush=pg.mkBrush(backing))
        item.setMenuEnabled(False)
        w.setMinimumSize(160, 140)
        w.setToolTip(f"{title}. Drag to pan, scroll to zoom, right-drag to stretch, double-click the "
                     "'A' corner button to fit.")
        return w

    # ---------------------------------------------------------------- data in
    def set_total_steps(self, total: int) -> None:
        """Smooth over ~2% of the run (at least a few steps): short runs must not lag behind."""
        if total > 0:
            self.series["loss_smooth"].weight = min(0.98, max(0.3, 1 - 20 / (total + 20)))

    def add_step(self, epoch: float, values: dict) -> None:
        loss = values.get("loss")
        if _finite(loss):
            self.series["loss"].append(epoch, loss)
            self.series["loss_smooth"].append(epoch, loss)
            self.dirty.update(("loss", "loss_smooth"))
        lr = values.get("lr")
        if _finite(lr):
            self.series["lr"].append(epoch, lr)
            self.dirty.add("lr")

    def add_epoch(self, epoch: int, values: dict) -> None:
        for key, name in (("train_loss", "train_loss"), ("val_loss", "val_loss"),
                          ("train_accuracy", "train_acc"), ("val_accuracy", "val_acc")):
            v = values.get(key)
            if _finite(v):
                self.series[name].append(epoch, v)
                self.dirty.add(name)

    def clear(self) -> None:
        for s in self.series.values():
            s.clear()
        self.dirty.update(self.curves)
        self.redraw()

    # ---------------------------------------------------------------- drawing
    def redraw(self) -> None:
        if not self.dirty:
            return
        for name in self.dirty:
            s = self.series[name]
            self.curves[name].setData(s.x, s.y)
        self.dirty.clear()

    def point_counts(self) -> dict[str, tuple[int, int]]:
        """{curve: (points stored, points drawn)} — drawn is after downsampling/clipping."""
        out = {}
        for name, curve in self.curves.items():
            x, _ = curve.getData()
            out[name] = (len(self.series[name]), 0 if x is None else len(x))
        return out
