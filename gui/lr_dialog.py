"""The Train page's learning-rate finder: loss against learning rate on a log axis, the suggested
rate marked and named with the rule that chose it, and "Use this rate". Shows `jobs_model.LRFinder`."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from .jobs_model import LRFinder


class LRDialog(QDialog):
    useRequested = Signal(float)
    cancelRequested = Signal()

    def __init__(self, finder: LRFinder, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Find a learning rate — Transfer Studio")
        self.setModal(False)
        self.finder = finder
        lay = QVBoxLayout(self)
        intro = QLabel("A short test on your data, model and freezing: training steps with a learning rate that "
                       "grows from tiny to huge (Smith 2017). Where the loss falls fastest is a good rate to start "
                       "from. Nothing is saved and no run is started.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        pg.setConfigOptions(antialias=True, foreground=self.palette().color(QPalette.ColorRole.WindowText))
        self.plot = pg.PlotWidget(background=None)
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate (log scale)")
        self.plot.setLabel("left", "loss (smoothed)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#1565c0", width=2))
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#c62828", width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.marker.hide()
        self.plot.addItem(self.marker)
        lay.addWidget(self.plot, 1)
        self.bar = QProgressBar()
        lay.addWidget(self.bar)
        self.text = QLabel()
        self.text.setWordWrap(True)
        lay.addWidget(self.text)
        row = QHBoxLayout()
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        self.use_button = QPushButton("&Use this rate")
        self.use_button.clicked.connect(lambda: self.finder.suggestion and self.useRequested.emit(self.finder.suggestion))
        row.addWidget(self.use_button)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        row.addWidget(close)
        lay.addLayout(row)
        finder.events.started.connect(self.refresh)
        finder.events.point.connect(self.refresh)
        finder.events.finished.connect(self.refresh)
        fm = self.fontMetrics()
        self.resize(fm.averageCharWidth() * 100, fm.height() * 30)
        self.refresh()

    def refresh(self) -> None:
        f = self.finder
        self.curve.setData(f.lrs, f.losses)
        if f.suggestion:
            import math

            self.marker.setValue(math.log10(f.suggestion))  # the axis is in log10 units in log mode
            self.marker.show()
        else:
            self.marker.hide()
        self.bar.setVisible(f.running)
        self.bar.setRange(0, max(1, f.total))
        self.bar.setValue(f.done)
        self.text.setText(f.text())
        self.cancel_button.setEnabled(f.running)
        self.use_button.setEnabled(bool(f.suggestion) and not f.running)
