"""Small reusable widgets: message bar, bar chart, stage blocks, drop zone, collapsible box.

All sizes derive from the font so they stay readable on a 4K screen; all colours derive
from the palette so the system's light or dark scheme is respected.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

from . import format as fmt

LEVEL_COLORS = {"error": "#c62828", "warning": "#b26a00", "info": "#1565c0", "success": "#2e7d32"}
ACCENT = QColor("#2979ff")


def heading(text: str, scale: float = 1.35, bold: bool = True) -> QLabel:
    label = QLabel(text)
    f = label.font()
    f.setPointSizeF(f.pointSizeF() * scale)
    f.setBold(bold)
    label.setFont(f)
    label.setWordWrap(True)
    return label


def hint(text: str) -> QLabel:
    """Secondary explanatory text (dimmed, wrapping)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Window).lightness() < 128


class MessageBar(QFrame):
    """A coloured strip at the top of the window: one sentence, optional action, dismiss."""

    actionTriggered = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.clicked.connect(self.actionTriggered)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss this message")
        self.close_button.setAccessibleName("Dismiss message")
        self.close_button.clicked.connect(self.hide)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.action)
        lay.addWidget(self.close_button)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error", action: str | None = None) -> None:
        self.level = level
        color = QColor(LEVEL_COLORS.get(level, LEVEL_COLORS["info"]))
        bg = QColor(color)
        bg.setAlpha(40)
        self.setStyleSheet(f"#messageBar {{ background: rgba({bg.red()},{bg.green()},{bg.blue()},{bg.alpha()});"
                           f" border: 1px solid {color.name()}; border-radius: 4px; }}")
        self.label.setText(text)
        self.action.setVisible(bool(action))
        if action:
            self.action.setText(action)
        self.show()


class BarChart(QWidget):
    """Horizontal bars, one per class, with the count written at the bar's end."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[tuple[str, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Examples per class. Very uneven bars mean the model sees some classes far more often.")

    def set_items(self, items: list[tuple[str, int]]) -> None:
        self.items = list(items)
        self.updateGeometry()
        self.update()

    def _row(self) -> int:
        return int(self.fontMetrics().height() * 1.6)

    def sizeHint(self):
        from PySide6.QtCore import QSize
        return QSize(300, max(1, len(self.items)) * self._row() + 4)

    def minimumSizeHint(self):
        return self.sizeHint().__class__(120, self.sizeHint().height())

    def paintEvent(self, event):
        if not self.items:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = self.fontMetrics()
        row = self._row()
        label_w = min(max(fm.horizontalAdvance(n) for n, _ in self.items) + 16, self.width() // 3)
        num_w = fm.horizontalAdvance("000000") + 8
        bar_w = max(10, self.width() - label_w - num_w)
        top = max(c for _, c in self.items) or 1
        text = self.palette().color(QPalette.ColorRole.WindowText)
        for i, (name, n) in enumerate(self.items):
            y = i * row
            p.setPen(text)
            elided = fm.elidedText(name, Qt.TextElideMode.ElideRight, label_w - 8)  # slack: shaping ≠ advance
            p.drawText(QRectF(0, y, label_w - 8, row), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, elided)
            w = bar_w * n / top
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(ACCENT)
            p.drawRoundedRect(QRectF(label_w, y + row * 0.2, max(2.0, w), row * 0.6), 3, 3)
            p.setPen(text)
            p.drawText(QRectF(label_w + w + 6, y, num_w, row), Qt.AlignmentFlag.AlignVCenter, str(n))
        p.end()


class StageBlocks(QWidget):
    """The backbone drawn as blocks input→output; frozen ones grey with a lock."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.blocks = []  # backbone_model.StageBlock
        self.setMinimumHeight(int(self.fontMetrics().height() * 3.6))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_blocks(self, blocks) -> None:
        self.blocks = list(blocks)
        names = ", ".join(f"{b.name} ({'frozen' if b.frozen else 'learns'})" for b in self.blocks)
        self.setAccessibleDescription(names)
        self.update()

    def sizeHint(self):
        from PySide6.QtCore import QSize
        return QSize(400, self.minimumHeight())

    def paintEvent(self, event):
        if not self.blocks:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        gap = 4
        n = len(self.blocks)
        w = (self.width() - gap * (n - 1)) / n
        h = self.height() - 2
        fm = self.fontMetrics()
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        dark = is_dark(self)
        for i, b in enumerate(self.blocks):
            r = QRectF(i * (w + gap), 1, w, h)
            if b.frozen:
                fill, fg = QColor("#5f6368" if dark else "#cfd3d8"), QColor("#e8eaed" if dark else "#3c4043")
            elif b.is_head:
                fill, fg = QColor("#2e7d32"), QColor("white")
            else:
                fill, fg = ACCENT, QColor("white")
            p.setPen(QPen(fill.darker(130), 1))
            p.setBrush(fill)
            p.drawRoundedRect(r, 5, 5)
            p.setPen(fg)
            title = b.name
            p.setFont(self.font())
            p.drawText(r.adjusted(3, 2, -3, -h / 2), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                       fm.elidedText(title, Qt.TextElideMode.ElideRight, int(w - 6)))
            p.setFont(small)
            state = "frozen" if b.frozen else ("new head" if b.is_head else "learns")
            p.drawText(r.adjusted(3, h / 2, -3, -2), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                       fm.elidedText(f"{fmt.count(b.params)} · {state}", Qt.TextElideMode.ElideRight, int(w - 6)))
        p.end()


class DropZone(QFrame):
    """A dashed box saying what can be dropped; the drop itself is handled by the window."""

    def __init__(self, text: str, parent=None):
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setStyleSheet("#dropZone { border: 2px dashed palette(mid); border-radius: 10px; }")
        lay = QVBoxLayout(self)
        self.label = QLabel(text)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        f = self.label.font()
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.label.setFont(f)
        lay.addWidget(self.label)
        self.setMinimumHeight(self.fontMetrics().height() * 5)


class Collapsible(QWidget):
    """A header button that shows or hides one content widget (keyboard-accessible)."""

    def __init__(self, title: str, content: QWidget, expanded: bool = False, parent=None):
        super().__init__(parent)
        self.content = content
        self.button = QToolButton()
        self.button.setText(title)
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.button.toggled.connect(self.set_expanded)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.button)
        lay.addWidget(content)
        self.set_expanded(expanded)

    def set_expanded(self, on: bool) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(on)
        self.button.blockSignals(False)
        self.button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.content.setVisible(on)

    @property
    def expanded(self) -> bool:
        return self.button.isChecked()
