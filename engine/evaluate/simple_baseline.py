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

THUMBNAIL = 16  # pixels a side: enough for the pixel baseline, cheap to load
MAX_EXAMPLES = 2000  # fitted and scored on at most this many each (evenly spaced): large data stays quick
METHODS = {"image": f"logistic regression on {THUMBNAIL}x{THUMBNAIL} grey pixels",
           "text": "logistic regression on TF-IDF word counts"}


def _spread(items: list, limit: int) -> list:
    if len(items) <= limit:
        return list(items)
    keep = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in keep]


def _image_features(items) -> tuple[np.ndarray, list[int]]:
    from ..data.dicom import load_any_image
    from ..data.images import ImageProblem

    rows, kept = [], []
    for i, e in enumerate(items):
        try:
            im = load_any_image(e.path, min_side=THUMBNAIL).convert("L").resize((THUMBNAIL, THUMBNAIL))
        except (ImageProblem, OSError):
            continue  # already listed by the health check / evaluation
        rows.append(np.asarray(im, dtype=np.float32).ravel() / 255.0)
        kept.append(i)
    return (np.stack(rows) if rows else np.zeros((0, THUMBNAIL * THUMBNAIL), np.float32)), kept


def _texts(items) -> list[str]:
    from ..data.text import read_text

    return [read_text(e) for e in items]


def fit_and_score(modality: str, train_items, test_items) -> dict | None:
    """Fit on `train_items`, score on `test_items`; None when either side has too little to fit."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_items, test_items = _spread(train_items, MAX_EXAMPLES), _spread(test_items, MAX_EXAMPLES)
    if modality == "image":
        xtr, keep_tr = _image_features(train_items)
        xte, keep_te = _image_features(test_items)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    elif modality == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        xtr, keep_tr = _texts(train_items), list(range(len(train_items)))
        xte, keep_te = _texts(test_items), list(range(len(test_items)))
        model = make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=1), LogisticRegression(max_iter=2000))
    else:
        return None
    ytr = np.array([train_items[i].label for i in keep_tr])
    yte = np.array([test_items[i].label for i in keep_te])
    if len(set(ytr.tolist())) < 2 or not len(yte):
        return None
    try:
        model.fit(xtr, ytr)
    except ValueError:  # e.g. texts with no words at all
        return None
    return {"method": METHODS[modality], "accuracy": float((model.predict(xte) == yte).mean()),
            "train_examples": int(len(ytr)), "scored_examples": int(len(yte))}


# what makes data unlike a backbone's pre-training, in the words of the data at hand
UNLIKE = {"image": "very small or unusual images", "text": "another language, code, or lists of words rather "
          "than sentences"}


def compare(dataset, metrics: dict, report: Callable = lambda m: None) -> dict | None:
    """Score the baseline on the split the final model is judged on; warn when it beats the model.

    The test split when there is one (the baseline then learns from train + validation, as a
    refit model did), else validation (the baseline learns from train only).
    """
    split = "test" if metrics.get("test") else ("val" if metrics.get("val") else None)
    if split is None:
        return None
    fit_on = list(dataset.split("train"))
    if split == "test" and metrics.get("refit"):
        fit_on += list(dataset.split("val"))
    try:
        result = fit_and_score(dataset.modality, fit_on, list(dataset.split(split)))
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
