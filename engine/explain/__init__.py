"""Explanations (issue 23): what a model looked at, computed in the engine, cached per (model, file).

Images: Grad-CAM at the registry's `cam_layer` (captum LayerGradCam); text: integrated gradients
at the word embeddings (captum LayerIntegratedGradients). `Explainer` is the one entry: the
server's `Explain` request, `transfer-studio explain` and the HTML report use it.
"""
from .explainer import Explainer, backbone_id, explain_paths  # noqa: F401
