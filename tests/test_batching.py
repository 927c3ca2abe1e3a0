"""Text batches grouped by length, and the CPU budget of the auto recipe's epoch count."""
from __future__ import annotations

import random

import pytest
import torch

from engine.train.batches import in_example_order, length_grouped_order, make_loader
from engine.train.features import extract
from engine.recipe import CPU_EXAMPLE_BUDGET, Facts, Regime
from engine.recipe.rules import Chosen, choose_epochs as _rule


def choose_epochs(n_train, bs, linear_probe, *, device, modality):
    """The epochs rule for a backbone of 5 stages (a probe freezes all 5)."""
    facts = Facts(modality=modality, device=device, n_train=n_train, n_val=0, n_classes=1, median_side=None,
                  median_chars=None, backbone="b", backbone_name="B", stages=5, recommended_freeze=0,
                  native_size=128, min_size=32, max_length=128, fixed_input_size=False, cores=2)
    size = 128 if modality == "image" else None
    return _rule(Regime.of(facts, 5 if linear_probe else 1),
                 Chosen({"batch_size": bs, "input_size": size, "train_input_size": size}))[0]


def _skewed_lengths(n: int = 340, seed: int = 0) -> list[int]:
    """Like real short texts: most a few dozen tokens, one in ten at the 128-token cap."""
    rnd = random.Random(seed)
    return [128 if rnd.random() < 0.1 else rnd.randint(8, 60) for _ in range(n)]


def _padded_tokens(order: list[int], lengths: list[int], bs: int) -> int:
    return sum(max(lengths[j] for j in order[i:i + bs]) * len(order[i:i + bs]) for i in range(0, len(order), bs))


def test_length_grouped_order_is_a_seeded_permutation_with_less_padding():
    lengths, bs = _skewed_lengths(), 16
    a = length_grouped_order(lengths, bs, seed=3, epoch=1)
    assert sorted(a) == list(range(len(lengths)))
    assert a == length_grouped_order(lengths, bs, seed=3, epoch=1)  # resume needs the same order
    assert a != length_grouped_order(lengths, bs, seed=3, epoch=2)
    batches = [a[i:i + bs] for i in range(0, len(a), bs)]
    assert all(len(b) == bs for b in batches[:-1])  # the DataLoader's batches are the grouped ones
    random_order = list(range(len(lengths)))
    random.Random(0).shuffle(random_order)
    grouped, plain = _padded_tokens(a, lengths, bs), _padded_tokens(random_order, lengths, bs)
    assert grouped < 0.75 * plain, (grouped, plain)
    # batches keep changing between epochs (small data is not fixed into length bands)
    first = {frozenset(b) for b in batches}
    second = length_grouped_order(lengths, bs, seed=3, epoch=2)
    assert len(first & {frozenset(second[i:i + bs]) for i in range(0, len(second), bs)}) < len(first) // 2


class _Texts(torch.utils.data.Dataset):
    """Stands in for TokenizedTexts: row i is the value i, padded to its length."""

    def __init__(self, lengths):
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, i):
        return i

    @staticmethod
    def collate(rows):
        return torch.tensor(rows, dtype=torch.float32)[:, None], torch.tensor(rows)


def test_unshuffled_text_loader_runs_shortest_first_and_extract_restores_example_order():
    lengths = _skewed_lengths(50)
    ds = _Texts(lengths)
    loader = make_loader(ds, ds.collate, batch_size=8, shuffle=False, num_workers=0, seed=0)
    seen = [int(v) for _, ys in loader for v in ys]
    assert [lengths[i] for i in seen] == sorted(lengths)
    feats, labels = extract(lambda x: x * 10, loader, torch.device("cpu"))
    assert labels.tolist() == list(range(50))
    assert feats[:, 0].tolist() == [10.0 * i for i in range(50)]
    subset = torch.utils.data.Subset(ds, range(10, 30))  # cached features are computed per split part
    f, y = extract(lambda x: x, make_loader(subset, ds.collate, batch_size=4, shuffle=False, num_workers=0,
                                            seed=0), torch.device("cpu"))
    assert y.tolist() == list(range(10, 30))


def test_in_example_order_inverts_the_order():
    order = [3, 0, 2, 1]
    rows = torch.tensor([30, 0, 20, 10])
    assert in_example_order(rows, order).tolist() == [0, 10, 20, 30]


@pytest.mark.parametrize("modality,n_train,bs", [("image", 1700, 32), ("image", 1000, 32), ("text", 1020, 16),
                                                 ("text", 340, 16)])
def test_cpu_budget_caps_fine_tune_epochs_not_gpu_or_probe(modality, n_train, bs):
    cpu = choose_epochs(n_train, bs, False, device="cpu", modality=modality)
    gpu = choose_epochs(n_train, bs, False, device="cuda", modality=modality)
    assert cpu * n_train <= max(CPU_EXAMPLE_BUDGET[modality] * 1.5, 2 * n_train)
    assert gpu >= cpu and gpu * n_train > CPU_EXAMPLE_BUDGET[modality]
    assert choose_epochs(n_train, bs, True, device="cpu", modality=modality) >= gpu  # cached features


@pytest.mark.parametrize("modality,n_train,bs", [("image", 85, 16), ("image", 425, 32), ("text", 68, 8),
                                                 ("text", 200, 16)])
def test_smaller_data_keeps_its_full_schedule_on_cpu(modality, n_train, bs):
    cpu = choose_epochs(n_train, bs, False, device="cpu", modality=modality)
    assert cpu == choose_epochs(n_train, bs, False, device="cuda", modality=modality)
    if n_train > 100:  # the budget alone would have cut these; early stopping ends them instead
        assert cpu * n_train > CPU_EXAMPLE_BUDGET[modality]
