"""Where computed explanations are kept: per (model weights, file contents, class, method).

`<data dir>/explanations/<model key>/<file key>-<class>-<method>.*`, written atomically. The
model key is the sha256 of its weights (a bundle's manifest already holds it; a run's file is
hashed once per size and mtime), so a retrained run never shows an old map and a copied bundle
reuses its maps. Nothing is written into the bundle or the run: explanations work from any
bundle, read-only ones too, and the bundle format is unchanged.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path

import numpy as np

from .. import atomic

_HASHES: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()


def root() -> Path:
    from ..library.paths import data_dir

    return data_dir() / "explanations"


def _file_hash(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _HASHES:
            return _HASHES[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    with _LOCK:
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def model_key(model_path: str | Path) -> str:
    """sha256 of the model's weights: a bundle's manifest entry, else the run checkpoint's file."""
    p = Path(model_path)
    manifest = p / "manifest.json"
    if manifest.is_file():
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        if files.get("model.safetensors"):
            return str(files["model.safetensors"])
        return _file_hash(manifest)
    from ..modelio import checkpoint_dir

    return _file_hash(checkpoint_dir(p, "best") / "model.safetensors")


def input_key(path: str) -> str:
    """sha256 of the file's bytes (plus a CSV row's '#row=N', which names one text in the file)."""
    file_part, sep, row = str(path).partition("#")
    return hashlib.sha256((_file_hash(Path(file_part)) + sep + row).encode()).hexdigest()


class Entry:
    """One explanation's files in the cache: `stem.json` (always), and for images the map (npy)
    and three PNGs (the model's view, the coloured map, the two blended)."""

    def __init__(self, folder: Path, stem: str):
        self.folder, self.stem = folder, stem

    def path(self, suffix: str) -> Path:
        return self.folder / f"{self.stem}{suffix}"

    def load(self) -> dict | None:
        try:
            info = json.loads(self.path(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        files = [info.get(k) for k in ("map", "base", "heat", "overlay") if info.get(k)]
        return info if all(Path(f).is_file() for f in files) else None

    def save_array(self, array: np.ndarray) -> str:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        atomic.write_bytes(self.path(".npy"), buf.getvalue())
        return str(self.path(".npy"))

    def save_png(self, suffix: str, data: bytes) -> str:
        atomic.write_bytes(self.path(suffix), data)
        return str(self.path(suffix))

    def save_info(self, info: dict) -> None:
        atomic.write_json(self.path(".json"), info)


def entry(model_path: str | Path, path: str, target: int, method: str) -> Entry:
    folder = root() / model_key(model_path)[:24]
    folder.mkdir(parents=True, exist_ok=True)
    return Entry(folder, f"{input_key(path)[:32]}-{int(target)}-{method}")


def load_map(npy_path: str | Path) -> np.ndarray:
    return np.load(str(npy_path), allow_pickle=False)
