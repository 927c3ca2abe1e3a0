"""The model library in its own window, opened from the Model step ("Manage weights…", a
row's "Import…") or File → Model library.

A separate, non-modal window rather than a seventh step: managing weights is not part
of the Data → Save workflow, and an import (up to a minute) can run while the person
goes on looking at their data.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout

from .library_page import LibraryPage


class LibraryDialog(QDialog):
    def __init__(self, requests, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Model library — Transfer Studio")
        self.setModal(False)
        self.page = LibraryPage(requests, self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.page, 1)
        lay.addWidget(buttons)
        screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
        room = screen.availableGeometry() if screen is not None else None
        fm = self.fontMetrics()
        width, height = fm.averageCharWidth() * 180, fm.height() * 40  # the table's six columns, unscrolled
        if room is not None:
            width, height = min(width, int(room.width() * 0.9)), min(height, int(room.height() * 0.85))
        self.resize(width, height)

    def open_for(self, backbone: str | None = None, choose_file: bool = False) -> None:
        """Show the library (listing it afresh); with `backbone`, the next import is for it,
        and `choose_file` opens the file chooser at once."""
        self.page.preselect(backbone)
        self.show()
        self.raise_()
        self.activateWindow()
        if not self.page.listing():
            self.page.refresh()
        if choose_file and not self.page.busy():
            QTimer.singleShot(0, self.page.import_file)
