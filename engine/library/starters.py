"""The starter backbones whose weights ship inside installed Python packages.

On the first start each registry entry with `weights.kind == "package"` whose package is
installed (EfficientNet-Lite0, MiniLM-L6, ...) is imported into the library through the
same checked path as any user file: the Lite0 pickle is converted to safetensors in the
conversion subprocess, the MiniLM folder is checked and copied. Later calls only look
at each entry's files (existence and size), so they cost milliseconds.
"""
from __future__ import annotations

import logging
import threading
from importlib import metadata

from engine.errors import EngineError
from engine.library import store

log = logging.getLogger(__name__)
_lock = threading.Lock()
_failed: dict[str, str] = {}  # id -> reason: not retried on every listing in this process


def starter_specs() -> list:
    from engine.backbones import all_specs
    return [s for s in all_specs() if s.weights.kind == "package"]


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def ensure_starters(root=None) -> dict:
    """Import every missing or damaged starter. Returns {"created": [ids], "problems": {id: sentence}}."""
    from engine.backbones.locate import builtin_weights

    created, problems = [], {}
    with _lock:
        for spec in starter_specs():
            folder = store.entry_dir(spec.id, root)
            if folder.exists() and store.quick_problem(folder, store.read_entry(folder)) is None:
                continue
            if spec.id in _failed:
                problems[spec.id] = _failed[spec.id]
                continue
            found = builtin_weights(spec)
            if found is None or found[0] != "package":
                continue  # package not installed: nothing to add
            path = found[1]
            source = {"type": "package", "package": spec.weights.package,
                      "version": _package_version(spec.weights.package), "path": str(path), "name": path.name}
            try:
                from engine.library.importer import import_file, import_hf_folder
                if path.is_dir():
                    import_hf_folder(path, spec, replace=True, root=root, source=source, builtin=True)
                else:
                    import_file(path, spec, replace=True, root=root, source=source, builtin=True)
                created.append(spec.id)
            except EngineError as exc:
                log.warning("starter %s not added to the library: %s", spec.id, exc.message)
                problems[spec.id] = _failed[spec.id] = exc.message
    return {"created": created, "problems": problems}
