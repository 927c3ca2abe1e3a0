"""Step 2, Model: pick a backbone (grouped by modality) and how much of it to freeze."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSlider,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from . import format as fmt
from .backbone_model import BackboneModel
from .widgets import StageBlocks, heading, hint

COLUMNS = ("Backbone", "Parameters", "Input", "Licence", "On this machine")
ID_ROLE = Qt.ItemDataRole.UserRole


class ModelPage(QWidget):
    backboneChosen = Signal(str)
    freezeChanged = Signal(object)  # the depth chosen, or None for Auto
    nextRequested = Signal()
    libraryRequested = Signal(str)  # "" = just open the model library; an id = import weights for it

    def __init__(self, model: BackboneModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.auto_size: int | None = None  # what Auto input size means for the data (the engine says)
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading("Starting model"), 1)
        self.library_button = QPushButton("&Manage weights…")
        self.library_button.setToolTip("Open the model library: see the pretrained weights on this computer "
                                       "and import files you brought in (Ctrl+L)")
        self.library_button.clicked.connect(lambda: self.libraryRequested.emit(""))
        top.addWidget(self.library_button)
        outer.addLayout(top)
        outer.addWidget(hint("A backbone is a network already trained on millions of examples. "
                             "Yours only has to teach it your classes."))
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAccessibleName("Backbones")
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, len(COLUMNS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.setToolTip("Greyed-out backbones cannot be used here; hover one to see why.")
        outer.addWidget(self.tree, 1)
        self.missing_hint = hint("")
        outer.addWidget(self.missing_hint)
        self.details = hint("")
        outer.addWidget(self.details)

        outer.addWidget(heading("What learns", 1.1))
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setPageStep(1)
        self.slider.setAccessibleName("Frozen stages")
        self.slider.setToolTip("Drag right to freeze more of the backbone (faster, needs fewer examples); "
                               "left to let more of it learn.")
        self.slider.valueChanged.connect(self._on_slider)
        row.addWidget(QLabel("All layers learn"))
        row.addWidget(self.slider, 1)
        row.addWidget(QLabel("Only the head learns"))
        self.auto_button = QPushButton("&Auto")
        self.auto_button.setCheckable(True)
        self.auto_button.setToolTip("Let the engine's recipe choose the depth from your data and this backbone "
                                    "(it says why below); drag the slider to choose it yourself")
        self.auto_button.clicked.connect(self._on_auto)
        row.addWidget(self.auto_button)
        outer.addLayout(row)
        self.blocks = StageBlocks()
        self.blocks.setToolTip("The backbone from input (left) to output (right). Grey blocks keep their "
                               "pretrained weights; blue blocks and the green head learn from your data.")
        outer.addWidget(self.blocks)
        self.freeze_summary = QLabel()
        self.freeze_summary.setWordWrap(True)
        outer.addWidget(self.freeze_summary)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        outer.addWidget(self.explanation)

        bottom = QHBoxLayout()
        bottom.addStretch(1)
        self.next_button = QPushButton("Next: training settings  →")
        self.next_button.setToolTip("Go to step 3 (Ctrl+3)")
        self.next_button.clicked.connect(self.nextRequested)
        bottom.addWidget(self.next_button)
        outer.addLayout(bottom)
        model.events.listed.connect(self.refresh)
        model.events.freeze.connect(self.refresh_freeze)
        self.refresh()

    # ---------------------------------------------------------------- backbones
    def refresh(self) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        self.import_links: dict[str, QLabel] = {}
        current = None
        for title, choices in self.model.groups():
            group = QTreeWidgetItem([title])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            f = group.font(0)
            f.setBold(True)
            group.setFont(0, f)
            self.tree.addTopLevelItem(group)
            for c in choices:
                other_kind = self.model.data_modality and c.modality != self.model.data_modality
                missing = not c.weights_available and not other_kind
                status = "ready" if c.enabled else ("" if missing else f"for {c.modality} data")
                item = QTreeWidgetItem([c.name, fmt.count(c.params), c.input_size, c.license, status])
                item.setData(0, ID_ROLE, c.id)
                tip = c.description or c.name
                if not c.enabled:
                    item.setFlags(Qt.ItemFlag.NoItemFlags)
                    tip = f"{c.reason}\n\n{tip}"
                for col in range(len(COLUMNS)):
                    item.setToolTip(col, tip)
                group.addChild(item)
                if missing:
                    self.tree.setItemWidget(item, len(COLUMNS) - 1, self._import_link(c.id, tip))
                if c.id == self.model.selected:
                    current = item
            group.setExpanded(True)
        if current is not None:
            self.tree.setCurrentItem(current)
        self.tree.blockSignals(False)
        self.missing_hint.setText(
            "Greyed-out models with “weights missing” need their pretrained weights file: click Import… in "
            "the row and choose the file you brought in. Nothing is downloaded." if self.import_links else "")
        self.missing_hint.setVisible(bool(self.import_links))
        self._show_details()
        self.refresh_freeze()

    def _import_link(self, backbone: str, tip: str) -> QLabel:
        """'weights missing · Import…' for a row whose weights are not on this computer."""
        dim = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        link = QLabel(f'<span style="color:{dim}">weights missing</span> · <a href="{backbone}">Import…</a>')
        link.setTextFormat(Qt.TextFormat.RichText)
        link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        link.setContentsMargins(3, 0, 0, 0)
        link.setToolTip(tip)
        link.setAccessibleName(f"Import weights for {backbone}")
        link.linkActivated.connect(self.libraryRequested.emit)
        self.import_links[backbone] = link
        return link

    def _on_current(self, item, _previous) -> None:
        backbone = item.data(0, ID_ROLE) if item is not None else None
        if backbone and self.model.select(backbone):  # the model's freeze event redraws the stages
            self._show_details()
            self.backboneChosen.emit(backbone)

    def select(self, backbone: str) -> bool:
        """Select by id (keyboard users and tests); False if disabled or unknown."""
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                item = group.child(j)
                if item.data(0, ID_ROLE) == backbone and item.flags() & Qt.ItemFlag.ItemIsEnabled:
                    self.tree.setCurrentItem(item)
                    return self.model.selected == backbone
        return False

    def _show_details(self) -> None:
        c = self.model.choice(self.model.selected)
        if c is None:
            self.details.setText("No backbone fits this data yet." if self.model.specs else
                                 "Waiting for the engine to list the backbones on this machine…")
            return
        auto = f" (auto: {self.auto_size} px for your images)" if self.auto_size and \
            f"{self.auto_size} px" != c.input_size else ""
        self.details.setText(f"<b>{c.name}</b> · {fmt.count(c.params)} parameters · input {c.input_size}{auto} · "
                             f"licence {c.license}<br>{c.description}")

    def set_auto_input_size(self, size: int | None) -> None:
        if size != self.auto_size:
            self.auto_size = size
            self._show_details()

    # ---------------------------------------------------------------- freezing
    def refresh_freeze(self) -> None:
        m = self.model
        has = bool(m.stages) and m.info_for == m.selected
        self.slider.setEnabled(has)
        self.auto_button.setEnabled(has)
        self.auto_button.setChecked(m.freeze is None)
        self.next_button.setEnabled(m.ready)
        if not has:
            self.blocks.set_blocks([])
            self.freeze_summary.setText("Reading the backbone's layers…" if m.selected else "")
            self.explanation.setText("")
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, m.levels)
        self.slider.setValue(m.shown_freeze)
        self.slider.blockSignals(False)
        self.blocks.set_blocks(m.blocks())
        if m.freeze is None:
            why = f" {m.auto_reason[0].upper()}{m.auto_reason[1:]}." if m.auto_reason else ""
            how = f"Auto:{why}" if m.auto_freeze is not None else "Auto (asking the engine…)"
        else:
            how = "your choice" + (f"; Auto would freeze {m.auto_freeze}" if m.auto_freeze is not None
                                   and m.auto_freeze != m.freeze else "")
        self.freeze_summary.setText(f"<b>{m.shown_freeze} of {m.levels} stages frozen</b> ({how}) {m.summary()}")
        self.explanation.setText(m.explanation())

    def _on_slider(self, value: int) -> None:
        self.model.set_freeze(value)
        self.freezeChanged.emit(self.model.freeze)

    def _on_auto(self) -> None:
        self.model.set_freeze(None)
        self.freezeChanged.emit(None)
