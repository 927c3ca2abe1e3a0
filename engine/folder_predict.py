"""A whole folder through a model, streamed: any number of files, flat memory, cancellable.

The folder is listed once (paths only); files are then read, predicted and sent on in
chunks, and nothing of a chunk is kept once it is sent, so memory does not grow with the
folder (benchmarks/bench_folder_predict.py measures peak RSS on 50 000 files). Files that
are not of a kind the model reads are rows too, with the reason, so the table (and the CSV)
accounts for every file in the folder.
"""
from __future__ import annotations

import os
import time
from typing import Callable

from . import protocol
from .errors import DataError

CHUNK = 64  # files per partial result: one JSON line of ~15 KB, a few per second


def list_files(folder: str) -> list[str]:
    """Every visible file under `folder`, sorted by path (hidden files and folders skipped)."""
    out: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
    return out


def predict_folder(predictor, folder: str, *, top_k: int, send: Callable[[protocol.JobProgress], None],
                   cancel=None, extensions=None) -> protocol.FolderPredicted:
    """Predict every file under `folder`; rows go to `send` in JobProgress messages as they are ready."""
    from .inference import _extensions

    folder = os.path.abspath(os.path.expanduser(folder))
    if not os.path.isdir(folder):
        raise DataError(f"{folder} is not a folder; choose a folder of files to predict.")
    exts, sniff = (extensions, None) if extensions else _extensions(predictor.modality)
    exts = tuple(e.lower() for e in exts)

    def reads(p: str) -> bool:  # by extension, or by content (a DICOM file from a PACS export has none)
        return p.lower().endswith(exts) or (sniff is not None and sniff(p))

    files = list_files(folder)
    total, done, unreadable = len(files), 0, 0
    k = max(1, min(int(top_k), len(predictor.classes)))
    t0 = time.monotonic()
    cancelled = False
    for start in range(0, total, CHUNK):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        chunk = files[start:start + CHUNK]
        readable = [p for p in chunk if reads(p)]
        kept = set(readable)
        rows: dict[str, dict] = {p: {"path": p, "error": f"not a kind of file this {predictor.modality} model reads"}
                                 for p in chunk if p not in kept}
        if readable:
            probs, errors = predictor.predict_detailed(readable)
            for i, p in enumerate(readable):
                rows[p] = {"path": p, "error": errors[i]} if i in errors else predictor.row(p, probs[i], k)
        items = [rows[p] for p in chunk]
        unreadable += sum(1 for r in items if "error" in r)
        done += len(chunk)
        rate = done / max(1e-9, time.monotonic() - t0)
        send(protocol.JobProgress(done=done, total=total, per_s=rate, eta_s=(total - done) / rate if rate else None,
                                  items=items))
    return protocol.FolderPredicted(folder=folder, total=total, done=done, unreadable=unreadable,
                                    cancelled=cancelled, seconds=time.monotonic() - t0)
