"""Loading a saved bundle into a Predictor, after its files are verified.

Vision weights go into the plain timm / torchvision model named in the manifest, text
weights through `from_pretrained(bundle, local_files_only=True)` — the same routes a
person without this app would take, so the app exercises them every time.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import BundleError
from . import preprocessing as pre
from .decision import DECISION_FILE
from .manifest import verify_bundle


def _json(root: Path, name: str) -> dict:
    return json.loads((root / name).read_text(encoding="utf-8"))


def load_bundle(path: str | Path, device: str = "cpu"):
    """Verify every sha256, then return a Predictor over the bundle's PyTorch weights."""
    from ..inference import Predictor
    from ..modelio import load_weights, plain_model

    root = Path(path)
    manifest = verify_bundle(root)
    classes = list(_json(root, "labels.json")["classes"])
    pp = _json(root, "preprocess.json")
    rule = _json(root, DECISION_FILE) if DECISION_FILE in manifest["files"] else None  # older bundles: argmax
    backbone = manifest["backbone"]
    if manifest.get("kind") == "simple":  # logistic regression on pixels or words (engine/classical)
        from ..classical.predictor import SimplePredictor

        return SimplePredictor.from_folder(root, origin=str(root), rule=rule)
    if manifest["modality"] == "image":
        model = plain_model(backbone["source"], backbone["arch"], len(classes))
        load_weights(model, root / "model.safetensors")
        return Predictor(model, classes, "image", pp, origin=str(root), device=device, rule=rule)
    from transformers import AutoModelForSequenceClassification

    from ..backbones.build import _quiet_transformers

    try:
        with _quiet_transformers():  # no load report or progress bar in the CLI's output
            model = AutoModelForSequenceClassification.from_pretrained(str(root), local_files_only=True)
    except Exception as exc:
        raise BundleError(f"The text model in {root} could not be loaded ({exc}); re-export the model.") from exc
    tokenizer = pre.load_tokenizer(str(root / pp.get("tokenizer", "tokenizer.json")))
    return Predictor(model, classes, "text", pp, tokenizer=tokenizer, origin=str(root), device=device, rule=rule)


def run_rule(run_dir: Path, classes: list[str]) -> dict:
    """The decision rule a run's last evaluation chose (metrics.json), else argmax at temperature 1."""
    from .decision import check_rule

    try:
        rule = (_json(run_dir, "metrics.json").get("clinical") or {}).get("decision")
        return check_rule(rule, classes)
    except (OSError, ValueError, AttributeError):
        return check_rule(None, classes)


def open_predictor(path: str | Path, device: str = "cpu"):
    """A Predictor for a bundle folder (has manifest.json) or a run directory (has model.json)."""
    from ..inference import Predictor

    p = Path(path)
    if (p / "manifest.json").is_file():
        return load_bundle(p, device=device)
    if (p / "model.json").is_file():
        predictor = Predictor.from_run(p, device=device)
        predictor.rule = run_rule(p, predictor.classes)
        return predictor
    raise BundleError(f"{path} is neither a saved model bundle nor a training run; "
                      "pick a .tsbundle folder or a folder under runs/.")
