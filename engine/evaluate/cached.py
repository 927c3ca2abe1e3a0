"""A run's held-out probabilities kept beside its metrics, so the decision rule (positive
class, threshold method) can change without running the model again.

predictions.json (JSON, never pickle): {format, version, checkpoint, classes, val/test:
{paths, labels, probs} | null} with the model's raw (uncalibrated) probabilities.
operating.json: the Options the user last chose for the run; evaluation and export use it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import read_json, write_json
from ..errors import DataError
from .clinical import Options, Split, clinical_section, note_refit, relabel_binary

PREDICTIONS_FILE = "predictions.json"
PREDICTIONS_FORMAT = "transfer-studio-predictions"
OPTIONS_FILE = "operating.json"


def save_predictions(run_dir: str | Path, classes: list[str], splits: dict[str, Split | None], which: str) -> None:
    out: dict = {"format": PREDICTIONS_FORMAT, "version": 1, "checkpoint": which, "classes": list(classes)}
    for name, s in splits.items():
        out[name] = None if s is None else {"paths": s.paths, "labels": s.y.tolist(),
                                            "probs": s.probs.tolist()}
    write_json(Path(run_dir) / PREDICTIONS_FILE, out)


def load_predictions(run_dir: str | Path) -> tuple[list[str], dict[str, Split | None]]:
    """(classes, {"val": Split | None, "test": Split | None}) from predictions.json."""
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.is_file():
        raise DataError(f"{run_dir} has no cached predictions ({PREDICTIONS_FILE}); evaluate the run again "
                        "(transfer-studio evaluate --model RUN).")
    d = read_json(path)
    if not isinstance(d, dict) or d.get("format") != PREDICTIONS_FORMAT:
        raise DataError(f"{path} is not a Transfer Studio predictions file; evaluate the run again.")
    classes = [str(c) for c in d["classes"]]
    splits = {}
    for name in ("val", "test"):
        s = d.get(name)
        splits[name] = None if not s else Split.of(s["labels"], np.asarray(s["probs"], dtype=np.float64).reshape(
            -1, len(classes)), s.get("paths"))
    return classes, splits


def read_options(run_dir: str | Path) -> Options:
    path = Path(run_dir) / OPTIONS_FILE
    try:
        return Options.from_dict(read_json(path)) if path.is_file() else Options()
    except (OSError, ValueError, TypeError):
        return Options()


def reconsider(run_dir: str | Path, options: Options) -> dict:
    """Choose the decision rule again under `options` from the cached probabilities; metrics.json's
    clinical section and operating.json are rewritten. Returns the updated metrics."""
    run_dir = Path(run_dir)
    classes, splits = load_predictions(run_dir)
    metrics = read_json(run_dir / "metrics.json")
    counts = (metrics.get("clinical") or {}).get("train_counts")
    metrics["clinical"] = clinical_section(classes, splits["val"], splits["test"], options, counts)
    metrics["clinical"]["train_counts"] = counts
    note_refit(metrics["clinical"], metrics)
    for split in ("val", "test"):
        relabel_binary(metrics.get(split), metrics["clinical"]["decision"].get("positive_class"))
    from .audits import sections

    metrics.update(sections(run_dir, metrics["clinical"], splits["test"], classes))
    write_json(run_dir / OPTIONS_FILE, options.to_dict())
    write_json(run_dir / "metrics.json", metrics)
    return metrics
