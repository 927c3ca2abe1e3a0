"""The Results page's clinical evaluation: positive class, threshold (method or slider), figures
with 95% intervals, ROC / PR / reliability plots, a second site, subgroups, and the report.

Moving the slider updates every figure and the operating point at once from the run's cached
probabilities (ClinicalModel); the other controls emit requests the window sends to the engine.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout,
                               QHeaderView, QLabel, QPushButton, QSlider, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from .clinical_model import ClinicalModel
from .clinical_plots import ClinicalPlots
from .widgets import heading, hint

STEPS = 1000  # slider positions between 0 and 1


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().hide()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _fill(t: QTableWidget, rows: list, flagged: list[bool] | None = None) -> None:
    t.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            item = QTableWidgetItem(str(v))
            if flagged and flagged[i]:
                item.setForeground(QBrush(QColor("#b71c1c")))
            t.setItem(i, j, item)


class ClinicalPanel(QWidget):
    reconsiderRequested = Signal(dict)  # Options for the engine: a new positive class or method
    keepThresholdRequested = Signal(dict)  # Options with the threshold set by hand
    siteRequested = Signal(str, str)  # folder, site name
    subgroupsRequested = Signal(str)  # CSV path
    reportRequested = Signal(str)  # .html or .pdf path

    def __init__(self, model: ClinicalModel, parent=None):
        super().__init__(parent)
        self.model = model
        outer = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Positive class"))
        self.positive = QComboBox()
        self.positive.setToolTip("The condition the model looks for: sensitivity is how many of these it finds.")
        row.addWidget(self.positive)
        row.addWidget(QLabel("Threshold by"))
        self.method = QComboBox()
        for key, title in model.method_titles():
            self.method.addItem(title, key)
        row.addWidget(self.method)
        self.target = QDoubleSpinBox()
        self.target.setRange(0.5, 0.999)
        self.target.setSingleStep(0.01)
        self.target.setValue(0.9)
        self.target.setToolTip("Target sensitivity or specificity on the validation split")
        row.addWidget(self.target)
        self.cost = QDoubleSpinBox()
        self.cost.setRange(0.05, 100)
        self.cost.setValue(1.0)
        self.cost.setToolTip("How many false alarms one missed positive costs")
        row.addWidget(self.cost)
        self.apply = QPushButton("Choose on validation")
        self.apply.setToolTip("The engine chooses the threshold on the validation split only, never on test.")
        self.apply.clicked.connect(self._ask)
        row.addWidget(self.apply)
        row.addStretch(1)
        outer.addLayout(row)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Threshold"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setAccessibleName("Decision threshold")
        self.slider.valueChanged.connect(lambda v: model.set_threshold(v / STEPS))
        srow.addWidget(self.slider, 1)
        self.value = QLabel()
        self.value.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.0000 "))
        srow.addWidget(self.value)
        self.keep = QPushButton("Keep this threshold")
        self.keep.setToolTip("Save the threshold you set by hand as the model's decision rule")
        self.keep.clicked.connect(lambda: self.keepThresholdRequested.emit(model.manual_options()))
        srow.addWidget(self.keep)
        outer.addLayout(srow)
        self.why = hint("")
        outer.addWidget(self.why)

        body = QHBoxLayout()
        self.figures = _table(["Figure", "Test (95% CI)", "Validation (95% CI)"])
        self.figures.setAccessibleName("Figures at the threshold")
        widest = "Average precision  100.0 % (100.0–100.0)  100.0 % (100.0–100.0)"  # two intervals at full width
        self.figures.setMinimumWidth(self.fontMetrics().horizontalAdvance(widest) + 36)
        body.addWidget(self.figures, 0)
        self.plots = ClinicalPlots()
        body.addWidget(self.plots, 1)
        outer.addLayout(body, 3)
        self.calibration = hint("")
        outer.addWidget(self.calibration)

        brow = QHBoxLayout()
        self.site_button = QPushButton("Evaluate on another labeled folder…")
        self.site_button.setToolTip("A second site: class folders named like the model's classes")
        self.site_button.clicked.connect(self._choose_site)
        self.subgroups_button = QPushButton("Subgroups from a CSV…")
        self.subgroups_button.setToolTip("A CSV with the columns path,attribute,... (sex, age band, site, scanner)")
        self.subgroups_button.clicked.connect(self._choose_subgroups)
        self.report_button = QPushButton("Save report…")
        self.report_button.clicked.connect(self._choose_report)
        for b in (self.site_button, self.subgroups_button, self.report_button):
            brow.addWidget(b)
        brow.addStretch(1)
        self.status = hint("")
        brow.addWidget(self.status)
        outer.addLayout(brow)
        tables = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        left.addWidget(heading("Second site", 1.05))
        self.sites = _table(["Site", "Figure", "Internal test", "Second site", "Difference (95% CI)"])
        self.sites.setAccessibleName("Second site")
        left.addWidget(self.sites)
        right.addWidget(heading("Subgroups (test split)", 1.05))
        self.groups = _table(["Attribute", "Group", "n", "Sensitivity", "Specificity", "Note"])
        self.groups.setAccessibleName("Subgroups")
        right.addWidget(self.groups)
        tables.addLayout(left, 1)
        tables.addLayout(right, 1)
        outer.addLayout(tables, 2)
        model.events.result.connect(self.refresh)
        model.events.threshold.connect(self._on_threshold)
        model.events.busy.connect(self._on_busy)
        model.events.report.connect(lambda path: self.status.setText(f"Saved {path}"))
        self.method.currentIndexChanged.connect(self._method_widgets)
        self.refresh()

    # ---------------------------------------------------------------- model -> view
    def refresh(self) -> None:
        m = self.model
        opts = m.options()
        self.positive.blockSignals(True)
        self.positive.clear()
        for c in m.classes if m.binary else []:
            self.positive.addItem(c, c)
        self.positive.setCurrentIndex(max(0, self.positive.findData(m.positive())))
        self.positive.blockSignals(False)
        for w in (self.positive, self.method, self.target, self.cost, self.apply, self.slider, self.keep):
            w.setEnabled(m.binary)
        method = m.rule().get("method")
        i = self.method.findData(method if method in dict(m.method_titles()) else opts.get("method", "youden"))
        self.method.setCurrentIndex(max(0, i))
        if opts.get("target"):
            self.target.setValue(float(opts["target"]))
        if opts.get("cost_ratio"):
            self.cost.setValue(float(opts["cost_ratio"]))
        self._method_widgets()
        self.plots.show_curves(m.curves(), m.calibration())
        self.calibration.setText(m.calibration_text())
        self.groups.setHorizontalHeaderLabels(m.subgroup_header())
        if m.threshold is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(round(m.threshold * STEPS))
            self.slider.blockSignals(False)
        self._on_threshold(m.threshold)
        if not m.available:
            self.why.setText("This run was scored before the clinical evaluation existed: score it again "
                             "(transfer-studio evaluate --model RUN) to see its threshold, curves and calibration.")

    def _on_threshold(self, value) -> None:
        m = self.model
        self.value.setText("argmax" if value is None else f"{value:.4f}")
        rule_t = m.rule().get("threshold")
        self.keep.setEnabled(m.binary and value is not None and rule_t is not None and abs(value - rule_t) > 1e-9)
        _fill(self.figures, m.figure_rows())
        rows = m.external_rows()  # second sites and subgroups are read at the slider's threshold too
        _fill(self.sites, [r[:5] for r in rows], [r[5] for r in rows])
        _fill(self.groups, m.subgroup_rows())
        self.plots.show_point(m.operating_point())
        self.why.setText(m.explanation())

    def _on_busy(self, on: bool) -> None:
        for b in (self.apply, self.site_button, self.subgroups_button, self.report_button):
            b.setEnabled(not on and (b is not self.apply or self.model.binary))
        self.status.setText("Working…" if on else self.status.text().replace("Working…", ""))

    def _method_widgets(self) -> None:
        key = self.method.currentData()
        self.target.setVisible(key in ("sensitivity", "specificity"))
        self.cost.setVisible(key == "cost")

    # ---------------------------------------------------------------- view -> requests
    def _ask(self) -> None:
        key = self.method.currentData()
        self.reconsiderRequested.emit(self.model.options_for(
            self.positive.currentData(), key, self.target.value() if key in ("sensitivity", "specificity") else None,
            self.cost.value() if key == "cost" else None))

    def _choose_site(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A labeled folder from another site")
        if folder:
            self.siteRequested.emit(folder, "")

    def _choose_subgroups(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Subgroup attributes", "", "CSV files (*.csv)")
        if path:
            self.subgroupsRequested.emit(path)

    def _choose_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the evaluation report", "report.html",
                                              "Web page (*.html);;PDF (*.pdf)")
        if path:
            self.reportRequested.emit(path)
