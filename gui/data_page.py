"""Step 1, Data: drop folders, see classes, samples and the health report."""
from __future__ import annotations

import os
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QListWidget, QMenu, QProgressBar,
                               QPushButton, QScrollArea, QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from .data_model import IMAGE_EXTS, DataModel, Finding, read_snippet
from .data_options_view import DataOptionsBox
from .pairs_view import PairsView
from .widgets import LEVEL_COLORS, BarChart, Collapsible, DropZone, heading, hint

MAX_CLASS_ROWS = 24
SEVERITY_WORD = {"error": "Problem", "warning": "Check", "info": "Note"}


def _fit(text: str, fm, width: int, lines: int) -> str:
    """Cut `text` at a word so that it wraps into at most `lines` lines of `width` pixels."""
    budget = width * lines * 0.92  # wrapping wastes part of each line
    if fm.horizontalAdvance(text) <= budget:
        return text
    words, out = text.split(), ""
    for w in words:
        if fm.horizontalAdvance(out + " " + w + " …") > budget:
            break
        out = f"{out} {w}" if out else w
    return out + " …"


class FindingCard(QFrame):
    def __init__(self, f: Finding, parent=None, thumbnails=None, previews: dict | None = None):
        super().__init__(parent)
        color = LEVEL_COLORS.get(f.severity, LEVEL_COLORS["info"])
        self.setObjectName("finding")
        # Qt draws a lone border-left only after "border: none"
        self.setStyleSheet(f"#finding {{ border: none; border-left: 4px solid {color}; padding-left: 6px; }}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        lay.setSpacing(2)
        title = QLabel(f"<b>{SEVERITY_WORD.get(f.severity, 'Note')}: {f.title}</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(title)
        if f.message:
            msg = QLabel(f.message)
            msg.setWordWrap(True)
            msg.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lay.addWidget(msg)
        if f.advice:
            adv = QLabel(f"<i>What to do:</i> {f.advice}")
            adv.setWordWrap(True)
            adv.setTextFormat(Qt.TextFormat.RichText)
            lay.addWidget(adv)
        if f.paths and f.code.startswith("near_duplicates"):
            pairs = PairsView(list(f.paths), thumbnails, previews, size=self.fontMetrics().height() * 4)
            n = len(f.paths) // 2
            lay.addWidget(Collapsible(f"Show {n} pair{'s' if n != 1 else ''}", pairs))
        elif f.paths:
            lst = QListWidget()
            lst.addItems([str(p) for p in f.paths[:200]])
            lst.setMaximumHeight(lst.fontMetrics().height() * 6)
            lay.addWidget(Collapsible(f"Show {len(f.paths)} file{'s' if len(f.paths) != 1 else ''}", lst))
        self.finding = f


class DataPage(QWidget):
    openRequested = Signal()
    demoRequested = Signal(str)  # "images" | "text"
    nextRequested = Signal()
    recheckRequested = Signal()  # read the same folders again (after fixing them)
    labelRequested = Signal(str)  # "Label a folder…" (""), or the folder shown, whose unlabeled files were left out

    def __init__(self, model: DataModel, thumbnails, demo_choices: list[str], parent=None):
        super().__init__(parent)
        self.model = model
        self.thumbnails = thumbnails
        self.thumb_labels: dict[str, list[QLabel]] = {}
        self.thumb_size = int(self.fontMetrics().height() * 4.5)

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading("Your data"), 1)
        self.open_button = QPushButton("&Open folder…")
        self.open_button.setToolTip("Choose a folder with one sub-folder per class (Ctrl+O)")
        self.open_button.clicked.connect(self.openRequested)
        self.demo_button = QToolButton()
        self.demo_button.setText("Open &demo data")
        self.demo_button.setToolTip("Load a small example data set that ships with the app")
        self.demo_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.demo_button.clicked.connect(lambda: self.demoRequested.emit(demo_choices[0] if demo_choices else "images"))
        menu = QMenu(self.demo_button)
        for kind in demo_choices:
            menu.addAction(f"Demo {kind}", lambda _checked=False, k=kind: self.demoRequested.emit(k))
        self.demo_button.setMenu(menu)
        self.demo_button.setEnabled(bool(demo_choices))
        self.label_button = QPushButton("&Label a folder…")
        self.label_button.setToolTip("Label files that have no class folders yet, with the keyboard; a model "
                                     "trained on them suggests the rest (Ctrl+Shift+L)")
        self.label_button.clicked.connect(lambda: self.labelRequested.emit(self.unlabeled_root()))
        top.addWidget(self.open_button)
        top.addWidget(self.label_button)
        top.addWidget(self.demo_button)
        outer.addLayout(top)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        outer.addWidget(self.summary)
        self.labels_line = hint("")
        self.labels_line.setAccessibleName("Labels given in the app")
        outer.addWidget(self.labels_line)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(self.fontMetrics().height() // 2 + 2)
        self.progress.hide()
        outer.addWidget(self.progress)
        self.fatal_box = QFrame()
        self.fatal_box.setObjectName("fatal")
        self.fatal_box.setStyleSheet(f"#fatal {{ border: 1px solid {LEVEL_COLORS['error']}; border-left: 5px solid "
                                     f"{LEVEL_COLORS['error']}; border-radius: 4px; }}")
        fatal_row = QHBoxLayout(self.fatal_box)
        fatal_row.setContentsMargins(10, 6, 8, 6)
        self.fatal_label = QLabel()
        self.fatal_label.setWordWrap(True)
        self.fatal_label.setTextFormat(Qt.TextFormat.RichText)
        self.fatal_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recheck_button = QPushButton("&Check again")
        self.recheck_button.setToolTip("Read the same folder again after fixing it")
        self.recheck_button.clicked.connect(self.recheckRequested)
        fatal_row.addWidget(self.fatal_label, 1)
        fatal_row.addWidget(self.recheck_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.fatal_box.hide()
        outer.addWidget(self.fatal_box)

        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)
        self.empty = DropZone("Drop one or more folders here.\n\nEach folder should hold one sub-folder per class "
                              "(for example cats/ and dogs/), or a CSV file with a text and a label column.\n\n"
                              "A folder of files without class folders opens for labeling.")
        self.stack.addWidget(self.empty)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        page = QVBoxLayout(body)
        columns = QHBoxLayout()
        self.left, right = QVBoxLayout(), QVBoxLayout()  # each column flows on its own
        columns.addLayout(self.left, 1)
        columns.addLayout(right, 1)
        page.addLayout(columns)
        self.left.addWidget(heading("Classes", 1.1))
        self.chart = BarChart()
        self.left.addWidget(self.chart)
        self.options = DataOptionsBox(model)  # group images by; DICOM window
        self.left.addWidget(self.options)
        right.addWidget(heading("Health check", 1.1))
        self.findings_box = QVBoxLayout()
        right.addLayout(self.findings_box)
        right.addStretch(1)
        self.wide = QVBoxLayout()  # full width below both columns
        page.addLayout(self.wide)
        page.addStretch(1)
        self.examples_heading = heading("Examples", 1.1)
        self.samples_grid = QGridLayout()
        self.samples_wrap = QWidget()
        self.samples_wrap.setLayout(self.samples_grid)
        self.left.addStretch(1)
        self._place_examples(text=False)
        scroll.setWidget(body)
        self.stack.addWidget(scroll)

        bottom = QHBoxLayout()
        bottom.addStretch(1)
        self.next_button = QPushButton("Next: choose a model  →")
        self.next_button.setToolTip("Go to step 2 (Ctrl+2)")
        self.next_button.clicked.connect(self.nextRequested)
        bottom.addWidget(self.next_button)
        outer.addLayout(bottom)
        thumbnails.loaded.connect(self._on_thumbnail)
        model.events.changed.connect(self.refresh)
        model.events.previews_changed.connect(self._show_previews)
        model.events.scan_progress.connect(self.set_scan_progress)
        self.refresh()

    # ---------------------------------------------------------------- updates
    def refresh(self) -> None:
        m = self.model
        self.summary.setText(m.summary())
        self.labels_line.setText(m.labels_text())
        self.labels_line.setVisible(bool(self.labels_line.text()))
        n = ((m.report or {}).get("labels") or {}).get("unlabeled") if self.unlabeled_root() else 0
        self.label_button.setText(f"&Label the {n:,} unlabeled…" if n else "&Label a folder…")
        self.progress.setVisible(m.scanning)
        self.next_button.setEnabled(m.ready)
        self.fatal_box.setVisible(bool(m.fatal) and not m.scanning)
        self.fatal_label.setText(f"<b style='color:{LEVEL_COLORS['error']}'>This data cannot be used yet.</b> "
                                 f"{escape(m.fatal or '')} Training stays off until it is fixed; then check "
                                 "again.")
        if m.report is None:
            self.stack.setCurrentIndex(0)
            self._clear(self.findings_box)
            self._clear(self.samples_grid)
            return
        self.stack.setCurrentIndex(1)
        self.chart.set_items([(c.name, c.count) for c in m.classes])
        self.options.refresh()
        self._clear(self.findings_box)
        findings = m.findings(include_fatal=False)  # the fatal one has its own box above
        if not findings and not m.fatal:
            ok = QLabel("No problems found: no unreadable files, duplicates or leaks, and the classes are balanced.")
            ok.setWordWrap(True)
            self.findings_box.addWidget(ok)
        for f in findings:
            self.findings_box.addWidget(FindingCard(f, thumbnails=self.thumbnails, previews=m.previews))
        for line in m.details():
            self.findings_box.addWidget(hint(line))
        self._show_samples()
        self._show_previews()

    def unlabeled_root(self) -> str:
        """The one folder shown when the scan left unlabeled files out of it ("" otherwise)."""
        labels = (self.model.report or {}).get("labels")
        unlabeled = labels.get("unlabeled") if isinstance(labels, dict) else 0
        return self.model.paths[0] if len(self.model.paths) == 1 and isinstance(unlabeled, int) and unlabeled else ""

    def set_scan_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)

    def finding_titles(self) -> list[str]:
        out = []
        for i in range(self.findings_box.count()):
            w = self.findings_box.itemAt(i).widget()
            if isinstance(w, FindingCard):
                out.append(w.finding.title)
        return out

    def _place_examples(self, text: bool) -> None:
        """Image thumbnails fit under the class chart, so a long health check does not push them
        down; text snippets are wide and take the full width below both columns."""
        target = self.wide if text else self.left
        for w in (self.examples_heading, self.samples_wrap):
            self.left.removeWidget(w)
            self.wide.removeWidget(w)
        at = target.count() - (0 if text else 1)  # above the left column's stretch
        target.insertWidget(at, self.examples_heading)
        target.insertWidget(at + 1, self.samples_wrap)

    def _show_samples(self) -> None:
        self._clear(self.samples_grid)
        self.thumb_labels = {}
        text = self.model.modality == "text"
        self._place_examples(text)
        samples = self.model.sample_paths(per_class=4 if text else 6)
        names = list(samples)[:MAX_CLASS_ROWS]
        for row, name in enumerate(names):
            label = QLabel(f"<b>{name}</b>")
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.samples_grid.addWidget(label, row, 0)
            strip = QHBoxLayout()
            for path in samples[name]:
                cell = QLabel()
                cell.setToolTip(path)
                if text:
                    fm = self.fontMetrics()
                    width = fm.horizontalAdvance("x" * 30)
                    cell.setFixedSize(width, fm.height() * 4 + 10)
                    cell.setText(_fit(read_snippet(path, 400), fm, width - 10, 4))
                    cell.setWordWrap(True)
                    cell.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                    cell.setFrameShape(QFrame.Shape.StyledPanel)
                else:
                    cell.setFixedSize(self.thumb_size, self.thumb_size)
                    cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                    cell.setFrameShape(QFrame.Shape.StyledPanel)
                    self.thumb_labels.setdefault(path, []).append(cell)
                    if os.path.splitext(path)[1].lower() in IMAGE_EXTS:  # others (DICOM): the engine draws them
                        self.thumbnails.request(path, self.thumb_size)
                strip.addWidget(cell)
            if not samples[name]:
                strip.addWidget(hint("(no example files to show)"))
            strip.addStretch(1)
            self.samples_grid.addLayout(strip, row, 1)
        if len(samples) > MAX_CLASS_ROWS:
            self.samples_grid.addWidget(hint(f"…and {len(samples) - MAX_CLASS_ROWS} more classes."),
                                        MAX_CLASS_ROWS, 1)
        self.samples_grid.setColumnStretch(1, 1)

    def _on_thumbnail(self, path: str, size: int, pix: QPixmap) -> None:
        if pix.isNull() and (path in self.model.previews or self.model.dicom):
            self._show_previews()  # Qt cannot read DICOM: the engine draws it (data_options.py)
            return
        for cell in self.thumb_labels.get(path, []):
            if pix.isNull():
                cell.setText("unreadable")
            else:
                cell.setPixmap(pix)

    def _show_previews(self) -> None:
        """Thumbnails the engine drew (DICOM, in the chosen window), in place of Qt's."""
        for path, cells in self.thumb_labels.items():
            png = self.model.previews.get(path)
            pix = QPixmap()
            if png is None or not pix.loadFromData(png, "PNG"):
                continue
            pix = pix.scaled(self.thumb_size, self.thumb_size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
            for cell in cells:
                cell.setPixmap(pix)

    @staticmethod
    def _clear(layout) -> None:
        while layout.count():
            item = layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
            elif item.layout():
                DataPage._clear(item.layout())
                item.layout().deleteLater()
