"""Saving a trained run as a self-describing bundle folder (no pickle anywhere).

Everything is written into a temp folder beside the target and renamed into place at
the end (engine.atomic.atomic_dir), so an interrupted save leaves no half bundle under
the final name. The ONNX parity check and a full verification run before the rename.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Callable


from .. import __version__, protocol
from ..atomic import atomic_dir, read_json, write_json, write_text
from ..errors import BundleError, Cancelled
from . import preprocessing as pre
from .manifest import BUNDLE_FORMAT, BUNDLE_VERSION, FORBIDDEN_SUFFIXES, MANIFEST, bundle_files, hash_files, verify_bundle
from .clinical_card import decision_json
from .decision import DECISION_FILE
from .model_card import render_model_card
from .readme import render_readme
from .onnx_export import check_parity, export_onnx

PARITY_EXAMPLES = 64
PACKAGES = ("torch", "torchvision", "transformers", "timm", "tokenizers", "safetensors", "onnx", "onnxruntime",
            "numpy", "pillow", "scikit-learn")


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


# Source files (relative to the engine package) that predict.py is assembled from at run
# time: a frozen build (PyInstaller) must ship them as data files at these paths.
PREDICT_SOURCES = ("bundle/predict_template.py", "bundle/preprocessing.py", "bundle/decision.py", "data/images.py",
                   "dicom_windows.py", "data/dicom.py", "data/text.py")
IMAGE_DECODERS = ("data/images.py", "dicom_windows.py", "data/dicom.py")  # in this order: each uses the ones before
ENGINE_DIR = Path(__file__).resolve().parents[1]


def _source(rel: str) -> str:
    try:
        return (ENGINE_DIR / rel).read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError(f"This installation lacks engine/{rel}, which the bundle's predict.py is made from; "
                          "reinstall Transfer Studio (builds must ship that file as data).") from exc


def _embedded(rel: str) -> str:
    source = _source(rel).replace("from __future__ import annotations\n", "", 1)
    if "# >>> package imports" in source:  # names the modules pasted before this one already define
        source = _replace_block(source, "package imports", "")
    label = f"engine/{rel}"
    return (f"# ---- {label} from Transfer Studio {__version__}, copied verbatim ----\n"
            + source.rstrip() + f"\n# ---- end of {label} ----\n")


def _replace_block(template: str, name: str, text: str) -> str:
    start, end = f"# >>> {name}", f"# <<< {name}\n"
    i, j = template.index(start), template.index(end) + len(end)
    return template[:i] + text + template[j:]


def predict_script(modality: str) -> str:
    """predict.py: the template with the app's own decoding and preprocessing modules pasted in.

    Images are decoded by engine/data/images.py (and DICOM files by engine/data/dicom.py
    with engine/dicom_windows.py) and texts read by engine/data/text.py, exactly as in
    training; engine/bundle/preprocessing.py makes the arrays. They need only the standard
    library, numpy and Pillow (images; pydicom + pylibjpeg for DICOM inputs) or tokenizers (text).
    """
    template = _source("bundle/predict_template.py")
    decoders = IMAGE_DECODERS if modality == "image" else ("data/text.py",)
    template = _replace_block(template, "decoding", "".join(_embedded(rel) for rel in decoders))
    template = _replace_block(template, "decision", _embedded("bundle/decision.py"))
    return _replace_block(template, "preprocessing", _embedded("bundle/preprocessing.py"))


def _split_summary(splits: dict) -> dict:
    """Count and a content hash (sorted sha256 + label of each example) per split."""
    out = {}
    for name in ("train", "val", "test"):
        rows = splits.get(name) or []
        h = hashlib.sha256("\n".join(sorted(f"{r[2]}\t{r[1]}" for r in rows)).encode()).hexdigest()
        out[name] = {"examples": len(rows), "sha256": h}
    return out


def _weights_origin(meta: dict) -> tuple[str | None, str | None]:
    """(file name, sha256) of the weights the run started from: never the folder they lay in,
    which is the user's own layout and means nothing on another computer."""
    origin = meta.get("weights_origin")
    if not origin or origin == "random-init":
        return origin, None
    digest = meta.get("weights_sha256")
    if digest is None:  # a run from before model.json recorded the hash
        from ..library.safe_copy import weights_digest

        digest = weights_digest(origin)
    return Path(str(origin)).name, digest


def _spec_summary(meta: dict) -> dict:
    origin, digest = _weights_origin(meta)
    info = {"id": meta["backbone"], "display_name": meta["backbone"], "source": meta["source"],
            "arch": meta["arch"], "license": "unknown", "weights_origin": origin, "weights_sha256": digest,
            "stages": [], "num_params": None, "description": ""}
    try:
        from ..backbones import get_spec

        spec = get_spec(meta["backbone"])
    except Exception:  # an id this app no longer (or never) registered: keep what model.json says
        return info
    info.update(display_name=spec.display_name, license=spec.license, num_params=spec.num_params,
                stages=[s.name for s in spec.stages], description=spec.description,
                weights_package=spec.weights.package or None)
    return info


def _parity_items(ds) -> tuple[str, list]:
    for split in ("test", "val", "train"):
        items = ds.split(split)
        if items:
            return split, list(items)[:PARITY_EXAMPLES]
    raise BundleError("The run has no examples left to check the export with; train it again.")


def _prepared_batches(predictor, items: list, size: int = 16) -> list[dict]:
    prepared = []
    for item in items:
        try:
            prepared.append(predictor._prepare(item))
        except Exception:  # unreadable now: parity uses the others
            continue
    if not prepared:
        raise BundleError("None of the held-out examples can be read any more, so the export cannot be checked; "
                          "put the data back where it was trained from.")
    batches = []
    for start in range(0, len(prepared), size):
        chunk = prepared[start:start + size]
        if len(chunk) == 1:  # the exporter needs a batch of at least two
            chunk = chunk * 2
        batches.append(predictor._arrays(chunk))
    return batches


def _training_info(run_dir: Path, meta: dict, spec: dict, metrics: dict, which: str) -> dict:
    """training.json: the resolved config, freezing, split hashes, data report and final metrics."""
    splits = read_json(run_dir / "splits.json")
    optional = {name: read_json(run_dir / f"{name}.json") if (run_dir / f"{name}.json").is_file() else {}
                for name in ("data_report", "config", "refit", "recipe")}
    state = meta.get("checkpoint_state") or {}
    return {"run": run_dir.resolve().name, "backbone": spec, "checkpoint": which, "epoch": state.get("epoch"),
            "global_step": state.get("global_step"), "monitor": state.get("monitor"),
            "best_score": state.get("best_score"), "finetune_blend": state.get("finetune_blend"),
            "freeze": meta.get("freeze"),
            "frozen_stages": spec["stages"][: int(meta.get("freeze") or 0)], "stages": spec["stages"],
            "config": optional["config"], "splits": _split_summary(splits),
            "splits_json_sha256": hashlib.sha256((run_dir / "splits.json").read_bytes()).hexdigest(),
            "data_roots": splits.get("roots", []), "data_report": optional["data_report"],
            "final_metrics": {k: metrics.get(k) for k in ("val", "test")},
            "refit": optional["refit"] if state.get("refit") else None,
            "selection": metrics.get("selection") if which == "best" else None,
            "recipe": optional["recipe"].get("settings") or None}


def _simple_summary(model) -> dict:
    """The manifest's "backbone" entry of a simple model: there is none, and it says so."""
    return {"id": "simple", "display_name": model.method, "source": "scikit-learn", "arch": model.kind,
            "license": "no pretrained weights (fitted on your data only)", "weights_origin": None,
            "weights_sha256": None}


def _write_weights(folder: Path, model, meta: dict) -> None:
    """model.safetensors (plain state_dict) for images; a save_pretrained folder for text."""
    if meta["modality"] == "image":
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                  str(folder / "model.safetensors"), metadata={"format": "pt"})
        return
    _save_hf(model, meta["tokenizer"], folder)
    if not (folder / "tokenizer.json").is_file():
        raise BundleError("The tokenizer has no tokenizer.json (it is not a fast tokenizer), so predict.py could "
                          "not use it; the bundle was not saved.")


def _save_hf(model, tokenizer, folder: Path) -> None:
    """save_pretrained (safetensors) for model and tokenizer, without a progress bar on stderr."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _shareable(root: Path) -> None:
    """Ordinary permissions (0644/0755 under the usual umask): temp files start owner-only."""
    umask = _umask()
    os.chmod(root, 0o777 & ~umask)
    for p in root.rglob("*"):
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def _check_cancel(cancel) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Saving was cancelled; no bundle was written.")


def _check_no_pickle(root: Path) -> None:
    for rel in bundle_files(root):
        if rel.lower().endswith(FORBIDDEN_SUFFIXES):
            raise BundleError(f"Saving produced {rel}, a format that can hold pickled code; the bundle was not saved.")


def _preprocess_json(predictor) -> dict:
    pp = dict(predictor.preprocess)
    if pp.get("features") == "grey_pixels":  # the simple model (engine/classical)
        return {"modality": "image", **pp, "input_name": "pixels", "layout": "N x size*size float32, grey",
                "steps": ["decode to 8-bit RGB as for any model (DICOM: the '"
                          f"{pp.get('dicom_window', 'file')}' window)", "convert to grey (ITU-R 601-2 luma)",
                          f"resize the whole image to {pp['size']}x{pp['size']} (bicubic, no crop)",
                          "divide by 255, flatten row by row"],
                "output": "logits; apply softmax for probabilities"}
    if pp.get("features") == "word_counts":
        return {"modality": "text", **pp, "input_name": "counts", "layout": "N x vocabulary float32",
                "steps": ["lower-case the text", f"find the words with the pattern {pp['token_pattern']}",
                          f"count how often each word of {pp['vocabulary']} occurs (others are dropped)"],
                "output": "logits; apply softmax for probabilities (the graph applies TF-IDF weights itself)"}
    if predictor.modality == "image":
        return {"modality": "image", **pp, "resize_shorter_side_to": pre.resize_size(pp),
                "input_name": "pixel_values", "layout": "NCHW float32, RGB",
                "steps": ["decode to 8-bit RGB (EXIF orientation applied, transparency on white; DICOM: "
                          f"modality LUT, then the '{pp.get('dicom_window', 'file')}' window, MONOCHROME1 "
                          "inverted, the middle frame of a multi-frame file)",
                          f"resize the shorter side to {pre.resize_size(pp)} px ({pp['interpolation']})",
                          f"centre-crop {pp['input_size']}x{pp['input_size']}",
                          "divide by 255, subtract mean, divide by std (per channel)"],
                "output": "logits; apply softmax for probabilities"}
    return {"modality": "text", "tokenizer": "tokenizer.json", **pp,
            "steps": [f"tokenize with tokenizer.json, truncating to {pp['max_length']} tokens",
                      f"pad on the right to the longest text in the batch with id {pp['pad_id']}"],
            "output": "logits; apply softmax for probabilities"}


def save_bundle(run_dir: str | Path, out: str | Path, which: str = "best", reporter: Callable | None = None,
                cancel=None) -> Path:
    """Write run_dir's `which` checkpoint as a bundle folder at `out`; returns its path.

    An existing bundle at `out` is replaced; any other existing folder is refused.
    """
    from ..data import load_splits
    from ..evaluate import evaluate_run
    from ..inference import Predictor
    from ..modelio import load_model_from_run

    from ..classical.model import is_simple
    from ..modelio import checkpoint_dir, read_run_meta

    run_dir, out = Path(run_dir), Path(out).expanduser().resolve()
    if out.exists() and not (out.is_dir() and (out / MANIFEST).is_file()):
        raise BundleError(f"{out} already exists and is not a model bundle; choose a new name (e.g. model.tsbundle).")
    say = reporter or (lambda msg: None)
    say(protocol.Status(phase="saving", detail=f"Saving the model as {out.name}"))
    simple = is_simple(checkpoint_dir(run_dir, which))  # the run kept its simple, non-neural model
    if simple:
        model, meta = None, {**read_run_meta(run_dir), "checkpoint_state": {}}
        predictor = Predictor.from_run(run_dir, which)
    else:
        model, meta = load_model_from_run(run_dir, which)
        predictor = Predictor.from_model_meta(model, meta, origin=str(run_dir))
    metrics = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").is_file() else None
    if not metrics or metrics.get("checkpoint") != which:
        metrics = evaluate_run(run_dir, reporter=reporter, cancel=cancel, which=which, write=(which == "best"))
    parity_split, parity_items = _parity_items(load_splits(run_dir))
    batches = _prepared_batches(predictor, parity_items)
    spec = _spec_summary(meta)
    training = _training_info(run_dir, meta, spec, metrics, which)
    with atomic_dir(out) as tmp:
        _check_cancel(cancel)
        if simple:
            predictor.model.save(tmp)  # model.safetensors (its arrays), classical.json, vocabulary.json
        else:
            _write_weights(tmp, model, meta)
        write_json(tmp / "labels.json", {"classes": predictor.classes,
                                         "id2label": {str(i): c for i, c in enumerate(predictor.classes)}})
        write_json(tmp / "preprocess.json", _preprocess_json(predictor))
        write_json(tmp / "training.json", training)
        write_json(tmp / "metrics.json", metrics)
        rule = decision_json(metrics, predictor.classes)
        write_json(tmp / DECISION_FILE, rule)
        _check_cancel(cancel)
        say(protocol.Status(phase="saving", detail="Exporting to ONNX and checking it against PyTorch"))
        if simple:
            from ..classical import onnx_graph

            onnx_info = onnx_graph.export(predictor.model, tmp / "model.onnx")
        else:
            onnx_info = export_onnx(predictor, tmp / "model.onnx", batches[0])
        onnx_info["parity"] = dict(check_parity(predictor, tmp / "model.onnx", batches), split=parity_split)
        manifest = {"format": BUNDLE_FORMAT, "format_version": BUNDLE_VERSION, "name": out.stem,
                    "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    "app": {"name": "Transfer Studio", "version": __version__}, "versions": _versions(),
                    "modality": predictor.modality, "num_classes": len(predictor.classes),
                    "backbone": _simple_summary(predictor.model) if simple else
                    {k: spec[k] for k in ("id", "display_name", "source", "arch", "license", "weights_origin",
                                          "weights_sha256")},
                    "weights": "model.safetensors", "onnx": onnx_info}
        if simple:
            manifest["kind"] = "simple"  # no network: logistic regression on pixels or words (engine/classical)
        write_text(tmp / "MODEL_CARD.md", render_model_card(manifest, training, metrics, predictor.classes))
        write_text(tmp / "README.md", render_readme(manifest, rule))
        write_text(tmp / "predict.py", predict_script(predictor.modality))
        _check_no_pickle(tmp)
        manifest["files"] = hash_files(tmp)
        write_json(tmp / MANIFEST, manifest)
        verify_bundle(tmp)
        _shareable(tmp)
    from .. import audit

    audit.record("export", bundle=str(out), run_dir=str(run_dir), checkpoint=which,
                 backbone="simple" if simple else spec["id"],
                 files=manifest["files"])
    say(protocol.Log(level="info", text=f"Saved {out} (ONNX parity {onnx_info['parity']['max_abs_prob_diff']:.1e})"))
    return out
