"""Turn a split's examples into batches for the model: images -> tensors, texts -> tokens.

Both kinds yield `(inputs, labels)` where inputs is a tensor (images) or a dict of
tensors (text). An example that fails to load yields label -1 and is masked out of the
loss, so one bad file never stops a run. Images are decoded once and kept as uint8
tensors within a memory budget (see image_cache.py); texts are tokenized once.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset


class TokenizedTexts(Dataset):
    """Texts tokenized once up front (fast tokenizers do thousands per second)."""

    def __init__(self, examples, tokenizer, max_length: int):
        from ..data import read_text

        texts = [read_text(e) for e in examples]
        # an empty split (a refit has no validation) is fine; the tokenizer itself refuses []
        enc = tokenizer(texts, truncation=True, max_length=max_length) if texts else \
            {"input_ids": [], "attention_mask": [], "token_type_ids": []}
        self.input_ids = enc["input_ids"]
        self.attention = enc["attention_mask"]
        self.token_types = enc.get("token_type_ids")
        self.labels = [e.label for e in examples]
        self.lengths = [len(ids) for ids in self.input_ids]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        tt = self.token_types[i] if self.token_types is not None else None
        return self.input_ids[i], self.attention[i], tt, self.labels[i]


def collate_tokens(pad_id: int):
    def collate(rows):
        width = max(len(r[0]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        has_tt = rows[0][2] is not None
        tt = torch.zeros((len(rows), width), dtype=torch.long) if has_tt else None
        for j, (i_, m_, t_, _) in enumerate(rows):
            ids[j, : len(i_)] = torch.tensor(i_)
            mask[j, : len(m_)] = torch.tensor(m_)
            if has_tt:
                tt[j, : len(t_)] = torch.tensor(t_)
        inputs = {"input_ids": ids, "attention_mask": mask}
        if has_tt:
            inputs["token_type_ids"] = tt
        labels = torch.tensor([r[3] for r in rows], dtype=torch.long)
        return inputs, labels

    return collate


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled example order of one epoch: a function of (seed, epoch) only."""
    gen = torch.Generator()
    gen.manual_seed(int(seed) * 100003 + int(epoch))
    return torch.randperm(n, generator=gen).tolist()


# Mega-batches of 4 batches: on Fortunes-like text, 1.4 padded tokens per real token instead
# of 2.8, while each epoch's batches still differ (50, as Hugging Face uses for big data,
# fixes small data's batches by length band every epoch). On Fortunes 50/class, seeds 0 / 1:
# 74.0 / 73.2 % grouped vs 77.2 / 71.2 % random, at about half the CPU time.
LENGTH_GROUP_BATCHES = 4


def length_grouped_order(lengths, batch_size: int, seed: int, epoch: int) -> list[int]:
    """A shuffled order whose consecutive batches hold texts of similar length.

    Batches pad to their longest text; in random batches of real text (a few long entries
    among many short ones) most of the compute goes to padding (Fortunes: 2.8 tokens per
    real token). As in Hugging Face's `group_by_length`, the epoch's random order is cut
    into mega-batches of a few batches, each sorted by length and cut into batches; the full
    batches are then shuffled and a short last batch goes last, so the DataLoader's
    sequential batching (and a mid-epoch resume's `skip`) lines up with them. Depends only
    on (seed, epoch).
    """
    n, bs = len(lengths), max(1, int(batch_size))
    order = epoch_order(n, seed, epoch)
    mega = LENGTH_GROUP_BATCHES * bs
    batches = []
    for i in range(0, n, mega):
        chunk = sorted(order[i:i + mega], key=lambda j: -lengths[j])
        batches += [chunk[k:k + bs] for k in range(0, len(chunk), bs)]
    tail = [b for b in batches if len(b) < bs]
    full = [b for b in batches if len(b) == bs]
    gen = torch.Generator()
    gen.manual_seed(int(seed) * 100003 + int(epoch) + 7919)
    full = [full[k] for k in torch.randperm(len(full), generator=gen).tolist()]
    return [j for b in full + tail for j in b]


def _lengths(ds):
    """Token counts per example (texts), following Subsets; None for images."""
    if hasattr(ds, "lengths"):
        return ds.lengths
    inner = getattr(ds, "dataset", None)
    if inner is not None and hasattr(inner, "lengths"):
        return [inner.lengths[i] for i in ds.indices]
    return None


def make_dataset(examples, *, modality: str, preprocess: dict, train: bool, augment: str,
                 tokenizer=None, train_size: int | None = None):
    """A torch Dataset over `examples` plus the collate function its batches need.

    `train_size`: the side of augmented training crops (default: preprocess's input_size)."""
    if modality == "image":
        from .image_cache import CachedImages

        ds: Any = CachedImages(examples, preprocess, train=train, augment=augment, train_size=train_size)
        return ds, ds.collate
    ds = TokenizedTexts(examples, tokenizer, int(preprocess.get("max_length", 128)))
    return ds, collate_tokens(tokenizer.pad_token_id or 0)


def make_loader(ds, collate, *, batch_size: int, shuffle: bool, num_workers: int, seed: int,
                epoch: int = 0, skip: int = 0, pin_memory: bool = False, ranks=None) -> DataLoader:
    """A DataLoader whose order depends only on (seed, epoch), so resume is exact.

    `skip` drops the first examples of the epoch's order (resuming mid-epoch). Texts come
    in batches of similar length (shuffled: `length_grouped_order`; not shuffled: sorted
    by length); `loader.order[i]` is the example the i-th yielded row belongs to, so a
    caller that needs rows in example order puts them back (`in_example_order`).

    `ranks` (distributed.Ranks, several processes): the same global batches of `batch_size`,
    each cut into one part per rank (`distributed.shard`); `loader.padding` holds the numbers of
    the batches in which this rank only pads (their labels are to be masked out).
    """
    lengths = _lengths(ds)
    if lengths is None:
        order = epoch_order(len(ds), seed, epoch) if shuffle else list(range(len(ds)))
    elif shuffle:
        order = length_grouped_order(lengths, batch_size, seed, epoch)
    else:
        order = sorted(range(len(ds)), key=lambda j: lengths[j])
    if num_workers > 0 and hasattr(ds, "fill") and not ds.complete:
        ds.fill(num_workers)  # decode once here, so every (forked) worker starts with the cache
    if ranks is not None and ranks.active:
        from .distributed import shard

        rest = order[skip:]
        mine, padding = shard([rest[i:i + batch_size] for i in range(0, len(rest), batch_size)], ranks)
        loader = DataLoader(ds, batch_sampler=mine, num_workers=num_workers, collate_fn=collate,
                            pin_memory=pin_memory)
        loader.order, loader.padding = [j for b in mine for j in b], padding
        return loader
    loader = DataLoader(ds, batch_size=batch_size, sampler=order[skip:], num_workers=num_workers,
                        collate_fn=collate, pin_memory=pin_memory, drop_last=False)
    loader.order, loader.padding = order[skip:], set()
    return loader


def in_example_order(rows: torch.Tensor, order: list[int]) -> torch.Tensor:
    """Rows a loader yielded in `order` put back in example order."""
    if order == list(range(len(order))):
        return rows
    out = torch.empty_like(rows)
    out[torch.as_tensor(order, dtype=torch.long)] = rows
    return out


def to_device(inputs, labels, device: torch.device, channels_last: bool = False):
    nb = device.type == "cuda"
    if isinstance(inputs, dict):
        inputs = {k: v.to(device, non_blocking=nb) for k, v in inputs.items()}
    else:
        inputs = inputs.to(device, non_blocking=nb)
        if channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs, labels.to(device, non_blocking=nb)


def forward(model, inputs):
    """Logits for either kind of input (HF models return an output object)."""
    if isinstance(inputs, dict):
        return model(**inputs).logits
    return model(inputs)
