"""ONNX export of a trained model, and the parity check that makes it trustworthy.

The exported graph takes what the preprocessing module produces (pixel_values, or
input_ids / attention_mask / token_type_ids) with dynamic batch (and sequence) axes
and returns logits. Parity runs the ONNX file in onnxruntime on real held-out examples
and compares class probabilities with PyTorch; a gap above PARITY_LIMIT fails the save.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np

from ..errors import BundleError
from . import preprocessing as pre

OPSET = 18
PARITY_LIMIT = 1e-4


def _image_logits(model):
    """The model with its input named pixel_values (names key the dynamic axes)."""
    import torch

    class ImageLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            return self.model(pixel_values)

    return ImageLogits().eval()


def _text_logits(model):
    """A module returning plain logits for token arrays (HF models return an output object)."""
    import torch

    class TextLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits

    return TextLogits().eval()


def _export(module, args: tuple, path: Path, input_names: list[str], dynamic: list[dict[int, str]]) -> dict:
    """torch.export-based exporter first; the TorchScript one if it fails. Says which worked."""
    import torch

    sink = io.StringIO()
    errors = []
    try:
        shapes = {n: {axis: torch.export.Dim.DYNAMIC for axis in d} for n, d in zip(input_names, dynamic)}
        with contextlib.redirect_stdout(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(path), input_names=input_names, output_names=["logits"],
                              dynamic_shapes=shapes, opset_version=OPSET, dynamo=True, external_data=False,
                              verbose=False)
        return {"exporter": "torch.export"}
    except Exception as exc:  # fall back to the TorchScript exporter
        errors.append(f"torch.export: {type(exc).__name__}: {str(exc)[:500]}")
    try:
        axes = {n: d for n, d in zip(input_names, dynamic)}
        axes["logits"] = {0: "batch"}
        with contextlib.redirect_stdout(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(path), input_names=input_names, output_names=["logits"],
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        return {"exporter": "torchscript", "fallback_reason": errors[0]}
    except Exception as exc:
        errors.append(f"torchscript: {type(exc).__name__}: {str(exc)[:500]}")
    raise BundleError("The model could not be exported to ONNX; the bundle was not saved.", "\n".join(errors))


def export_onnx(predictor, path: str | Path, sample: dict[str, np.ndarray]) -> dict:
    """Write the predictor's model to `path` as ONNX; `sample` is one prepared batch (>= 2 rows)."""
    import torch

    model = predictor.model.to("cpu").eval()
    path = Path(path)
    if predictor.modality == "image":
        names = ["pixel_values"]
        module, dynamic = _image_logits(model), [{0: "batch"}]
    else:
        names = list(predictor.preprocess["input_names"])  # input_ids, attention_mask[, token_type_ids]
        module, dynamic = _text_logits(model), [{0: "batch", 1: "sequence"} for _ in names]
    args = tuple(torch.from_numpy(sample[n]) for n in names)
    how = _export(module, args, path, names, dynamic)
    predictor.model.to(predictor.device)
    return {"file": path.name, "opset": OPSET, **how, "inputs": names, "outputs": ["logits"]}


def onnx_session(path: str | Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def check_parity(predictor, onnx_path: str | Path, batches: list[dict[str, np.ndarray]],
                 limit: float = PARITY_LIMIT) -> dict:
    """Largest |p_onnx - p_torch| over the batches; raises BundleError above `limit`."""
    session = onnx_session(onnx_path)
    wanted = [i.name for i in session.get_inputs()]
    worst, n, agree = 0.0, 0, 0
    for arrays in batches:
        p_torch = predictor._forward(arrays)
        p_onnx = pre.softmax(session.run(["logits"], {k: arrays[k] for k in wanted})[0])
        worst = max(worst, float(np.abs(p_torch - p_onnx).max()))
        agree += int((p_torch.argmax(1) == p_onnx.argmax(1)).sum())
        n += len(p_torch)
    result = {"max_abs_prob_diff": worst, "examples": n, "top1_agreement": agree / n if n else None,
              "limit": limit, "runtime": "onnxruntime CPUExecutionProvider"}
    if not n:
        raise BundleError("No example could be read to check the ONNX export; the bundle was not saved.")
    if worst > limit:
        raise BundleError(f"The ONNX export disagrees with the trained model (largest probability gap {worst:.2e} "
                          f"> {limit:.0e}); the bundle was not saved.", str(result))
    return result
