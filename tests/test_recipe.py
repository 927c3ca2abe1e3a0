"""The auto recipe's rules: learning rate (follows the blend), refits, smaller training crops under the budget."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from engine.config import RunConfig
from engine.config import ConfigError
from engine.recipe import Facts
from engine.recipe import resolve as resolve_recipe


def resolve(config, spec, dataset, device):
    return resolve_recipe(config, Facts.of_dataset(dataset, spec, device))[0]


class _FakeReport:
    def __init__(self, modality: str):
        self.modality = modality

    def to_dict(self) -> dict:
        return {"image": {"width": {"median": 28}, "height": {"median": 28}}} if self.modality == "image" else {}


class _FakeDataset:
    """What resolve() reads from a dataset: sizes per split, classes, modality and the health report."""

    def __init__(self, modality: str, per_class: int, classes: int = 4):
        self.modality = modality
        self.classes = [f"c{i}" for i in range(classes)]
        self.report = _FakeReport(modality)
        n = per_class * classes
        self._sizes = {"train": n, "val": max(1, n * 15 // 70), "test": max(1, n * 15 // 70)}

    def split(self, name: str) -> list[int]:
        return list(range(self._sizes[name]))


def _spec(modality: str, fixed: bool = False):
    stages = [SimpleNamespace(name=f"s{i}") for i in range(5)]
    pre = {"input_size": 224} if modality == "image" else {"max_length": 128}
    return SimpleNamespace(id="fake", display_name="Fake", stages=stages, preprocess=pre, recommended_freeze=None,
                           min_input_size=224 if fixed else 32, fixed_input_size=fixed)


@pytest.mark.parametrize("modality", ["image", "text"])
def test_blended_fine_tune_gets_the_bolder_rate_and_a_plain_one_the_gentle_rate(modality):
    spec, data = _spec(modality), _FakeDataset(modality, per_class=50)
    auto = resolve(RunConfig(), spec, data, "cpu")
    assert auto.head_warmup is True
    if modality == "image":  # the auto recipe blends image fine-tunes with their start (WiSE-FT)
        assert auto.finetune_blend == 0.5 and auto.lr == 1e-3
    else:
        assert auto.finetune_blend == 1.0 and auto.lr == 5e-4
    # the rule follows the blend the user set, not the modality
    assert resolve(RunConfig(finetune_blend=1.0), spec, data, "cpu").lr == 5e-4
    assert resolve(RunConfig(finetune_blend=0.7), spec, data, "cpu").lr == 1e-3
    # no LP-FT warm-up: the fine-tune starts from a random head and needs the larger rate
    assert resolve(RunConfig(head_warmup=False), spec, data, "cpu").lr == 1e-3
    # a linear probe trains the head alone
    assert resolve(RunConfig(freeze=len(spec.stages)), spec, data, "cpu").lr == 3e-3
    # a learning rate the user chose is never replaced
    assert resolve(RunConfig(lr=2e-4), spec, data, "cpu").lr == 2e-4


def test_refit_soup_only_for_blended_image_refits():
    img, txt = _spec("image"), _spec("text")
    small_img, small_txt = _FakeDataset("image", per_class=10), _FakeDataset("text", per_class=10)
    auto = resolve(RunConfig(), img, small_img, "cpu")
    assert auto.refit is True and auto.refit_soup == 3
    # text refits once (the soup measured no gain there), and so does an image run without the blend
    assert resolve(RunConfig(), txt, small_txt, "cpu").refit_soup == 1
    assert resolve(RunConfig(finetune_blend=1.0), img, small_img, "cpu").refit_soup == 1
    # no refit at all (enough data, or turned off): nothing to average
    assert resolve(RunConfig(), img, _FakeDataset("image", per_class=50), "cpu").refit_soup == 1
    assert resolve(RunConfig(refit=False), img, small_img, "cpu").refit_soup == 1
    # the user's choice stands
    assert resolve(RunConfig(refit_soup=2), txt, small_txt, "cpu").refit_soup == 2


def test_texts_refit_up_to_100_per_class_images_below_40():
    """The refit's reach follows the suite: texts gained from it at 50 per class, 200 is unmeasured."""
    img, txt = _spec("image"), _spec("text")
    for per_class, text_on, image_on in ((10, True, True), (50, True, False), (99, True, False), (100, False, False)):
        text = resolve_recipe(RunConfig(), Facts.of_dataset(_FakeDataset("text", per_class), txt, "cpu"))
        assert text[0].refit is text_on
        assert resolve(RunConfig(), img, _FakeDataset("image", per_class), "cpu").refit is image_on
        reason = next(s.reason for s in text[1] if s.name == "refit")
        assert f"{per_class} texts per class ({'under' if text_on else 'from'} 100)" in reason
    # imbalanced classes: the rule reads the mean (200 x 3 + 20 x 3 texts), and the reason says so
    uneven = dataclasses.replace(Facts.of_dataset(_FakeDataset("text", 77), txt, "cpu"), class_ratio=10.0)
    cfg, settings = resolve_recipe(RunConfig(), uneven)
    assert cfg.refit is True
    assert "77 texts per class on average (under 100)" in next(s.reason for s in settings if s.name == "refit")
    # the user's choice stands
    assert resolve(RunConfig(refit=False), txt, _FakeDataset("text", 50), "cpu").refit is False
    assert resolve(RunConfig(refit=True), txt, _FakeDataset("text", 200), "cpu").refit is True


def test_refit_runs_as_long_as_the_first_run_only_for_blended_refits():
    img, txt = _spec("image"), _spec("text")
    small_img, small_txt = _FakeDataset("image", per_class=10), _FakeDataset("text", per_class=10)
    assert resolve(RunConfig(), img, small_img, "cpu").refit_epochs == "trained"
    # without the blend nothing holds a longer fine-tune near its start: the epoch that won
    assert resolve(RunConfig(), txt, small_txt, "cpu").refit_epochs == "best"
    assert resolve(RunConfig(finetune_blend=1.0), img, small_img, "cpu").refit_epochs == "best"
    assert resolve(RunConfig(refit_epochs="best"), img, small_img, "cpu").refit_epochs == "best"
    with pytest.raises(ConfigError, match="'best' epoch count"):
        RunConfig(data=["x"], refit_epochs="last").validate()


def test_training_crops_are_the_input_size_and_a_chosen_smaller_crop_buys_epochs_under_the_budget():
    """The 7/8 crops under the CPU budget were dropped (suite: Fashion-MNIST 200/class +0.7 without them);
    a person may still choose a smaller crop, and under the budget the pixels saved buy epochs."""
    img = _spec("image")
    big, small = _FakeDataset("image", per_class=425), _FakeDataset("image", per_class=50)  # 1700 / 200 to train on
    auto = resolve(RunConfig(), img, big, "cpu")
    assert auto.input_size == auto.train_input_size == 128  # 4 x 28 px
    assert auto.epochs == 3
    chosen = resolve(RunConfig(train_input_size=112), img, big, "cpu")
    assert chosen.train_input_size == 112 and chosen.epochs == 4
    assert chosen.epochs * (112 / 128) ** 2 <= auto.epochs * 1.05
    for device, data in (("cuda", big), ("cpu", small)):
        assert resolve(RunConfig(), img, data, device).train_input_size == 128
    # texts have no crops
    assert resolve(RunConfig(), _spec("text"), _FakeDataset("text", per_class=425), "cpu").train_input_size is None


def test_a_fixed_size_backbone_keeps_its_size_and_refuses_another():
    vit, big = _spec("image", fixed=True), _FakeDataset("image", per_class=425)
    auto = resolve(RunConfig(), vit, big, "cpu")
    assert auto.input_size == auto.train_input_size == 224
    for wrong in (RunConfig(train_input_size=192), RunConfig(input_size=160)):
        with pytest.raises(ConfigError, match="exactly 224 px"):
            resolve(wrong, vit, big, "cpu")
    with pytest.raises(ConfigError, match="Training crop size"):
        RunConfig(data=["x"], train_input_size=8).validate()


def test_the_time_budget_halves_the_schedule_or_lifts_the_cpu_cap():
    img, txt = _spec("image"), _spec("text")
    big, small = _FakeDataset("image", per_class=425), _FakeDataset("image", per_class=10)
    standard = resolve(RunConfig(), img, big, "cpu")
    quick = resolve(RunConfig(budget="quick"), img, big, "cpu")
    thorough = resolve(RunConfig(budget="thorough"), img, big, "cpu")
    assert quick.epochs < standard.epochs < thorough.epochs
    # small data: quick aims at about half the optimizer steps; the others keep the full schedule
    assert resolve(RunConfig(budget="quick"), img, small, "cpu").epochs < resolve(RunConfig(), img, small, "cpu").epochs
    assert resolve(RunConfig(budget="thorough"), img, small, "cpu").epochs == resolve(RunConfig(), img, small, "cpu").epochs
    assert resolve(RunConfig(budget="quick"), txt, _FakeDataset("text", per_class=425), "cpu").epochs < \
        resolve(RunConfig(), txt, _FakeDataset("text", per_class=425), "cpu").epochs
    with pytest.raises(ConfigError, match="time budget"):
        RunConfig(data=["x"], budget="forever").validate()


class _Labeled:
    def __init__(self, label: int):
        self.label = label


@pytest.mark.parametrize("counts, on", [((200, 20), True), ((60, 20), True), ((59, 20), False), ((40, 40), False)])
def test_imbalanced_classes_are_weighted_and_the_model_is_chosen_on_balanced_accuracy(counts, on):
    ds = _FakeDataset("text", per_class=1, classes=len(counts))
    train = [_Labeled(c) for c, n in enumerate(counts) for _ in range(n)]
    ds.split = lambda name: train if name == "train" else list(range(8))
    facts = Facts.of_dataset(ds, _spec("text"), "cpu")
    assert facts.class_ratio == max(counts) / min(counts)
    cfg, settings = resolve_recipe(RunConfig(data=["x"]), facts)
    assert cfg.class_weighted is on
    assert cfg.monitor == ("val_balanced_accuracy" if on else "val_accuracy")
    why = {s.name: s.reason for s in settings}
    assert f"{facts.class_ratio:.1f} x" in why["class_weighted"]
    # the person's choice stands either way
    cfg, _ = resolve_recipe(RunConfig(data=["x"], class_weighted=not on, monitor="val_loss"), facts)
    assert cfg.class_weighted is (not on) and cfg.monitor == "val_loss"


def test_a_balanced_probe_weights_the_rare_class():
    import numpy as np

    from engine.train.probe_contender import fit

    rng = np.random.default_rng(0)
    # 200 vs 20, overlapping: an unweighted probe leans to the large class
    x = np.vstack([rng.normal(0, 1, (200, 5)), rng.normal(0.8, 1, (20, 5))])
    y = np.array([0] * 200 + [1] * 20)
    plain, balanced = fit(x, y, 2, seed=0), fit(x, y, 2, seed=0, balanced=True)

    def rare_recall(probe):
        pred = (x @ probe["weight"].T + probe["bias"]).argmax(1)
        return float((pred[y == 1] == 1).mean())

    assert rare_recall(balanced) > rare_recall(plain) + 0.2
