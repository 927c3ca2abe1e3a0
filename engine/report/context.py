"""What a report shows, gathered from a run folder or a saved bundle (JSON files only).

A run has metrics.json, data_report.json, splits.json, model.json and (after evaluation
with this version) predictions.json with the held-out probabilities; a bundle has
metrics.json, training.json and manifest.json (verified first). Either way the report
gets the same dict, so it reads the same whichever was handed over.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from ..atomic import read_json
from ..errors import BundleError


def _maybe(path: Path) -> dict:
    try:
        return read_json(path) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _split_counts(report: dict) -> dict[str, dict[str, int]]:
    return {c["name"]: {k: int((c.get("splits") or {}).get(k, 0) or 0) for k in ("train", "val", "test")}
            for c in report.get("classes") or [] if isinstance(c, dict) and "name" in c}


def load(path: str | Path) -> dict:
    """{name, kind, path, modality, classes, metrics, data_report, counts, roots, backbone, checkpoint,
    created, predictions (run only, else None)}."""
    p = Path(path)
    if (p / "manifest.json").is_file():
        from ..bundle import verify_bundle

        manifest = verify_bundle(p)
        training = _maybe(p / "training.json")
        metrics = _maybe(p / "metrics.json")
        report = training.get("data_report") or {}
        bb = manifest.get("backbone") or {}
        return {"name": manifest.get("name") or p.stem, "kind": "bundle", "path": str(p), "modality": manifest.get("modality"),
                "classes": _maybe(p / "labels.json").get("classes") or metrics.get("classes") or [],
                "metrics": metrics, "data_report": report, "counts": _split_counts(report),
                "roots": training.get("data_roots") or report.get("roots") or [],
                "backbone": bb.get("display_name") or bb.get("id"), "checkpoint": training.get("checkpoint"),
                "created": manifest.get("created"), "predictions": None,
                "onnx_parity": ((manifest.get("onnx") or {}).get("parity") or {}).get("max_abs_prob_diff")}
    if (p / "model.json").is_file():
        if not (p / "metrics.json").is_file():
            raise BundleError(f"{p} has not been evaluated yet; run transfer-studio evaluate --model {p} first.")
        meta, metrics, report = _maybe(p / "model.json"), _maybe(p / "metrics.json"), _maybe(p / "data_report.json")
        predictions = None
        if (p / "predictions.json").is_file():
            from ..evaluate.cached import load_predictions

            predictions = load_predictions(p)[1]
        return {"name": p.name, "kind": "run", "path": str(p), "modality": meta.get("modality"), "classes": meta.get("classes") or [],
                "metrics": metrics, "data_report": report, "counts": _split_counts(report),
                "roots": report.get("roots") or [], "backbone": meta.get("backbone"),
                "checkpoint": metrics.get("checkpoint"), "predictions": predictions, "onnx_parity": None,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    raise BundleError(f"{path} is neither a saved model bundle nor a training run; "
                      "pick a .tsbundle folder or a folder under runs/.")
