"""Steps 5 and 6: try the model on dropped files; save it as a bundle and read its card."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QTextBrowser, QVBoxLayout, QWidget)

from . import format as fmt
from .data_model import read_snippet
from .explain_model import DECIDED, Explanations, highlight_html
from .explain_view import OverlayBar, blended
from .results_model import ResultsModel
from .widgets import DropZone, heading, hint


class TryPage(QWidget):
    chooseRequested = Signal()
    folderRequested = Signal()  # "Predict a folder…": every file in a folder, into a table and a CSV
    nextRequested = Signal()
    explainRequested = Signal(str, int)  # path, class index (DECIDED: the class the model decided on)
    classChosen = Signal(str, int)  # a class clicked in a file's bars: show its map

    def __init__(self, model: ResultsModel, thumbnails, explanations: Explanations | None = None, parent=None):
        super().__init__(parent)
        self.model = model
        self.thumbnails = thumbnails
        self.explanations = explanations or Explanations()
        self.text_mode = False
        self.size = int(self.fontMetrics().height() * 7)
        self.thumb_cells: dict[str, QLabel] = {}
        self.text_cells: dict[str, QLabel] = {}
        self.captions: dict[str, QLabel] = {}
        self.thumbs: dict[str, QPixmap] = {}
        self.others: dict[str, list[tuple[int, str]]] = {}  # per file: the classes its bars do not show
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading("Try it"), 1)
        self.choose_button = QPushButton("Choose &files…")
        self.choose_button.setToolTip("Pick files to classify (or drop them anywhere on this page)")
        self.choose_button.clicked.connect(self.chooseRequested)
        top.addWidget(self.choose_button)
        self.folder_button = QPushButton("Predict a f&older…")
        self.folder_button.setToolTip("Every file in a folder, any number of them, into a table you can save as CSV")
        self.folder_button.clicked.connect(self.folderRequested)
        top.addWidget(self.folder_button)
        outer.addLayout(top)
        self.drop = DropZone("Drop files here to see what the model thinks they are, or a folder to predict "
                             "every file in it into a table.")
        outer.addWidget(self.drop)
        self.more = hint("Drop more files anywhere on this page to try them too. The bars show how sure the "
                         "model is; a low top bar means it is unsure.")
        outer.addWidget(self.more)
        self.overlay = OverlayBar(self.explanations, "Show what the model &looked at")
        outer.addWidget(self.overlay)
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
        self.grid.setVerticalSpacing(self.fontMetrics().height() // 2)
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
        self.explanations.events.arrived.connect(self._show_map)
        for event in (self.explanations.events.settings, self.explanations.events.cleared):
            event.connect(lambda: [self._show_map(p) for p in self._paths()])

    def _paths(self) -> list[str]:
        return list(self.thumb_cells) + list(self.text_cells)

    def set_busy(self, on: bool) -> None:
        self.busy.setVisible(on)

    def refresh(self) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w:
                w.deleteLater()
        self.thumb_cells, self.text_cells, self.captions, self.thumbs, self.others = {}, {}, {}, {}, {}
        self.overlay.set_text_mode(self.text_mode)
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
                self.text_cells[path] = cell
            else:
                cell.setFixedSize(self.size, self.size)
                self.thumb_cells[path] = cell
                self.thumbnails.request(path, self.size)
            self.grid.addWidget(cell, i, 0)
            self.grid.addWidget(self._bars(path, top, error), i, 1)
        for path in self._paths():
            self._show_map(path)

    def _bars(self, path: str, top: list[tuple[str, float]], error: str) -> QWidget:
        w = QWidget()
        w.setMaximumWidth(self.fontMetrics().horizontalAdvance("x" * 80))
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        name = QLabel(f"<b>{'/'.join(path.replace(chr(92), '/').split('/')[-2:])}</b>")
        name.setToolTip(path)
        lay.addWidget(name)
        decision = self.model.decision_text(path)
        if decision:
            lay.addWidget(QLabel(decision))
        if error:
            err = QLabel(f"Could not read this file: {error}")
            err.setWordWrap(True)
            lay.addWidget(err)
        classes = self.model.classes()
        for label, p in top:
            row = QHBoxLayout()
            text = QLabel(label)
            if label in classes and not error:  # a link: its map for this file
                text.setText(f"<a href='{classes.index(label)}'>{label}</a>")
                text.setToolTip(f"Show what made the model think this is {label}")
                text.linkActivated.connect(lambda idx, path=path: self.classChosen.emit(path, int(idx)))
            text.setMinimumWidth(self.fontMetrics().horizontalAdvance("x" * 14))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(1000 * p))
            bar.setFormat(fmt.percent(p))
            bar.setAccessibleName(f"{label}: {fmt.percent(p)}")
            row.addWidget(text)
            row.addWidget(bar, 1)
            lay.addLayout(row)
        caption = QLabel()
        caption.hide()
        caption.linkActivated.connect(lambda idx, path=path: self.classChosen.emit(path, int(idx)))
        self.captions[path] = caption
        self.others[path] = [(i, c) for i, c in enumerate(classes) if c not in {label for label, _ in top}]
        lay.addWidget(caption)
        return w

    def _other_links(self, path: str) -> str:
        """Links to the classes not among the bars, so any class's map is one click away (at most 8 named)."""
        others = self.others.get(path) or []
        if not others:
            return ""
        links = ", ".join(f"<a href='{i}'>{c}</a>" for i, c in others[:8])
        return f"<br>Other classes: {links}" + (", …" if len(others) > 8 else "")

    def _show_map(self, path: str) -> None:
        """The file's map (or highlighted words) for its chosen class when overlays are on, else the plain view."""
        ex = self.explanations
        if path not in self.thumb_cells and path not in self.text_cells:
            return  # a file of another page (the Results gallery)
        item = ex.get(path) if ex.show else None
        caption = self.captions.get(path)
        if ex.show and item is None:
            self.explainRequested.emit(path, ex.chosen.get(path, DECIDED))
        if caption is not None:
            caption.setVisible(ex.show)
            caption.setText("Finding what the model looked at…" if item is None else
                            f"Could not explain it: {item['error']}" if item.get("error") else
                            f"Coloured: what made the model think <b>{item['target_label']}</b> "
                            f"({fmt.percent(item['probabilities'][item['target']])}). Click a class to see its map."
                            + self._other_links(path))
        if path in self.text_cells:
            cell = self.text_cells[path]
            if item and item.get("words"):
                cell.setText(highlight_html(item.get("text", ""), item["words"], 200))  # about the plain snippet's height
            else:
                cell.setText(read_snippet(path, 120))
        elif path in self.thumb_cells:
            pix = blended(item, ex.opacity, self.size) if item else QPixmap()
            if pix.isNull():
                pix = self.thumbs.get(path, QPixmap())
            if not pix.isNull():
                self.thumb_cells[path].setPixmap(pix)

    def _on_thumbnail(self, path: str, size: int, pix: QPixmap) -> None:
        cell = self.thumb_cells.get(path)
        if cell is not None and size == self.size:
            if pix.isNull():
                cell.setText("(not an image)")
            else:
                self.thumbs[path] = pix
                cell.setPixmap(pix)
                self._show_map(path)


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
        self.save_button.setEnabled(not on and self.model.can_save)

    def refresh(self) -> None:
        m = self.model
        self.save_button.setEnabled(m.can_save)
        self.open_button.setVisible(bool(m.saved_path))
        self.where.setText(f"Saved to <b>{m.saved_path}</b>" if m.saved_path else
                           f"This model is a saved bundle already: <b>{m.run_dir}</b>" if m.source == "bundle" else
                           "Not saved yet.")
        if m.model_card:
            self.card.setMarkdown(m.model_card)
        else:
            self.card.setPlainText("The model card appears here once the model is saved.")
