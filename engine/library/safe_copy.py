"""Pickled weights found outside the library are converted before the engine reads them.

A `--weights model.pth` the user names, or a file in the torch hub cache, is a pickle:
instead of unpickling it in the training process, it goes through the same short-lived
converter process as a library import (`torch.load(weights_only=True)`, finite check,
key/shape match against the architecture) and the engine loads only the safetensors copy.
Copies are kept in `<data dir>/converted/<backbone>-<sha256 prefix>/`, so a file is
converted once, and a changed file (new hash) is converted again.

A safetensors file or a model folder is read as it is, after the checks a library import
makes (every tensor finite, the tensors fit the architecture): a file full of NaN is
refused here, before the run folder exists, instead of training a head on NaN features.
Library entries were checked when they were imported and are not read twice.
"""
from __future__ import annotations

from pathlib import Path

from engine.atomic import atomic_dir
from engine.library.manifest import sha256_file
from engine.library.paths import data_dir

PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")


def converted_dir() -> Path:
    return data_dir() / "converted"


def _in_library(path: Path) -> bool:
    from engine.library.paths import library_root

    try:
        path.resolve().relative_to(library_root().resolve())
        return True
    except ValueError:
        return False


def check_weights(spec, path: Path) -> None:
    """Raise WeightsError unless the safetensors file (or the folder's weights) passes the import checks.

    Safetensors holds no code, so it is read in this process; a folder's pickled weights go
    through the converter process, as on import."""
    from engine.errors import WeightsError
    from engine.library.convert import Refused, convert
    from engine.library.importer import _expect, _weight_files, run_convert

    files = _weight_files(path) if path.is_dir() else [path]
    # one file is matched onto the architecture as an import does; a transformers folder is
    # matched by transformers itself (its names carry the folder's own prefix)
    expect = _expect(spec) if not path.is_dir() and spec.source != "transformers" else None
    for f in files:
        if f.suffix.lower() in PICKLE_SUFFIXES:
            run_convert(f, f.parent, check_only=True)
            continue
        try:
            convert(f, f.parent, expect=expect, check_only=True)
        except Refused as exc:
            raise WeightsError(str(exc)) from None


def weights_digest(path) -> str | None:
    """sha256 of a weights file, or of a folder's weight files (name and hash of each); None when
    there is none. What a bundle records of its starting weights instead of where they lay."""
    import hashlib

    from engine.library.importer import _weight_files

    if path is None or str(path) == "random-init":
        return None
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    files = _weight_files(path) if path.is_dir() else []
    if not files:
        return None
    return hashlib.sha256("".join(f"{f.name}\t{sha256_file(f)}\n" for f in files).encode()).hexdigest()


def safe_weights(spec, path: Path | None) -> Path | None:
    """`path` itself when it is safetensors or a folder (checked); else its checked safetensors copy."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir() or path.suffix.lower() not in PICKLE_SUFFIXES:
        if not _in_library(path):
            check_weights(spec, path)
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
