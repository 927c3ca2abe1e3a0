"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates"; fastai's `lr_find`).

Train for a few dozen steps while the learning rate grows exponentially from `start_lr`
to `end_lr`; record the loss (an exponential moving average, bias-corrected, as fastai
does); stop early once it has diverged (above 4x its minimum, or not finite). The
suggestion is the **steepest descent**: the rate where the smoothed loss falls fastest
against log(learning rate), looked for before the loss's minimum (fastai's `steep`; its
`valley` rule would pick a little higher). It is a starting point, not an optimum.

It runs on the run's own settings: the same data scan, recipe, backbone, freezing depth,
per-stage learning-rate ratios, optimizer (AdamW) and training transforms as `train`.
`range_test` leaves the model's weights and buffers exactly as it found them, and the
optimizer it uses is its own, so nothing a later run starts from is changed (a test).
"""
from __future__ import annotations

import copy
import math
import time

import torch

from .. import protocol
from ..errors import Cancelled

DIVERGE_FACTOR = 4.0
BETA = 0.98
RULE = ("steepest descent: where the smoothed loss falls fastest against log(learning rate), before its minimum "
        "(Smith 2017; fastai's 'steep' suggestion)")


def suggest(lrs: list[float], losses: list[float]) -> float | None:
    """The steepest-descent rate (see the module docstring); None when there are too few points."""
    if len(lrs) < 5:
        return None
    end = min(range(len(losses)), key=losses.__getitem__)
    if end < 2:
        return None
    logs = [math.log10(x) for x in lrs]
    # central differences inside [0, end]: d loss / d log10(lr)
    slopes = [(losses[i + 1] - losses[i - 1]) / max(1e-12, logs[i + 1] - logs[i - 1]) for i in range(1, end)]
    i = min(range(len(slopes)), key=slopes.__getitem__)
    return float(lrs[i + 1]) if slopes[i] < 0 else None


def range_test(model, optimizer, batches, loss_fn, *, steps: int, start_lr: float, end_lr: float,
               step_fn, cancel=None, on_point=None) -> dict:
    """Run the test on `model` (restored afterwards); returns {"lrs", "losses", "suggestion", "rule", "stopped"}.

    `batches` yields (inputs, labels) forever; `step_fn(inputs) -> logits`; the optimizer's param groups
    keep their lr ratios (group lr = ratio * the test's lr, the first group being the head at ratio 1)."""
    saved = copy.deepcopy(model.state_dict())
    was_training = model.training
    top = optimizer.param_groups[0]["lr"] or 1.0
    ratios = [g["lr"] / top for g in optimizer.param_groups]
    lrs, losses = [], []
    avg, best, stopped = 0.0, math.inf, "range"
    try:
        model.train()
        for i in range(steps):
            if cancel is not None and cancel.is_set():
                stopped = "cancelled"
                break
            lr = start_lr * (end_lr / start_lr) ** (i / max(1, steps - 1))
            for g, r in zip(optimizer.param_groups, ratios):
                g["lr"] = lr * r
            inputs, ys = next(batches)
            loss = loss_fn(step_fn(inputs).float(), ys)
            value = float(loss.detach())
            if not math.isfinite(value):
                stopped = "diverged"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            avg = BETA * avg + (1 - BETA) * value
            smooth = avg / (1 - BETA ** (i + 1))
            lrs.append(lr)
            losses.append(smooth)
            if on_point is not None:
                on_point(i + 1, steps, lr, smooth)
            best = min(best, smooth)
            if i > 0 and smooth > DIVERGE_FACTOR * best:
                stopped = "diverged"
                break
    finally:
        model.load_state_dict(saved)
        model.train(was_training)
        optimizer.zero_grad(set_to_none=True)
    return {"lrs": lrs, "losses": losses, "suggestion": suggest(lrs, losses), "rule": RULE, "stopped": stopped}


def _forever(loader_for_epoch):
    epoch = 0
    while True:
        epoch += 1
        n = 0
        for batch in loader_for_epoch(epoch):
            n += 1
            yield batch
        if n == 0:
            raise ValueError("no training examples")


def find_lr(config, *, steps: int = 100, start_lr: float = 1e-7, end_lr: float = 10.0, reporter=None,
            cancel=None) -> dict:
    """The range test on a RunConfig's data, backbone and freezing, as `train` would set them up.

    `reporter` gets Status messages and, per step, `(done, total, lr, loss)` through `on_point`
    (the server turns them into JobProgress); nothing is written anywhere."""
    from ..backbones import build_model, locate_weights
    from ..freezing import freeze_to, param_groups
    from .batches import forward, make_dataset, make_loader, to_device
    from .device import configure
    from .plan import recipe, scan_and_pick
    from .run import _preprocess, _small_head_init

    class _Report:
        def __call__(self, msg):
            if reporter is not None and isinstance(msg, protocol.Status):
                reporter(msg)

        def status(self, phase, detail=""):
            self(protocol.Status(phase=phase, detail=detail))

        def log(self, text, level="info"):
            pass

    report = _Report()
    spec, dataset, device = scan_and_pick(config, report, cancel)
    cfg, _settings, _facts = recipe(config, spec, dataset, device)
    configure(device, cfg.deterministic)
    if cancel is not None and cancel.is_set():
        raise Cancelled("The learning-rate finder was cancelled.")
    report.status("loading_model", f"{spec.display_name} on {device.type}")
    torch.manual_seed(cfg.seed)
    weights = locate_weights(spec, cfg.weights)
    tokenizer = None
    if dataset.modality == "text":
        from ..backbones import build_tokenizer

        tokenizer = build_tokenizer(spec, cfg.weights or "auto")
    model = build_model(spec, len(dataset.classes), weights=str(weights) if weights else (cfg.weights or "auto"))
    _small_head_init(model, spec, len(dataset.classes))
    k = int(cfg.freeze)
    freeze_to(model, spec, k)
    model.to(device)
    channels_last = dataset.modality == "image"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    pp = _preprocess(spec, cfg, dataset.modality)
    ds, collate = make_dataset(dataset.split("train"), modality=dataset.modality, preprocess=pp, train=True,
                               augment=cfg.augment, tokenizer=tokenizer, train_size=cfg.train_input_size)
    groups = param_groups(model, spec, k, cfg.lr, cfg.lr_stage_decay, cfg.weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
    batches = (to_device(x, y, device, channels_last) for x, y in _forever(lambda epoch: make_loader(
        ds, collate, batch_size=int(cfg.batch_size), shuffle=True, num_workers=0, seed=cfg.seed, epoch=epoch)))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    report.status("training", f"learning-rate range test, {steps} steps")
    t0 = time.monotonic()

    def on_point(done, total, lr, loss):
        if reporter is not None:
            rate = done / max(1e-9, time.monotonic() - t0)
            reporter(protocol.JobProgress(done=done, total=total, per_s=rate, eta_s=(total - done) / rate,
                                          items=[[lr, loss]]))

    out = range_test(model, optimizer, batches, loss_fn, steps=steps, start_lr=start_lr, end_lr=end_lr,
                     step_fn=lambda x: forward(model, x), cancel=cancel, on_point=on_point)
    out["config_lr"] = cfg.lr
    return out
