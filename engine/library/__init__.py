"""The offline model library: `<library>/<id>/` folders of checked, converted weights.

Listing, removing and verifying are standard library only; importing runs each weights
file through the conversion subprocess (engine/library/convert.py) and imports torch in
this process only to build the architecture it is checked against.

    from engine.library import library_root, list_items, import_path, remove, verify, ensure_starters
"""
from __future__ import annotations

from engine.library.paths import data_dir, library_root


def list_items(*, verify: bool = False, root=None) -> list[dict]:
    """One row per entry: id, backbone, display_name, kind, source, size_bytes, license, imported_at,
    builtin, hashes_ok (True/False after a verify, None unchecked), problem, path."""
    from engine.backbones import all_specs
    from engine.library import store

    names = {s.id: s.display_name for s in all_specs(include_hidden=True)}
    return [store.describe(folder, entry, verify=verify, display_names=names)
            for folder, entry in store.list_entries(root)]


def import_path(path, backbone: str | None = None, *, replace: bool = False, license: str | None = None,
                root=None) -> dict:
    """Import a weights file, HF folder or model pack. Returns {"entries": [...], "skipped": [...]}."""
    from engine.offline import enforce_offline_env

    enforce_offline_env()  # before the architecture check imports timm / transformers
    from pathlib import Path

    from engine.errors import WeightsError
    from engine.library.importer import import_file, import_hf_folder, resolve_spec
    from engine.library.pack import import_pack

    path = Path(path).expanduser()
    if not path.exists():
        raise WeightsError(f"{path} does not exist; check the path.")
    path = path.resolve()
    if path.is_dir() and (path / "manifest.json").is_file():
        return import_pack(path, replace=replace, root=root)
    if path.is_dir() and not (path / "config.json").is_file():
        raise WeightsError(f"{path.name} is a folder without config.json or a pack manifest.json; name the "
                           "weights file itself, a Hugging Face model folder or a complete model pack.")
    spec = resolve_spec(path, backbone)
    if path.is_dir():
        return {"entries": [import_hf_folder(path, spec, replace=replace, license=license, root=root)],
                "skipped": []}
    return {"entries": [import_file(path, spec, replace=replace, license=license, root=root)], "skipped": []}


def remove(entry_id: str, *, root=None) -> dict:
    """Delete an entry (not a built-in starter) and record it in the audit log. Returns its entry."""
    from engine import audit
    from engine.library import store

    entry = store.remove_entry(entry_id, root)
    audit.record("delete", what="library_entry", id=entry_id, backbone=entry.get("backbone", entry_id),
                 files={k: v.get("sha256") for k, v in entry.get("files", {}).items()})
    return entry


def verify(entry_ids: list[str] | None = None, *, root=None) -> dict[str, str | None]:
    """{id: problem sentence or None} after re-hashing every file of the named (or all) entries."""
    from engine.library import store

    out = {}
    for folder, entry in store.list_entries(root):
        if entry_ids and folder.name not in entry_ids:
            continue
        out[folder.name] = store.verify_entry(folder, entry)
    missing = [i for i in (entry_ids or []) if i not in out]
    for i in missing:
        out[i] = f"{i} is not in the model library."
    return out


def ensure_starters(root=None) -> dict:
    """Add the starter backbones shipped in installed packages (cheap when present)."""
    from engine.offline import enforce_offline_env

    enforce_offline_env()
    from engine.library.starters import ensure_starters as _impl
    return _impl(root)


def scan_caches(root=None) -> list[dict]:
    """Weights in the torch hub / Hugging Face caches that could be imported."""
    from engine.library import store
    from engine.library.guess import scan_caches as _impl

    return _impl({folder.name for folder, _ in store.list_entries(root)})


__all__ = ["data_dir", "library_root", "list_items", "import_path", "remove", "verify", "ensure_starters",
           "scan_caches"]
