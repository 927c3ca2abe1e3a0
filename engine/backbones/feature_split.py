"""Split a built model into (features_fn, head_fn) for the linear-probe feature cache.

Each branch restates its library's own forward pass, cut just before the head stage,
so that head_fn(features_fn(x)) equals the model's logits (checked in the tests).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import BackboneError
from .spec import BackboneSpec

_TEXT_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def _timm(model) -> tuple[Callable, Callable]:
    if hasattr(model, "global_pool") and hasattr(model, "classifier") and hasattr(model, "drop_rate"):
        def features(x):  # EfficientNet family: pooled features, dropout belongs to the head
            return model.global_pool(model.forward_features(x))

        def head(f):
            return model.classifier(F.dropout(f, p=model.drop_rate, training=model.training) if model.drop_rate else f)
        return features, head
    return (lambda x: model.forward_head(model.forward_features(x), pre_logits=True)), model.get_classifier()


def _vit_features(model, x):
    x = model._process_input(x)
    cls = model.class_token.expand(x.shape[0], -1, -1)
    return model.encoder(torch.cat([cls, x], dim=1))[:, 0]


def _torchvision(model, family: str) -> tuple[Callable, Callable]:
    if family == "resnet":
        def features(x):
            x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
            x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
            return torch.flatten(model.avgpool(x), 1)
        return features, model.fc
    if family == "mobilenet_v3":
        return (lambda x: model.classifier[:-1](torch.flatten(model.avgpool(model.features(x)), 1))), model.classifier[-1]
    if family == "efficientnet":
        return (lambda x: torch.flatten(model.avgpool(model.features(x)), 1)), model.classifier
    if family == "convnext":
        return (lambda x: model.classifier[:-1](model.avgpool(model.features(x)))), model.classifier[-1]
    if family == "vit":
        return (lambda x: _vit_features(model, x)), model.heads
    raise BackboneError(f"No feature split is defined for the torchvision family {family!r}.")


def _text_inputs(x: dict, drop: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in x.items() if k in _TEXT_KEYS and k not in drop}


def _transformers(model, spec: BackboneSpec) -> tuple[Callable, Callable]:
    family = spec.hf_config.get("model_type")
    if family == "bert":  # the pretrained pooler is a stage; dropout + classifier are the head
        return (lambda x: model.bert(**_text_inputs(x)).pooler_output), \
            (lambda f: model.classifier(model.dropout(f)))
    if family == "distilbert":
        def head(f):
            return model.classifier(model.dropout(F.relu(model.pre_classifier(f))))
        return (lambda x: model.distilbert(**_text_inputs(x, ("token_type_ids",)))[0][:, 0]), head
    if family == "roberta":
        return (lambda x: model.roberta(**_text_inputs(x))[0][:, :1]), model.classifier
    raise BackboneError(f"No feature split is defined for the transformers model type {family!r}.")


def split(model, spec: BackboneSpec) -> tuple[Callable, Callable]:
    """(features_fn, head_fn) for a model built from `spec`."""
    if spec.source == "timm":
        return _timm(model)
    if spec.source == "torchvision":
        return _torchvision(model, spec.family)
    return _transformers(model, spec)
