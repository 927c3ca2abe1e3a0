"""Find pretrained weights already on this computer (standard library only; never downloads).

Places looked at, in order: a file or folder the user names; the model library
(`$TRANSFER_STUDIO_LIBRARY`, default ~/.local/share/transfer-studio/library, one
`<id>/` folder per backbone); then the entry's own source: a Python package that ships
the file, the torch hub cache, or the Hugging Face cache.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from ..errors import WeightsError
from .spec import BackboneSpec, WeightsRef

STATE_DICT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                   "pytorch_model.bin.index.json")


def library_root() -> Path:
    """$TRANSFER_STUDIO_LIBRARY, else <data dir>/library (one definition: engine.library.paths)."""
    from ..library.paths import library_root as _root
    return _root()


def library_weights(backbone_id: str, root: Path | None = None) -> Path | None:
    """The `<id>/` folder when it is a Hugging Face folder (config + tokenizer beside the weights),
    else `<library>/<id>/model.safetensors`."""
    folder = (root or library_root()) / backbone_id
    if (folder / "config.json").is_file():
        return folder
    if (folder / "model.safetensors").is_file():
        return folder / "model.safetensors"
    return None


def torch_hub_dir() -> Path:
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser() / "hub" / "checkpoints"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "torch" / "hub" / "checkpoints"


def hf_hub_dir() -> Path:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "huggingface" / "hub"


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def _has_hf_weights(folder: Path) -> bool:
    return is_hf_folder(folder) and any((folder / f).is_file() for f in HF_WEIGHT_FILES)


def hf_snapshot(repo: str, hub: Path | None = None) -> Path | None:
    """A cached snapshot folder of `repo` with a config and weights (the `main` ref first)."""
    base = (hub or hf_hub_dir()) / ("models--" + repo.replace("/", "--"))
    snaps = base / "snapshots"
    if not snaps.is_dir():
        return None
    candidates = []
    ref = base / "refs" / "main"
    if ref.is_file():
        candidates.append(snaps / ref.read_text().strip())
    candidates += sorted(p for p in snaps.iterdir() if p.is_dir())
    return next((c for c in candidates if _has_hf_weights(c)), None)


def _package_path(ref: WeightsRef) -> Path | None:
    if not ref.module or importlib.util.find_spec(ref.module) is None:
        return None
    try:
        obj = importlib.import_module(ref.module)
        for attr in ref.getter.split("."):
            obj = getattr(obj, attr)
        path = Path(str(obj()))
    except Exception:  # a broken or changed package counts as "not here"
        return None
    return path if path.exists() else None


def builtin_weights(spec: BackboneSpec) -> tuple[str, Path] | None:
    """(kind, path) of the weights the entry's own source provides, if they are here."""
    ref = spec.weights
    if ref.kind == "package":
        path = _package_path(ref)
        if path is not None:
            return "package", path
    for name in ref.filenames:
        path = torch_hub_dir() / name
        if path.is_file():
            return "torch_hub", path
    for repo in ref.hf_repos:
        path = hf_snapshot(repo)
        if path is not None:
            return "hf_cache", path
    return None


def check_user_path(user_path: str | os.PathLike) -> Path:
    """The user's weights path, or WeightsError saying why it cannot be used."""
    path = Path(user_path).expanduser()
    if not path.exists():
        raise WeightsError(f"Weights file not found: {path}; check the path.")
    if path.is_dir():
        if is_hf_folder(path) or any((path / f).is_file() for f in HF_WEIGHT_FILES):
            return path.resolve()
        raise WeightsError(f"{path} is a folder without config.json or model weights; "
                           "name a .safetensors/.pth file or a Hugging Face model folder.")
    if path.suffix.lower() not in STATE_DICT_SUFFIXES:
        raise WeightsError(f"{path.name} is not a weights file this app reads; use a .safetensors, .pth, .pt or "
                           ".bin state dict, or a Hugging Face model folder.")
    return path.resolve()


def find_weights(spec: BackboneSpec, user_path: str | os.PathLike | None = None) -> tuple[str, Path] | None:
    """(where, path) of the weights to use: where is "file", "library" or the built-in kind."""
    if user_path is not None:
        return "file", check_user_path(user_path)
    lib = library_weights(spec.id)
    if lib is not None:
        return "library", lib
    return builtin_weights(spec)


def locate_weights(spec: BackboneSpec, user_path: str | os.PathLike | None = None) -> Path | None:
    """The weights file or folder for `spec`, or None when none is on this computer."""
    found = find_weights(spec, user_path)
    return found[1] if found else None


def missing_message(spec: BackboneSpec) -> str:
    """One sentence: weights are missing and how to bring them in."""
    ref = spec.weights
    what = ""
    if ref.filenames:
        what = f" (the torchvision file {ref.filenames[0]}, from {ref.url})"
    elif ref.hf_repos:
        what = f" (a Hugging Face folder of {ref.hf_repos[0]})"
    elif ref.package:
        what = f" (pip package {ref.package})"
    return (f"weights missing: no pretrained weights for {spec.display_name} are on this computer; bring them in "
            f"with --weights FILE{what} or add them to the model library ({library_root() / spec.id}).")


def weights_status(spec: BackboneSpec) -> dict:
    """JSON-able weights availability for listings: available, where, path, hint."""
    if spec.weights.kind == "random":
        return {"available": True, "where": "random", "path": None, "hint": "random init (test entry)"}
    found = find_weights(spec)
    if found:
        return {"available": True, "where": found[0], "path": str(found[1]), "hint": ""}
    return {"available": False, "where": None, "path": None, "hint": missing_message(spec)}
