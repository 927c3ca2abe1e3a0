"""Exact duplicates by content hash, and what to keep of them.

Policy (the same file twice carries no new information, and one file under two labels
is a contradiction the model cannot learn from):
- same content, same class, same split (or not yet split): keep the first copy by path,
  drop the others;
- same content under different classes (a label conflict): drop every copy and list
  them, since there is no way to tell which label is right;
- same content, same class, in different splits of a pre-split tree (a leak that
  inflates scores): reported, not fixed — the user's split is theirs to change; one
  copy per split is kept. A copy that is not pre-split joins the split that holds it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    path: str
    class_name: str
    given_split: str | None
    sha256: str
    text: str | None = None
    group: str | None = None  # groups.py key (in memory only; may name a patient); None = its own group


@dataclass
class Deduped:
    kept: list[Item] = field(default_factory=list)
    within_class: list[list[str]] = field(default_factory=list)
    across_classes: list[list[str]] = field(default_factory=list)
    across_splits: list[list[str]] = field(default_factory=list)
    dropped_within: int = 0
    dropped_conflicts: int = 0
    near: list[tuple] = field(default_factory=list)  # (Item, Item, distance): neardupes.py, kept and reported
    look_alike_clusters: list[int] = field(default_factory=list)  # sizes of clusters too large to join


def dedupe(items: list[Item]) -> Deduped:
    by_hash: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_hash[it.sha256].append(it)
    out = Deduped()
    for sha in sorted(by_hash, key=lambda s: min(i.path for i in by_hash[s])):
        group = sorted(by_hash[sha], key=lambda i: i.path)
        if len(group) == 1:
            out.kept.append(group[0])
            continue
        if len({i.class_name for i in group}) > 1:
            out.across_classes.append([i.path for i in group])
            out.dropped_conflicts += len(group)
            continue
        given = sorted({i.given_split for i in group if i.given_split})
        if len(given) >= 2:
            out.across_splits.append([i.path for i in group if i.given_split])
        keep: list[Item] = []
        if given:  # one copy per given split; copies with no split add nothing
            for s in given:
                keep.append(next(i for i in group if i.given_split == s))
        else:
            keep.append(group[0])
        dropped = [i for i in group if i not in keep]
        if dropped:
            out.within_class.append([keep[0].path] + [i.path for i in dropped])
            out.dropped_within += len(dropped)
        out.kept.extend(keep)
    return out
