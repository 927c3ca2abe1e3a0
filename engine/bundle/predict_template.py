#!/usr/bin/env python3
"""Predict with this Transfer Studio model bundle, without Transfer Studio.

Needs Python 3.9+ with onnxruntime and numpy, plus Pillow for an image model or
tokenizers for a text model (a simple word-count model needs nothing more):
pip install onnxruntime numpy pillow tokenizers
DICOM inputs (.dcm, or PACS files with no extension) also need pydicom and pylibjpeg
with its plugins:  pip install pydicom pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle

    python predict.py photo.jpg more_photos/          # a table of the top 3 classes
    python predict.py notes/ --top-k 1 --csv preds.csv
    python predict.py --text "some words to classify"  # text models only

Every file in the bundle is checked against manifest.json first; a changed file is
refused. Unreadable inputs are listed at the end and do not stop the others.
Probabilities are temperature-scaled and the decision follows decision.json (a binary
model's threshold on its positive class), as in Transfer Studio.
"""
from __future__ import annotations

# >>> decoding
from engine.data.images import IMAGE_EXTS, load_image  # noqa: F401 - image bundles: that module's text,
from engine.data.dicom import DICOM_EXTS, load_any_image, sniff_dicom  # noqa: F401 - then dicom_windows.py and dicom.py
from engine.data.text import TEXT_EXTS, clean_text, read_text  # noqa: F401 - text bundles: that module's text
# <<< decoding
# >>> preprocessing
from engine.bundle.preprocessing import (collect_inputs, encode_texts, grey_pixels,  # noqa: F401 - replaced
                                         load_tokenizer, preprocess_image, softmax, top_k,  # by that module's
                                         word_counts)  # text at export
# <<< preprocessing
# >>> decision
from engine.bundle.decision import DECISION_FILE, calibrate, decide  # noqa: F401 - replaced at export
# <<< decision

import argparse
import csv
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE_FORMAT = "transfer-studio-bundle"
READS_VERSION = 1
BATCH = 32


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def load_manifest() -> dict:
    path = os.path.join(HERE, "manifest.json")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        fail(f"{path} is missing or damaged; copy the whole bundle folder again.")
    if manifest.get("format") != BUNDLE_FORMAT or not isinstance(manifest.get("format_version"), int):
        fail(f"{HERE} is not a Transfer Studio bundle.")
    if manifest["format_version"] > READS_VERSION:
        fail(f"this predict.py reads bundle format {READS_VERSION}, the bundle is format {manifest['format_version']}.")
    return manifest


def verify(manifest: dict, names: list) -> None:
    """Refuse to run if a file this script uses differs from the one that was saved."""
    for name in names:
        expected = manifest["files"].get(name)
        path = os.path.join(HERE, name)
        if expected is None or not os.path.isfile(path):
            fail(f"{name} is missing from the bundle; copy the whole folder again.")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != expected:
            fail(f"{name} has changed since the bundle was saved (sha256 mismatch); re-export the model.")


def read_json(name: str) -> dict:
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def run_batches(session, items: list, prepare, to_arrays) -> tuple:
    """Probabilities for each readable item, and errors {index: message} for the others."""
    probs, errors = {}, {}
    wanted = [i.name for i in session.get_inputs()]
    for start in range(0, len(items), BATCH):
        good, prepared = [], []
        for i in range(start, min(len(items), start + BATCH)):
            try:
                prepared.append(prepare(items[i]))
                good.append(i)
            except Exception as exc:
                errors[i] = f"could not read it ({type(exc).__name__}: {exc})"
        if good:
            arrays = to_arrays(prepared)
            p = softmax(session.run(["logits"], {k: arrays[k] for k in wanted})[0])
            probs.update(zip(good, p))
    return probs, errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Top-k predictions of this model bundle.")
    parser.add_argument("inputs", nargs="*", help="files or folders to classify")
    parser.add_argument("--text", action="append", default=[], help="a text to classify (text models; repeatable)")
    parser.add_argument("--top-k", type=int, default=3, help="how many classes to show per input (default 3)")
    parser.add_argument("--csv", help="also write the predictions to this CSV file")
    parser.add_argument("--json", action="store_true", help="print one JSON object per input instead of a table")
    args = parser.parse_args(argv)
    manifest = load_manifest()
    modality = manifest["modality"]
    pp = read_json("preprocess.json")
    features = pp.get("features")  # "grey_pixels" / "word_counts": a simple model, no network
    used = ["model.onnx", "labels.json", "preprocess.json"]
    if modality == "text":
        used.append(pp["vocabulary"] if features == "word_counts" else pp["tokenizer"])
    has_rule = DECISION_FILE in manifest["files"]  # bundles saved before decision.json: argmax
    verify(manifest, used + ([DECISION_FILE] if has_rule else []))
    classes = read_json("labels.json")["classes"]
    rule = read_json(DECISION_FILE) if has_rule else None
    if not args.inputs and not args.text:
        parser.error("name at least one file or folder" + (" (or --text)" if modality == "text" else ""))
    if args.text and modality != "text":
        parser.error("--text works with text models; this one reads images")
    import onnxruntime

    session = onnxruntime.InferenceSession(os.path.join(HERE, "model.onnx"), providers=["CPUExecutionProvider"])
    if modality == "image":
        files, problems = collect_inputs(args.inputs, IMAGE_EXTS | DICOM_EXTS, sniff_dicom)
    else:
        files, problems = collect_inputs(args.inputs, TEXT_EXTS)
    items = [("file", f) for f in files] + [("text", t) for t in args.text]
    if features == "grey_pixels":
        def prepare(item):
            return grey_pixels(load_any_image(item[1], window=pp.get("dicom_window", "file")), pp)

        def to_arrays(batch):
            return {"pixels": np.stack(batch)}
    elif features == "word_counts":
        vocabulary = {w: i for i, w in enumerate(read_json(pp["vocabulary"]))}

        def prepare(item):
            return read_text(item[1]) if item[0] == "file" else clean_text(item[1])

        def to_arrays(batch):
            return {"counts": np.stack([word_counts(t, vocabulary) for t in batch])}
    elif modality == "image":
        def prepare(item):
            return preprocess_image(load_any_image(item[1], window=pp.get("dicom_window", "file")), pp)

        def to_arrays(batch):
            return {"pixel_values": np.stack(batch)}
    else:
        tokenizer = load_tokenizer(os.path.join(HERE, pp["tokenizer"]))

        def prepare(item):
            return read_text(item[1]) if item[0] == "file" else clean_text(item[1])

        def to_arrays(batch):
            return encode_texts(tokenizer, batch, pp)
    probs, errors = run_batches(session, items, prepare, to_arrays)
    rows = []
    for i, (kind, value) in enumerate(items):
        name = value if kind == "file" else f"text: {value[:40]}"
        if i in errors:
            problems.append({"path": name, "error": errors[i]})
        else:
            p = calibrate(probs[i][None], (rule or {}).get("temperature", 1.0))
            row = {"path": name, "decision": decide(p, classes, rule)[0], "top": top_k(p[0], classes, args.top_k)}
            if rule and rule.get("threshold") is not None:
                row["positive_probability"] = float(p[0, classes.index(rule["positive_class"])])
                row["threshold"] = rule["threshold"]
            rows.append(row)
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(row["path"] + "\t" + row["decision"] + "\t"
                  + "\t".join(f"{label} {p:.4f}" for label, p in row["top"]))
    if args.csv:
        k = max(1, args.top_k)
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["path", "decision"] + [c for j in range(1, k + 1) for c in (f"label_{j}", f"probability_{j}")]
                       + ["error"])
            for row in rows:
                top = row["top"]
                w.writerow([row["path"], row["decision"]] + [x for pair in top for x in (pair[0], f"{pair[1]:.6f}")]
                           + [""] * (2 * (k - len(top))) + [""])
            for p in problems:
                w.writerow([p["path"], ""] + [""] * (2 * k) + [p["error"]])
    for p in problems:
        print(f"could not predict {p['path']}: {p['error']}", file=sys.stderr)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
