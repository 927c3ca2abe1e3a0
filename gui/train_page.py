"""Step 3, Train: settings (Auto by default), Start/Cancel, live plots, progress, log."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QHBoxLayout, QLabel,
                               QPlainTextEdit, QProgressBar, QPushButton, QScrollArea, QSpinBox, QVBoxLayout,
                               QWidget)

from engine.recipe.render import estimate_text

from . import format as fmt
from .train_model import RunState, TrainSettings
from .widgets import Collapsible, heading, hint

ALL_GPUS = "all-gpus"  # the device list's "Use all N GPUs": device "cuda", gpus N
LR_CHOICES = ("Auto", "1e-4", "3e-4", "1e-3", "3e-3", "1e-2")
AUGMENT = (("none", "None"), ("light", "Light (flips, small crops)"), ("standard", "Standard (+ colour, rotation)"))
BUDGET = (("quick", "Quick (about half the training)"), ("standard", "Standard"),
          ("thorough", "Thorough (no time cap on a CPU)"))


def _auto_spin(maximum: int, tip: str) -> QSpinBox:
    s = QSpinBox()
    s.setRange(0, maximum)
    s.setSpecialValueText("Auto")
    s.setToolTip(tip)
    return s


class TrainPage(QWidget):
    startRequested = Signal()
    cancelRequested = Signal()
    settingsChanged = Signal()  # any field of the form: the window asks the engine what Auto makes of it
    resultsRequested = Signal()
    lrFindRequested = Signal()  # "Find…" beside the learning rate: the range test on these settings
    resumeRequested = Signal()  # a stopped run (this session's, or one opened from the Runs view)

    def __init__(self, run: RunState, parent=None):
        super().__init__(parent)
        self.run = run
        self.plots = None
        self.text_mode = False  # set by the window from the data: augmentation and input size are image-only
        outer = QHBoxLayout(self)

        # ------------------------------------------------ left: the form
        form_host = QWidget()
        left = QVBoxLayout(form_host)
        left.addWidget(heading("Training"))
        left.addWidget(hint("Auto picks values from your data and the chosen model; change them only if "
                            "you have a reason."))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.epochs = _auto_spin(1000, "How many times the model sees every training example. Auto: a few "
                                 "hundred steps, kept near a plain fine-tune's time on a CPU; early "
                                 "stopping may end sooner.")
        form.addRow("&Epochs", self.epochs)
        self.budget = QComboBox()
        for key, text in BUDGET:
            self.budget.addItem(text, key)
        self.budget.setToolTip("How long Auto lets the run train. Standard keeps a CPU run near a plain fine-tune's "
                               "time; Quick halves it; Thorough trains the full schedule (early stopping may end "
                               "it sooner). The estimate below Start is measured on this machine.")
        form.addRow("Time &budget", self.budget)
        self.lr = QComboBox()
        self.lr.setEditable(True)
        self.lr.addItems(LR_CHOICES)
        self.lr.setToolTip("Step size of learning. Too high: loss jumps around; too low: it barely moves.")
        lr_row = QHBoxLayout()
        lr_row.addWidget(self.lr, 1)
        self.lr_find_button = QPushButton("&Find…")
        self.lr_find_button.setToolTip("Try a range of learning rates on your data for a few dozen steps and "
                                       "suggest one (nothing is saved)")
        self.lr_find_button.clicked.connect(self.lrFindRequested)
        lr_row.addWidget(self.lr_find_button)
        lr_label = QLabel("&Learning rate")
        lr_label.setBuddy(self.lr)  # a row holding a layout gets no buddy of its own
        form.addRow(lr_label, lr_row)
        self.batch = _auto_spin(4096, "Examples per step. Smaller uses less memory.")
        form.addRow("&Batch size", self.batch)
        self.augment = QComboBox()
        for key, text in AUGMENT:
            self.augment.addItem(text, key)
        self.augment.setToolTip("Random changes to training images so the model does not memorise them.")
        form.addRow("&Augmentation", self.augment)
        self.early = QCheckBox("Stop when validation stops improving")
        self.early.setToolTip("Saves time and avoids over-fitting; the best epoch is kept.")
        self.patience = QSpinBox()
        self.patience.setRange(1, 100)
        self.patience.setSuffix(" epochs")
        self.patience.setToolTip("How many epochs without improvement before stopping. A run never stops before "
                                 "its learning rate has fallen to half its peak: until then validation "
                                 "scores swing from epoch to epoch.")
        self.early.toggled.connect(self.patience.setEnabled)
        form.addRow(self.early)
        form.addRow("   after", self.patience)
        self.device = QComboBox()
        self._gpu_count = 0
        self.device.setToolTip("Where the computation runs. Auto picks the GPU when there is one.")
        form.addRow("&Device", self.device)
        left.addLayout(form)

        adv = QWidget()
        af = QFormLayout(adv)
        af.setContentsMargins(0, 0, 0, 0)
        self.weight_decay = QDoubleSpinBox(decimals=4, maximum=1.0, singleStep=0.01)
        self.weight_decay.setToolTip("Pulls weights towards zero; a mild guard against over-fitting.")
        af.addRow("Weight decay", self.weight_decay)
        self.smoothing = QDoubleSpinBox(decimals=2, maximum=0.5, singleStep=0.05)
        self.smoothing.setToolTip("Makes the model less over-confident; 0.1 is a common choice.")
        af.addRow("Label smoothing", self.smoothing)
        self.class_weighted = QComboBox()
        for text, value in (("Auto", None), ("Weighted", True), ("Not weighted", False)):
            self.class_weighted.addItem(text, value)
        self.class_weighted.setToolTip("Weighted: each class counts by the inverse of its frequency, so a rare class "
                                       "is not ignored. Auto weights them when the largest class has 3 times the "
                                       "smallest's examples, and then also picks the model on balanced accuracy.")
        af.addRow("Rare classes", self.class_weighted)
        self.input_size = _auto_spin(1024, "Image side in pixels fed to the model; Auto adapts to your images.")
        self.input_size.setSuffix(" px")
        af.addRow("Input size", self.input_size)
        self.auto_size = hint("")
        self.auto_size.setWordWrap(False)
        self.auto_size.setAccessibleName("Automatic input size")
        self.auto_size.hide()
        af.addRow("", self.auto_size)
        self.val_fraction = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.5, singleStep=0.05)
        self.val_fraction.setToolTip("Share of examples held out to choose the best epoch.")
        af.addRow("Validation share", self.val_fraction)
        self.test_fraction = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.5, singleStep=0.05)
        self.test_fraction.setToolTip("Share of examples held out for the final, honest score.")
        af.addRow("Test share", self.test_fraction)
        self.seed = QSpinBox(maximum=2**31 - 1)
        self.seed.setToolTip("Same seed, same data split and same start: runs can be repeated.")
        af.addRow("Random seed", self.seed)
        self.feature_cache = QCheckBox("Run frozen layers once and cache")
        self.feature_cache.setToolTip("Much faster when most of the backbone is frozen.")
        af.addRow(self.feature_cache)
        self.advanced = Collapsible("Advanced", adv)
        left.addWidget(self.advanced)
        self.recipe_text = QLabel()
        self.recipe_text.setWordWrap(True)
        self.recipe_text.setTextFormat(Qt.TextFormat.RichText)
        self.recipe_text.setAccessibleName("What Auto will do")
        self.recipe_box = Collapsible("What Auto will do", self.recipe_text, expanded=True)
        self.recipe_box.setToolTip("The engine's recipe applied to your data, backbone and settings: every value "
                                   "it will use, and why. Change a setting above to override it.")
        left.addWidget(self.recipe_box)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("▶  &Start training")
        self.start_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.start_button.setToolTip("Start (Ctrl+Enter)")
        self.start_button.clicked.connect(self.startRequested)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setToolTip("Stop after the current step; the last checkpoint is kept.")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.resume_button = QPushButton("⟳  &Resume")
        self.resume_button.setToolTip("Go on from the last checkpoint of the run that stopped")
        self.resume_button.clicked.connect(self.resumeRequested)
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.resume_button, 1)
        buttons.addWidget(self.cancel_button, 1)
        left.addLayout(buttons)
        self.estimate = hint("")
        self.estimate.setAccessibleName("Estimated training time")
        left.addWidget(self.estimate)
        self.not_ready = hint("")
        left.addWidget(self.not_ready)
        left.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(form_host)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(form_host.sizeHint().width() + 24)
        scroll.setMaximumWidth(int(form_host.sizeHint().width() * 1.4) + 24)
        outer.addWidget(scroll)

        # ------------------------------------------------ right: live view
        right = QVBoxLayout()
        self.status = QLabel("Not started yet.")
        self.status.setWordWrap(True)
        right.addWidget(self.status)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p%")
        right.addWidget(self.bar)
        self.plot_host = QVBoxLayout()
        self.plot_placeholder = hint("Charts of loss and accuracy appear here while the model trains.")
        self.plot_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_host.addWidget(self.plot_placeholder, 1)
        right.addLayout(self.plot_host, 3)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setAcceptDrops(False)
        self.log.setMaximumBlockCount(5000)
        self.log.setMinimumHeight(self.fontMetrics().height() * 5)
        self.log.setAccessibleName("Training log")
        self.log_box = Collapsible("Log", self.log)
        right.addWidget(self.log_box, 0)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        self.results_button = QPushButton("See the results  →")
        self.results_button.clicked.connect(self.resultsRequested)
        bottom.addWidget(self.results_button)
        right.addLayout(bottom)
        outer.addLayout(right, 1)

        self.set_settings(TrainSettings())
        self.set_devices("cpu", [])
        self.refresh(can_start=False, reason="")
        self.set_recipe(None)
        for w in (self.epochs, self.batch, self.patience, self.input_size, self.seed):
            w.valueChanged.connect(self.settingsChanged)
        for w in (self.weight_decay, self.smoothing, self.val_fraction, self.test_fraction):
            w.valueChanged.connect(self.settingsChanged)
        self.lr.currentTextChanged.connect(self.settingsChanged)
        for w in (self.augment, self.device, self.budget):
            w.currentIndexChanged.connect(self.settingsChanged)
        self.class_weighted.currentIndexChanged.connect(self.settingsChanged)
        for w in (self.early, self.feature_cache):
            w.toggled.connect(self.settingsChanged)
        ev = run.events
        ev.started.connect(self._on_started)
        ev.log.connect(self.append_log)
        ev.step.connect(lambda epoch, values: self.ensure_plots().add_step(epoch, values))
        ev.epoch.connect(lambda epoch, values, _best: self.ensure_plots().add_epoch(epoch, values))
        ev.total_steps.connect(lambda n: self.ensure_plots().set_total_steps(n))

    # ---------------------------------------------------------------- settings
    def use_lr(self, lr: float) -> None:
        """The learning-rate finder's suggestion, as if typed into the field."""
        self.lr.setCurrentText(f"{lr:.2g}")

    def set_settings(self, s: TrainSettings) -> None:
        self.epochs.setValue(s.epochs or 0)
        self.budget.setCurrentIndex(max(0, self.budget.findData(s.budget)))
        self.lr.setCurrentText("Auto" if s.lr is None else f"{s.lr:g}")
        self.batch.setValue(s.batch_size or 0)
        self.augment.setCurrentIndex(max(0, self.augment.findData(s.augment)))
        self.early.setChecked(s.early_stopping)
        self.patience.setValue(s.patience)
        self.patience.setEnabled(s.early_stopping)
        i = self.device.findData(ALL_GPUS if s.gpus > 1 else s.device)
        self.device.setCurrentIndex(max(0, i))
        self.weight_decay.setValue(s.weight_decay)
        self.smoothing.setValue(s.label_smoothing)
        self.class_weighted.setCurrentIndex(max(0, self.class_weighted.findData(s.class_weighted)))
        self.input_size.setValue(s.input_size or 0)
        self.val_fraction.setValue(s.val_fraction)
        self.test_fraction.setValue(s.test_fraction)
        self.seed.setValue(s.seed)
        self.feature_cache.setChecked(s.feature_cache)

    def settings(self) -> TrainSettings:
        """The form as TrainSettings; raises ValueError with a sentence for an unreadable rate."""
        text = self.lr.currentText().strip()
        if text.lower() in ("", "auto"):
            lr = None
        else:
            try:
                lr = float(text)
            except ValueError:
                raise ValueError(f"Learning rate {text!r} is not a number; write it like 0.001 or 1e-3.")
        return TrainSettings(
            epochs=self.epochs.value() or None, budget=self.budget.currentData() or "standard", lr=lr, batch_size=self.batch.value() or None,
            augment=self.augment.currentData(), early_stopping=self.early.isChecked(),
            patience=self.patience.value(), **self._device_choice(),
            weight_decay=self.weight_decay.value(), label_smoothing=self.smoothing.value(),
            class_weighted=self.class_weighted.currentData(), input_size=self.input_size.value() or None,
            val_fraction=self.val_fraction.value(), test_fraction=self.test_fraction.value(),
            seed=self.seed.value(), feature_cache=self.feature_cache.isChecked())

    def _device_choice(self) -> dict:
        """{device, gpus} from the device list: "Use all N GPUs" is CUDA in N processes."""
        data = self.device.currentData() or "auto"
        if data == ALL_GPUS:
            return {"device": "cuda", "gpus": self._gpu_count}
        return {"device": data, "gpus": 1}

    def set_devices(self, auto_device: str, devices: list) -> None:
        """Fill the device list from the engine's hello ([{name, kind, memory_bytes}]); with more than one
        CUDA GPU also "Use all N GPUs" (a distributed run, README "More than one GPU")."""
        current = self.device.currentData()
        self.device.clear()
        names = {str(d.get("kind", "")): d for d in devices if isinstance(d, dict)}
        auto = names.get(auto_device.split(":")[0]) or {}
        label = auto.get("name") or auto_device.upper()
        self.device.addItem(f"Automatic ({label})", "auto")
        self.device.addItem("CPU", "cpu")
        self._gpu_count = sum(1 for d in devices if isinstance(d, dict) and d.get("kind") == "cuda")
        for d in devices:
            if isinstance(d, dict) and d.get("kind") in ("cuda", "mps"):
                mem = fmt.bytes_(d.get("memory_bytes"))
                # several GPUs: each its own entry (cuda:N), so choosing the second one trains there
                which = f"cuda:{d['index']}" if d["kind"] == "cuda" and self._gpu_count > 1 and "index" in d \
                    else d["kind"]
                self.device.addItem(f"{d.get('name', d['kind'])}{f' ({mem})' if mem else ''}", which)
        if self._gpu_count > 1:
            self.device.addItem(f"Use all {self._gpu_count} GPUs", ALL_GPUS)
        self.device.setCurrentIndex(max(0, self.device.findData(current)))

    # ---------------------------------------------------------------- live view
    def ensure_plots(self):
        if self.plots is None:
            from .plots import LivePlots  # pyqtgraph loads here, after the window is up

            self.plots = LivePlots()
            self.plot_placeholder.hide()
            self.plot_host.addWidget(self.plots, 1)
        return self.plots

    def _on_started(self, resumed: bool) -> None:
        """A resumed run goes on drawing the same curves; a new one starts clean."""
        if not resumed and self.plots is not None:
            self.plots.clear()
        self.ensure_plots()

    def refresh(self, can_start: bool, reason: str) -> None:
        r = self.run
        self.start_button.setEnabled(can_start and not r.running)
        self.cancel_button.setEnabled(r.running)
        self.not_ready.setText("" if can_start or r.running else reason)
        self.status.setText(r.progress_text())
        fraction, label = r.bar()
        if fraction is None:
            self.bar.setRange(0, 0)  # busy: Qt animates it; the status line says what happens
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(round(1000 * fraction)))
        self.bar.setFormat(label)
        self.results_button.setVisible(r.stopped == "completed")
        self.resume_button.setVisible(r.can_resume)
        self.lr_find_button.setEnabled(can_start and not r.running)
        for w in (self.epochs, self.budget, self.lr, self.batch, self.augment, self.early, self.device, self.advanced):
            w.setEnabled(not r.running)
        for w in (self.augment, self.input_size):  # texts are neither augmented nor resized
            w.setEnabled(not r.running and not self.text_mode)
        self.patience.setEnabled(not r.running and self.early.isChecked())

    def set_auto_input_size(self, size: int | None, native: int | None = None) -> None:
        """Say what "Auto" input size means for this data and backbone (hidden when unknown)."""
        if not size:
            self.auto_size.hide()
            self.auto_size.setText("")
            return
        self.auto_size.setText(f"auto: {size} px for your data")
        self.auto_size.setToolTip(
            (f"The model was trained at {native} px. " if native and native != size else "")
            + "Auto uses about 4 times your images' typical short side (a multiple of 32): enough detail, "
              "and much faster than a larger size.")
        self.auto_size.show()

    def set_recipe(self, preview) -> None:
        """List what the engine's recipe will use (a RecipePreview; None or not ready: say why not)."""
        if preview is None or not preview.ready:
            text = (preview.error if preview is not None and preview.error else
                    "Asking the engine…" if preview is not None and preview.pending else
                    "Shown once data and a model are chosen.")
            self.recipe_text.setText(f"<i>{text}</i>")
            self.estimate.setText("")
            return
        self.estimate.setText(estimate_text(preview.estimate, str(preview.facts.get("device") or "")))
        rows = []
        for r in preview.rows():
            why = f"Auto: {r.reason}" if r.auto else "your choice"
            rows.append(f"<b>{r.title}</b>: {r.value} <span style='color:gray'>({why})</span>")
        self.recipe_text.setText("<br>".join(rows))

    def append_log(self, level: str, text: str) -> None:
        prefix = {"warning": "⚠ ", "error": "✖ "}.get(level, "")
        self.log.appendPlainText(prefix + text)
