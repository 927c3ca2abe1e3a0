"""Which registry entry does a weights file or folder fill? And what is already cached here?

Guesses come from names only (never from running anything): torchvision's published
file names (`resnet18-f37072fd.pth`), a name equal to an entry id or architecture, a
Hugging Face repo id from `config.json`'s `_name_or_path` or the cache folder name
(`models--org--name`). Standard library only.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from engine.backbones import all_specs
from engine.backbones.locate import hf_hub_dir, torch_hub_dir

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
_HASH_TAIL = re.compile(r"[-_.]([0-9a-f]{6,64})$")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _stem(name: str) -> str:
    for suffix in WEIGHT_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return _HASH_TAIL.sub("", name)


def _repo_from_path(path: Path) -> str | None:
    for part in path.parts:
        if part.startswith("models--"):
            return part[len("models--"):].replace("--", "/")
    return None


def _match_repo(repo: str, specs) -> str | None:
    repo_l = repo.lower().strip("/")
    base = repo_l.rsplit("/", 1)[-1]
    for spec in specs:
        repos = [r.lower() for r in spec.weights.hf_repos] + ([spec.arch.lower()] if "/" in spec.arch else [])
        if repo_l in repos or base in [r.rsplit("/", 1)[-1] for r in repos]:
            return spec.id
    return None


def guess_backbone(path: str | Path) -> str | None:
    """The registry id a file or folder is probably for, or None when the names say nothing."""
    path = Path(path)
    specs = all_specs()
    if path.is_file():
        for spec in specs:
            if path.name in spec.weights.filenames:
                return spec.id
        stem = _norm(_stem(path.name))
        for spec in specs:
            names = {_norm(spec.id), _norm(spec.arch)} | {_norm(_stem(f)) for f in spec.weights.filenames}
            if stem in names:
                return spec.id
        repo = _repo_from_path(path)
        return _match_repo(repo, specs) if repo else None
    if path.is_dir():
        names = []
        try:
            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
            names.append(str(cfg.get("_name_or_path") or ""))
        except (OSError, ValueError, AttributeError):
            pass
        repo = _repo_from_path(path)
        names += [repo or "", path.name]
        for name in filter(None, names):
            found = _match_repo(name, specs)
            if found:
                return found
        stem = _norm(path.name)
        return next((s.id for s in specs if stem in (_norm(s.id), _norm(s.arch))), None)
    return None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def scan_caches(in_library: set[str] | None = None) -> list[dict]:
    """Weights already on this machine in the torch hub and Hugging Face caches, with guesses.

    Returns [{path, kind ("torch_hub_cache"|"hf_cache"), backbone (id or None), size_bytes,
    in_library}]; nothing is imported.
    """
    in_library = in_library or set()
    found = []
    hub = torch_hub_dir()
    if hub.is_dir():
        for p in sorted(hub.iterdir()):
            if p.is_file() and p.suffix in WEIGHT_SUFFIXES:
                guess = guess_backbone(p)
                found.append({"path": str(p), "kind": "torch_hub_cache", "backbone": guess,
                              "size_bytes": p.stat().st_size, "in_library": guess in in_library})
    hf = hf_hub_dir()
    if hf.is_dir():
        for repo_dir in sorted(hf.glob("models--*")):
            snaps = repo_dir / "snapshots"
            for snap in sorted(snaps.iterdir()) if snaps.is_dir() else []:
                if (snap / "config.json").is_file():
                    guess = guess_backbone(snap)
                    found.append({"path": str(snap), "kind": "hf_cache", "backbone": guess,
                                  "size_bytes": _size(snap), "in_library": guess in in_library})
    return found
