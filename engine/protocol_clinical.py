"""The clinical evaluation's protocol messages (issue 22), kept beside engine/protocol.py, which
imports and re-exports them: standard library only, registered by the same decorator.

Handled by engine.evaluate.requests; answered by Evaluated (SaveReport: ReportSaved). Only
EvaluateFolder runs the model; the others read the run's cached probabilities.
"""
from __future__ import annotations

from dataclasses import field

from .protocol import Message, message


@message("reconsider")
class Reconsider(Message):  # choose a run's decision rule again under these Options
    run_dir: str = ""
    options: dict = field(default_factory=dict)  # {positive, method, target, cost_ratio, threshold, calibrate}


@message("evaluate_folder")
class EvaluateFolder(Message):  # a second site, scored beside the internal test split
    model: str = ""
    data: list = field(default_factory=list)
    site: str = ""  # its name in tables ("" = the folder's name)


@message("audit_subgroups")
class AuditSubgroups(Message):  # figures per subgroup of the run's test split
    run_dir: str = ""
    csv: str = ""  # path,attribute,...


@message("save_report")
class SaveReport(Message):
    model: str = ""  # a run directory or a bundle folder
    out: str = ""  # report.html


@message("evaluated")
class Evaluated(Message):
    metrics: dict = field(default_factory=dict)  # the run's metrics.json after the change ({} for a bundle)
    site: dict = field(default_factory=dict)  # EvaluateFolder: the second site's section
    request_seq: int | None = None


@message("report_saved")
class ReportSaved(Message):
    path: str = ""  # the HTML file (the app reads it from there to print a PDF)
    request_seq: int | None = None
