"""Drawing explanations: the engine's heat map over its view of the image, at the chosen opacity,
and the shared "Show what the model looked at" bar (toggle + opacity) both pages put above their files."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

from .explain_model import Explanations

_IMAGES: dict[str, QImage] = {}  # the engine's PNGs, read once (they never change: cached per key)


def _image(path: str) -> QImage:
    if path not in _IMAGES:
        if len(_IMAGES) > 400:
            _IMAGES.clear()
        _IMAGES[path] = QImage(path)
    return _IMAGES[path]


def blended(item: dict, opacity: float, size: int) -> QPixmap:
    """The map (item["heat"]) over the model's view (item["base"]), scaled to fit `size`; null when
    the item is not an image explanation or its files are gone."""
    if not item or not item.get("base") or not item.get("heat"):
        return QPixmap()
    base, heat = _image(item["base"]), _image(item["heat"])
    if base.isNull() or heat.isNull():
        return QPixmap()
    canvas = base.convertToFormat(QImage.Format.Format_ARGB32)
    painter = QPainter(canvas)
    painter.setOpacity(float(opacity))
    painter.drawImage(canvas.rect(), heat)
    painter.end()
    return QPixmap.fromImage(canvas.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))


class OverlayBar(QWidget):
    """The toggle and the opacity slider; it shows the model's settings and says what the user wants."""
    showToggled = Signal(bool)
    opacityChanged = Signal(float)

    def __init__(self, model: Explanations, text: str, parent=None):
        super().__init__(parent)
        self.model = model
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.toggle = QCheckBox(text)
        self.toggle.setToolTip("Colour the parts of each image the model relied on for its answer (Grad-CAM), "
                               "or the words of a text (integrated gradients). Computed by the engine.")
        self.toggle.toggled.connect(self.showToggled)
        lay.addWidget(self.toggle)
        self.label = QLabel("Opacity")
        lay.addWidget(self.label)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setMaximumWidth(self.fontMetrics().horizontalAdvance("x" * 18))
        self.slider.setAccessibleName("Map opacity")
        self.slider.valueChanged.connect(lambda v: self.opacityChanged.emit(v / 100.0))
        lay.addWidget(self.slider)
        lay.addStretch(1)
        model.events.settings.connect(self.refresh)
        self.refresh()

    def set_text_mode(self, on: bool) -> None:
        self.label.setVisible(not on)
        self.slider.setVisible(not on)

    def refresh(self) -> None:
        for w, value in ((self.toggle, self.model.show), (self.slider, round(100 * self.model.opacity))):
            w.blockSignals(True)
            w.setChecked(value) if w is self.toggle else w.setValue(value)
            w.blockSignals(False)
        self.slider.setEnabled(self.model.show)
