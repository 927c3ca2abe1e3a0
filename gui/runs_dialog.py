"""The Runs view: every run in the runs folder, in its own window (File → Runs…, Ctrl+R).

A separate, non-modal window rather than a seventh step, like the model library: history
is not a step of Data → Save, it is where any step can start from (open a run's results,
resume it, compare it with another), and it can stay open beside the workflow.
It shows `RunsModel` (history_model.py) and sends intent as signals; the window acts.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QMessageBox, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout)

from . import format as fmt
from .history_model import STATUS_TEXT, RunsModel, data_text, figure_text, freezing_text, when

COLUMNS = ("Name", "Date", "Data (train/val/test)", "Backbone", "Freezing", "Status", "Best (validation)",
           "Test figures", "Duration", "Device", "Note")


class _Item(QTableWidgetItem):
    """Sorts by a hidden key (dates, numbers) rather than by the text shown."""

    def __init__(self, text: str, key=None):
        super().__init__(text)
        self.key = text if key is None else key
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other):
        a, b = self.key, getattr(other, "key", other.text())
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


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
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.itemDoubleClicked.connect(lambda _item: self._open())
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
        self.table.setSortingEnabled(False)
        self.table.blockSignals(True)
        self.table.setRowCount(len(runs))
        for i, r in enumerate(runs):
            status = STATUS_TEXT.get(r.status, r.status) + (f": {r.reason}" if r.reason else "")
            best = (f"{r.best['score']:.3f} {r.best.get('monitor', '').removeprefix('val_')}"
                    if r.best.get("score") is not None else "")
            cells = [_Item(r.title, r.title.lower()), _Item(when(r.created), r.created or 0.0),
                     _Item(data_text(r)), _Item(r.backbone_name or r.backbone), _Item(freezing_text(r)),
                     _Item(status), _Item(best, r.best.get("score") or -1.0),
                     _Item(figure_text(r), r.figures.get("accuracy", -1.0)),
                     _Item(fmt.duration(r.duration_s) if r.duration_s is not None else "", r.duration_s or 0.0),
                     _Item(r.device), _Item(r.note.splitlines()[0] if r.note else "")]
            cells[0].setData(Qt.ItemDataRole.UserRole, r.path)
            cells[0].setToolTip(f"{r.path}" + (f"\nRenamed from {r.name}" if r.display_name else ""))
            cells[5].setToolTip(status + ("\nIt can be resumed from its last checkpoint." if r.resumable else ""))
            cells[-1].setToolTip(r.note)
            for j, c in enumerate(cells):
                self.table.setItem(i, j, c)
        self.table.blockSignals(False)
        self.table.setSortingEnabled(True)
        self._restore_selection()
        shown = len(runs)
        total = len(self.model.runs)
        self.summary.setText(
            (f"{shown} of {total} runs" if shown != total else f"{total} run{'s' if total != 1 else ''}")
            + f" in {self.model.runs_root}. Select two or more to compare them.")
        self._enable()

    def _restore_selection(self) -> None:
        wanted = set(self.model.selected)
        self.table.blockSignals(True)
        self.table.clearSelection()
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) in wanted:
                self.table.selectRow(row) if len(wanted) == 1 else self._add_row(row)
        self.table.blockSignals(False)

    def _add_row(self, row: int) -> None:
        sel = self.table.selectionModel()
        idx = self.table.model().index(row, 0)
        sel.select(idx, sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def selected(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

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
