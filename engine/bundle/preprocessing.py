"""Turning a file into the model's input arrays: the one source of truth.

This module needs only the standard library and numpy, plus Pillow for images and
`tokenizers` for text (each imported when used). The app's Predictor calls these
functions, and at export time the bundle's standalone `predict.py` receives this file's
text verbatim (beside engine/data/images.py and text.py, which decode the files), so
the saved model sees exactly the pixels and token ids the app would give it. Keep it
free of any other import.
"""
from __future__ import annotations

import math
import os

import numpy as np

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def _resample(name: str):
    from PIL import Image

    if name not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {name!r}")
    return getattr(Image.Resampling, name.upper())


def resize_size(pp: dict) -> int:
    """Shorter side before the centre crop: floor(input_size / crop_pct), as timm does."""
    return int(math.floor(int(pp["input_size"]) / float(pp.get("crop_pct") or 1.0)))


def preprocess_image(img, pp: dict) -> np.ndarray:
    """RGB PIL image -> float32 array (3, input_size, input_size), the evaluation transform.

    Shorter side resized to resize_size(pp) with pp["interpolation"], centre crop of
    pp["input_size"], scaled to [0, 1], then (x - mean) / std per channel.
    """
    from PIL import Image

    if img.mode != "RGB":
        img = img.convert("RGB")
    size = int(pp["input_size"])
    short_target = resize_size(pp)
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != short_target:
        new_short, new_long = short_target, int(short_target * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        img = img.resize((new_w, new_h), resample=_resample(str(pp.get("interpolation", "bilinear"))))
    w, h = img.size
    if w < size or h < size:  # only when crop_pct > 1: pad with black like torchvision
        canvas = Image.new("RGB", (max(w, size), max(h, size)))
        canvas.paste(img, ((max(w, size) - w) // 2, (max(h, size) - h) // 2))
        img, (w, h) = canvas, canvas.size
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.uint8).astype(np.float32) * np.float32(1.0 / 255.0)
    x = x.transpose(2, 0, 1)
    mean = np.asarray(pp["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(pp["std"], dtype=np.float32).reshape(3, 1, 1)
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


# ---- the simple (non-neural) model's inputs: small grey pixels, or word counts over a vocabulary

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default word pattern, so counts match its TfidfVectorizer


def grey_pixels(img, pp: dict) -> np.ndarray:
    """Image -> float32 vector of pp["size"]**2 grey values in [0, 1] (the whole image squeezed, no crop)."""
    from PIL import Image

    size = int(pp["size"])
    img = img.convert("L").resize((size, size), resample=Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.uint8).astype(np.float32).ravel() * np.float32(1.0 / 255.0)


def words(text: str) -> list[str]:
    import re

    return re.findall(TOKEN_PATTERN, text.lower())


def word_counts(text: str, vocabulary: dict[str, int]) -> np.ndarray:
    """Text -> float32 vector of how often each vocabulary word occurs (unknown words are dropped)."""
    out = np.zeros(len(vocabulary), dtype=np.float32)
    for w in words(text):
        j = vocabulary.get(w)
        if j is not None:
            out[j] += 1.0
    return out


def load_tokenizer(path: str):
    """A `tokenizers.Tokenizer` from tokenizer.json, with its own padding/truncation off."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


def encode_texts(tokenizer, texts: list[str], pp: dict) -> dict[str, np.ndarray]:
    """Token ids for a batch: truncation to pp["max_length"], right padding with pp["pad_id"].

    Returns int64 arrays for each name in pp["input_names"] (input_ids, attention_mask,
    token_type_ids), shaped (batch, longest sequence in the batch).
    """
    tokenizer.enable_truncation(max_length=int(pp["max_length"]))
    encodings = tokenizer.encode_batch([str(t) for t in texts])
    longest = max((len(e.ids) for e in encodings), default=1) or 1
    n = len(encodings)
    ids = np.full((n, longest), int(pp.get("pad_id", 0)), dtype=np.int64)
    mask = np.zeros((n, longest), dtype=np.int64)
    types = np.zeros((n, longest), dtype=np.int64)
    for i, e in enumerate(encodings):
        k = len(e.ids)
        ids[i, :k] = e.ids
        mask[i, :k] = 1
        types[i, :k] = e.type_ids
    arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {name: arrays[name] for name in pp.get("input_names", ("input_ids", "attention_mask"))}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (stable), returned as float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def top_k(probs: np.ndarray, classes: list[str], k: int) -> list[list]:
    """[[label, probability], ...] for the k most likely classes, most likely first."""
    order = np.argsort(-np.asarray(probs), kind="stable")[: max(1, int(k))]
    return [[classes[int(i)], float(probs[int(i)])] for i in order]


def collect_inputs(paths: list[str], extensions, sniff=None) -> tuple[list[str], list[dict]]:
    """Expand folders (recursively, sorted) into files with one of `extensions` (or, with
    `sniff`, any other file it accepts: DICOM files from a PACS often have no extension).

    Returns (files, problems) where problems are [{"path", "error"}] for names that do
    not exist or folders with nothing usable. Files named directly are kept whatever
    their extension (the decoder then decides).
    """
    exts = tuple(e.lower() for e in extensions)
    files: list[str] = []
    problems: list[dict] = []
    for raw in paths:
        p = os.path.abspath(os.path.expanduser(str(raw)))
        if os.path.isdir(p):
            found = []
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, n) for n in names
                             if not n.startswith(".") and n.upper() != "DICOMDIR"
                             and (n.lower().endswith(exts) or (sniff is not None and sniff(os.path.join(root, n)))))
            if not found:
                problems.append({"path": p, "error": "no files of a readable kind in this folder"})
            files.extend(sorted(found))
        elif os.path.isfile(p):
            files.append(p)
        else:
            problems.append({"path": p, "error": "no such file or folder"})
    return files, problems
