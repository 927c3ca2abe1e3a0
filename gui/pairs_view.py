"""Near-identical images side by side, so a person can judge each pair the scan found.

Why: a list of two paths says nothing; the pair's two thumbnails show at once whether it
is one picture saved twice (delete one) or two real examples that merely look alike.
"""
from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

MAX_PAIRS = 12


class PairsView(QWidget):
    """Rows of (thumbnail, thumbnail, names) for consecutive paths taken two by two."""

    def __init__(self, paths, thumbnails, previews: dict | None = None, size: int = 64, parent=None):
        super().__init__(parent)
        self.size = size
        self.cells: dict[str, list[QLabel]] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        pairs = [tuple(paths[i:i + 2]) for i in range(0, len(paths) - 1, 2)][:MAX_PAIRS]
        for row, pair in enumerate(pairs):
            for col, path in enumerate(pair):
                cell = QLabel("…")
                cell.setFixedSize(size, size)
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setToolTip(path)
                grid.addWidget(cell, row, col)
                self.cells.setdefault(path, []).append(cell)
                png = (previews or {}).get(path)
                if png is not None:
                    self._set_png(cell, png)
                elif thumbnails is not None:
                    thumbnails.request(path, size)  # DICOM: the loader's fallback has the engine draw it
                else:
                    cell.setText(os.path.basename(path))
            names = QLabel(" ↔ ".join(os.path.basename(p) for p in pair))
            names.setToolTip("\n".join(pair))
            grid.addWidget(names, row, 2)
        grid.setColumnStretch(2, 1)
        if thumbnails is not None:
            thumbnails.loaded.connect(self._on_thumbnail)

    def _set_png(self, cell: QLabel, png: bytes) -> None:
        from PySide6.QtGui import QPixmap

        pix = QPixmap()
        if pix.loadFromData(png, "PNG"):
            cell.setPixmap(pix.scaled(self.size, self.size, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))

    def _on_thumbnail(self, path: str, size: int, pix) -> None:
        try:
            cells = self.cells.get(path, [])
            for cell in cells:
                if pix.isNull():
                    cell.setText("unreadable")
                else:
                    cell.setPixmap(pix)
        except RuntimeError:  # this view was deleted by a refresh; the loader outlives it
            pass
