"""The app's clinical-evaluation requests (engine/protocol.py, issue 22), answered from a run's
cached probabilities wherever possible: only a second site runs the model."""
from __future__ import annotations

from pathlib import Path

from .. import protocol
from ..atomic import read_json
from ..errors import DataError


def _metrics(path: str) -> dict:
    p = Path(path) / "metrics.json"
    return read_json(p) if (Path(path) / "model.json").is_file() and p.is_file() else {}


def handle_clinical_request(msg: protocol.Message, reporter=None, cancel=None) -> protocol.Message:
    from .cached import read_options, reconsider
    from .clinical import Options

    if isinstance(msg, protocol.Reconsider):
        return protocol.Evaluated(metrics=reconsider(msg.run_dir, Options.from_dict(msg.options)))
    if isinstance(msg, protocol.EvaluateFolder):
        from .run import evaluate_folder

        if not msg.data:
            raise DataError("Choose a labeled folder to score: one subfolder per class, named like the model's.")
        result = evaluate_folder(msg.model, list(msg.data), reporter=reporter, cancel=cancel, site=msg.site or None)
        return protocol.Evaluated(metrics=_metrics(msg.model), site=result["external"])
    if isinstance(msg, protocol.AuditSubgroups):
        from .audits import remember_subgroups
        from .subgroups import read_attributes

        read_attributes(msg.csv)  # one clear sentence now if it cannot be read
        remember_subgroups(msg.run_dir, msg.csv)
        return protocol.Evaluated(metrics=reconsider(msg.run_dir, read_options(msg.run_dir)))
    if isinstance(msg, protocol.SaveReport):
        from ..report import write_report

        path = write_report(msg.model, msg.out)
        return protocol.ReportSaved(path=str(path))
    raise TypeError(f"not a clinical request: {type(msg).__name__}")
