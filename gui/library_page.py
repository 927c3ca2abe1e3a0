"""The model library page: what weights are installed, importing more, removing entries.

A standalone QWidget over the app's request tracker (`gui/requests.py`): it sends
ListLibrary / ImportWeights / RemoveFromLibrary / ListBackbones and shows the replies;
what is in flight is the tracker's busy state ("library.import"...), not a table here. It holds no library state of its own and imports
no torch; the engine does the checking and converting.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from engine import protocol

from . import format as fmt
from .widgets import LEVEL_COLORS, heading, hint

COLUMNS = ("Backbone", "Source", "Size", "Licence", "Imported", "Hashes")
FOUND_COLUMNS = ("Found in", "Backbone", "Size", "Path")
DETECT = "Detect from the file name"
LOADING = "Reading the model library… (on the first start the starter models are added, which takes a minute)"


def _size(n) -> str:
    return fmt.bytes_(n) or "–"


def _hashes(item: dict) -> str:
    if item.get("problem"):
        return "Damaged"
    return {True: "OK", False: "Damaged", None: "Not checked"}[item.get("hashes_ok")]


class LibraryPage(QWidget):
    """Lists library entries (id, source, size, licence, date, hash check) with Import and Remove."""

    libraryChanged = Signal()  # an import or removal finished: backbone lists may need a refresh
    importedBackbones = Signal(list)  # registry ids of the backbones an import just made usable

    def __init__(self, requests, parent=None):
        super().__init__(parent)
        self.requests = requests
        self.items: list[dict] = []
        self.found: list[dict] = []
        self._preselect: str | None = None  # backbone to pick once the list of backbones arrives
        self.status_level = "info"  # of the status line: info | success | error
        requests.busyChanged.connect(lambda name, _on: name.startswith("library.") and self._update_buttons())

        outer = QVBoxLayout(self)
        outer.addWidget(heading("Model library"))
        outer.addWidget(hint("Pretrained weights kept on this computer. Nothing is downloaded: import a weights file "
                             "(.safetensors, .pth, .pt, .bin), a Hugging Face model folder or a model pack you "
                             "brought in. Every file is checked and its sha256 recorded."))
        self.root_label = hint("")
        outer.addWidget(self.root_label)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.setAccessibleName("Installed models")
        outer.addWidget(self.table, 3)

        row = QHBoxLayout()
        row.addWidget(QLabel("Weights are for:"))
        self.backbone_combo = QComboBox()
        self.backbone_combo.addItem(DETECT, None)
        self.backbone_combo.setAccessibleName("Backbone the imported weights are for")
        row.addWidget(self.backbone_combo, 1)
        self.replace_box = QCheckBox("Replace an existing entry")
        row.addWidget(self.replace_box)
        outer.addLayout(row)

        buttons = QHBoxLayout()
        self.import_file_button = QPushButton("Import file…")
        self.import_folder_button = QPushButton("Import folder or pack…")
        self.verify_button = QPushButton("Check hashes")
        self.remove_button = QPushButton("Remove")
        self.refresh_button = QPushButton("Refresh")
        self.import_file_button.clicked.connect(lambda: self.import_file())
        self.import_folder_button.clicked.connect(self._import_folder_clicked)
        self.verify_button.clicked.connect(lambda: self.refresh(verify=True))
        self.remove_button.clicked.connect(self.remove_selected)
        self.refresh_button.clicked.connect(lambda: self.refresh())
        for b in (self.import_file_button, self.import_folder_button, self.verify_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        outer.addLayout(buttons)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.status)

        outer.addWidget(heading("Found on this computer", scale=1.1))
        self.found_hint = hint("")
        outer.addWidget(self.found_hint)
        self.found_table = QTableWidget(0, len(FOUND_COLUMNS))
        self.found_table.setHorizontalHeaderLabels(FOUND_COLUMNS)
        self.found_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.found_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.found_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.found_table.verticalHeader().setVisible(False)
        self.found_table.horizontalHeader().setStretchLastSection(True)
        self.found_table.itemSelectionChanged.connect(self._update_buttons)
        outer.addWidget(self.found_table, 1)
        self.import_found_button = QPushButton("Import selected")
        self.import_found_button.clicked.connect(self.import_selected_found)
        found_row = QHBoxLayout()
        found_row.addStretch(1)
        found_row.addWidget(self.import_found_button)
        outer.addLayout(found_row)
        self._update_buttons()

    # ------------------------------------------------------------------ requests
    def _send(self, msg: protocol.Message, kind: str):
        answer = lambda reply: self._on_reply(kind, reply)  # noqa: E731 - the same handler for both outcomes
        return self.requests.request(msg, answer, answer, busy=f"library.{kind}")

    def _asking(self, *kinds: str) -> bool:
        return any(self.requests.is_busy(f"library.{k}") for k in kinds)

    def refresh(self, verify: bool = False):
        """Ask for the entries (and cache candidates); `verify` re-hashes every file."""
        if not self.backbone_combo.count() > 1 and not self._asking("backbones"):
            self._send(protocol.ListBackbones(), "backbones")
        if verify:
            self._set_status("Checking the sha256 of every file…")
        elif not self.items and not self.status.text():  # keep "Imported …" said by an import
            self._set_status(LOADING)
        return self._send(protocol.ListLibrary(scan=True, verify=verify), "verify" if verify else "list")

    def preselect(self, backbone: str | None) -> None:
        """Make the next import be for `backbone` (now, or when the backbone list arrives)."""
        self._preselect = backbone
        idx = self.backbone_combo.findData(backbone) if backbone else 0
        if idx >= 0:
            self.backbone_combo.setCurrentIndex(idx)
            if backbone:
                self._preselect = None

    def import_path(self, path: str, backbone: str | None = None, replace: bool | None = None):
        """Ask the engine to import `path` (file, HF folder or model pack)."""
        if backbone is None:  # the list's choice, or the preselected one if the list has not arrived yet
            backbone = self._preselect or self.backbone_combo.currentData()
        replace = self.replace_box.isChecked() if replace is None else replace
        self._set_status(f"Importing {path} — checking every tensor, this can take a minute…")
        return self._send(protocol.ImportWeights(path=path, backbone=backbone, replace=replace), "import")

    def remove_selected(self):
        item = self.selected_item()
        if item is None or not self.confirm_remove(item["id"]):
            return None
        self._set_status(f"Removing {item['id']}…")
        return self._send(protocol.RemoveFromLibrary(id=item["id"]), "remove")

    def import_selected_found(self):
        rows = self.found_table.selectionModel().selectedRows()
        if not rows:
            return None
        cand = self.found[rows[0].row()]
        return self.import_path(cand["path"], cand.get("backbone") or self.backbone_combo.currentData())

    # ------------------------------------------------------------------ dialogs (tests replace these)
    def choose_file(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, "Import weights", "",
                                              "Weights (*.safetensors *.pth *.pt *.bin *.ckpt);;All files (*)")
        return path

    def choose_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Import a Hugging Face model folder or a model pack")

    def confirm_remove(self, entry_id: str) -> bool:
        answer = QMessageBox.question(self, "Remove from library",
                                      f"Delete {entry_id} and its files from the model library?")
        return answer == QMessageBox.StandardButton.Yes

    def import_file(self):
        """Ask for a weights file and import it for the backbone chosen in the list."""
        path = self.choose_file()
        return self.import_path(path) if path else None

    def _import_folder_clicked(self) -> None:
        path = self.choose_folder()
        if path:
            self.import_path(path)

    # ------------------------------------------------------------------ replies
    def _on_reply(self, kind: str, msg) -> None:
        if isinstance(msg, protocol.Error):
            self._set_status(msg.message or "The request failed.", "error")
        elif isinstance(msg, protocol.LibraryItems):
            self.show_items(msg.items, msg.found, msg.root)
            if self.status.text() == LOADING:
                self._set_status("")
            if kind == "remove":
                self._set_status("Removed.", "success")
                self.libraryChanged.emit()
            elif kind == "verify":
                bad = [i["id"] for i in msg.items if i.get("hashes_ok") is False or i.get("problem")]
                self._set_status(f"Damaged: {', '.join(bad)}." if bad else "Every file matches its sha256.",
                                 "error" if bad else "success")
        elif isinstance(msg, protocol.Imported):
            done = ", ".join(e["id"] for e in msg.entries) or "nothing"
            skipped = "; ".join(f"{s['id']}: {s['reason']}" for s in msg.skipped)
            names = [e.get("display_name") or e["id"] for e in msg.entries]
            usable = f" {', '.join(names)} can now be chosen in step 2, Model." if names else ""
            self._set_status(f"Imported {done}." + (f" Skipped {skipped}." if skipped else "") + usable, "success")
            self.importedBackbones.emit([e.get("backbone") or e["id"] for e in msg.entries])
            self.libraryChanged.emit()
            self.refresh()
        elif isinstance(msg, protocol.Backbones):
            self._fill_backbones(msg.items)
        self._update_buttons()

    def show_items(self, items: list[dict], found: list[dict] | None = None, root: str = "") -> None:
        selected = self.selected_item()
        self.items = list(items)
        self.found = [f for f in (found or []) if not f.get("in_library")]
        if root:
            self.root_label.setText(f"Library folder: {root}")
        self.table.setRowCount(len(self.items))
        for r, item in enumerate(self.items):
            name = item["id"] + (f" — {item['display_name']}" if item.get("display_name") else "")
            cells = (name, item.get("source", ""), _size(item.get("size_bytes")), item.get("license", ""),
                     item.get("imported_at", "")[:10], _hashes(item))
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if c == 5 and text == "Damaged":
                    cell.setToolTip(item.get("problem") or "")
                    cell.setForeground(Qt.GlobalColor.red)
                self.table.setItem(r, c, cell)
            if selected and item["id"] == selected["id"]:
                self.table.selectRow(r)
        self.found_hint.setText("Weights already in the torch hub or Hugging Face caches; import them to use them."
                                if self.found else "No other weights in the torch hub or Hugging Face caches.")
        self.found_table.setVisible(bool(self.found))
        self.import_found_button.setVisible(bool(self.found))
        self.found_table.setRowCount(len(self.found))
        for r, f in enumerate(self.found):
            cells = ("torch hub cache" if f["kind"] == "torch_hub_cache" else "Hugging Face cache",
                     f.get("backbone") or "unknown", _size(f.get("size_bytes")), f["path"])
            for c, text in enumerate(cells):
                self.found_table.setItem(r, c, QTableWidgetItem(text))
        self._update_buttons()

    def _fill_backbones(self, items: list[dict]) -> None:
        current = self.backbone_combo.currentData()
        self.backbone_combo.clear()
        self.backbone_combo.addItem(DETECT, None)
        for b in items:
            if not b.get("hidden"):
                self.backbone_combo.addItem(f"{b.get('display_name') or b['id']} ({b['id']})", b["id"])
        idx = self.backbone_combo.findData(self._preselect or current)
        self.backbone_combo.setCurrentIndex(max(idx, 0))
        if idx >= 0:
            self._preselect = None

    # ------------------------------------------------------------------ state
    def selected_item(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows()
        return self.items[rows[0].row()] if rows and rows[0].row() < len(self.items) else None

    def listing(self) -> bool:
        """A list of the entries has been asked for and not answered yet."""
        return self._asking("list", "verify")

    def busy(self) -> bool:
        return self._asking("import", "remove")

    def _update_buttons(self) -> None:
        busy = self.busy()
        item = self.selected_item()
        for b in (self.import_file_button, self.import_folder_button):
            b.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and item is not None and not item.get("builtin"))
        self.remove_button.setToolTip("Starter models come with the app and cannot be removed."
                                      if item is not None and item.get("builtin") else "")
        self.import_found_button.setEnabled(not busy and bool(self.found_table.selectionModel().selectedRows()))

    def _set_status(self, text: str, level: str = "info") -> None:
        self.status_level = level
        color = LEVEL_COLORS.get(level, "")
        self.status.setStyleSheet(f"color: {color};" if level in ("error", "success") else "")
        self.status.setText(text)
