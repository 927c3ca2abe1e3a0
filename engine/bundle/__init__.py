"""The saved-model bundle: a folder with safetensors weights, ONNX, labels, preprocessing,
metrics, a model card and a standalone predict.py, every file listed by sha256.

Layout of NAME.tsbundle/ (no pickle anywhere):
  manifest.json      format + version, library versions, backbone, ONNX parity, sha256 of each file
  model.safetensors  weights (image: plain timm/torchvision state_dict; text: written by save_pretrained)
  config.json, tokenizer.json, tokenizer_config.json   text only (Hugging Face folder, id2label/label2id)
  model.onnx         logits from pixel_values, or from input_ids/attention_mask(/token_type_ids)
  labels.json  preprocess.json  training.json  metrics.json  MODEL_CARD.md  README.md  predict.py

Heavy modules (torch, onnx) load only when a bundle is written or loaded.
"""
from __future__ import annotations

from .manifest import BUNDLE_FORMAT, BUNDLE_VERSION, read_manifest, verify_bundle


def save_bundle(run_dir, out, which: str = "best", reporter=None, cancel=None):
    """Write a run's checkpoint as a verified bundle folder; returns its Path."""
    from .writer import save_bundle as _save

    return _save(run_dir, out, which=which, reporter=reporter, cancel=cancel)


def load_bundle(path, device: str = "cpu"):
    """Verify a bundle's files, then return an engine.inference.Predictor for it."""
    from .reader import load_bundle as _load

    return _load(path, device=device)


__all__ = ["save_bundle", "load_bundle", "verify_bundle", "read_manifest", "BUNDLE_FORMAT", "BUNDLE_VERSION"]
