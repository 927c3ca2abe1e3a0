"""Predictions from a trained run or a saved bundle, one code path for both.

Inputs become arrays through `engine.bundle.preprocessing` — the same functions the
bundle's standalone predict.py carries — so the app, the CLI and the exported model
agree on every pixel and token. A file that cannot be read becomes an error entry for
that file; it never stops the batch.
"""
from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .bundle import decision
from .bundle import preprocessing as pre
from .errors import BundleError, Cancelled

TEXT_INPUT_ORDER = ("input_ids", "attention_mask", "token_type_ids")


def text_input_names(model, tokenizer_input_names: Iterable[str] | None = None) -> list[str]:
    """Which of input_ids / attention_mask / token_type_ids the model takes (in that order)."""
    params = inspect.signature(model.forward).parameters
    wanted = set(tokenizer_input_names or TEXT_INPUT_ORDER) | {"input_ids", "attention_mask"}
    return [n for n in TEXT_INPUT_ORDER if n in params and n in wanted]


def _extensions(modality: str):
    """(extensions, sniff) of the files a folder of inputs is searched for."""
    if modality == "image":
        from .data.dicom import DICOM_EXTS, sniff_dicom
        from .data.images import IMAGE_EXTS

        return IMAGE_EXTS | DICOM_EXTS, sniff_dicom
    from .data.text import TEXT_EXTS

    return TEXT_EXTS, None


class Predictor:
    """A model ready to score inputs: `.classes`, `.modality`, `.predict_proba`, `.predict_paths`."""

    def __init__(self, model, classes: list[str], modality: str, preprocess: dict, *,
                 tokenizer=None, origin: str = "", device: str = "cpu", batch_size: int = 32,
                 rule: dict | None = None):
        import torch

        self.model = model.eval().to(device)
        self.classes = list(classes)
        self.modality = modality
        self.preprocess = dict(preprocess)  # image: input_size, mean, std, interpolation, crop_pct
        self.tokenizer = tokenizer  # tokenizers.Tokenizer (text only)
        self.origin = origin
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.rule = decision.check_rule(rule, self.classes)  # temperature, positive class, threshold

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_run(cls, run_dir: str | Path, which: str = "best", device: str = "cpu") -> "Predictor":
        from .classical.model import is_simple
        from .modelio import checkpoint_dir, load_model_from_run

        if is_simple(checkpoint_dir(run_dir, which)):  # the run kept its simple, non-neural model
            from .classical.predictor import SimplePredictor

            return SimplePredictor.from_folder(checkpoint_dir(run_dir, which), origin=str(run_dir))
        model, meta = load_model_from_run(run_dir, which)
        return cls.from_model_meta(model, meta, origin=str(run_dir), device=device)

    @classmethod
    def from_model_meta(cls, model, meta: dict, origin: str = "", device: str = "cpu") -> "Predictor":
        """From what `modelio.load_model_from_run` returned (text: meta carries the tokenizer)."""
        pp = dict(meta.get("preprocess") or {})
        tokenizer = None
        if meta["modality"] == "text":
            tok_json = Path(meta["tokenizer_dir"]) / "tokenizer.json"
            if not tok_json.is_file():
                raise BundleError(f"{meta['tokenizer_dir']} has no tokenizer.json (a fast tokenizer is needed); "
                                  "train the run again.")
            tokenizer = pre.load_tokenizer(str(tok_json))
            pp = text_preprocess(model, meta["tokenizer"], pp)
        return cls(model, meta["classes"], meta["modality"], pp, tokenizer=tokenizer, origin=origin, device=device)

    # ------------------------------------------------------------------ scoring
    def _forward(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            if self.modality == "image":
                x = torch.from_numpy(arrays["pixel_values"]).to(self.device)
                logits = self.model(x)
            else:
                inputs = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}
                logits = self.model(**inputs).logits
        return pre.softmax(logits.float().cpu().numpy())

    def _arrays(self, prepared: list) -> dict[str, np.ndarray]:
        """A batch of what `_prepare` returned -> the model's named input arrays."""
        if self.modality == "image":
            return {"pixel_values": np.stack(prepared)}
        return pre.encode_texts(self.tokenizer, prepared, self.preprocess)

    def _prepare(self, item: Any):
        """An Example or a path -> pixel array (image) or the text string (text)."""
        if self.modality == "image":
            from .data.dicom import load_any_image

            window = str(self.preprocess.get("dicom_window") or "file")
            return pre.preprocess_image(load_any_image(str(getattr(item, "path", item)), window=window),
                                        self.preprocess)
        from .data.text import read_text

        return read_text(item)

    def predict_detailed(self, items: list, reporter: Callable | None = None,
                         cancel=None) -> tuple[np.ndarray, dict[int, str]]:
        """(probabilities (n, classes) with NaN rows for failures, {index: error sentence})."""
        from . import protocol

        n = len(items)
        probs = np.full((n, len(self.classes)), np.nan, dtype=np.float64)
        errors: dict[int, str] = {}
        order, texts = list(range(n)), {}
        if self.modality == "text":
            # texts are read up front and batched shortest first: a batch pads to its longest text,
            # and in real text a few long entries would otherwise pad most batches
            for i in range(n):
                try:
                    texts[i] = self._prepare(items[i])
                except Exception as exc:
                    errors[i] = f"could not read it ({type(exc).__name__}: {exc})"
            order = sorted(texts, key=lambda i: len(texts[i]))
        steps = max(1, -(-len(order) // self.batch_size))
        t0 = time.monotonic()
        for b, start in enumerate(range(0, len(order), self.batch_size), 1):
            if cancel is not None and cancel.is_set():
                raise Cancelled("Evaluation was cancelled.")
            good, prepared = [], []
            for i in order[start:start + self.batch_size]:
                try:
                    prepared.append(texts[i] if i in texts else self._prepare(items[i]))
                    good.append(i)
                except Exception as exc:  # one unreadable input is reported, not fatal
                    errors[i] = f"could not read it ({type(exc).__name__}: {exc})"
            if good:
                probs[good] = self.score_prepared(prepared)
            if reporter is not None:
                done = min(len(order), start + self.batch_size)
                rate = done / max(1e-9, time.monotonic() - t0)
                reporter(protocol.Progress(step=b, steps=steps, global_step=b, total_steps=steps,
                                           samples_per_s=rate, eta_s=(len(order) - done) / rate if rate else None,
                                           phase="eval"))
        return probs, errors

    def score_prepared(self, prepared: list) -> np.ndarray:
        """Raw probabilities for one batch of inputs already read (`_prepare`: pixel arrays or texts)."""
        return self._forward(self._arrays(prepared))

    def predict_proba(self, items: list, reporter: Callable | None = None, cancel=None) -> np.ndarray:
        """Class probabilities (n, len(classes)); rows of unreadable inputs are NaN."""
        return self.predict_detailed(items, reporter, cancel)[0]

    def decided(self, probs: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(calibrated probabilities, decided class per row) under the model's decision rule."""
        cal = decision.calibrate(probs, self.rule["temperature"])
        return cal, decision.decide(cal, self.classes, self.rule) if len(cal) else []

    def row(self, path: str, probs: np.ndarray, top_k: int) -> dict:
        """One prediction as the CLI, the GUI and predict.py print it: decision, threshold, top-k."""
        cal, decided = self.decided(probs[None])
        out = {"path": path, "decision": decided[0], "top": pre.top_k(cal[0], self.classes, top_k)}
        if self.rule["threshold"] is not None:
            out["positive_probability"] = float(cal[0, self.classes.index(self.rule["positive_class"])])
            out["threshold"] = self.rule["threshold"]
        return out

    def predict_texts(self, texts: list[str]) -> np.ndarray:
        """Raw (uncalibrated) probabilities for raw strings (text models only)."""
        if self.modality != "text":
            raise BundleError("This is an image model; give it image files, not text.")
        from .data.text import clean_text

        return self._forward(self._arrays([clean_text(t) for t in texts]))

    def predict_paths(self, paths: list[str], top_k: int = 3, reporter: Callable | None = None,
                      cancel=None) -> list[dict]:
        """[{"path", "decision", "top": [[label, p], ...]} | {"path", "error"}] for files and folders.

        Probabilities are temperature-scaled and the decision follows the model's rule (a binary
        model's threshold on its positive class: then also positive_probability and threshold).
        """
        files, problems = pre.collect_inputs([str(p) for p in paths], *_extensions(self.modality))
        probs, errors = self.predict_detailed(files, reporter, cancel)
        out: list[dict] = []
        for i, path in enumerate(files):
            if i in errors:
                out.append({"path": path, "error": errors[i]})
            else:
                out.append(self.row(path, probs[i], top_k))
        return out + problems


def text_preprocess(model, hf_tokenizer, pp: dict) -> dict:
    """Text preprocess dict: max_length, pad_id and the model's input names."""
    max_length = int(pp.get("max_length") or getattr(hf_tokenizer, "model_max_length", 128) or 128)
    pad_id = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else 0
    return {"max_length": max_length, "pad_id": int(pad_id),
            "input_names": text_input_names(model, getattr(hf_tokenizer, "model_input_names", None))}
