"""Pickled weights found outside the library are converted before the engine reads them.

A `--weights model.pth` the user names, or a file in the torch hub cache, is a pickle:
instead of unpickling it in the training process, it goes through the same short-lived
converter process as a library import (`torch.load(weights_only=True)`, finite check,
key/shape match against the architecture) and the engine loads only the safetensors copy.
Copies are kept in `<data dir>/converted/<backbone>-<sha256 prefix>/`, so a file is
converted once, and a changed file (new hash) is converted again.
"""
from __future__ import annotations

from pathlib import Path

from engine.atomic import atomic_dir
from engine.library.manifest import sha256_file
from engine.library.paths import data_dir

PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")


def converted_dir() -> Path:
    return data_dir() / "converted"


def safe_weights(spec, path: Path | None) -> Path | None:
    """`path` itself when it is safetensors or a folder; else its checked safetensors copy."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir() or path.suffix.lower() not in PICKLE_SUFFIXES:
        return path
    from engine.library.importer import _expect, run_convert

    digest = sha256_file(path)
    out = converted_dir() / f"{spec.id}-{digest[:16]}"
    copy = out / "model.safetensors"
    if copy.is_file():
        return copy
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as stage:
        run_convert(path, stage, expect=_expect(spec))
        (stage / "SOURCE.txt").write_text(f"{path}\nsha256 {digest}\n", encoding="utf-8")
    return copy
