"""The Data page's reading choices: how images are grouped for the split, and the DICOM window.

Why: a folder of clinical images holds several images per patient; the person says
which images belong together (or lets DICOM's PatientID say it), sees the groups the
scan found, and for DICOM picks the window the model will see, watching the examples
change as they pick (the engine redraws them; gui/data_options.py).
"""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)

from engine.config import ConfigError, RunConfig
from engine.dicom_windows import WINDOW_TITLES

from .data_model import GROUP_CHOICES, DataModel
from .widgets import heading, hint

PATTERN_HINT = r"(?P<group>patient_\d+)"


class DataOptionsBox(QWidget):
    def __init__(self, model: DataModel, parent=None):
        super().__init__(parent)
        self.model = model
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(heading("Groups", 1.1))
        row = QHBoxLayout()
        row.addWidget(QLabel("Group images by:"))
        self.group_combo = QComboBox()
        for key, title in GROUP_CHOICES.items():
            self.group_combo.addItem(title, key)
        self.group_combo.setToolTip("Images of one group (one patient, one object) always stay on one side of the "
                                    "train/validation/test split, so no score is measured on a patient the model "
                                    "has seen.")
        self.group_combo.activated.connect(self._on_group_choice)
        row.addWidget(self.group_combo, 1)
        lay.addLayout(row)
        self.pattern_edit = QLineEdit()
        self.pattern_edit.setPlaceholderText(f"a regular expression with a named group, e.g. {PATTERN_HINT}")
        self.pattern_edit.setToolTip("Searched in each file's path under the data folder; the part matched by "
                                     "(?P<group>...) names the group. Press Enter to apply.")
        self.pattern_edit.returnPressed.connect(self._apply_pattern)
        self.csv_button = QPushButton("Choose CSV…")
        self.csv_button.setToolTip("A CSV file with rows path,group (paths relative to the data folder)")
        self.csv_button.clicked.connect(self._choose_csv)
        extra = QHBoxLayout()
        extra.addWidget(self.pattern_edit, 1)
        extra.addWidget(self.csv_button)
        lay.addLayout(extra)
        self.groups_label = hint("")
        lay.addWidget(self.groups_label)
        self.preview_label = hint("")
        lay.addWidget(self.preview_label)
        self.window_row = QWidget()
        wrow = QHBoxLayout(self.window_row)
        wrow.setContentsMargins(0, 4, 0, 0)
        wrow.addWidget(QLabel("DICOM window:"))
        self.window_combo = QComboBox()
        for key, title in WINDOW_TITLES.items():
            self.window_combo.addItem(title, key)
        self.window_combo.setToolTip("How DICOM values become the grey levels the model sees: the file's own "
                                     "window, the full range, or a CT preset (CT files only). The examples below "
                                     "show the choice; the saved model keeps it.")
        self.window_combo.activated.connect(lambda i: self.model.set_window(self.window_combo.itemData(i)))
        wrow.addWidget(self.window_combo, 1)
        lay.addWidget(self.window_row)
        self.window_note = hint("")
        lay.addWidget(self.window_note)
        self.model.events.window_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        m = self.model
        self.group_combo.setCurrentIndex(max(0, self.group_combo.findData(m.group_by)))
        self.pattern_edit.setVisible(m.group_by == "pattern")
        if m.group_pattern and self.pattern_edit.text() != m.group_pattern:
            self.pattern_edit.setText(m.group_pattern)
        self.csv_button.setVisible(m.group_by == "csv")
        self.csv_button.setText(f"CSV: {m.groups_file.rsplit('/', 1)[-1]}" if m.groups_file else "Choose CSV…")
        self.groups_label.setText(m.groups_text())
        preview = m.group_preview()
        title = "Largest groups: " if m.groups_named else "Copies kept together: "
        self.preview_label.setText(title + "; ".join(preview) if preview else "")
        self.preview_label.setVisible(bool(preview))
        self.window_row.setVisible(bool(m.dicom))
        self.window_combo.setCurrentIndex(max(0, self.window_combo.findData(m.window)))
        note = m.window_note()
        self.window_note.setText(note)
        self.window_note.setVisible(bool(note))

    def _on_group_choice(self, index: int) -> None:
        key = self.group_combo.itemData(index)
        if key == "pattern":
            self.pattern_edit.show()
            self.pattern_edit.setFocus()
            if self.pattern_edit.text().strip():
                self._apply_pattern()
            return
        if key == "csv":
            self._choose_csv()
            return
        self.model.set_grouping(key)

    def _apply_pattern(self) -> None:
        text = self.pattern_edit.text().strip()
        if not text:
            return
        try:  # the engine's own rule, before asking for a scan that would only refuse it
            RunConfig(data=["-"], group_by="pattern", group_pattern=text).validate()
        except ConfigError as exc:
            self.groups_label.setText(str(exc))
            return
        self.model.set_grouping("pattern", pattern=text)

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Groups file (path,group)", "", "CSV files (*.csv);;All files (*)")
        if path:
            self.model.set_grouping("csv", groups_file=path)
        else:
            self.refresh()  # back to the grouping in use
