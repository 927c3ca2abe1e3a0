"""The Label mode's view: one big file, the model's guess beside it, a key per class.

Keys: 1-9 a class, Left/Right move, Space skips, X excludes (asks why), Ctrl+Z undoes.
Buttons never take the keyboard focus, so Space and the digits always reach the
shortcuts; the class-naming box (shown until classes are named) keeps its own typing.
The page changes the label model directly (labeling needs no engine) and asks the
window only for what does: the queue's order from the model, and a run.
"""
from __future__ import annotations

import os
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QInputDialog, QLabel, QLineEdit,
                               QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QStackedWidget,
                               QVBoxLayout, QWidget)

from engine.labels.sidecar import EXCLUDED

from . import format as fmt
from .data_model import TEXT_EXTS, read_snippet
from .label_chart import LearningCurve, curve_note
from .label_model import MAX_KEYS, ORDER_TEXT, LabelModel
from .widgets import heading, hint

TRAIN_TIP = ("Start a run on what is labeled so far (the Train page shows it); the suggestions and the queue "
             "then come from the new model.")
EXCLUDE_REASONS = ("Not a usable image or text", "Not one of the classes", "Duplicate", "Unsure, ask a colleague")


def _no_focus(button: QPushButton) -> QPushButton:
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


class LabelPage(QWidget):
    trainRequested = Signal()  # "Train on my labels"
    orderChanged = Signal(str)  # the queue order chosen (the window asks the engine for "useful")
    closeRequested = Signal()  # back to the Data step

    def __init__(self, model: LabelModel, thumbnails, parent=None):
        super().__init__(parent)
        self.model = model
        self.thumbnails = thumbnails
        self.view_size = 480
        self.class_buttons: list[QPushButton] = []
        self.editing = False  # the class names box is open again (Classes…)
        self._names_for: str | None = None  # the folder whose classes the names box shows
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the keys go to the page once classes are named
        outer = QVBoxLayout(self)

        top = QHBoxLayout()
        self.title = heading("Label a folder")
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("Order"))
        self.order = QComboBox()
        for key, text in ORDER_TEXT.items():
            self.order.addItem(text, key)
        self.order.setToolTip("Random, or the files the current model is least sure of first (with some "
                              "variety), which teaches it most per label.")
        self.order.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.order.currentIndexChanged.connect(lambda _i: self.orderChanged.emit(self.order.currentData()))
        top.addWidget(self.order)
        self.train_button = _no_focus(QPushButton("Train on my labels"))
        self.train_button.setToolTip(TRAIN_TIP)
        self.train_button.clicked.connect(self.trainRequested)
        top.addWidget(self.train_button)
        self.classes_button = _no_focus(QPushButton("Classes…"))
        self.classes_button.setToolTip("Add a class or change the order of the keys")
        self.classes_button.clicked.connect(self.edit_classes)
        top.addWidget(self.classes_button)
        self.done_button = _no_focus(QPushButton("Close"))
        self.done_button.setToolTip("Back to step 1 (your labels are saved as you go)")
        self.done_button.clicked.connect(self.closeRequested)
        top.addWidget(self.done_button)
        outer.addLayout(top)

        self.setup = QFrame()
        srow = QHBoxLayout(self.setup)
        srow.setContentsMargins(0, 0, 0, 0)
        srow.addWidget(QLabel("Classes"))
        self.class_names = QLineEdit()
        self.class_names.setPlaceholderText("e.g. normal, pneumonia (keys 1-9 follow this order)")
        self.class_names.setAccessibleName("Class names")
        self.class_names.returnPressed.connect(self._give_classes)
        srow.addWidget(self.class_names, 1)
        self.start_button = QPushButton("Start labeling")
        self.start_button.clicked.connect(self._give_classes)
        srow.addWidget(self.start_button)
        outer.addWidget(self.setup)

        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m labeled")
        prow.addWidget(self.progress, 1)
        self.counts = QLabel()
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.counts.setAccessibleName("Labels per class")
        prow.addWidget(self.counts, 2)
        outer.addLayout(prow)

        body = QHBoxLayout()
        self.views = QStackedWidget()
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(240, 240)
        self.image.setAccessibleName("File to label")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        f = self.text.font()
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.text.setFont(f)
        self.views.addWidget(self.image)
        self.views.addWidget(self.text)
        body.addWidget(self.views, 3)

        side = QVBoxLayout()
        self.suggestion = QLabel()
        self.suggestion.setTextFormat(Qt.TextFormat.RichText)
        self.suggestion.setWordWrap(True)
        self.suggestion.setAccessibleName("The model's suggestion")
        side.addWidget(self.suggestion)
        self.buttons_box = QGridLayout()
        side.addLayout(self.buttons_box)
        moves = QHBoxLayout()
        self.back_button = _no_focus(QPushButton("←  Back"))
        self.back_button.clicked.connect(lambda: self.model.move(-1))
        self.skip_button = _no_focus(QPushButton("Skip  (Space)"))
        self.skip_button.clicked.connect(self.model.skip)
        for b in (self.back_button, self.skip_button):
            moves.addWidget(b)
        side.addLayout(moves)
        edits = QHBoxLayout()
        self.undo_button = _no_focus(QPushButton("Undo  (Ctrl+Z)"))
        self.undo_button.clicked.connect(self.model.undo)
        self.exclude_button = _no_focus(QPushButton("Exclude…  (X)"))
        self.exclude_button.setToolTip("Leave this file out of training, with a reason (kept in the labels file)")
        self.exclude_button.clicked.connect(self.exclude)
        for b in (self.undo_button, self.exclude_button):
            edits.addWidget(b)
        side.addLayout(edits)
        self.order_hint = hint("")
        side.addWidget(self.order_hint)
        self.chart = LearningCurve()
        side.addWidget(self.chart, 1)
        self.chart_note = hint("")
        side.addWidget(self.chart_note)
        body.addLayout(side, 2)
        outer.addLayout(body, 1)

        self.file_line = QLabel()
        self.file_line.setWordWrap(True)
        self.file_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.file_line)
        outer.addWidget(hint("Keys: 1-9 a class · ← → move · Space skip · X exclude · Ctrl+Z undo. Each label "
                             "is saved at once beside the data; the files themselves are never changed."))
        self._make_shortcuts()
        thumbnails.loaded.connect(self._on_image)
        for name in ("opened", "labels"):
            getattr(model.events, name).connect(self.refresh)
        model.events.current.connect(self.show_current)
        model.events.suggestions.connect(self.show_current)
        model.events.suggestions.connect(self._show_order)

    def _make_shortcuts(self) -> None:
        def key(seq, slot):
            s = QShortcut(QKeySequence(seq), self)
            s.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            s.activated.connect(slot)
            return s

        self.shortcuts = [key(str(k), lambda k=k: self._when_ready(self.model.label_key, k))
                          for k in range(1, MAX_KEYS + 1)]
        self.shortcuts += [key(Qt.Key.Key_Left, lambda: self.model.move(-1)),
                           key(Qt.Key.Key_Right, lambda: self.model.move(+1)),
                           key(Qt.Key.Key_Space, lambda: self._when_ready(self.model.skip)),
                           key("X", self.exclude),
                           key(QKeySequence.StandardKey.Undo, self.model.undo)]

    def _when_ready(self, action, *args) -> None:
        if self.model.ready:
            action(*args)

    # ---------------------------------------------------------------- showing
    def refresh(self) -> None:
        m = self.model
        self.title.setText(f"Label {os.path.basename(m.root or '') or 'a folder'}")
        self.setup.setVisible(m.is_open and (not m.ready or self.editing))
        self.classes_button.setVisible(m.ready and not self.editing)
        if m.is_open and not m.ready and (not self.class_names.text() or self._names_for != m.root):
            self.class_names.setText(", ".join(m.proposed_classes()))  # another folder: its own proposal
        self._names_for = m.root
        self._fill_buttons()
        done, total = m.progress() if m.is_open else (0, 0)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        counts = m.counts() if m.is_open else {}
        parts = [(f"<b>{i + 1}</b> " if i < MAX_KEYS else "") + f"{escape(c)}: {counts.get(c, 0)}"
                 for i, c in enumerate(m.classes)]
        parts += [f"excluded: {counts.get(EXCLUDED, 0)}", f"unlabeled: {counts.get('unlabeled', 0)}"]
        self.counts.setText(" &nbsp;·&nbsp; ".join(parts))
        self.train_button.setEnabled(m.ready and sum(counts.get(c, 0) > 0 for c in m.classes) >= 2)
        self.train_button.setToolTip(TRAIN_TIP if self.train_button.isEnabled()
                                     else "Label at least one file of two classes first.")
        self.undo_button.setEnabled(bool(m.undo_stack))

    def _fill_buttons(self) -> None:
        names = self.model.classes
        if [b.property("label") for b in self.class_buttons] == names:
            return
        for b in self.class_buttons:
            self.buttons_box.removeWidget(b)
            b.deleteLater()
        self.class_buttons = []
        for i, name in enumerate(names):
            shown = name.replace("&", "&&")  # '&' in a class name is a letter, not a mnemonic
            b = _no_focus(QPushButton(f"{i + 1}   {shown}" if i < MAX_KEYS else shown))
            b.setProperty("label", name)
            b.setMinimumHeight(int(self.fontMetrics().height() * 2.2))
            b.clicked.connect(lambda _c=False, n=name: self._when_ready(self.model.label_current, n))
            self.buttons_box.addWidget(b, i // 2, i % 2)
            self.class_buttons.append(b)

    def show_current(self) -> None:
        m = self.model
        path = m.current_path()
        for b in (self.back_button, self.skip_button, self.exclude_button, *self.class_buttons):
            b.setEnabled(m.ready and path is not None)
        if path is None:
            self.image.setPixmap(QPixmap())
            self.image.setText("Every file has a label. Train on your labels, or close." if m.is_open else "")
            self.views.setCurrentWidget(self.image)
            self.file_line.setText("")
            self.suggestion.setText("")
            return
        if os.path.splitext(path)[1].lower() in TEXT_EXTS:
            self.text.setPlainText(read_snippet(path, 6000))
            self.views.setCurrentWidget(self.text)
        else:
            self.views.setCurrentWidget(self.image)
            near = m.queue[max(0, m.index - 2):m.index + 3]  # the next ones decode while this one is looked at
            self.thumbnails.keep_only(near)
            if (path, self.view_size) not in self.thumbnails.cache:
                self.image.setText("Loading…")
            for p in [path] + [q for q in near if q != path and os.path.splitext(q)[1].lower() not in TEXT_EXTS]:
                self.thumbnails.request(p, self.view_size)
        label, reason = m.label_of(path), m.reason_of(path)
        now = ("unlabeled" if label is None else f"excluded ({reason})" if label == EXCLUDED else f"labeled {label}")
        rel = os.path.relpath(path, m.root) if m.root else path
        self.file_line.setText(f"{rel} · {now} · {m.position_text()}")
        s = m.suggestion(path)
        for b in self.class_buttons:  # the model's guess stands out among the buttons
            f = b.font()
            f.setBold(s is not None and b.property("label") == s.label)
            b.setFont(f)
        if s is not None:
            key = m.classes.index(s.label) + 1 if s.label in m.classes[:MAX_KEYS] else None
            press = f" (press {key})" if key else ""
            sure = fmt.percent(s.confidence, 0)
            self.suggestion.setText(f"The model says <b>{escape(s.label)}</b>{press}, {sure} sure.")
        elif m.model_run:
            self.suggestion.setText("The model has no guess for this file.")
        else:
            self.suggestion.setText("No suggestions yet: they appear once a model is trained on your labels.")
        self.undo_button.setEnabled(bool(m.undo_stack))

    def _show_order(self) -> None:
        self.order.blockSignals(True)
        self.order.setCurrentIndex(max(0, self.order.findData(self.model.order)))
        self.order.blockSignals(False)
        self.order_hint.setText(self.model.order_note())

    def set_busy(self, busy: bool) -> None:
        """While the engine ranks the files with the new model."""
        self.order_hint.setText("The model is looking at the unlabeled files…" if busy else self.model.order_note())

    def show_ranking(self, done: int, total: int) -> None:
        if total:
            self.order_hint.setText(f"The model is looking at the unlabeled files… {done:,} of {total:,}")

    def set_curve(self, points: list[tuple[int, float]]) -> None:
        self.chart.set_points(points)
        self.chart_note.setText(curve_note(points))

    def _on_image(self, path: str, size: int, pix: QPixmap) -> None:
        if path != self.model.current_path() or size != self.view_size:
            return
        if pix.isNull():
            self.image.setText("This file cannot be shown (it may be damaged). Press X to exclude it.")
        else:
            self.image.setPixmap(pix)

    # ---------------------------------------------------------------- actions
    def edit_classes(self) -> None:
        self.editing = True
        self.class_names.setText(", ".join(self.model.classes))
        self.start_button.setText("Apply")
        self.refresh()
        self.class_names.setFocus()

    def _give_classes(self) -> None:
        names = [n for n in self.class_names.text().replace(";", ",").split(",")]
        renames = [r for r in self.model.renames(names) if r[2]]
        if renames and not self.confirm_renames(renames):
            return
        try:
            self.model.set_classes(names)
        except ValueError as exc:
            QMessageBox.warning(self, "Name the classes", str(exc))
            return
        self.editing = False
        self.start_button.setText("Start labeling")
        self.refresh()
        self.setFocus()

    def confirm_renames(self, renames: list[tuple[str, str, int]]) -> bool:
        """Whether to rename used classes (tests replace this)."""
        lines = "\n".join(f"{old} → {new}: {n} file{'s' if n != 1 else ''} will be labeled {new}"
                           for old, new, n in renames)
        answer = QMessageBox.question(self, "Rename classes", f"{lines}\n\nThe files and folders stay as they are; "
                                      "the labels file records each change.")
        return answer == QMessageBox.StandardButton.Yes

    def ask_reason(self) -> str | None:
        """Why the file is left out (tests replace this)."""
        reason, ok = QInputDialog.getItem(self, "Exclude this file", "Why is it left out of training?",
                                          list(EXCLUDE_REASONS), 0, True)
        return reason.strip() if ok and reason.strip() else None

    def exclude(self) -> None:
        if not self.model.ready or self.model.current_path() is None:
            return
        reason = self.ask_reason()
        if reason:
            self.model.exclude_current(reason)
