"""Freeze the first k stages of a backbone, like fastai's `freeze_to`.

Stages come from the backbone's spec (ordered input to output, head excluded). Level
k = 0 trains everything; k = len(stages) trains only the head (a linear probe). Every
parameter belongs to exactly one stage or the head; a name matched by none or by
several is a registry bug and raises. Torch is imported only by the functions that need it.
"""
from __future__ import annotations

from typing import Any, Callable

from .backbones.spec import BackboneSpec
from .errors import BackboneError


def stage_names(spec: BackboneSpec) -> list[str]:
    """The stage names input to output, head excluded."""
    return [s.name for s in spec.stages]


def num_freeze_levels(spec: BackboneSpec) -> int:
    """len(stages): k ranges over 0..num_freeze_levels(spec), the last being the linear probe."""
    return len(spec.stages)


def _check_level(spec: BackboneSpec, k: int) -> None:
    n = len(spec.stages)
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= n:
        raise BackboneError(f"Freezing depth for {spec.id} must be between 0 (train everything) and {n} "
                            f"(train only the head), not {k!r}.")


def _stage_index(name: str, spec: BackboneSpec) -> int:
    """Index of the stage holding `name`; len(stages) means the head."""
    hits = [i for i, s in enumerate(spec.stages) if s.covers(name)]
    if spec.head.covers(name):
        hits.append(len(spec.stages))
    if len(hits) != 1:
        where = "no stage" if not hits else "several stages"
        raise BackboneError(f"Parameter {name!r} of {spec.id} belongs to {where}; the registry entry needs fixing.")
    return hits[0]


def stage_of(name: str, spec: BackboneSpec) -> str:
    """The name of the stage (or the head) a parameter/buffer/module name belongs to."""
    i = _stage_index(name, spec)
    return spec.head.name if i == len(spec.stages) else spec.stages[i].name


def stage_param_counts(model, spec: BackboneSpec, k: int = 0) -> list[dict[str, Any]]:
    """[{name, params, trainable, prefixes}] per stage, head last; trainable = not frozen at level k."""
    _check_level(spec, k)
    n = len(spec.stages)
    counts = [0] * (n + 1)
    for name, p in model.named_parameters():
        counts[_stage_index(name, spec)] += p.numel()
    stages = list(spec.stages) + [spec.head]
    return [{"name": s.name, "params": counts[i], "trainable": i >= k, "prefixes": list(s.prefixes)}
            for i, s in enumerate(stages)]


def freeze_to(model, spec: BackboneSpec, k: int) -> int:
    """Set requires_grad: stages [0, k) frozen, the rest and the head trainable. Returns trainable count."""
    _check_level(spec, k)
    trainable = 0
    for name, p in model.named_parameters():
        p.requires_grad_(_stage_index(name, spec) >= k)
        trainable += p.numel() if p.requires_grad else 0
    return trainable


def set_frozen_eval(model, spec: BackboneSpec, k: int) -> None:
    """Put every module of the frozen stages in eval mode (BatchNorm statistics and dropout).

    Call after `model.train()`, which puts them back in training mode.
    """
    _check_level(spec, k)
    frozen = spec.stages[:k]
    for name, module in model.named_modules():
        if name and any(s.covers(name) for s in frozen):
            module.eval()


def param_groups(model, spec: BackboneSpec, k: int, lr: float, decay: float = 0.5,
                 weight_decay: float = 0.01) -> list[dict[str, Any]]:
    """AdamW parameter groups for the trainable parameters at level k.

    The head gets `lr`; a stage `d` steps before the head gets lr * decay**d. Biases and
    norm weights (1-D tensors) get no weight decay. Each group carries a "name".
    Call `freeze_to` first: parameters with requires_grad False are left out.
    """
    _check_level(spec, k)
    n = len(spec.stages)
    groups: dict[tuple[int, bool], list] = {}
    for name, p in model.named_parameters():
        i = _stage_index(name, spec)
        if i < k or not p.requires_grad:
            continue
        groups.setdefault((i, p.ndim <= 1), []).append(p)
    out = []
    for (i, no_decay), params in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        stage = spec.head.name if i == n else spec.stages[i].name
        out.append({"params": params, "lr": lr * decay ** (n - i), "weight_decay": 0.0 if no_decay else weight_decay,
                    "name": f"{stage} (no decay)" if no_decay else stage})
    return out


def split_for_features(model, spec: BackboneSpec) -> tuple[Callable, Callable]:
    """(features_fn, head_fn) with head_fn(features_fn(x)) == model's logits for x.

    features_fn is everything except the head (the part a linear probe freezes), so its
    output can be cached. Images: x is a batch tensor. Text: x is a dict of tensors
    (input_ids, attention_mask, ...). Run features_fn in eval mode for cacheable features.
    """
    from .backbones.feature_split import split
    return split(model, spec)
