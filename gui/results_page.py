"""Step 4, Results: headline scores, per-class table, clickable confusion matrix, gallery."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGridLayout, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QListView, QListWidget, QListWidgetItem, QMenu, QPushButton, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget, QFrame, QScrollArea)

from . import format as fmt
from .data_model import read_snippet
from .explain_model import Explanations, top_words
from .explain_view import OverlayBar, blended
from .results_model import Example, ResultsModel
from .widgets import heading, hint, is_dark


def relabelable(path) -> bool:
    """A file's label lives in the labels file; a table's row ('notes.csv#row=12') keeps its label in the table."""
    return bool(path) and "#row=" not in str(path)


class ResultsPage(QWidget):
    nextRequested = Signal()
    cellFilesRequested = Signal(str, list)  # split, [(path, true class)] to predict
    relabelRequested = Signal(str, str)  # path, class: "Relabel as…" in the gallery
    excludeRequested = Signal(str, str)  # path, reason: "Exclude…" in the gallery
    explainRequested = Signal(str, int)  # path, class index: the map of what the model said

    def __init__(self, model: ResultsModel, thumbnails, explanations: Explanations | None = None, parent=None):
        super().__init__(parent)
        self.model = model
        self.thumbnails = thumbnails
        self.explanations = explanations or Explanations()
        self.thumbs: dict[str, QPixmap] = {}  # the plain thumbnails, shown again when overlays go off
        self.examples: dict[str, Example] = {}  # the gallery's files
        self.text_mode = False
        self.icon_size = int(self.fontMetrics().height() * 5)
        self.items_by_path: dict[str, list[QListWidgetItem]] = {}
        self.current_cell: tuple[int, int] | None = None
        scores = QWidget()  # the first tab; add_tab() adds the clinical evaluation beside it
        outer = QVBoxLayout(scores)
        outer.setContentsMargins(0, 0, 0, 0)
        self.tabs = QTabWidget()
        self.tabs.addTab(scores, "Scores")
        QVBoxLayout(self).addWidget(self.tabs)
        top = QHBoxLayout()
        top.addWidget(heading("Results"), 1)
        self.split = QComboBox()
        self.split.setToolTip("Scores on examples the model never trained on. The test set was not used "
                              "for any choice, so it is the honest estimate.")
        self.split.currentIndexChanged.connect(self._on_split)
        top.addWidget(QLabel("Scored on"))
        top.addWidget(self.split)
        outer.addLayout(top)
        self.headline = QLabel()
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        outer.addWidget(self.headline)

        grid = QGridLayout()
        grid.addWidget(heading("Per class", 1.05), 0, 0)
        grid.addWidget(heading("Confusion matrix", 1.05), 0, 1)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Examples"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # numbers take what they need,
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # class names get the rest
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Precision: of the files predicted as this class, the share that were right.\n"
                              "Recall: of the files of this class, the share that were found.\n"
                              "F1: the balance of the two.")
        grid.addWidget(self.table, 1, 0)
        self.matrix = QTableWidget()
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.matrix.setToolTip("Rows: the true class. Columns: what the model said. The diagonal is right; "
                               "click any cell to see its files.")
        self.matrix.cellClicked.connect(self.show_cell)
        self.matrix.setAccessibleName("Confusion matrix")
        self.matrix.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.matrix.viewport().installEventFilter(self)  # stretched sections resize with the viewport
        self._column_names: list[str] = []
        grid.addWidget(self.matrix, 1, 1)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        outer.addLayout(grid, 0)

        gtop = QHBoxLayout()
        self.gallery_title = heading("Most confidently wrong", 1.05)
        gtop.addWidget(self.gallery_title, 1)
        self.relabel_button = QPushButton("Relabel as")
        self.relabel_button.setToolTip("Give the selected file the right label (saved beside the data, the file "
                                       "itself untouched); the next run uses it. Also on right-click.")
        self.relabel_button.setMenu(QMenu(self.relabel_button))
        self.relabel_button.menu().aboutToShow.connect(
            lambda: self._fill_relabel_menu(self.relabel_button.menu(), self.gallery.currentItem()))
        self.exclude_button = QPushButton("Exclude…")
        self.exclude_button.setToolTip("Leave the selected file out of the next run, with a reason")
        self.exclude_button.clicked.connect(lambda: self.exclude_item(self.gallery.currentItem()))
        for b in (self.relabel_button, self.exclude_button):
            b.setEnabled(False)
            gtop.addWidget(b)
        self.wrong_button = QPushButton("Show most confidently wrong")
        self.wrong_button.clicked.connect(self.show_wrong)
        gtop.addWidget(self.wrong_button)
        outer.addLayout(gtop)
        self.overlay = OverlayBar(self.explanations, "Show what the model &looked at")
        outer.addWidget(self.overlay)
        self.gallery_hint = hint("")
        outer.addWidget(self.gallery_hint)
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setFlow(QListView.Flow.LeftToRight)
        self.gallery.setWrapping(False)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setIconSize(QSize(self.icon_size, self.icon_size))
        self.gallery.setGridSize(QSize(int(self.icon_size * 1.9), int(self.icon_size + self.fontMetrics().height() * 3.5)))
        self.gallery.setWordWrap(True)
        self.gallery.setMinimumHeight(int(self.icon_size + self.fontMetrics().height() * 4.5))
        self.gallery.setAccessibleName("Example files")
        self.gallery.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.gallery.customContextMenuRequested.connect(self._gallery_menu)
        self.gallery.currentItemChanged.connect(
            lambda item, _old: [b.setEnabled(item is not None and relabelable(item.data(Qt.ItemDataRole.UserRole)))
                                for b in (self.relabel_button, self.exclude_button)])
        outer.addWidget(self.gallery, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        self.next_button = QPushButton("Next: try it on new files  →")
        self.next_button.clicked.connect(self.nextRequested)
        bottom.addWidget(self.next_button)
        outer.addLayout(bottom)
        thumbnails.loaded.connect(self._on_thumbnail)
        model.events.result.connect(self.refresh)
        model.events.cells.connect(lambda _split: self.current_cell and self.show_cell(*self.current_cell))
        self.explanations.events.arrived.connect(self._show_map)
        for event in (self.explanations.events.settings, self.explanations.events.cleared):
            event.connect(lambda: [self._show_map(p) for p in list(self.examples)])

    def add_tab(self, widget: QWidget, title: str) -> None:
        """Another view of the results, scrolled when the window is small (the page's minimum stays the same)."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        self.tabs.addTab(scroll, title)

    def refresh(self) -> None:
        self.split.blockSignals(True)
        self.split.clear()
        for s in self.model.splits():
            self.split.addItem(self.model.split_title(s), s)
        self.split.setCurrentIndex(max(0, self.split.findData(self.model.split)))
        self.split.blockSignals(False)
        self._fill()

    def _on_split(self, _i: int) -> None:
        self.model.split = self.split.currentData()
        self._fill()

    def _fill(self) -> None:
        m = self.model
        parts = [f"<span style='font-size:x-large'><b>{v}</b></span> {t.lower()}" for t, v in m.headline()]
        text = " &nbsp;·&nbsp; ".join(parts) if parts else "No scores were reported for this run."
        weak = m.weakest_class()
        if weak:
            text += f"<br>The hardest class was <b>{weak}</b>; more or cleaner examples of it would help most."
        for note in (m.selection_note(), m.baseline_note()):
            if note:
                text += f"<br>{note}"
        self.headline.setText(text)
        rows = m.per_class()
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            vals = [r.label, fmt.percent(r.precision), fmt.percent(r.recall), fmt.percent(r.f1),
                    "–" if r.support is None else str(r.support)]
            for j, v in enumerate(vals):
                item = QTableWidgetItem(v)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self._fill_matrix()
        for t in (self.table, self.matrix):
            rows = t.rowCount()
            h = t.horizontalHeader().height() + sum(t.rowHeight(i) for i in range(rows)) + 2 * t.frameWidth() + 2
            t.setMaximumHeight(max(h, self.fontMetrics().height() * 6))
        self.show_wrong()

    def _fill_matrix(self) -> None:
        cm, classes = self.model.confusion(), self.model.classes()
        n = len(cm)
        labels = classes if len(classes) == n else [str(i) for i in range(n)]
        self.matrix.clear()
        self.matrix.setRowCount(n)
        self.matrix.setColumnCount(n)
        self.matrix.setVerticalHeaderLabels([f"true: {c}" for c in labels])
        self._column_names = list(labels)
        for j, name in enumerate(labels):
            head = QTableWidgetItem(name)
            head.setToolTip(f"predicted: {name}")
            self.matrix.setHorizontalHeaderItem(j, head)
        top = max((max(row) for row in cm if row), default=0) or 1
        dark = is_dark(self)
        for i, row in enumerate(cm):
            total = sum(row) or 1
            for j, v in enumerate(row):
                item = QTableWidgetItem(str(v))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = v / top
                base = QColor(46, 125, 50) if i == j else QColor(198, 40, 40)
                base.setAlpha(int(30 + 200 * share) if v else 0)
                item.setBackground(QBrush(base))
                if share > 0.6 or dark:
                    item.setForeground(QBrush(QColor("white")))
                item.setToolTip(f"{v} file{'s' if v != 1 else ''} of class {labels[i]} predicted as {labels[j]} "
                                f"({v / total:.0%} of that class)")
                self.matrix.setItem(i, j, item)
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._elide_columns()

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.matrix.viewport():
            QTimer.singleShot(0, self._elide_columns)  # after the header has laid its sections out
        return super().eventFilter(watched, event)

    def _elide_columns(self) -> None:
        """Narrow columns show 'Ankle_b…', not a centred 'nkle_boo' clipped at both ends; the tooltip has it all."""
        header, fm = self.matrix.horizontalHeader(), self.matrix.horizontalHeader().fontMetrics()
        for j, name in enumerate(self._column_names):
            item = self.matrix.horizontalHeaderItem(j)
            if item is not None:
                text = fm.elidedText(name, Qt.TextElideMode.ElideRight, max(16, header.sectionSize(j) - 10))
                if item.text() != text:
                    item.setText(text)

    # ---------------------------------------------------------------- gallery
    def show_wrong(self) -> None:
        self.current_cell = None
        self.gallery_title.setText("Most confidently wrong")
        ex = self.model.wrong_examples()
        self.gallery_hint.setText("The model was sure and wrong about these. Check their labels: wrong labels "
                                  "are the most common cause (right-click one to relabel or exclude it)."
                                  if ex else "No wrong predictions to show.")
        self._fill_gallery(ex)

    def show_cell(self, row: int, col: int) -> None:
        classes = self.model.classes()
        if not (row < len(classes) and col < len(classes)):
            return
        self.current_cell = (row, col)
        item = self.matrix.item(row, col)
        count = item.text() if item else "?"
        noun = "file" if count == "1" else "files"
        self.gallery_title.setText(f"True {classes[row]}, predicted {classes[col]}: {count} {noun}")
        if not self.model.has_cell_files() and count != "0":
            files = self.model.split_files()
            if files:
                self.gallery_hint.setText("Finding the files in this cell…")
                self._fill_gallery([])
                self.cellFilesRequested.emit(self.model.split or "", files)
                return
        ex = self.model.cell_examples(row, col)
        if ex:
            self.gallery_hint.setText("")
        elif row == col:
            self.gallery_hint.setText("Correct predictions; this run did not list their files.")
        else:
            self.gallery_hint.setText("None of these files are among the listed examples."
                                      if count != "0" else "No files here.")
        self._fill_gallery(ex)

    def _fill_gallery(self, examples: list[Example]) -> None:
        self.gallery.clear()
        self.items_by_path = {}
        self.examples = {e.path: e for e in examples}
        self.overlay.set_text_mode(self.text_mode)
        for e in examples:
            prob = f" ({fmt.percent(e.probability, 0)})" if e.probability is not None else ""
            caption = f"{e.true} → {e.predicted}{prob}"
            item = QListWidgetItem(caption)
            item.setToolTip(f"{e.path}\ntrue class: {e.true}\npredicted: {e.predicted}{prob}")
            item.setData(Qt.ItemDataRole.UserRole, e.path)
            self.items_by_path.setdefault(e.path, []).append(item)
            item.setData(Qt.ItemDataRole.UserRole + 1, e.true)
            if self.text_mode:
                item.setText(f"{caption}\n{read_snippet(e.path.split('#', 1)[0], 80)}")
            else:
                self.thumbnails.request(e.path, self.icon_size)
            self.gallery.addItem(item)
        for path in self.examples:
            self._show_map(path)

    def _target(self, path: str) -> int:
        classes, e = self.model.classes(), self.examples.get(path)
        return classes.index(e.predicted) if e is not None and e.predicted in classes else -1

    def _show_map(self, path: str) -> None:
        """A gallery file's map of the class the model said, over its thumbnail (text: the words it used)."""
        e, ex = self.examples.get(path), self.explanations
        if e is None:
            return
        target = self._target(path)
        info = ex.get(path, target) if ex.show else None
        if ex.show and info is None:
            self.explainRequested.emit(path, target)
        for item in self.items_by_path.get(path, []):
            if self.text_mode:  # the caption line as it is (a relabel mark stays), the words, the snippet
                words = top_words(info.get("words") or []) if info else []
                looked = f"\nlooked at: {', '.join(words)}" if words else ""
                first = item.text().partition("\n")[0]
                item.setText(f"{first}{looked}\n{read_snippet(path.split('#', 1)[0], 80)}")
                continue
            pix = blended(info, ex.opacity, self.icon_size) if info else QPixmap()
            if pix.isNull():
                pix = self.thumbs.get(path, QPixmap())
            if not pix.isNull():
                item.setIcon(QIcon(pix))

    def gallery_paths(self) -> list[str]:
        return [self.gallery.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.gallery.count())]

    def _on_thumbnail(self, path: str, size: int, pix: QPixmap) -> None:
        if size == self.icon_size and not pix.isNull() and path in self.examples:
            self.thumbs[path] = pix
            self._show_map(path)

    # ---------------------------------------------------------------- fixing labels
    def relabel_menu(self, item: QListWidgetItem | None) -> QMenu:
        """"Relabel as" one of the classes, and "Exclude…", for one gallery file."""
        menu = QMenu(self)
        self._fill_relabel_menu(menu.addMenu("Relabel as"), item)
        path = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        menu.addAction("Exclude…", lambda: self.exclude_item(item)).setEnabled(relabelable(path))
        return menu

    def _fill_relabel_menu(self, menu: QMenu, item: QListWidgetItem | None) -> None:
        menu.clear()
        path = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        true = item.data(Qt.ItemDataRole.UserRole + 1) if item is not None else None
        for name in self.model.classes():
            a = menu.addAction(name.replace("&", "&&"), lambda n=name: self.relabelRequested.emit(path, n))
            a.setEnabled(relabelable(path) and name != true)
        menu.setEnabled(relabelable(path))

    def _gallery_menu(self, pos) -> None:
        item = self.gallery.itemAt(pos)
        if item is not None:
            self.relabel_menu(item).exec(self.gallery.viewport().mapToGlobal(pos))

    def ask_reason(self) -> str | None:
        """Why the file is left out (tests replace this)."""
        reason, ok = QInputDialog.getText(self, "Exclude this file", "Why is it left out of training?")
        return reason.strip() if ok and reason.strip() else None

    def exclude_item(self, item: QListWidgetItem | None) -> None:
        if item is None or not relabelable(item.data(Qt.ItemDataRole.UserRole)):
            return
        reason = self.ask_reason()
        if reason:
            self.excludeRequested.emit(item.data(Qt.ItemDataRole.UserRole), reason)

    def mark_changed(self, path: str, what: str | None) -> None:
        """Show on the gallery that a file's label was changed (it stays until the next run); None: the change
        was undone, the item reads as before."""
        for i in range(self.gallery.count()):
            item = self.gallery.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == path:
                before = item.data(Qt.ItemDataRole.UserRole + 2)
                if before is None:  # as the run showed it, kept for an undo
                    before = [item.text(), item.data(Qt.ItemDataRole.UserRole + 1)]
                    item.setData(Qt.ItemDataRole.UserRole + 2, before)
                if what is None:
                    item.setText(before[0])
                    item.setData(Qt.ItemDataRole.UserRole + 1, before[1])
                    continue
                first, _, rest = before[0].partition("\n")
                item.setText(f"{first}  ✓ {what}" + (f"\n{rest}" if rest else ""))
                item.setData(Qt.ItemDataRole.UserRole + 1, what.removeprefix("now "))
