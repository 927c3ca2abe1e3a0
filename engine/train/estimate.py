"""How long a run will take at most, measured on this machine before it starts.

A few training steps of the resolved network (random weights: the same arithmetic as the
pretrained ones, nothing to load) at the resolved batch and input size give the seconds
per step and per example; the recipe's settings give how many of each the run will do
(head warm-up features, epochs, validation, refits, evaluation). Early stopping often ends
a run sooner, so the figure is an upper bound and is shown as one.
"""
from __future__ import annotations

import math
import time

import torch

_MEASURED: dict[tuple, tuple[float, float]] = {}  # (backbone, freeze, batch, size, device) -> (step_s, example_s)


def _inputs(spec, cfg, facts, batch: int, size: int | None, device):
    if spec.modality == "image":
        x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
        return x
    length = int(min(cfg.max_length or 128, max(8, (facts.median_chars or 200) / 4)))
    return {"input_ids": torch.randint(1000, 2000, (batch, length), device=device),
            "attention_mask": torch.ones(batch, length, dtype=torch.long, device=device)}


def measure(spec, cfg, facts, device) -> tuple[float, float]:
    """(seconds per training step, seconds per example forward only), timed here and cached."""
    from ..backbones import build_model
    from ..freezing import freeze_to
    from .batches import forward

    size = cfg.train_input_size or cfg.input_size
    key = (spec.id, cfg.freeze, cfg.batch_size, size, cfg.input_size, cfg.max_length, str(device))
    if key in _MEASURED:
        return _MEASURED[key]
    torch.manual_seed(0)
    model = build_model(spec, max(2, facts.n_classes), weights=None).to(device)
    if spec.modality == "image":
        model = model.to(memory_format=torch.channels_last)
    freeze_to(model, spec, int(cfg.freeze))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad] or [torch.zeros(1)], lr=1e-4)
    bs = int(cfg.batch_size)
    x, y = _inputs(spec, cfg, facts, bs, size, device), torch.randint(0, 2, (bs,), device=device)
    model.train()
    times = []
    for _ in range(3):  # the first step pays for allocation: the best of the other two counts
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(forward(model, x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    model.eval()
    x_eval = _inputs(spec, cfg, facts, bs, cfg.input_size, device)
    with torch.inference_mode():
        forward(model, x_eval)
        t0 = time.perf_counter()
        forward(model, x_eval)
        fwd = (time.perf_counter() - t0) / bs
    _MEASURED[key] = (min(times[1:]), fwd)
    return _MEASURED[key]


def estimate(spec, cfg, facts, device) -> dict:
    """{"seconds": an upper bound for the whole run, "step_s", "example_s", "steps"} on this machine."""
    step_s, example_s = measure(spec, cfg, facts, device)
    n_train, n_val, n_test = facts.n_train, facts.n_val, facts.n_test
    bs, epochs = int(cfg.batch_size), int(cfg.epochs)
    probe = int(cfg.freeze) >= facts.stages
    steps = 0 if probe else epochs * math.ceil(n_train / bs)
    seconds = steps * step_s + epochs * n_val * example_s  # training, validation after each epoch
    if probe or cfg.head_warmup:
        seconds += (n_train + n_val) * example_s  # the frozen features, computed once
    if cfg.refit and n_val and not probe:
        members = int(cfg.refit_soup or 1)
        refit_steps = members * epochs * math.ceil((n_train + n_val) / bs)
        steps += refit_steps
        seconds += refit_steps * step_s + members * (n_train + n_val) * example_s
    seconds += (n_val + n_test) * example_s  # the final evaluation
    return {"seconds": round(seconds, 1), "step_s": round(step_s, 4), "example_s": round(example_s, 5),
            "steps": steps}
