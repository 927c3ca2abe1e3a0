"""Bring weights into the library: a state-dict file, a Hugging Face folder, or a model pack.

Every weights file goes through `engine.library.convert` in a separate, short-lived
process (torch.load with weights_only=True, finite check, key/shape/dtype match against
the registry's architecture) and only its safetensors output enters the library, so the
file the user carried in is never unpickled by the engine itself. Each import is staged
in a temp folder and renamed into `<library>/<id>/` only once everything checked out,
then recorded in the audit log.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from engine import audit
from engine.atomic import atomic_dir, write_json
from engine.errors import BackboneError, WeightsError
from engine.library import store
from engine.library.fit import FitError, check_fit
from engine.library.guess import guess_backbone
from engine.library.manifest import sha256_file

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONVERT_TIMEOUT_S = 300  # plus 120 s per GB of input
# Files of a Hugging Face folder worth keeping besides the weights (never code).
HF_KEEP = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
           "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json", "spiece.model",
           "sentencepiece.bpe.model", "tokenizer.model", "preprocessor_config.json", "README.md", "LICENSE",
           "LICENSE.txt", "LICENSE.md")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")
# Config fields that must agree with the registry entry (shapes alone miss some, e.g. heads).
STRUCTURE_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                  "vocab_size", "dim", "n_layers", "n_heads", "hidden_dim", "max_position_embeddings")


# ------------------------------------------------------------------ conversion subprocess
def run_convert(src: Path, out_dir: Path, *, out_name: str = "model.safetensors", expect: dict | None = None,
                check_only: bool = False, timeout: float | None = None) -> dict:
    """Run the converter on `src` in its own process; return its report or raise WeightsError."""
    cmd = [sys.executable, "-m", "engine.library.convert", str(src), str(out_dir), "--out-name", out_name]
    tmp = None
    if expect is not None:
        fd, tmp = tempfile.mkstemp(prefix="ts-expect-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(expect, f)
        cmd += ["--expect-json", tmp]
    if check_only:
        cmd.append("--check-only")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    if timeout is None:
        timeout = CONVERT_TIMEOUT_S + 120 * src.stat().st_size / 1e9
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise WeightsError(f"Checking {src.name} took longer than {timeout:.0f} s and was stopped; "
                           "the file may be far larger than a model of this kind.") from None
    finally:
        if tmp:
            os.unlink(tmp)
    report = None
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            report = json.loads(line)
            break
        except ValueError:
            continue
    if not isinstance(report, dict):
        raise WeightsError(f"Checking {src.name} failed (the checker stopped with code {proc.returncode}); "
                           "see the log for details.", detail=proc.stderr[-4000:])
    if not report.get("ok"):
        raise WeightsError(report.get("reason") or f"{src.name} was refused.", detail=proc.stderr[-2000:])
    return report


# ------------------------------------------------------------------ architecture expectations
def expected_tensors(spec, hf_config: dict | None = None) -> list:
    """[[name, shape, dtype]] of the registry architecture's state_dict (built on the meta device)."""
    import torch

    from engine.backbones import model_from_config

    num_classes = 1000 if spec.modality == "image" else 2
    try:
        with torch.device("meta"):
            model = model_from_config(spec, num_classes, hf_config, pooling=False)
    except Exception:  # an architecture that cannot be built on meta: build it for real
        model = model_from_config(spec, num_classes, hf_config, pooling=False)
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]


def _expect(spec) -> dict:
    return {"tensors": expected_tensors(spec), "head": list(spec.head.prefixes), "arch": spec.id,
            "allow_order": True}


# ------------------------------------------------------------------ helpers
def resolve_spec(path: Path, backbone: str | None):
    from engine.backbones import get_spec

    if backbone:
        return get_spec(backbone)
    guess = guess_backbone(path)
    if guess is None:
        raise BackboneError(f"Could not tell which backbone {path.name} is for from its name; say which with "
                            "--as ID (run `transfer-studio backbones` to list the ids).")
    return get_spec(guess)


def _check_free(spec, replace: bool, root) -> Path:
    target = store.entry_dir(spec.id, root)
    if target.exists() and not replace:
        raise WeightsError(f"{spec.id} is already in the model library; remove it first (`transfer-studio library "
                           f"remove {spec.id}`) or import with --replace.")
    return target


def _source(kind: str, path: Path, **extra) -> dict:
    return {"type": kind, "path": str(path), "name": path.name, **extra}


def _finish(stage: Path, spec, kind: str, source: dict, license: str | None, builtin: bool, extra: dict) -> dict:
    return store.make_entry(stage, entry_id=spec.id, backbone=spec.id, kind=kind, source=source,
                            license=license or spec.license, builtin=builtin, **extra)


def _record(entry: dict, target: Path) -> None:
    audit.record("import", id=entry["id"], backbone=entry["backbone"], source=entry["source"],
                 library_path=str(target), files={k: v["sha256"] for k, v in entry["files"].items()},
                 source_sha256=entry.get("source_sha256", {}), builtin=entry.get("builtin", False))


# ------------------------------------------------------------------ one file
def import_file(path: Path, spec, *, replace: bool = False, license: str | None = None, root=None,
                source: dict | None = None, builtin: bool = False) -> dict:
    """A .pth/.pt/.bin/.safetensors state dict -> `<library>/<id>/model.safetensors`."""
    if spec.source == "transformers":
        raise WeightsError(f"{spec.id} is a Hugging Face text model: import its whole model folder (with "
                           f"config.json and tokenizer files), not the single file {path.name}.")
    target = _check_free(spec, replace, root)
    expect = _expect(spec)
    source_sha = {path.name: sha256_file(path)}
    with atomic_dir(target) as stage:
        report = run_convert(path, stage, expect=expect)
        entry = _finish(stage, spec, "safetensors", source or _source("file", path), license, builtin,
                        {"source_sha256": source_sha, "source_format": report.get("source_format"),
                         "fit": report.get("fit", {})})
    _record(entry, target)
    return entry


# ------------------------------------------------------------------ a Hugging Face folder
def _read_json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path} cannot be read as JSON; the model folder looks damaged.") from exc
    return obj if isinstance(obj, dict) else {}


def _check_hf_config(folder: Path, spec) -> dict:
    cfg = _read_json(folder / "config.json")
    tok = _read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    if cfg.get("auto_map") or tok.get("auto_map") or cfg.get("trust_remote_code"):
        raise WeightsError(f"{folder.name} needs its own Python code (auto_map / trust_remote_code), which "
                           "Transfer Studio never runs; use a standard model folder of the same model.")
    for key in STRUCTURE_KEYS:
        if key in spec.hf_config and key in cfg and cfg[key] != spec.hf_config[key]:
            raise WeightsError(f"{folder.name} does not fit {spec.id}: its config has {key} = {cfg[key]!r} where "
                               f"{spec.id} has {spec.hf_config[key]!r}; choose the backbone it was made for.")
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise WeightsError(f"{folder.name} has no tokenizer files (tokenizer.json or vocab.txt); copy the whole "
                           "model folder.")
    return cfg


def _weight_files(folder: Path) -> list[Path]:
    st = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    return st or sorted(p for p in folder.glob("pytorch_model*.bin") if p.is_file())


def _safetensors_name(name: str) -> str:
    return name.replace("pytorch_model", "model").replace(".bin", ".safetensors")


def import_hf_folder(folder: Path, spec, *, replace: bool = False, license: str | None = None, root=None,
                     source: dict | None = None, builtin: bool = False) -> dict:
    """A Hugging Face model folder -> `<library>/<id>/` (config, tokenizer, safetensors weights)."""
    weights = _weight_files(folder)
    if spec.source != "transformers":
        if len(weights) == 1:
            return import_file(weights[0], spec, replace=replace, license=license, root=root,
                               source=source or _source("folder", folder), builtin=builtin)
        raise WeightsError(f"{folder.name} is a Hugging Face folder, but {spec.id} is a {spec.source} image model; "
                           "import its single weights file instead.")
    if not weights:
        raise WeightsError(f"{folder.name} holds no model weights (model.safetensors or pytorch_model.bin).")
    _check_hf_config(folder, spec)
    target = _check_free(spec, replace, root)
    found, source_sha = [], {}
    with atomic_dir(target) as stage:
        for f in weights:
            source_sha[f.name] = sha256_file(f)
            if f.suffix == ".safetensors":
                found += run_convert(f, stage, check_only=True)["tensors"]
                shutil.copyfile(f, stage / f.name)
            else:
                found += run_convert(f, stage, out_name=_safetensors_name(f.name))["tensors"]
        try:
            fit = check_fit(found, expected_tensors(spec), spec.head.prefixes, label=folder.name, arch=spec.id,
                            allow_order=False)
        except FitError as exc:
            raise WeightsError(str(exc)) from None
        for name in HF_KEEP:
            if (folder / name).is_file():
                shutil.copyfile(folder / name, stage / name)
        _copy_index(folder, stage, weights)
        entry = _finish(stage, spec, "hf_folder", source or _source("hf_folder", folder), license, builtin,
                        {"source_sha256": source_sha, "fit": fit.to_dict()})
    _record(entry, target)
    return entry


def _copy_index(folder: Path, stage: Path, weights: list[Path]) -> None:
    if weights[0].suffix == ".safetensors":
        index = folder / "model.safetensors.index.json"
        if index.is_file():
            shutil.copyfile(index, stage / index.name)
        return
    index = folder / "pytorch_model.bin.index.json"
    if index.is_file():
        obj = _read_json(index)
        obj["weight_map"] = {k: _safetensors_name(v) for k, v in obj.get("weight_map", {}).items()}
        write_json(stage / "model.safetensors.index.json", obj)
