"""The Runs view: every run in the runs folder, in its own window (File → Runs…, Ctrl+R).

A separate, non-modal window rather than a seventh step, like the model library: history
is not a step of Data → Save, it is where any step can start from (open a run's results,
resume it, compare it with another), and it can stay open beside the workflow.
It shows `RunsModel` (history_model.py) and sends intent as signals; the window acts.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QMessageBox, QPushButton, QTableView, QVBoxLayout)

from . import format as fmt
from .history_model import STATUS_TEXT, RunsModel, data_text, figure_text, freezing_text, when

PATH_ROLE = Qt.ItemDataRole.UserRole
COLUMNS = ("Name", "Date", "Data (train/val/test)", "Backbone", "Freezing", "Status", "Best (validation)",
           "Test figures", "Duration", "Device", "Note")


class RunsTable(QAbstractTableModel):
    """The visible runs as a table model: cells are made when painted, so 500 runs cost no widgets."""

    def __init__(self, model: RunsModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.rows: list = []
        self.cells: list[list[str]] = []
        self.keys: list[list] = []
        self.sort_column, self.sort_order = 1, Qt.SortOrder.DescendingOrder  # newest first

    def reset(self, runs: list) -> None:
        """The rows' texts and sort keys are made here once: a view asks for each cell many times."""
        self.beginResetModel()
        self.rows = list(runs)
        self.cells = [[self.text(r, c) for c in range(len(COLUMNS))] for r in self.rows]
        self.keys = [[k if (k := self.key(r, c)) is not None else t.lower() for c, t in enumerate(texts)]
                     for r, texts in zip(self.rows, self.cells)]
        self._order()
        self.endResetModel()

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Sorted here, in Python, on the keys made once (a proxy would ask data() thousands of times)."""
        self.layoutAboutToBeChanged.emit()
        self.sort_column, self.sort_order = column, order
        self._order()
        self.layoutChanged.emit()

    def _order(self) -> None:
        col = self.sort_column
        order = sorted(range(len(self.rows)), key=lambda i: self.keys[i][col],
                       reverse=self.sort_order == Qt.SortOrder.DescendingOrder)
        self.rows = [self.rows[i] for i in order]
        self.cells = [self.cells[i] for i in order]
        self.keys = [self.keys[i] for i in order]

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    @staticmethod
    def status(r) -> str:
        return STATUS_TEXT.get(r.status, r.status) + (f": {r.reason}" if r.reason else "")

    def text(self, r, col: int) -> str:
        if col == 0:
            return r.title
        if col == 1:
            return when(r.created)
        if col == 2:
            return data_text(r)
        if col == 3:
            return r.backbone_name or r.backbone
        if col == 4:
            return freezing_text(r)
        if col == 5:
            return self.status(r)
        if col == 6:
            score = r.best.get("score")
            return f"{score:.3f} {r.best.get('monitor', '').removeprefix('val_')}" if score is not None else ""
        if col == 7:
            return figure_text(r)
        if col == 8:
            return fmt.duration(r.duration_s) if r.duration_s is not None else ""
        if col == 9:
            return r.device
        return r.note.splitlines()[0] if r.note else ""

    @staticmethod
    def key(r, col: int):
        """What sorting compares for dates and numbers (None: the text)."""
        if col == 1:
            return r.created or 0.0
        if col == 6:
            return r.best.get("score") or -1.0
        if col == 7:
            return r.figures.get("accuracy", -1.0)
        if col == 8:
            return r.duration_s or 0.0
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells[index.row()][index.column()]
        r, col = self.rows[index.row()], index.column()
        if role == PATH_ROLE:
            return r.path
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 0:
                return r.path + (f"\nRenamed from {r.name}" if r.display_name else "")
            if col == 5:
                return self.status(r) + ("\nIt can be resumed from its last checkpoint." if r.resumable else "")
            if col == 10:
                return r.note or None
        return None


class RunsDialog(QDialog):
    openRequested = Signal(str)  # a run folder: show its results
    resumeRequested = Signal(str)
    compareRequested = Signal(list)

    def __init__(self, model: RunsModel, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Runs — Transfer Studio")
        self.setModal(False)
        self.model = model
        self.busy_run: str | None = None  # the run training now: not deleted, not resumed twice
        self.sized = False
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: name, data, backbone, note…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(lambda t: model.set_filter(text=t))
        top.addWidget(self.filter, 1)
        self.status = QComboBox()
        self.status.addItem("Any status", "")
        for key, text in STATUS_TEXT.items():
            self.status.addItem(text, key)
        self.status.currentIndexChanged.connect(lambda _i: model.set_filter(status=self.status.currentData()))
        top.addWidget(self.status)
        self.refresh_button = QPushButton("Re&fresh")
        self.refresh_button.clicked.connect(model.refresh)
        top.addWidget(self.refresh_button)
        lay.addLayout(top)
        self.rows = self.sorted = RunsTable(model, self)  # it sorts itself
        self.table = QTableView()
        self.table.setModel(self.rows)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # sized once per refresh, not per cell
        header.setResizeContentsPrecision(30)  # widths from the first 30 rows (Qt asks each cell for ~10 roles)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self.table.doubleClicked.connect(lambda _index: self._open())
        lay.addWidget(self.table, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        buttons = QHBoxLayout()
        self.open_button = self._button(buttons, "&Open results", self._open)
        self.resume_button = self._button(buttons, "&Resume", self._resume)
        self.compare_button = self._button(buttons, "&Compare", lambda: self.compareRequested.emit(self.selected()))
        buttons.addStretch(1)
        self.rename_button = self._button(buttons, "Re&name…", self._rename)
        self.note_button = self._button(buttons, "&Note…", self._note)
        self.delete_button = self._button(buttons, "&Delete…", self._delete)
        close = self._button(buttons, "Close", self.close)
        close.setAutoDefault(False)
        lay.addLayout(buttons)
        model.events.listed.connect(self.refresh)
        model.events.selection.connect(self._enable)
        fm = self.fontMetrics()
        room = (parent.screen() if parent is not None else QGuiApplication.primaryScreen()).availableGeometry()
        self.resize(min(fm.averageCharWidth() * 200, int(room.width() * 0.95)),
                    min(fm.height() * 30, int(room.height() * 0.85)))
        self.refresh()

    def _button(self, lay, text, slot) -> QPushButton:
        b = QPushButton(text)
        b.clicked.connect(slot)
        lay.addWidget(b)
        return b

    # ---------------------------------------------------------------- showing the model
    def refresh(self) -> None:
        runs = self.model.visible()
        self.table.selectionModel().blockSignals(True)
        self.rows.reset(runs)
        if not self.sized and runs:  # once: later refreshes (a filter typed) keep the widths
            self.table.resizeColumnsToContents()
            self.sized = True
        self._restore_selection()
        self.table.selectionModel().blockSignals(False)
        shown = len(runs)
        total = len(self.model.runs)
        self.summary.setText(
            (f"{shown} of {total} runs" if shown != total else f"{total} run{'s' if total != 1 else ''}")
            + f" in {self.model.runs_root}. Select two or more to compare them.")
        self._enable()

    # helpers for the view's rows (also what the tests read)
    def row_count(self) -> int:
        return self.sorted.rowCount()

    def cell(self, row: int, col: int) -> str:
        return self.sorted.index(row, col).data() or ""

    def select_paths(self, paths) -> list[str]:
        """Select these runs (as a click would) and return what is selected."""
        wanted = set(paths)
        sel = self.table.selectionModel()
        sel.clearSelection()
        for row in range(self.sorted.rowCount()):
            if self.sorted.index(row, 0).data(PATH_ROLE) in wanted:
                sel.select(self.sorted.index(row, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
        return self.selected()

    def _restore_selection(self) -> None:
        wanted = set(self.model.selected)
        sel = self.table.selectionModel()
        sel.clearSelection()
        for row in range(self.sorted.rowCount()):
            if self.sorted.index(row, 0).data(PATH_ROLE) in wanted:
                sel.select(self.sorted.index(row, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def selected(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.sorted.index(r, 0).data(PATH_ROLE) for r in rows]

    def _on_selection(self) -> None:
        self.model.select(self.selected())

    def _enable(self) -> None:
        chosen = [self.model.run(p) for p in self.model.selected]
        chosen = [r for r in chosen if r is not None]
        one = chosen[0] if len(chosen) == 1 else None
        self.open_button.setEnabled(one is not None and one.status == "finished")
        self.resume_button.setEnabled(one is not None and one.resumable and self.busy_run is None)
        self.compare_button.setEnabled(len(chosen) >= 2)
        self.rename_button.setEnabled(one is not None)
        self.note_button.setEnabled(one is not None)
        self.delete_button.setEnabled(bool(chosen) and all(r.path != self.busy_run for r in chosen))

    def set_busy_run(self, path: str | None) -> None:
        self.busy_run = path
        self._enable()

    # ---------------------------------------------------------------- actions
    def _one(self):
        return self.model.run(self.model.selected[0]) if len(self.model.selected) == 1 else None

    def _open(self) -> None:
        """A finished run shows its results; another (double-clicked) the Train page, offering Resume."""
        r = self._one()
        if r is not None:
            self.openRequested.emit(r.path)

    def _resume(self) -> None:
        r = self._one()
        if r is not None and r.resumable:
            self.resumeRequested.emit(r.path)

    def _rename(self) -> None:
        r = self._one()
        if r is None:
            return
        name, ok = QInputDialog.getText(self, "Rename run", f"Name shown for {r.name} (its folder keeps its name):",
                                        text=r.title)
        if ok:
            self._apply(lambda: self.model.rename(r.path, name))

    def _note(self) -> None:
        r = self._one()
        if r is None:
            return
        note, ok = QInputDialog.getMultiLineText(self, "Note", f"A note on {r.title}:", r.note)
        if ok:
            self._apply(lambda: self.model.set_note(r.path, note))

    def confirm_delete(self, titles: list[str]) -> bool:
        names = ", ".join(titles[:5]) + (f" and {len(titles) - 5} more" if len(titles) > 5 else "")
        answer = QMessageBox.question(self, "Delete runs?", f"Delete {names} for good? Its folder, checkpoints and "
                                      "results are removed from the disk; saved bundles are not touched.")
        return answer == QMessageBox.StandardButton.Yes

    def _delete(self) -> None:
        chosen = [r for p in self.model.selected if (r := self.model.run(p)) is not None and p != self.busy_run]
        if chosen and self.confirm_delete([r.title for r in chosen]):
            for r in chosen:
                if not self._apply(lambda r=r: self.model.delete(r.path)):
                    break

    def _apply(self, change) -> bool:
        try:
            change()
            return True
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Runs", str(exc))
            return False
