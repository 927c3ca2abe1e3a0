"""Runs side by side: curves overlaid on one plot, settings with the differences highlighted,
held-out figures with their 95% intervals. Reads `history_model.Comparison`; shows only."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import (QComboBox, QDialog, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from .history_model import Comparison

PALETTE = ("#1565c0", "#ef6c00", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#558b2f")


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return "Auto" if v is None else str(v)


class CompareDialog(QDialog):
    def __init__(self, comparison: Comparison, parent=None):
        super().__init__(parent)
        self.comparison = c = comparison
        self.setWindowTitle(f"Compare {len(c.runs)} runs — Transfer Studio")
        lay = QVBoxLayout(self)
        split = QSplitter(Qt.Orientation.Vertical)
        plot_host = QWidget()
        pl = QVBoxLayout(plot_host)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Curve:"))
        self.kind = QComboBox()
        for key, text in Comparison.CURVES:
            self.kind.addItem(text, key)
        self.kind.currentIndexChanged.connect(self.draw)
        row.addWidget(self.kind)
        row.addStretch(1)
        pl.addLayout(row)
        pg.setConfigOptions(antialias=True, foreground=self.palette().color(QPalette.ColorRole.WindowText))
        self.plot = pg.PlotWidget(background=None)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "epoch")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # accuracies stay 0.5-0.8, not "500 (x0.001)"
        self.legend = self.plot.addLegend(offset=(-10, 10))
        pl.addWidget(self.plot, 1)
        split.addWidget(plot_host)
        tabs = QTabWidget()
        self.figures = self._table([title for title, _ in c.figures()], c.figures())
        tabs.addTab(self.figures, "Figures (95% intervals)")
        self.settings = self._settings_table()
        tabs.addTab(self.settings, "Settings (differences first)")
        split.addWidget(tabs)
        lay.addWidget(split, 1)
        self.draw()
        fm = self.fontMetrics()
        self.resize(fm.averageCharWidth() * 150, fm.height() * 42)

    def _table(self, rows: list[str], data: list[tuple[str, list[str]]]) -> QTableWidget:
        t = QTableWidget(len(rows), len(self.comparison.runs))
        t.setHorizontalHeaderLabels([r.title for r in self.comparison.runs])
        t.setVerticalHeaderLabels(rows)
        for i, (_title, values) in enumerate(data):
            for j, v in enumerate(values):
                t.setItem(i, j, QTableWidgetItem(v))
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        return t

    def _settings_table(self) -> QTableWidget:
        rows = self.comparison.settings
        t = self._table([name for name, _, _ in rows], [(n, [_value(v) for v in vals]) for n, vals, _ in rows])
        highlight = QBrush(QColor(255, 214, 102, 110))
        bold = QFont(t.font())
        bold.setBold(True)
        for i, (_name, _vals, differs) in enumerate(rows):
            if differs:
                t.verticalHeaderItem(i).setFont(bold)
                for j in range(t.columnCount()):
                    t.item(i, j).setBackground(highlight)
                    t.item(i, j).setToolTip("differs between the runs")
        return t

    def differing_settings(self) -> list[str]:
        return [name for name, _, differs in self.comparison.settings if differs]

    def draw(self) -> None:
        kind = self.kind.currentData()
        self.plot.clear()
        self.legend.clear()
        self.plot.setLogMode(y=(kind == "lr"))
        self.plot.setLabel("left", self.kind.currentText())
        colors = {r.title: PALETTE[i % len(PALETTE)] for i, r in enumerate(self.comparison.runs)}
        self.drawn = []
        for title, name, xs, ys in self.comparison.series(kind):
            style = Qt.PenStyle.DashLine if name.startswith("train_") else Qt.PenStyle.SolidLine
            pen = pg.mkPen(colors[title], width=2, style=style)
            label = f"{title}: {name.replace('_', ' ')}" if kind != "lr" else title
            self.plot.plot(xs, ys, pen=pen, name=label, symbol="o" if kind != "lr" else None, symbolSize=5,
                           symbolBrush=colors[title])
            self.drawn.append(label)
