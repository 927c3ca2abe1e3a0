"""Thumbnails decoded off the UI thread: QImageReader with a scaled size, in QThreadPool.

QImageReader.setScaledSize lets JPEG decode at reduced size, so a gallery of camera
photos stays cheap; results come back as QImage (thread-safe) through a queued signal.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap


class _Relay(QObject):
    done = Signal(str, int, QImage)


class _Job(QRunnable):
    def __init__(self, relay: _Relay, path: str, size: int):
        super().__init__()
        self.relay, self.path, self.size = relay, path, size

    def run(self):
        reader = QImageReader(self.path)
        reader.setAutoTransform(True)
        src = reader.size()
        if src.isValid() and src.width() > 0 and src.height() > 0:
            scale = min(self.size / src.width(), self.size / src.height())  # small images grow to be seen
            reader.setScaledSize(QSize(max(1, round(src.width() * scale)), max(1, round(src.height() * scale))))
        image = reader.read()  # null QImage when unreadable
        self.relay.done.emit(self.path, self.size, image)


def _qt_reads(path: str) -> bool:
    """Whether the file's extension is one of Qt's image formats (DICOM has .dcm or none)."""
    global _QT_FORMATS
    if _QT_FORMATS is None:
        _QT_FORMATS = {bytes(f).decode("ascii", "replace").lower() for f in QImageReader.supportedImageFormats()}
    return os.path.splitext(path)[1].lower().lstrip(".") in _QT_FORMATS


_QT_FORMATS: set[str] | None = None


def _from_png(png: bytes | None, size: int) -> QImage:
    """A drawn PNG fitted to `size` like the reader's own images (small ones grow to be seen)."""
    image = QImage()
    if png and image.loadFromData(png, "PNG"):
        image = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return image


class ThumbnailLoader(QObject):
    """`request(path, size)`; `loaded(path, size, QPixmap)` arrives later (null pixmap if unreadable)."""

    loaded = Signal(str, int, QPixmap)

    def __init__(self, parent=None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self.cache: dict[tuple[str, int], QPixmap] = {}
        self.pending: set[tuple[str, int]] = set()
        # fallback(path, size, done(png bytes | None)): draws what Qt cannot read (DICOM: the engine does)
        self.fallback = None
        self.keep: set[str] | None = None  # keep_only's paths (None: keep everything)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)

    def request(self, path: str, size: int) -> None:
        key = (path, size)
        if key in self.cache:
            self.loaded.emit(path, size, self.cache[key])
            return
        if key in self.pending:
            return
        self.pending.add(key)
        if self.fallback is not None and not _qt_reads(path):  # a DICOM file: straight to the fallback
            self._on_done(path, size, QImage())
            return
        self.pool.start(_Job(self._relay, path, size))

    def _on_done(self, path: str, size: int, image: QImage, asked: bool = False) -> None:
        if image.isNull() and self.fallback is not None and not asked:
            self.fallback(path, size, lambda png: self._on_done(path, size, _from_png(png, size), asked=True))
            return  # still pending until the fallback answers
        self.pending.discard((path, size))
        pix = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        if self.keep is None or path in self.keep:
            self.cache[(path, size)] = pix
        self.loaded.emit(path, size, pix)

    def keep_only(self, paths) -> None:
        """Forget every decoded image but these paths' (the Label mode's big images: one a file, thousands
        a session, about 1 MB each at 480 px)."""
        self.keep = set(paths)  # images still decoding for other paths are shown if asked, not kept
        self.cache = {k: v for k, v in self.cache.items() if k[0] in self.keep}

    @property
    def idle(self) -> bool:
        return not self.pending
