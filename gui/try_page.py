"""Steps 5 and 6: try the model on dropped files; save it as a bundle and read its card."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QTextBrowser, QVBoxLayout, QWidget)

from . import format as fmt
from .data_model import read_snippet
from .results_model import ResultsModel
from .widgets import DropZone, heading, hint


class TryPage(QWidget):
    chooseRequested = Signal()
    nextRequested = Signal()

    def __init__(self, model: ResultsModel, thumbnails, parent=None):
        super().__init__(parent)
        self.model = model
        self.thumbnails = thumbnails
        self.text_mode = False
        self.size = int(self.fontMetrics().height() * 5)
        self.thumb_cells: dict[str, QLabel] = {}
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading("Try it"), 1)
        self.choose_button = QPushButton("Choose &files…")
        self.choose_button.setToolTip("Pick files to classify (or drop them anywhere on this page)")
        self.choose_button.clicked.connect(self.chooseRequested)
        top.addWidget(self.choose_button)
        outer.addLayout(top)
        self.drop = DropZone("Drop files here to see what the model thinks they are.")
        outer.addWidget(self.drop)
        self.more = hint("Drop more files anywhere on this page to try them too. The bars show how sure the "
                         "model is; a low top bar means it is unsure.")
        outer.addWidget(self.more)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(self.fontMetrics().height() // 2 + 2)
        self.busy.hide()
        outer.addWidget(self.busy)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        host = QWidget()
        self.grid = QGridLayout(host)
        self.grid.setColumnStretch(1, 1)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll.setWidget(host)
        outer.addWidget(scroll, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        self.next_button = QPushButton("Next: save the model  →")
        self.next_button.clicked.connect(self.nextRequested)
        bottom.addWidget(self.next_button)
        outer.addLayout(bottom)
        thumbnails.loaded.connect(self._on_thumbnail)
        model.events.result.connect(self.refresh)
        model.events.predictions.connect(self.refresh)

    def set_busy(self, on: bool) -> None:
        self.busy.setVisible(on)

    def refresh(self) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w:
                w.deleteLater()
        self.thumb_cells = {}
        rows = self.model.prediction_rows()
        self.drop.setVisible(not rows)
        self.more.setVisible(bool(rows))
        for i, (path, top, error) in enumerate(rows):
            cell = QLabel()
            cell.setToolTip(path)
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            if self.text_mode:
                cell.setText(read_snippet(path, 120))
                cell.setWordWrap(True)
                cell.setMaximumWidth(self.fontMetrics().horizontalAdvance("x" * 30))
            else:
                cell.setFixedSize(self.size, self.size)
                self.thumb_cells[path] = cell
                self.thumbnails.request(path, self.size)
            self.grid.addWidget(cell, i, 0)
            self.grid.addWidget(self._bars(path, top, error), i, 1)

    def _bars(self, path: str, top: list[tuple[str, float]], error: str) -> QWidget:
        w = QWidget()
        w.setMaximumWidth(self.fontMetrics().horizontalAdvance("x" * 80))
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        name = QLabel(f"<b>{'/'.join(path.replace(chr(92), '/').split('/')[-2:])}</b>")
        name.setToolTip(path)
        lay.addWidget(name)
        if error:
            err = QLabel(f"Could not read this file: {error}")
            err.setWordWrap(True)
            lay.addWidget(err)
        for label, p in top:
            row = QHBoxLayout()
            text = QLabel(label)
            text.setMinimumWidth(self.fontMetrics().horizontalAdvance("x" * 14))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(1000 * p))
            bar.setFormat(fmt.percent(p))
            bar.setAccessibleName(f"{label}: {fmt.percent(p)}")
            row.addWidget(text)
            row.addWidget(bar, 1)
            lay.addLayout(row)
        return w

    def _on_thumbnail(self, path: str, size: int, pix: QPixmap) -> None:
        cell = self.thumb_cells.get(path)
        if cell is not None and size == self.size:
            if pix.isNull():
                cell.setText("(not an image)")
            else:
                cell.setPixmap(pix)


class SavePage(QWidget):
    saveRequested = Signal()
    openFolderRequested = Signal(str)

    def __init__(self, model: ResultsModel, parent=None):
        super().__init__(parent)
        self.model = model
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading("Save the model"), 1)
        self.save_button = QPushButton("&Save model…")
        self.save_button.setToolTip("Choose a folder; the model is written there as a self-contained bundle")
        self.save_button.clicked.connect(self.saveRequested)
        top.addWidget(self.save_button)
        outer.addLayout(top)
        outer.addWidget(hint("The bundle holds the weights, the class names, how to prepare a file, an ONNX copy, "
                             "a stand-alone predict.py and a model card. It works offline without this app."))
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(self.fontMetrics().height() // 2 + 2)
        self.busy.hide()
        outer.addWidget(self.busy)
        where = QHBoxLayout()
        self.where = QLabel("Not saved yet.")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        where.addWidget(self.where, 1)
        self.open_button = QPushButton("Open &folder")
        self.open_button.clicked.connect(lambda: self.openFolderRequested.emit(self.model.saved_path or ""))
        where.addWidget(self.open_button)
        outer.addLayout(where)
        self.card = QTextBrowser()
        self.card.setOpenLinks(False)
        self.card.setAccessibleName("Model card")
        outer.addWidget(self.card, 1)
        model.events.result.connect(self.refresh)
        model.events.saved.connect(self.refresh)
        self.refresh()

    def set_busy(self, on: bool) -> None:
        self.busy.setVisible(on)
        self.save_button.setEnabled(not on and self.model.ready)

    def refresh(self) -> None:
        m = self.model
        self.save_button.setEnabled(m.ready)
        self.open_button.setVisible(bool(m.saved_path))
        self.where.setText(f"Saved to <b>{m.saved_path}</b>" if m.saved_path else "Not saved yet.")
        if m.model_card:
            self.card.setMarkdown(m.model_card)
        else:
            self.card.setPlainText("The model card appears here once the model is saved.")
