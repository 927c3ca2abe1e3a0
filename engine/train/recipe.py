"""The "auto" recipe: fill every setting the user left as None from the data and backbone.

Rules of thumb measured on this project's CPU machines (see benchmarks/RESULTS.md):
- small images do not need the backbone's full resolution: 28 px digits train as well at
  ~112 px as at 224 px, at a quarter of the cost;
- a pretrained CNN fine-tuned with its stem frozen beats a linear probe even at 10
  examples per class; discriminative learning rates keep early stages close to their
  pretrained values;
- the head-only (linear probe) path runs on cached features, so it can afford many epochs.
"""
from __future__ import annotations

import math
import os

from ..config import REFIT_BELOW_PER_CLASS, ConfigError, RunConfig
from ..errors import BackboneError

AUTO_BACKBONE = {"image": "efficientnet_lite0", "text": "minilm_l6"}


def choose_backbone(modality: str) -> str:
    try:
        return AUTO_BACKBONE[modality]
    except KeyError:
        raise BackboneError(f"No default backbone for {modality} data yet; choose one with --backbone.")


def _median_side(report: dict) -> float | None:
    img = report.get("image") or report.get("images") or {}
    sides = []
    for key in ("width", "height"):
        v = img.get(key)
        if isinstance(v, dict) and v.get("median"):
            sides.append(float(v["median"]))
    return min(sides) if sides else None


def choose_input_size(report: dict, spec_size: int, min_size: int = 32) -> int:
    """About 4x the median short side, rounded to 32, never above the backbone's own size."""
    side = _median_side(report)
    if side is None:
        return spec_size
    size = int(math.ceil(side * 4 / 32) * 32)
    return int(max(min(size, spec_size), max(min_size, 64)))


def choose_max_length(report: dict, spec_max: int) -> int:
    """128 tokens unless the texts are long (~4 characters a token); batches pad only to their longest."""
    length = ((report.get("text") or {}).get("length") or {})
    median = length.get("median") if isinstance(length, dict) else None
    want = 128 if not median else (256 if median > 600 else 128)
    return int(min(spec_max, want))


def choose_batch_size(n_train: int, device: str, modality: str) -> int:
    base = 64 if device.startswith("cuda") else 32
    if modality == "text" and not device.startswith("cuda"):
        base = 16
    return int(max(4, min(base, 2 ** int(math.log2(max(n_train // 4, 4))))))


# On a CPU, a fine-tune on data where one epoch is a sizeable share of this budget (at least
# BUDGET_FROM_SHARE of it) passes about this many training examples through the network in
# all, so its CPU time stays near a plain full fine-tune's (ASSETS.md's baseline passes
# 100 x 32 images / 60 x 16 texts). Fashion-MNIST 200/class, seed 0: 6 epochs 89.1 % in 365
# CPU s, 3 epochs (the budget) 86.6 % in 169 s; the full fine-tune baseline 82.4 % in 156 s,
# frozen features + logistic regression 85.5 %. Smaller image data keeps the full schedule,
# which early stopping usually ends well inside the budget: capping Fashion-MNIST 50/class
# at 12 epochs cost about 2 points on each of 3 seeds. A sentence model settles sooner:
# Fortunes 50/topic (340 training texts) capped at 6 epochs scored 73.8 % in 176 CPU s on
# 3 seeds against 73.9 % in 233 s for the full schedule (benchmarks/ACCURACY.md).
CPU_EXAMPLE_BUDGET = {"image": 5000, "text": 2000}
BUDGET_FROM_SHARE = {"image": 1 / 5, "text": 1 / 8}

# Where that budget caps the epochs, images train on random crops 7/8 of the input side (0.77x
# the pixels, so 4 epochs cost about what 3 did) while the saved model still runs at the input
# size: a network trained on random crops does well, even better, when tested somewhat larger
# (Touvron et al. 2019, "Fixing the train-test resolution discrepancy"). Fashion-MNIST
# 200/class, 6 seeds: 85.9 -> 86.3 % at 1.14x instead of 1.07x the plain fine-tune's CPU time
# (benchmarks/ACCURACY.md).
BUDGET_CROP_SHARE = 7 / 8


def _budget(modality: str) -> tuple[int, float]:
    kind = modality if modality in CPU_EXAMPLE_BUDGET else "image"
    return CPU_EXAMPLE_BUDGET[kind], BUDGET_FROM_SHARE[kind]


def budget_caps(n_train: int, linear_probe: bool, device: str, modality: str) -> bool:
    """Whether CPU_EXAMPLE_BUDGET limits this fine-tune's epochs (a CPU, data large enough)."""
    budget, share = _budget(modality)
    return not linear_probe and not device.startswith("cuda") and n_train >= budget * share


def choose_train_size(input_size: int, capped: bool) -> int:
    """The side of the random training crops: BUDGET_CROP_SHARE of the input side (to 16 px) when capped."""
    if not capped:
        return int(input_size)
    return int(min(input_size, max(32, round(input_size * BUDGET_CROP_SHARE / 16) * 16)))


def choose_epochs(n_train: int, batch_size: int, linear_probe: bool, *, device: str = "cpu",
                  modality: str = "image", pixel_share: float = 1.0) -> int:
    """Aim for a few hundred optimizer steps (many more when the backbone is cached).

    On a CPU a fine-tune on larger data also keeps within CPU_EXAMPLE_BUDGET (never under
    2 epochs), where an example trained at `pixel_share` of the pixels costs that share of
    one; a probe runs on cached features and a GPU is fast enough for the full count.
    """
    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    target = 1500 if linear_probe else 300
    epochs = max(3, min(60 if linear_probe else 25, math.ceil(target / steps_per_epoch)))
    if budget_caps(n_train, linear_probe, device, modality):
        epochs = min(epochs, max(2, round(_budget(modality)[0] / (n_train * pixel_share))))
    return int(epochs)


def choose_freeze(spec, modality: str, per_class: float) -> int:
    n = len(spec.stages)
    if getattr(spec, "recommended_freeze", None) is not None and modality == "image":
        return int(min(spec.recommended_freeze, n))
    if modality == "text":
        # Fortunes, held-out test (benchmarks/ACCURACY.md): at 10 per topic a probe on the frozen
        # mean-pooled features scored 58 %, fine-tuning the upper half 62.8 %, all but the
        # embeddings 64.5 %; at 50 per topic the upper half 76.8 %
        return min(n, 1) if per_class < 40 else max(0, n // 2)
    return min(n, max(1, n // 4))


def _check_fixed_size(spec, size: int, train_size: int) -> None:
    native = int(spec.preprocess.get("input_size", 224))
    if spec.fixed_input_size and (size != native or train_size != native):
        raise ConfigError(f"{spec.display_name} takes images of exactly {native} px; leave the input and training crop "
                          f"sizes on auto (or set them to {native}).")


def resolve(config: RunConfig, spec, dataset, device: str) -> RunConfig:
    """Return a copy of `config` with every None filled in."""
    report = dataset.report.to_dict()
    n_train = len(dataset.split("train"))
    per_class = n_train / max(1, len(dataset.classes))
    changes = {}
    freeze = config.freeze
    if freeze is None:
        freeze = choose_freeze(spec, dataset.modality, per_class)
        changes["freeze"] = freeze
    linear_probe = freeze >= len(spec.stages)
    if config.input_size is None and dataset.modality == "image":
        pp = spec.preprocess
        changes["input_size"] = choose_input_size(report, int(pp.get("input_size", 224)),
                                                  int(getattr(spec, "min_input_size", 32) or 32))
    if config.max_length is None and dataset.modality == "text":
        changes["max_length"] = choose_max_length(report, int(spec.preprocess.get("max_length", 128)))
    bs = config.batch_size or choose_batch_size(n_train, device, dataset.modality)
    changes["batch_size"] = bs
    train_size, pixel_share = config.train_input_size, 1.0
    if dataset.modality == "image":
        size = int(changes.get("input_size") or config.input_size)
        if train_size is None:
            # only where the budget sets the epochs: with epochs given, the user chose the cost
            capped = (config.epochs is None and not spec.fixed_input_size
                      and budget_caps(n_train, linear_probe, device, dataset.modality))
            train_size = changes["train_input_size"] = choose_train_size(size, capped)
        _check_fixed_size(spec, size, train_size)
        pixel_share = (train_size / size) ** 2
    if config.epochs is None:
        changes["epochs"] = choose_epochs(n_train, bs, linear_probe, device=device, modality=dataset.modality,
                                          pixel_share=pixel_share)
    warm = config.head_warmup
    if warm is None:
        warm = not linear_probe
        changes["head_warmup"] = warm
    if config.compare_probe is None:
        # a safety net under every fine-tune whose frozen features are computed anyway (probe_contender.py)
        changes["compare_probe"] = bool(warm)
    blend = config.finetune_blend
    if blend is None:
        # WiSE-FT (weight_blend.py): images gained, Fortunes 10/topic lost 0.4 points (benchmarks/ACCURACY.md)
        blend = changes["finetune_blend"] = 0.5 if (warm and dataset.modality == "image") else 1.0
    if config.freeze_bn_stats is None:
        # small data: batch statistics of a few dozen images are noisier than ImageNet's, and
        # train-mode BN would shift the very features the warmed-up head was fitted on
        changes["freeze_bn_stats"] = bool(warm and n_train < 20000)
    if config.refit is None:
        # the validation split's only job at this size is to pick the epoch count; the final model
        # then learns from those examples too (benchmarks/ACCURACY.md)
        n_val = len(dataset.split("val"))
        changes["refit"] = bool(n_val and per_class < REFIT_BELOW_PER_CLASS)
    refit_on = changes.get("refit", config.refit)
    if config.refit_soup is None:
        # a uniform soup of 3 refits: Fashion-MNIST 10/class 74.2 -> 74.7 % (6 seeds); for Fortunes 10/topic
        # (no blend) it moved single samples by -0.5 to +0.7 points, so text keeps one refit
        changes["refit_soup"] = 3 if (refit_on and dataset.modality == "image" and blend < 1) else 1
    if config.refit_epochs is None:
        # with the blend holding the fine-tune near its start, the refit may train as long as the first
        # run did instead of to the epoch that won on a handful of validation images: Fashion-MNIST
        # 10/class, 6 seeds, 74.7 -> 75.7 %; Fortunes 10/topic (no blend) lost 0.3-2.5 points a seed
        # (benchmarks/ACCURACY.md)
        changes["refit_epochs"] = "trained" if (refit_on and blend < 1) else "best"
    if config.lr is None:
        # after the head is fitted (LP-FT) the fine-tune needs only a gentle learning rate; when the
        # saved model is a blend with that start, a bolder fine-tune pays (Fashion-MNIST 50/class,
        # 3 seeds: 80.2 % at 5e-4, 82.1 % at 1e-3; benchmarks/ACCURACY.md)
        changes["lr"] = 3e-3 if linear_probe else (1e-3 if not warm or blend < 1 else 5e-4)
    if config.lr_stage_decay is None:
        trainable = max(1, len(spec.stages) - freeze)
        # earliest trainable stage learns ~20x slower than the head
        changes["lr_stage_decay"] = round((1 / 20) ** (1 / trainable), 4)
    if config.num_workers is None:
        cores = os.cpu_count() or 1
        changes["num_workers"] = 0 if (cores <= 2 or linear_probe) else min(8, cores - 1)
    if config.name is None:
        import time

        changes["name"] = time.strftime("%Y%m%d-%H%M%S") + f"-{spec.id}"
    return config.replace(**changes)
