"""The auto recipe's rules: one small function per setting, and the table that carries them.

Each rule reads only the `Regime` (regime.py) and the settings already settled (`Chosen`:
the user's values and earlier rules' choices) and returns (value, reason): the reason is a
sentence about this data, shown by the GUI, the CLI's `recipe` command and the run log.
`RULES` adds to each rule what it says in general and the evidence it rests on; the CLI
help, README's recipe section and `transfer-studio recipe --rules` are rendered from it
(render.py), so a rule is written once. Where a setting depends on another (the learning
rate on the blend, the soup on the refit), the rule says so in its own row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .regime import BUDGET_SCALE, IMBALANCE, Facts, Regime, budget

# the refit applies below this many training examples per class (texts: below TEXT_REFIT_BELOW_PER_CLASS)
REFIT_BELOW_PER_CLASS = 40
# texts gained from the refit at 50 per class too (suite, both halves); 200 is unmeasured: 100 is their
# geometric midpoint
TEXT_REFIT_BELOW_PER_CLASS = 100
BLEND_SHARE = 0.5
SOUP_MEMBERS = 3


class Chosen:
    """The settings settled so far: the user's (not None) or an earlier rule's."""

    def __init__(self, config: dict):
        self._values = dict(config)

    def __getitem__(self, name: str) -> Any:
        return self._values.get(name)

    def set(self, name: str, value: Any) -> None:
        self._values[name] = value


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _per_class(f: Facts) -> str:
    """'34 texts per class', or '77 texts per class on average' where the classes differ in size (the rules
    read the mean: 200 x 3 + 20 x 3 texts count as 77 a class)."""
    return f"{f.per_class:.0f} {f.modality}s per class" + (" on average" if f.class_ratio > 1.5 else "")


# ---------------------------------------------------------------------------------- rules
def choose_freeze(f: Facts) -> tuple[int, str]:
    if f.modality == "text":
        if f.per_class < REFIT_BELOW_PER_CLASS:
            return min(f.stages, 1), (f"{_per_class(f)} (under {REFIT_BELOW_PER_CLASS}): all but "
                                      "the embeddings fine-tuned")
        return max(0, f.stages // 2), f"{_per_class(f)}: the upper half of the network fine-tuned"
    k = int(min(f.recommended_freeze, f.stages))
    return k, f"{f.backbone_name}'s recommended depth: the first {k} of {f.stages} stages frozen"


def choose_input_size(r: Regime, c: Chosen) -> tuple[int, str]:
    f = r.facts
    if f.median_side is None:
        return f.native_size, f"{f.backbone_name}'s own size (the images' sizes are unknown)"
    size = int(math.ceil(f.median_side * 4 / 32) * 32)
    size = int(max(min(size, f.native_size), max(f.min_size, 64)))
    return size, (f"about 4 x the images' median short side ({f.median_side:.0f} px), rounded up to 32, "
                  f"at most {f.backbone_name}'s own {f.native_size} px")


def choose_max_length(r: Regime, c: Chosen) -> tuple[int, str]:
    f = r.facts
    want = 256 if (f.median_chars or 0) > 600 else 128
    length = int(min(f.max_length, want))
    median = f"median {f.median_chars:.0f} characters" if f.median_chars else "length unknown"
    return length, f"{'long' if want == 256 else 'short'} texts ({median}); batches pad only to their longest"


def choose_batch_size(r: Regime, c: Chosen) -> tuple[int, str]:
    base = 64 if r.gpu else (16 if r.modality == "text" else 32)
    bs = int(max(4, min(base, 2 ** int(math.log2(max(r.facts.n_train // 4, 4))))))
    where = "a GPU" if r.gpu else "a CPU"
    return bs, f"{base} on {where} for {r.modality}s, smaller when there are few examples ({r.facts.n_train} to train on)"


def choose_train_input_size(r: Regime, c: Chosen) -> tuple[int, str]:
    # 7/8 crops where the CPU budget capped the epochs were dropped: the suite's only row they reach
    # (Fashion-MNIST 200/class) was 0.7 points better without them (benchmarks/ABLATIONS.md)
    return int(c["input_size"]), "the input size"


def choose_epochs(r: Regime, c: Chosen) -> tuple[int, str]:
    n, bs = r.facts.n_train, int(c["batch_size"])
    steps_per_epoch = max(1, math.ceil(n / bs))
    quick = r.budget == "quick"
    scale = BUDGET_SCALE["quick"] if quick else 1  # quick: half the steps and half the longest schedule
    target, longest = int((1500 if r.linear_probe else 300) * scale), int((60 if r.linear_probe else 25) * scale)
    epochs = max(3, min(longest, math.ceil(target / steps_per_epoch)))
    why = f"about {target} optimizer steps ({steps_per_epoch} per epoch{', a quick budget' if quick else ''})"
    if r.capped:
        share = ((c["train_input_size"] or 1) / (c["input_size"] or 1)) ** 2 if r.modality == "image" else 1.0
        total = budget(r.modality, r.budget)[0]
        capped = max(1 if quick else 2, round(total / (n * share)))
        if capped < epochs:
            epochs = capped
            why = (f"a {r.budget} CPU budget of about {total} {r.modality} passes in all ({n} to train on); "
                   "early stopping may end it sooner")
    return int(epochs), why


def choose_class_weighted(r: Regime, c: Chosen) -> tuple[bool, str]:
    ratio = f"the largest class has {r.facts.class_ratio:.1f} x the smallest's examples"
    if r.imbalanced:
        return True, f"{ratio}: each class counts by the inverse of its frequency in the loss and the probe"
    return False, f"off: {ratio} (on from {IMBALANCE:g} x)"


def choose_monitor(r: Regime, c: Chosen) -> tuple[str, str]:
    if r.imbalanced:
        return "val_balanced_accuracy", "imbalanced classes: the epoch and the model kept are chosen on balanced accuracy"
    return "val_accuracy", "the epoch and the model kept are chosen on validation accuracy"


def choose_head_warmup(r: Regime, c: Chosen) -> tuple[bool, str]:
    if r.linear_probe:
        return False, "a linear probe trains the head alone"
    return True, "the new head is fitted on frozen features before the backbone is fine-tuned (LP-FT)"


def choose_compare_probe(r: Regime, c: Chosen) -> tuple[bool, str]:
    if not c["head_warmup"]:
        return False, "no head warm-up, so no frozen features to fit a probe on"
    return True, ("a logistic regression on the frozen features competes; it is kept only when better on validation "
                  "beyond chance")


def choose_compare_simple(r: Regime, c: Chosen) -> tuple[bool, str]:
    return True, ("a simple model (logistic regression on " + ("16x16 grey pixels" if r.modality == "image" else
                  "TF-IDF words") + ") competes; it is kept only if validation shows it better beyond chance")


def choose_finetune_blend(r: Regime, c: Chosen) -> tuple[float, str]:
    if c["head_warmup"] and r.modality == "image":
        return BLEND_SHARE, "images: the saved weights are half the fine-tune, half where it started (WiSE-FT)"
    return 1.0, "off: " + ("texts lost with it" if r.modality == "text" else "no fitted start to blend with")


def choose_freeze_bn_stats(r: Regime, c: Chosen) -> tuple[bool, str]:
    on = bool(c["head_warmup"] and r.facts.n_train < 20000)
    return on, ("BatchNorm keeps its pretrained statistics (small data)" if on else
                "BatchNorm statistics adapt" + (" (20,000+ examples)" if c["head_warmup"] else " (no warm-up)"))


def choose_refit(r: Regime, c: Chosen) -> tuple[bool, str]:
    if not r.facts.n_val:
        return False, "no validation split"
    below = TEXT_REFIT_BELOW_PER_CLASS if r.modality == "text" else REFIT_BELOW_PER_CLASS
    on = r.facts.per_class < below
    return on, (f"{_per_class(r.facts)} (under {below}): validation only decides how "
                "long to train, then the final model learns from it too" if on else
                f"{_per_class(r.facts)} (from {below}): validation stays held out")


def choose_refit_soup(r: Regime, c: Chosen) -> tuple[int, str]:
    if c["refit"] and r.modality == "image" and (c["finetune_blend"] or 1) < 1:
        return SOUP_MEMBERS, f"a blended image refit runs {SOUP_MEMBERS} times and saves their average (a model soup)"
    return 1, "one refit" if c["refit"] else "no refit"


def choose_refit_epochs(r: Regime, c: Chosen) -> tuple[str, str]:
    if c["refit"] and (c["finetune_blend"] or 1) < 1:
        return "trained", "a blended refit trains as long as the first run did"
    return "best", "the refit trains for the epoch count that won on validation" if c["refit"] else "no refit"


def choose_lr(r: Regime, c: Chosen) -> tuple[float, str]:
    if r.linear_probe:
        return 3e-3, "a linear probe on cached features"
    if not c["head_warmup"]:
        return 1e-3, "a fine-tune from a new, unfitted head"
    if (c["finetune_blend"] or 1) < 1:
        return 1e-3, "a blended fine-tune (the blend pulls an over-eager fine-tune back)"
    return 5e-4, "a gentle fine-tune after the head was fitted"


def choose_lr_stage_decay(r: Regime, c: Chosen) -> tuple[float, str]:
    trainable = max(1, r.facts.stages - int(c["freeze"]))
    return round((1 / 20) ** (1 / trainable), 4), (f"the earliest of {_plural(trainable, 'trainable stage')} "
                                                   "learns about 20 x slower than the head")


def choose_num_workers(r: Regime, c: Chosen) -> tuple[int, str]:
    cores = r.facts.cores
    if cores <= 2 or r.linear_probe:
        return 0, f"decoding in the training process ({'a linear probe' if r.linear_probe else f'{cores} cores'})"
    n = min(8, cores - 1)
    return n, f"{n} decoding processes ({cores} cores)"


@dataclass(frozen=True)
class Rule:
    setting: str
    choose: Callable
    says: str  # the rule in general, one line (CLI help, README)
    evidence: str  # what it rests on (benchmarks/ACCURACY.md unless named)
    modality: str | None = None  # only for this modality's data


RULES: tuple[Rule, ...] = (
    Rule("freeze", choose_freeze,
         "images: the backbone's recommended depth; texts: all but the embeddings below 40 per class, the upper half "
         "from 40",
         "Fortunes at 10 per topic: a probe on frozen features 58 %, the upper half 62.8 %, all but the embeddings "
         "64.5 %; at 50 per topic the upper half 76.8 %. Suite, nothing frozen instead (benchmarks/ABLATIONS.md, "
         "tuning half): images -4.0 points over 6 samples, 5 lower; texts -0.1 over 8."),
    Rule("input_size", choose_input_size, "about 4 x the images' median short side, rounded up to 32 px, at most "
         "the backbone's own size", "28 px Fashion-MNIST trains as well at 112-128 px as at 224 px, at a quarter "
         "of the cost (benchmarks/RESULTS.md).", "image"),
    Rule("max_length", choose_max_length, "128 tokens, 256 when the median text is over 600 characters",
         "Padding was most of the compute on real, uneven text; batches pad only to their longest.", "text"),
    Rule("batch_size", choose_batch_size, "32 images / 16 texts on a CPU, 64 on a GPU, smaller when there are few "
         "examples", "CPU throughput measured in ../shared/README.md; a quarter of the examples at most."),
    Rule("train_input_size", choose_train_input_size, "the input size (a smaller crop is a choice, not a default)",
         "7/8 crops under the CPU budget (FixRes), switched off on the suite's only row they reach "
         "(benchmarks/ABLATIONS.md, Fashion-MNIST 200/class): +0.7 points over 3 samples, 3 higher, at one epoch "
         "fewer; no confirmation row is reached (1,000+ training images on a CPU).", "image"),
    Rule("epochs", choose_epochs, "about 300 optimizer steps (1,500 for a linear probe), 3 to 25 epochs; on a CPU "
         "larger data keeps to about 5,000 image / 2,000 text passes in all; the time budget (--budget) halves "
         "all of these (quick) or lifts the CPU cap (thorough)",
         "Fashion-MNIST 200/class: 6 epochs 89.1 % in 365 CPU s, 3 (the budget) 86.6 % in 169 s; Fortunes 50/topic "
         "capped at 6 epochs 73.8 % in 176 s vs 73.9 % in 233 s."),
    Rule("class_weighted", choose_class_weighted, f"from {IMBALANCE:g} x between the largest and the smallest "
         "class: the loss and the linear probe weight each class by the inverse of its frequency",
         "Suite rows at 1:10 (balanced test, seed 0; benchmarks/IMBALANCE_RULE.md), with the monitor rule: "
         "tuning half +3.0 and +4.0 points balanced accuracy, confirmation half +0.0 and +14.8."),
    Rule("monitor", choose_monitor, f"from {IMBALANCE:g} x between classes: early stopping, the best epoch and "
         "the probe-or-fine-tune choice use balanced accuracy; otherwise accuracy",
         "Measured together with class weighting (benchmarks/IMBALANCE_RULE.md): the smallest class's recall "
         "64 -> 75 and 56 -> 65 % on the tuning half, 0 -> 23 % on the confirmation half's text row."),
    Rule("head_warmup", choose_head_warmup, "fit the new head on frozen features first (LP-FT), unless only the "
         "head trains", "Kumar et al., ICLR 2022: a random head distorts pretrained features in the first steps."),
    Rule("compare_probe", choose_compare_probe, "a logistic regression on the frozen features competes with the "
         "fine-tune; it is saved only when it wins on validation beyond chance (McNemar p < 0.05), else the fine-tune",
         "A held-out binary text task at 200/class: the fine-tune 65 %, a probe 82.5 % (issue 19). Beyond chance "
         "(benchmarks/PROBE_MCNEMAR.md): every probe win in the suite was by 1-3 validation examples; refusing them "
         "gained +1.8 points over 5 tuning-half decisions (4 from rule ablations) and +2.9 over the 3 confirmation "
         "samples it changes. Ties keep the fine-tune: tuning +1.0 (1 sample), confirmation +0.6 (2) "
         "(benchmarks/PROBE_TIES.md)."),
    Rule("compare_simple", choose_compare_simple, "a non-neural model (logistic regression on small grey pixels "
         "or TF-IDF words) competes with the network; it is saved only when it wins on validation beyond chance "
         "(McNemar p < 0.05)", "A held-out 3-class text task at 200/class: TF-IDF 79.0 % against 65-69 % for the "
         "recipe, a probe and a fine-tune (issue 19); 8x8 digits: pixels beat an ImageNet backbone by 5-10 points."),
    Rule("finetune_blend", choose_finetune_blend, "images: save half the fine-tuned weights + half where the "
         "fine-tune began (WiSE-FT); texts: off",
         "Suite, the blend switched off with what follows it (soup, refit length, lr; benchmarks/ABLATIONS.md): "
         "tuning half 9 image samples, -4.9 points on average, 8 of 9 lower; confirmation half 11, -0.8. "
         "Fortunes 10/topic lost 0.4 points with it."),
    Rule("freeze_bn_stats", choose_freeze_bn_stats, "BatchNorm keeps its pretrained statistics below 20,000 "
         "examples when the head was fitted first",
         "Suite, BatchNorm statistics adapting instead (benchmarks/ABLATIONS.md, tuning half, 12 image samples at "
         "10 and 50/class, seeds 0-1): -3.8 points on average, 10 of 12 lower (wesnoth-units -3.9 to -10.6); the 2 "
         "higher were digits samples whose fine-tune collapsed and the pixel model won instead. Confirmation half "
         "not measured (the rule stands).", "image"),
    Rule("refit", choose_refit, "below 40 training examples per class (texts: below 100), train again on train + "
         "validation once validation has chosen how long", "Suite, the refit switched off (benchmarks/ABLATIONS.md): "
         "at 10/class tuning half 13 samples, -3.5 points on average, 13 of 13 lower; confirmation half 6, -1.5 "
         "(4 lower). Texts at 50/class: tuning half 9 samples, -0.8 (7 lower); confirmation half 12, -1.2 (8 lower), "
         "at 1.6 x the CPU time (median; 1.1-2.1). Imbalanced texts (200 x 3 + 20 x 3, 77 a class on average): "
         "tuning +0.9 over 3 samples, confirmation +0.5 over 3. Texts at 200/class and images at 50 not measured."),
    Rule("refit_soup", choose_refit_soup, "a blended image refit runs 3 times and saves their average; otherwise "
         "one refit", "Suite, the soup switched off (benchmarks/ABLATIONS.md): tuning half 5 image samples at "
         "10/class, -0.3 points on average (3 lower, 2 higher); confirmation half 6, -0.5. Weak: it costs 3 refits."),
    Rule("refit_epochs", choose_refit_epochs, "a blended refit trains as long as the first run did; otherwise for "
         "the epoch count that won", "Fashion-MNIST 10/class, 6 seeds: 74.7 -> 75.7 %. Texts trained as long "
         "(benchmarks/ABLATIONS.md): tuning half +2.7 points over 7 samples at 10/class, confirmation half -0.9 "
         "over 12, 9 lower: not made."),
    Rule("lr", choose_lr, "3e-3 for a linear probe, 1e-3 for a blended or unwarmed fine-tune, 5e-4 after LP-FT "
         "without the blend", "Fashion-MNIST 50/class, 3 seeds: blended 80.2 % at 5e-4, 82.1 % at 1e-3. Texts at 2e-4 "
         "(the plain fine-tune's rate) instead of 5e-4 (benchmarks/ABLATIONS.md): tuning half -0.3 points over 11 "
         "samples, 5 lower, 4 higher: not made. Blended images at 5e-4 instead of 1e-3 (the same file, tuning half, "
         "seed 0): -1.3 points over 6 samples, 5 lower."),
    Rule("lr_stage_decay", choose_lr_stage_decay, "the earliest trainable stage learns about 20 x slower than the "
         "head", "Discriminative learning rates keep early stages near their pretrained values (ULMFiT)."),
    Rule("num_workers", choose_num_workers, "0 on 2 cores or for a linear probe, else up to 8 decoding processes",
         "On 2 cores a worker process costs the training thread more than it saves."),
)
RULES_BY_SETTING = {r.setting: r for r in RULES}
