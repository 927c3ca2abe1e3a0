"""Scoring a finished run on its own held-out splits, or a saved model on any labeled folder."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .. import protocol
from ..atomic import read_json, write_json
from ..errors import DataError
from ..modelio import checkpoint_dir
from .audits import remember_site, sections, site_section
from .cached import read_options, save_predictions
from .clinical import Options, Split, clinical_section, note_refit, relabel_binary
from .metrics import score

METRICS_FORMAT = "transfer-studio-metrics"
METRICS_VERSION = 1


def _score_items(predictor, items, labels, reporter, cancel) -> tuple[dict, list[dict], Split]:
    """Score examples with integer labels in the predictor's class order; unreadable ones listed;
    the raw probabilities of the readable ones (for the clinical section and its cache)."""
    probs, errors = predictor.predict_detailed(items, reporter=reporter, cancel=cancel)
    keep = [i for i in range(len(items)) if i not in errors]
    paths = [str(getattr(items[i], "path", items[i])) for i in keep]
    y = np.asarray(labels, dtype=np.int64)[keep]
    result = score(y, probs[keep], predictor.classes, paths)
    unreadable = [{"path": str(getattr(items[i], "path", items[i])), "error": e} for i, e in sorted(errors.items())]
    return result, unreadable, Split.of(y, probs[keep], paths)


def _run_device(run_dir: Path) -> str:
    """The device the run trained on when it is still available here, else the CPU."""
    try:
        wanted = str(read_json(run_dir / "config.json").get("device") or "cpu")
    except (OSError, ValueError):
        return "cpu"
    if wanted in ("auto", "cpu"):
        wanted = "cuda" if wanted == "auto" else "cpu"
    import torch

    if wanted.startswith("cuda") and torch.cuda.is_available():
        return wanted
    if wanted == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def evaluate_run(run_dir: str | Path, reporter: Callable | None = None, cancel=None,
                 which: str = "best", device: str | None = None, write: bool = True,
                 options: Options | None = None) -> dict:
    """Score the run's `which` checkpoint on its validation and test splits; write metrics.json.

    Returns {"format", "version", "checkpoint", "epoch", "classes", "val": score | None,
    "test": score | None, "unreadable": [{"path", "error"}], "simple_baseline": {...} when one
    could be fitted} (a split with no examples is None).
    `device` None means the run's own device when this machine has it, else the CPU.
    `clinical` holds the decision rule chosen on validation (engine.evaluate.clinical) under
    `options` (None: the run's saved operating.json, else the defaults); with `write`, the
    probabilities are cached in predictions.json so the rule can change without inference.
    """
    from ..data import load_splits
    from ..inference import Predictor

    run_dir = Path(run_dir)
    say = reporter or (lambda msg: None)
    say(protocol.Status(phase="evaluating", detail="Scoring the best model on the validation and test splits"))
    predictor = Predictor.from_run(run_dir, which=which, device=device or _run_device(run_dir))
    ds = load_splits(run_dir)
    if list(ds.classes) != predictor.classes:
        raise DataError(f"The classes in {run_dir}/splits.json differ from the model's; the run is damaged, so train it again.")
    out: dict = {"format": METRICS_FORMAT, "version": METRICS_VERSION, "checkpoint": which,
                 "classes": predictor.classes, "unreadable": []}
    state_path = checkpoint_dir(run_dir, which) / "state.json"
    if state_path.is_file():
        out["epoch"] = read_json(state_path).get("epoch")
    refit = read_json(run_dir / "refit.json") if (run_dir / "refit.json").is_file() else None
    scorers = {"val": predictor, "test": predictor}
    if which == "best" and refit and refit.get("status") == "done" and (run_dir / "checkpoints" / "selected").is_dir():
        # the refit model has trained on the validation examples: validation scores the model
        # that was selected on them (checkpoints/selected); test scores the refit model
        scorers["val"] = Predictor.from_run(run_dir, which="selected", device=device or _run_device(run_dir))
        out["refit"] = {"epochs": refit.get("epochs"), "examples": refit.get("examples"),
                        "val_checkpoint": "selected"}
    contender = read_json(run_dir / "contender.json") if (run_dir / "contender.json").is_file() else None
    if which == "best" and contender and contender.get("status") == "decided":
        # which model the run kept, the linear probe or the fine-tune, with both validation figures
        out["selection"] = {k: contender.get(k) for k in ("winner", "monitor", "rule", "probe", "fine_tune",
                                                          "disagreements", "simple", "network_winner") if k in contender}
    cache: dict[str, Split | None] = {"val": None, "test": None}
    for split in ("val", "test"):
        items = ds.split(split)
        if not items:
            out[split] = None
            continue
        say(protocol.Log(level="info", text=f"Evaluating {len(items)} {split} examples"))
        out[split], bad, cache[split] = _score_items(scorers[split], items, [e.label for e in items], reporter, cancel)
        out["unreadable"] += [dict(b, split=split) for b in bad]
    counts = np.bincount([e.label for e in ds.split("train")], minlength=len(ds.classes)).tolist()
    options = options or read_options(run_dir)
    out["clinical"] = clinical_section(predictor.classes, cache["val"], cache["test"], options, counts)
    out["clinical"]["train_counts"] = counts
    note_refit(out["clinical"], out)
    for split in ("val", "test"):
        relabel_binary(out[split], out["clinical"]["decision"].get("positive_class"))
    out.update(sections(run_dir, out["clinical"], cache["test"], predictor.classes))  # second sites, subgroups
    from .simple_baseline import compare

    baseline = compare(ds, out, say)  # tells the user when transfer did not pay
    if baseline is not None:
        out["simple_baseline"] = baseline
    if write:
        save_predictions(run_dir, predictor.classes, cache, which)
        write_json(run_dir / "metrics.json", out)
    return out


def evaluate_folder(model: str | Path, data: list[str], reporter: Callable | None = None, cancel=None,
                    split: str = "all", device: str = "cpu", site: str | None = None,
                    subgroups: str | Path | None = None) -> dict:
    """Re-score a bundle (or run) on a labeled folder: every example counts unless `split` picks one.

    Class folders must carry names the model knows; a subset of its classes is fine.
    Returns {"format", "version", "model", "data", "split", "folder": score, "unreadable",
    "external": the folder as a second site under the model's decision rule beside its internal
    test figures, "subgroups": the audit when `subgroups` names a CSV}. A run keeps the site's
    probabilities (external.json) so its metrics, card and report show it.
    """
    from ..data import scan
    from ..bundle.reader import open_predictor

    predictor = open_predictor(model, device=device)
    ds = scan([str(d) for d in data], val_fraction=0.0, test_fraction=0.0, reporter=reporter, cancel=cancel,
              for_scoring=True)
    where = ", ".join(str(d) for d in data)
    if ds.modality != predictor.modality:
        raise DataError(f"{where} holds {ds.modality} data but the model reads {predictor.modality}; "
                        f"point --data at a folder of {predictor.modality} examples.")
    unknown = [c for c in ds.classes if c not in predictor.classes]
    if unknown:
        raise DataError(f"{where} has class(es) {', '.join(repr(c) for c in unknown)} that the model does not know "
                        f"(it knows {', '.join(predictor.classes)}); rename or remove those class folders.")
    items = list(ds.items) if split == "all" else ds.split(split)
    if not items:
        raise DataError(f"{where} has no usable {'' if split == 'all' else split + ' '}examples to score.")
    index = {c: predictor.classes.index(c) for c in ds.classes}
    labels = [index[ds.classes[e.label]] for e in items]
    if reporter is not None:
        reporter(protocol.Status(phase="evaluating", detail=f"Scoring {len(items)} examples from {where}"))
    result, unreadable, scored = _score_items(predictor, items, labels, reporter, cancel)
    relabel_binary(result, predictor.rule.get("positive_class"))
    name = site or ", ".join(Path(d).name for d in data)
    internal = _internal_metrics(Path(model))
    out = {"format": METRICS_FORMAT, "version": METRICS_VERSION, "model": str(model),
           "data": [str(d) for d in data], "split": split, "folder": result, "unreadable": unreadable,
           "external": site_section(name, predictor.classes, scored, predictor.rule,
                                    (internal.get("clinical") or {}).get("test"))}
    if subgroups is not None:
        from .subgroups import audit

        out["subgroups"] = {**audit(scored.y, scored.probs, scored.paths, predictor.classes, predictor.rule,
                                    subgroups), "split": name}
    if (Path(model) / "model.json").is_file() and (Path(model) / "predictions.json").is_file():
        remember_site(model, name, [str(d) for d in data], predictor.classes, scored)
        from .cached import reconsider, read_options

        reconsider(model, read_options(model))  # metrics.json gains the site under the run's rule
    return out


def _internal_metrics(model: Path) -> dict:
    try:
        return read_json(model / "metrics.json") if (model / "metrics.json").is_file() else {}
    except (OSError, ValueError):
        return {}
