"""Explanations (issue 23): what a model looked at, computed in the engine, cached per (model, file).

Images: Grad-CAM at the registry's `cam_layer` (captum LayerGradCam); text: integrated gradients
at the word embeddings (captum LayerIntegratedGradients). `Explainer` is the one entry: the
server's `Explain` request, `transfer-studio explain` and the HTML report use it. `words.py` is
standard library only (the app imports it to highlight words), so nothing here is imported eagerly.
"""
from __future__ import annotations

_LAZY = ("Explainer", "backbone_id", "explain_paths")


def __getattr__(name: str):
    if name in _LAZY:
        from . import explainer

        return getattr(explainer, name)
    raise AttributeError(name)
