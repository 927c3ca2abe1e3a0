"""Explaining one model's decisions on files: the one entry the server, the CLI and the report use.

An `Explainer` opens a run or a bundle once (the same `open_predictor` the Try page's Predict
uses, so the same preprocessing and decision rule), then answers `explain(path, target)` from
the cache or by computing: Grad-CAM for images (the registry's layer), integrated gradients
for text. `target=None` explains the class the model decided on. One explanation at a time per
process: captum's hooks on a shared model are not thread-safe.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import BundleError, DataError
from ..vocabulary import ExplainMethod
from . import cache, render

_LOCK = threading.Lock()
_OPEN: dict[tuple[str, str], "Explainer"] = {}  # (model folder, model key) -> explainer; the last 2 kept


def backbone_id(model_path: str | Path) -> str:
    """The registry id a run (model.json) or bundle (manifest.json) was trained from."""
    p = Path(model_path)
    if (p / "manifest.json").is_file():
        return str(json.loads((p / "manifest.json").read_text(encoding="utf-8"))["backbone"]["id"])
    return str(json.loads((p / "model.json").read_text(encoding="utf-8"))["backbone"])


class Explainer:
    def __init__(self, model_path: str | Path, predictor=None, spec=None):
        from ..backbones import get_spec
        from ..bundle.reader import open_predictor

        self.model_path = str(Path(model_path).resolve())
        if not Path(self.model_path).exists():
            raise BundleError(f"{model_path} does not exist; choose a trained run or a saved model bundle.")
        self.predictor = predictor or open_predictor(self.model_path)
        self.simple = _is_simple(self.predictor)  # a simple model explains itself exactly (classical/explain.py)
        self.spec = None if self.simple else (spec or get_spec(backbone_id(self.model_path)))
        self.classes = list(self.predictor.classes)
        self.modality = self.predictor.modality
        self.method = (ExplainMethod.LINEAR if self.simple else
                       ExplainMethod.GRADCAM if self.modality == "image" else ExplainMethod.INTEGRATED_GRADIENTS)
        self._cam = None
        self._texts: dict | None = None  # a run's table-row texts, read when first needed

    @classmethod
    def open(cls, model_path: str | Path) -> "Explainer":
        """A cached explainer for this model (reopened when its weights changed)."""
        resolved = str(Path(model_path).resolve())
        key = (resolved, cache.model_key(resolved))
        with _LOCK:
            if key not in _OPEN:
                _OPEN[key] = cls(resolved)
                while len(_OPEN) > 2:
                    _OPEN.pop(next(iter(_OPEN)))
            return _OPEN[key]

    # ------------------------------------------------------------------ public
    def explain(self, path: str, target: int | None = None, use_cache: bool = True) -> dict:
        """The explanation of `path` for class `target` (None: the class the model decides)."""
        with _LOCK:
            t0 = time.perf_counter()
            x, raw = self._inputs(path)
            probs, labels = self.predictor.decided(np.asarray(raw)[None])  # as Predict reports them
            probs, decided = probs[0], self.classes.index(labels[0])
            target = decided if target is None else int(target)
            if not 0 <= target < len(self.classes):
                raise BundleError(f"Class {target} does not exist: this model has {len(self.classes)} classes.")
            entry = cache.entry(self.model_path, path, target, self.method)
            info = entry.load() if use_cache else None
            cached = info is not None
            if info is None:
                info = self._compute(entry, path, x, target)
            elif self.modality == "text":
                info["json"] = str(entry.path(".json"))
            info.update(path=str(path), modality=self.modality, method=str(self.method), target=target,
                        target_label=self.classes[target], predicted=decided, predicted_label=self.classes[decided],
                        # calibrated by the model's decision rule, like the Try page's bars
                        probabilities=[round(float(p), 6) for p in probs], classes=self.classes, cached=cached,
                        seconds=round(time.perf_counter() - t0, 3))
            return info

    # ------------------------------------------------------------------ parts
    def _inputs(self, path: str):
        if self.simple:
            x = self._row_text(path) if "#row=" in str(path) else self.predictor._prepare(path)
            return x, self.predictor._forward(self.predictor._arrays([x]))[0]
        if self.modality == "image":
            pixels = self.predictor._prepare(path)
            return pixels, self.predictor._forward({"pixel_values": pixels[None]})[0]
        text = self._row_text(path) if "#row=" in str(path) else self.predictor._prepare(path)
        from ..bundle import preprocessing as pre

        return text, self.predictor._forward(pre.encode_texts(self.predictor.tokenizer, [text],
                                                              self.predictor.preprocess))[0]

    def _row_text(self, path: str) -> str:
        """A table row's text ("data.csv#row=12"): a run keeps the texts of its table rows in splits.json."""
        if self._texts is None:
            splits = Path(self.model_path) / "splits.json"
            self._texts = (json.loads(splits.read_text(encoding="utf-8")).get("texts") or {}) if splits.is_file() else {}
        if path not in self._texts:
            raise DataError(f"{path} is a row of a table this model's run did not train on; "
                            "explain a text file instead.")
        return str(self._texts[path])

    def _compute(self, entry, path: str, x, target: int) -> dict:
        if self.simple:
            return self._compute_simple(entry, x, target)
        if self.modality == "text":
            from .text_maps import word_attributions

            out = word_attributions(self.predictor, x, target)
            return _save_words(entry, {k: out[k] for k in ("words", "text", "delta", "steps")})
        return _save_map(entry, render.base_image(x, self.predictor.preprocess), self.cam(x, target))

    def _compute_simple(self, entry, x, target: int) -> dict:
        from ..classical import explain as linear

        model = self.predictor.model
        if self.modality == "text":
            words = linear.word_shares(model, x, target)
            return _save_words(entry, {"words": words, "text": str(x)[:max((w[3] for w in words), default=0)],
                                       "delta": 0.0, "steps": 0})
        return _save_map(entry, *linear.enlarged(x, model.size, linear.pixel_shares(model, x, target)))

    def cam(self, pixels: np.ndarray, target: int) -> np.ndarray:
        """The Grad-CAM map (H, W) in [0, 1] of one preprocessed image for class `target`."""
        import torch

        from .image_maps import cam_target, grad_cam

        if self._cam is None:
            self._cam = cam_target(self.predictor.model, self.spec.cam_layer, self.spec.cam_reshape)
        model, layer = self._cam
        x = torch.from_numpy(np.asarray(pixels, dtype=np.float32)[None]).to(self.predictor.device)
        return grad_cam(model, layer, x, target)


def _save_words(entry, info: dict) -> dict:
    """Word scores into the cache; the reply also names the JSON file the CLI copies."""
    entry.save_info(info)
    return dict(info, json=str(entry.path(".json")))


def _save_map(entry, base: np.ndarray, cam: np.ndarray) -> dict:
    """The map, the image it lies on, its colours and the blend into the cache (files cross the boundary)."""
    heat = render.colorize(cam)
    info = {"map": entry.save_array(cam), "base": entry.save_png("-base.png", render.png_bytes(base)),
            "heat": entry.save_png("-heat.png", render.png_bytes(heat)),
            "overlay": entry.save_png("-overlay.png", render.png_bytes(render.overlay(base, heat))),
            "size": [int(cam.shape[1]), int(cam.shape[0])]}
    entry.save_info(info)
    return info


def _is_simple(predictor) -> bool:
    from ..classical.predictor import SimplePredictor

    return isinstance(predictor, SimplePredictor)


def explain_paths(model_path: str | Path, paths: list[str], target: int | None = None) -> list[dict]:
    """Explanations for several files; a file that cannot be read is {"path", "error"}, never fatal."""
    explainer = Explainer.open(model_path)
    out = []
    for p in paths:
        try:
            out.append(explainer.explain(str(p), target))
        except BundleError:
            raise
        except Exception as exc:  # one unreadable input is reported, not fatal
            out.append({"path": str(p), "error": f"could not explain it ({type(exc).__name__}: {exc})"})
    return out
