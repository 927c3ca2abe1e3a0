"""Model packs: carry weights from a connected machine to an air-gapped one.

`build_pack` (on the connected machine, `transfer-studio pack`) downloads each
backbone's weights with its own library's API into `<out>/<id>/` and writes
`<out>/manifest.json` with the sha256 of every file. `import_pack` (on the air-gapped
machine, `transfer-studio library import DIR`) verifies every hash of every entry
before anything is converted or used; one flipped byte refuses the pack, naming the file.
`build_pack` is the only code in the app that touches the network.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from engine import audit
from engine.atomic import read_json, write_json, write_text
from engine.errors import WeightsError
from engine.library import store
from engine.library.manifest import hash_folder, verify_files

PACK_FORMAT = "transfer-studio-model-pack"
PACK_VERSION = 1
MANIFEST = "manifest.json"
HF_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "README.md", "LICENSE*"]

Downloader = Callable[[object, Path], None]  # (spec, empty destination folder) -> writes files there

README = """Transfer Studio model pack
==========================
Copy this whole folder to the offline computer and run:

    transfer-studio library import {folder}

(or use Import... on the Library page). Every file is checked against manifest.json
before it is used; a damaged or altered file is refused by name.
"""


# ------------------------------------------------------------------ downloading (connected machine)
def _save_state_dict(sd: dict, dest: Path) -> None:
    from safetensors.torch import save_file
    save_file({k: v.detach().contiguous().clone() for k, v in sd.items()}, str(dest / "model.safetensors"),
              metadata={"format": "pt"})


def download_weights(spec, dest: Path) -> None:
    """Fetch `spec`'s published weights into `dest` with its library's own API (needs internet)."""
    if spec.weights.kind == "random":
        raise WeightsError(f"{spec.id} is a test entry with no published weights.")
    if spec.source == "torchvision":
        from torchvision.models import get_model_weights
        enum = get_model_weights(spec.arch)
        wanted = set(spec.weights.filenames)
        weights = next((w for w in enum if w.url.rsplit("/", 1)[-1] in wanted), enum.DEFAULT)
        with tempfile.TemporaryDirectory() as tmp:  # not left behind in the user's torch hub cache
            _save_state_dict(weights.get_state_dict(progress=False, model_dir=tmp), dest)
    elif spec.source == "timm":
        import timm
        _save_state_dict(timm.create_model(spec.arch, pretrained=True).state_dict(), dest)
    else:
        from huggingface_hub import snapshot_download
        repo = spec.weights.hf_repos[0] if spec.weights.hf_repos else spec.arch
        snapshot_download(repo_id=repo, local_dir=str(dest), allow_patterns=HF_PATTERNS)


def build_pack(backbones: list[str], out: str | os.PathLike, *, downloader: Downloader | None = None,
               reporter: Callable[[str], None] | None = None) -> Path:
    """Download each backbone into `<out>/<id>/` and write the sha256 manifest. Returns the manifest path."""
    from engine.backbones import get_spec

    specs = [get_spec(b) for b in backbones]  # unknown ids fail before any download
    if not specs:
        raise WeightsError("Name at least one backbone to pack (run `transfer-studio backbones` to list them).")
    out = Path(out).expanduser().resolve()
    if (out / MANIFEST).exists():
        raise WeightsError(f"{out} already holds a model pack; choose an empty folder.")
    out.mkdir(parents=True, exist_ok=True)
    if downloader is None:
        from engine.offline import allow_network_for_pack
        allow_network_for_pack()
        downloader = download_weights
    entries = []
    for spec in specs:
        dest = out / spec.id
        dest.mkdir(parents=True, exist_ok=True)
        if reporter:
            reporter(f"downloading {spec.id} ...")
        try:
            downloader(spec, dest)
        except WeightsError:
            raise
        except Exception as exc:  # no connection, hub errors, disk full ...
            raise WeightsError(f"Downloading {spec.id} failed ({type(exc).__name__}: {str(exc)[:200]}); `pack` needs "
                               f"a machine with internet access — the pack in {out} is incomplete.",
                               detail=repr(exc)) from exc
        shutil.rmtree(dest / ".cache", ignore_errors=True)  # huggingface_hub's local_dir bookkeeping
        files = hash_folder(dest)
        if not files:
            raise WeightsError(f"Downloading {spec.id} produced no files.")
        kind = "hf_folder" if (dest / "config.json").is_file() and spec.source == "transformers" else "safetensors"
        entries.append({"id": spec.id, "backbone": spec.id, "source": spec.source, "kind": kind,
                        "license": spec.license, "origin": spec.weights.url, "files": files})
    manifest = {"format": PACK_FORMAT, "version": PACK_VERSION, "created": store.now_iso(),
                "created_by": store.user_name(), "entries": entries}
    write_text(out / "README.txt", README.format(folder=out))
    write_json(out / MANIFEST, manifest)
    audit.record("pack", out=str(out), entries={e["id"]: {k: v["sha256"] for k, v in e["files"].items()}
                                                 for e in entries})
    return out / MANIFEST


# ------------------------------------------------------------------ importing (air-gapped machine)
def read_manifest(folder: Path) -> dict:
    try:
        manifest = read_json(folder / MANIFEST)
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{folder / MANIFEST} cannot be read; copy the pack again.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise WeightsError(f"{folder / MANIFEST} is not a Transfer Studio model pack manifest.")
    if int(manifest.get("version", 0)) > PACK_VERSION:
        raise WeightsError(f"{folder.name} was made by a newer Transfer Studio (pack version "
                           f"{manifest.get('version')}); update this app to import it.")
    entries = manifest.get("entries")
    if not isinstance(entries, list) or not entries:
        raise WeightsError(f"{folder / MANIFEST} lists no models.")
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("files"), dict) or not e.get("id"):
            raise WeightsError(f"{folder / MANIFEST} has a malformed entry; copy the pack again.")
        store.entry_dir(str(e["id"]))  # refuses names that could escape the pack folder
    return manifest


def verify_pack(folder: str | os.PathLike) -> dict:
    """Check every file of every entry against the manifest; raise WeightsError naming the first bad one."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for e in manifest["entries"]:
        try:
            verify_files(folder / e["id"], e["files"], what=f"pack entry {e['id']}")
        except WeightsError as exc:
            raise WeightsError(f"Model pack {folder.name} refused: {e['id']}/{exc.message}") from None
    return manifest


def import_pack(folder: Path, *, replace: bool = False, root=None) -> dict:
    """Verify the whole pack, then import each entry. Entries already in the library are skipped unless replace."""
    from engine.backbones import get_spec
    from engine.library.importer import import_file, import_hf_folder

    manifest = verify_pack(folder)
    done, skipped = [], []
    for e in manifest["entries"]:
        spec = get_spec(e.get("backbone") or e["id"])
        if store.entry_dir(spec.id, root).exists() and not replace:
            skipped.append({"id": spec.id, "reason": "already in the library (import with --replace to overwrite)"})
            continue
        src = folder / e["id"]
        source = {"type": "pack", "path": str(folder), "name": folder.name, "pack_entry": e["id"],
                  "origin": e.get("origin", "")}
        if e.get("kind") == "hf_folder":
            entry = import_hf_folder(src, spec, replace=replace, license=e.get("license"), root=root, source=source)
        else:
            files = [src / name for name in e["files"] if name.endswith((".safetensors", ".pth", ".pt", ".bin"))]
            if len(files) != 1:
                raise WeightsError(f"Pack entry {e['id']} should hold exactly one weights file, not {len(files)}.")
            entry = import_file(files[0], spec, replace=replace, license=e.get("license"), root=root, source=source)
        done.append(entry)
    return {"entries": done, "skipped": skipped}
