"""A simple, non-neural baseline scored beside the model, so a user learns when transfer did not pay.

An ImageNet backbone has little to offer 8x8 digits, and on such data logistic regression on
the raw pixels beat the fine-tuned model by 5-10 points (benchmarks/ACCURACY_NOTES.md). A
run therefore fits logistic regression on small grey-scale thumbnails (images) or TF-IDF
word counts (text) on the same training examples, scores it on the same held-out split as
the model, keeps the result in metrics.json and says so when the baseline wins.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import protocol

MAX_EXAMPLES = 2000  # scored on at most this many (evenly spaced): large data stays quick


def fit_and_score(modality: str, train_items, test_items, classes: list[str] | None = None,
                  window: str = "file") -> dict | None:
    """Fit on `train_items`, score on `test_items`; None when either side has too little to fit.

    The model is the run's simple contender (engine/classical), fitted and scored the same way."""
    from ..classical.model import KIND_OF_MODALITY, fit, spread
    from ..classical.predictor import SimplePredictor, read_inputs

    if modality not in KIND_OF_MODALITY:
        return None
    kind = KIND_OF_MODALITY[modality]
    train_items, test_items = spread(list(train_items)), spread(list(test_items), MAX_EXAMPLES)
    inputs, kept = read_inputs(kind, train_items, window)
    y = np.array([train_items[i].label for i in kept])
    n_classes = max([e.label for e in list(train_items) + list(test_items)], default=0) + 1
    try:
        model = fit(kind, inputs, y, list(classes) if classes else [str(i) for i in range(n_classes)],
                    dicom_window=window)
    except ValueError:  # one class, or texts with no words at all
        return None
    probs = SimplePredictor(model).predict_proba(test_items)
    ok = np.isfinite(probs).all(1)
    yte = np.array([e.label for e in test_items])[ok]
    if not len(yte):
        return None
    return {"method": model.method, "accuracy": float((probs[ok].argmax(1) == yte).mean()),
            "train_examples": int(len(y)), "scored_examples": int(len(yte))}


# what makes data unlike a backbone's pre-training, in the words of the data at hand
UNLIKE = {"image": "very small or unusual images", "text": "another language, code, or lists of words rather "
          "than sentences"}


def compare(dataset, metrics: dict, report: Callable = lambda m: None) -> dict | None:
    """Score the baseline on the split the final model is judged on; warn when it beats the model.

    The test split when there is one (the baseline then learns from train + validation, as a
    refit model did), else validation (the baseline learns from train only).
    """
    split = "test" if metrics.get("test") else ("val" if metrics.get("val") else None)
    if split is None or (metrics.get("selection") or {}).get("winner") == "simple model":
        return None  # the model is the simple one: nothing to compare it with
    fit_on = list(dataset.split("train"))
    if split == "test" and metrics.get("refit"):
        fit_on += list(dataset.split("val"))
    try:
        result = fit_and_score(dataset.modality, fit_on, list(dataset.split(split)), getattr(dataset, "classes", None))
    except Exception as exc:  # noqa: BLE001 - an extra must never cost the user the model's own scores
        report(protocol.Log(level="warning", text=f"The simple baseline could not be computed ({exc}); "
                                                  "the model's scores are unaffected."))
        return None
    if result is None:
        return None
    result["split"] = split
    ours = metrics[split].get("accuracy")
    kind = "text" if dataset.modality == "text" else "image"
    if ours is not None and result["accuracy"] > ours:
        report(protocol.Log(level="warning", text=(
            f"A simple baseline ({result['method']}) scores {100 * result['accuracy']:.1f} % on the {split} split, "
            f"the model {100 * ours:.1f} %: the pretrained backbone does not suit this data well ({UNLIKE[kind]}, "
            "for instance). Try freezing fewer stages, more epochs, or another backbone.")))
    return result
