"""LP-FT: fit the new head on frozen features before fine-tuning the backbone.

A freshly initialised head sends large, random gradients into pretrained stages during
the first steps of fine-tuning and distorts the features it should be reusing (Kumar et
al., "Fine-Tuning can Distort Pretrained Features", ICLR 2022). Fitting the head first
on features from one frozen, augmentation-free pass costs about a third of an epoch and
lets the fine-tune start from a sensible classifier with a lower learning rate.
"""
from __future__ import annotations

import math

import torch

from .. import protocol
from .batches import make_dataset, make_loader
from .callbacks import Callback
from .features import extract, feature_batches

HEAD_STEPS = 300
HEAD_LR = 3e-3


def frozen_features(model, spec, dataset, meta: dict, cfg, device, *, amp_dtype, channels_last, tokenizer,
                    report, cancel, split_for_features, detail: str = "Fitting the new head first") -> dict:
    """{split: (features, labels)} of the train and validation examples through the model's frozen
    body, in eval mode and without augmentation (unreadable examples left out)."""
    features_fn, _ = split_for_features(model, spec)
    was_training = model.training
    model.eval()
    feats = {}
    for name in ("train", "val"):
        examples = dataset.split(name)
        if not examples:
            continue
        report(protocol.Status(phase="caching_features", detail=f"{detail} ({name} features)"))
        ds, collate = make_dataset(examples, modality=meta["modality"], preprocess=meta["preprocess"],
                                   train=False, augment="none", tokenizer=tokenizer)
        loader = make_loader(ds, collate, batch_size=64, shuffle=False, num_workers=cfg.num_workers or 0,
                             seed=cfg.seed)
        f, y = extract(features_fn, loader, device, channels_last=channels_last, amp_dtype=amp_dtype, cancel=cancel)
        keep = y >= 0
        feats[name] = (f[keep].to(device), y[keep].to(device))
    model.train(was_training)
    return feats


def warm_head(model, spec, dataset, meta: dict, cfg, device, *, amp_dtype, channels_last, tokenizer,
              report, cancel, split_for_features) -> dict:
    """Train only the head on cached features; returns {"steps", "train_accuracy", "val_accuracy",
    "features": {split: (features, labels)}} (the probe contender reuses the features)."""
    _, head_fn = split_for_features(model, spec)
    was_training = model.training
    feats = frozen_features(model, spec, dataset, meta, cfg, device, amp_dtype=amp_dtype,
                            channels_last=channels_last, tokenizer=tokenizer, report=report, cancel=cancel,
                            split_for_features=split_for_features)
    model.eval()
    head = [p for n, p in model.named_parameters() if spec.head.covers(n)]
    opt = torch.optim.AdamW(head, lr=HEAD_LR, weight_decay=cfg.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    x, y = feats["train"]
    bs = min(cfg.batch_size or 32, len(y))
    epochs = max(1, math.ceil(HEAD_STEPS / math.ceil(len(y) / bs)))
    step, total = 0, epochs * math.ceil(len(y) / bs)
    from .probe_speed import single_thread_on_cpu

    with torch.enable_grad(), single_thread_on_cpu(device):  # tiny matmuls: 1 thread is fastest
        for epoch in range(epochs):
            for xb, yb in feature_batches(x, y, bs, shuffle=True, seed=cfg.seed + 7919, epoch=epoch):
                for g in opt.param_groups:
                    g["lr"] = HEAD_LR * 0.5 * (1 + math.cos(math.pi * step / total))
                loss = loss_fn(head_fn(xb).float(), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
    out = {"steps": step, "features": feats}
    with torch.inference_mode():
        for name, (xs, ys) in feats.items():
            out[f"{name}_accuracy"] = float((head_fn(xs).argmax(1) == ys).float().mean())
    model.train(was_training)
    which = "validation" if "val_accuracy" in out else "training"  # a refit has no validation split
    acc = out.get("val_accuracy", out.get("train_accuracy", float("nan")))
    report(protocol.Log(level="info", text=(
        f"Head fitted on frozen features first ({step} steps): {which} accuracy {acc:.3f} before fine-tuning.")))
    return out


class HeadWarmup(Callback):
    """Before the first epoch of a fresh phase, fit the head on frozen features (warm_head above).

    Its state says the head is fitted (and how well), so a resumed run never fits it again over
    fine-tuned weights; `features` stay in memory for the probe contender, which reuses them."""

    def __init__(self, spec, dataset, meta: dict, tokenizer, split_for_features):
        self.spec, self.dataset, self.meta = spec, dataset, meta
        self.tokenizer, self.split_for_features = tokenizer, split_for_features
        self.done, self.outcome, self.features = False, {}, None

    def on_fit_start(self, loop, state, resumed: bool) -> None:
        if self.done or resumed:  # a checkpoint to resume from is only ever written after the warm-up
            self.done = True
            return
        out = warm_head(loop.model, self.spec, self.dataset, self.meta, loop.cfg, loop.device,
                        amp_dtype=loop.amp_dtype, channels_last=loop.channels_last, tokenizer=self.tokenizer,
                        report=loop.report, cancel=loop.cancel, split_for_features=self.split_for_features)
        self.features = out.pop("features")
        self.done, self.outcome = True, out

    def state_dict(self) -> dict:
        return {"done": self.done, **self.outcome}

    def load_state_dict(self, state: dict) -> None:
        self.done = bool(state.get("done"))
        self.outcome = {k: v for k, v in state.items() if k != "done"}
