"""The simple model itself: fitted with scikit-learn, kept as plain arrays, scored with numpy.

Fitting uses scikit-learn (StandardScaler + LogisticRegression on grey pixels; TfidfVectorizer
with sublinear counts + LogisticRegression on words). What is kept is the arithmetic that
follows from it, as arrays: images `(pixels - mean) / scale`, texts `l2norm((1 + log counts)
* idf)`, then `logits = x @ weight.T + bias`. The same arithmetic runs in three places from
these arrays: here (the app), in the bundle's ONNX graph (classical/onnx_graph.py) and in
its predict.py (through onnxruntime), so one saved model gives one answer everywhere. The
input features (bundle/preprocessing.py `grey_pixels` / `word_counts`) are shared too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..bundle import preprocessing as pre

PIXELS, WORDS = "grey_pixels", "word_counts"
KIND_OF_MODALITY = {"image": PIXELS, "text": WORDS}
THUMBNAIL = 16  # pixels a side: digits-sized data is where pixels beat an ImageNet backbone
MAX_FIT_EXAMPLES = 4000  # fitted on at most this many (evenly spread): large data stays seconds
C = 1.0  # scikit-learn's default regularisation: the baseline as measured (issue 19's 79 % on text)
WEIGHTS_FILE, META_FILE, VOCAB_FILE = "model.safetensors", "classical.json", "vocabulary.json"
METHODS = {PIXELS: f"logistic regression on {THUMBNAIL}x{THUMBNAIL} grey pixels",
           WORDS: "logistic regression on TF-IDF word counts"}


@dataclass
class SimpleModel:
    kind: str
    classes: list[str]
    weight: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)
    mean: np.ndarray | None = None  # pixels: standardisation
    scale: np.ndarray | None = None
    idf: np.ndarray | None = None  # words
    vocabulary: list[str] = field(default_factory=list)
    size: int = THUMBNAIL
    dicom_window: str = "file"  # how DICOM values become grey pixels (the run's setting)

    @property
    def method(self) -> str:
        return METHODS[self.kind]

    @property
    def preprocess(self) -> dict:
        """preprocess.json of a bundle (and the Predictor's preprocess dict)."""
        if self.kind == PIXELS:
            return {"features": PIXELS, "size": self.size, "dicom_window": self.dicom_window}
        return {"features": WORDS, "vocabulary": VOCAB_FILE, "token_pattern": pre.TOKEN_PATTERN, "lowercase": True}

    def vocabulary_index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.vocabulary)}

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.kind == PIXELS:
            return (x - self.mean) / self.scale
        tf = np.where(x > 0, 1.0 + np.log(np.where(x > 0, x, 1.0)), 0.0) * self.idf
        norm = np.sqrt((tf * tf).sum(1, keepdims=True))
        return tf / np.maximum(norm, 1e-12)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.transform(x) @ self.weight.T + self.bias

    # ------------------------------------------------------------------ files
    def save(self, folder: str | Path) -> None:
        """model.safetensors (arrays), classical.json (what they mean), vocabulary.json (texts)."""
        from safetensors.numpy import save

        from ..atomic import write_bytes, write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"weight": self.weight, "bias": self.bias}
        tensors.update({k: getattr(self, k) for k in ("mean", "scale", "idf") if getattr(self, k) is not None})
        write_bytes(folder / WEIGHTS_FILE, save({k: np.ascontiguousarray(v, dtype=np.float32)
                                                 for k, v in tensors.items()}))
        write_json(folder / META_FILE, {"kind": self.kind, "method": self.method, "classes": self.classes,
                                        **self.preprocess})
        if self.kind == WORDS:
            write_json(folder / VOCAB_FILE, self.vocabulary)

    @classmethod
    def load(cls, folder: str | Path) -> "SimpleModel":
        from safetensors.numpy import load_file

        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        t = {k: v.astype(np.float64) for k, v in load_file(str(folder / WEIGHTS_FILE)).items()}
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8")) if meta["kind"] == WORDS else []
        return cls(meta["kind"], list(meta["classes"]), t["weight"], t["bias"], t.get("mean"), t.get("scale"),
                   t.get("idf"), list(vocab), int(meta.get("size", THUMBNAIL)), str(meta.get("dicom_window", "file")))


def is_simple(folder: str | Path) -> bool:
    """True for a checkpoint or bundle folder that holds a simple model."""
    return (Path(folder) / META_FILE).is_file()


def spread(items: list, limit: int = MAX_FIT_EXAMPLES) -> list:
    """At most `limit` items, evenly spaced (class proportions kept for class-ordered lists)."""
    if len(items) <= limit:
        return list(items)
    keep = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in keep]


def _two_rows(coef: np.ndarray, intercept: np.ndarray, n_fitted: int):
    if n_fitted == 2:  # scikit-learn keeps one row for two classes: logits (-f/2, +f/2)
        return np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


def _expand(classes: list[str], fitted: np.ndarray, coef: np.ndarray, intercept: np.ndarray):
    """Rows for every class; a class absent from training gets a bias far below the others."""
    weight = np.zeros((len(classes), coef.shape[1]))
    bias = np.full(len(classes), -1e4)
    for row, cls in enumerate(fitted):
        weight[int(cls)], bias[int(cls)] = coef[row], intercept[row]
    return weight, bias


def fit(kind: str, inputs: list, y: np.ndarray, classes: list[str], balanced: bool = False,
        dicom_window: str = "file") -> SimpleModel:
    """Fit on `inputs` (pixel vectors, or texts) with integer labels `y` into `classes`."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise ValueError("the simple model needs examples of at least two classes")
    clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced" if balanced else None)
    if kind == PIXELS:
        x = np.stack(inputs).astype(np.float64)
        mean, scale = x.mean(0), x.std(0)
        scale[scale == 0] = 1.0  # StandardScaler's rule
        clf.fit((x - mean) / scale, y)
        w, b = _expand(classes, clf.classes_, *_two_rows(clf.coef_, clf.intercept_, len(clf.classes_)))
        return SimpleModel(PIXELS, list(classes), w, b, mean=mean, scale=scale, dicom_window=dicom_window)
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, min_df=1, lowercase=True, token_pattern=pre.TOKEN_PATTERN)
    x = vec.fit_transform(inputs)  # raises ValueError on texts without a single word
    clf.fit(x, y)
    vocab = [""] * len(vec.vocabulary_)
    for word, j in vec.vocabulary_.items():
        vocab[j] = word
    w, b = _expand(classes, clf.classes_, *_two_rows(clf.coef_, clf.intercept_, len(clf.classes_)))
    return SimpleModel(WORDS, list(classes), w, b, idf=np.asarray(vec.idf_, dtype=np.float64), vocabulary=vocab)
