"""Try it → "Predict a folder…": a table that fills as results arrive, with progress, ETA and
cancel; sort by any column, filter by class or low confidence, and save the table as CSV.

The table is a QAbstractTableModel over `FolderJob.rows` (appended in place: 50 000 rows cost
no widgets), behind a sort/filter proxy. Shows `jobs_model.FolderJob`; sends intent as signals.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QTableView, QVBoxLayout)

from . import format as fmt
from .jobs_model import LOW_CONFIDENCE, FolderJob

COLUMNS = ("File", "Predicted", "Probability", "Also possible", "Problem")


class RowsTable(QAbstractTableModel):
    def __init__(self, job: FolderJob, parent=None):
        super().__init__(parent)
        self.job = job
        job.events.started.connect(self._reset)
        job.events.rows.connect(self._appended)

    def _reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def _appended(self, first: int, count: int) -> None:
        self.beginInsertRows(QModelIndex(), first, first + count - 1)
        self.endInsertRows()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.job.rows)

    def columnCount(self, parent=QModelIndex()):
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        r = self.job.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (r.path, r.labels[0] if r.labels else "", fmt.percent(r.top) if r.top is not None else "",
                    ", ".join(f"{lab} {fmt.percent(p)}" for lab, p in zip(r.labels[1:], r.probs[1:])), r.error)[col]
        if role == Qt.ItemDataRole.UserRole:  # what sorting compares
            return (r.path, r.labels[0] if r.labels else "", r.top if r.top is not None else -1.0, "", r.error)[col]
        if role == Qt.ItemDataRole.ToolTipRole and col == 0:
            return r.path
        return None


class RowsFilter(QSortFilterProxyModel):
    """Rows of one predicted class and/or with a top probability below a line."""

    def __init__(self, job: FolderJob, parent=None):
        super().__init__(parent)
        self.job = job
        self.klass = ""
        self.low_only = False
        self.low_line = LOW_CONFIDENCE
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def set(self, klass: str | None = None, low_only: bool | None = None, low_line: float | None = None) -> None:
        self.beginFilterChange()
        self.klass = self.klass if klass is None else klass
        self.low_only = self.low_only if low_only is None else low_only
        self.low_line = self.low_line if low_line is None else low_line
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row, source_parent):
        r = self.job.rows[source_row]
        if self.klass and (not r.labels or r.labels[0] != self.klass):
            return False
        if self.low_only and (r.top is None or r.top >= self.low_line):
            return False
        return True


class FolderDialog(QDialog):
    cancelRequested = Signal()
    saveRequested = Signal()  # "Save as CSV…": the window asks where, the session writes it
    againRequested = Signal()

    def __init__(self, job: FolderJob, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Predict a folder — Transfer Studio")
        self.setModal(False)
        self.job = job
        lay = QVBoxLayout(self)
        self.where = QLabel()
        self.where.setWordWrap(True)
        lay.addWidget(self.where)
        prog = QHBoxLayout()
        self.bar = QProgressBar()
        prog.addWidget(self.bar, 1)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        prog.addWidget(self.cancel_button)
        lay.addLayout(prog)
        self.status = QLabel()
        lay.addWidget(self.status)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show:"))
        self.klass = QComboBox()
        self.klass.addItem("every class", "")
        self.klass.currentIndexChanged.connect(lambda _i: self.proxy.set(klass=self.klass.currentData()))
        filters.addWidget(self.klass)
        self.low = QCheckBox("only low confidence, below")
        self.low.toggled.connect(lambda on: self.proxy.set(low_only=on))
        filters.addWidget(self.low)
        self.line = QDoubleSpinBox()
        self.line.setRange(0.05, 1.0)
        self.line.setSingleStep(0.05)
        self.line.setValue(LOW_CONFIDENCE)
        self.line.valueChanged.connect(lambda v: self.proxy.set(low_line=v))
        filters.addWidget(self.line)
        filters.addStretch(1)
        self.shown = QLabel()
        filters.addWidget(self.shown)
        lay.addLayout(filters)
        self.rows = RowsTable(job, self)
        self.proxy = RowsFilter(job, self)
        self.proxy.setSourceModel(self.rows)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.again_button = QPushButton("Another &folder…")
        self.again_button.clicked.connect(self.againRequested)
        bottom.addWidget(self.again_button)
        bottom.addStretch(1)
        self.save_button = QPushButton("&Save as CSV…")
        self.save_button.clicked.connect(self.saveRequested)
        bottom.addWidget(self.save_button)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        bottom.addWidget(close)
        lay.addLayout(bottom)
        job.events.started.connect(self.refresh)
        job.events.progress.connect(self._progress)
        job.events.finished.connect(self.refresh)
        fm = self.fontMetrics()
        self.resize(fm.averageCharWidth() * 150, fm.height() * 36)
        self.refresh()

    def _progress(self) -> None:
        j = self.job
        self.bar.setRange(0, max(1, j.total))
        self.bar.setValue(j.done)
        self.status.setText(j.status_text())
        self.shown.setText(f"{self.proxy.rowCount()} of {len(j.rows)} rows shown")
        known = {self.klass.itemData(i) for i in range(self.klass.count())}
        for c in j.classes():
            if c not in known:
                self.klass.addItem(c, c)

    def refresh(self) -> None:
        j = self.job
        self.where.setText(f"Files under <b>{j.folder}</b>" if j.folder else "")
        self.cancel_button.setEnabled(j.running)
        self.save_button.setEnabled(bool(j.rows) and not j.running)
        self.again_button.setEnabled(not j.running)
        self._progress()
