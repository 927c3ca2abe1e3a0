"""One line about a run, read from its folder (standard library only: the app imports it).

The run directory is the single source of truth: a summary is computed from the files
training writes (config.json, recipe.json, model.json, metrics.json, checkpoints/*/state.json,
the head and tail of events.jsonl) and the person's own `notes.json`; index.py caches it,
keyed by the folder's signature, and never holds anything the folder does not.
Reading is cheap on purpose: events.jsonl can grow to megabytes on a long run, so only
its first line (when the run began) and its last TAIL_BYTES (how it ended) are read;
benchmarks/bench_runs_listing.py measures 500 run folders against the 300 ms goal.

How a run ended (`status`, `reason`):
- "finished": metrics.json exists (the run was evaluated);
- "failed": the last error in the tail of events.jsonl (guard.py appends it), its message;
- "stopped": the run logged "Cancelled" (cancelled), or its events just stop (the app or the
  engine was killed, or it crashed) - or "running" while events.jsonl changed in the last
  RUNNING_S seconds.
A run that did not finish can be resumed when checkpoints/last holds a checkpoint.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field

TAIL_BYTES = 32 * 1024
RUNNING_S = 30.0  # events.jsonl written this recently: the run is probably still going
NOTES = "notes.json"


class Status:
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    RUNNING = "running"


@dataclass
class RunSummary:
    """What the Runs view shows about one run; `to_dict()` is JSON-able."""

    path: str
    name: str  # the folder's name (never changes: bundles, audit records and logs refer to it)
    display_name: str = ""  # what the person renamed it to ("" = the folder name)
    note: str = ""
    created: float | None = None  # seconds since the epoch, the run's first event
    data: list = field(default_factory=list)
    modality: str = ""
    classes: int | None = None
    counts: dict = field(default_factory=dict)  # {"train", "val", "test"} examples
    labels: dict = field(default_factory=dict)  # {"examples", "train", "sidecar_sha256"}: x of accuracy vs labels
    backbone: str = ""
    backbone_name: str = ""
    freeze: int | None = None
    stages: int | None = None  # how many stages the backbone has (freeze == stages: linear probe)
    epochs: int | None = None
    lr: float | None = None
    status: str = Status.STOPPED
    reason: str = ""
    resumable: bool = False
    best: dict = field(default_factory=dict)  # {"monitor", "score", "epoch"}
    figures: dict = field(default_factory=dict)  # {"split", "n", "accuracy", "accuracy_ci", "macro_f1", ...}
    duration_s: float | None = None
    device: str = ""

    @property
    def title(self) -> str:
        return self.display_name or self.name

    def to_dict(self) -> dict:
        return asdict(self)


def _json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def is_run_dir(path: str | os.PathLike) -> bool:
    """A folder training made: it has its settings (config.json) and its model description (model.json)."""
    p = os.fspath(path)
    return os.path.isfile(os.path.join(p, "config.json")) and os.path.isfile(os.path.join(p, "model.json"))


_T = re.compile(rb'"t":(-?[0-9.eE+-]+)')
# the tail's lines that tell how a run ended; found with rfind (metric lines, the bulk, are never parsed)
_MARKS = (b'"type":"error"', b'"text":"Cancelled', b'"text":"Finished in ', b'"text":"Resuming')


def _line_at(buf: bytes, pos: int) -> dict | None:
    start = buf.rfind(b"\n", 0, pos) + 1
    end = buf.find(b"\n", pos)
    try:
        return json.loads(buf[start:end if end >= 0 else len(buf)])
    except ValueError:
        return None


def _events_ends(path: str) -> tuple[float | None, float | None, list[dict], float | None]:
    """(first event's time, last event's time, the ending events of the last TAIL_BYTES in order, mtime)."""
    try:
        with open(path, "rb") as f:
            first_line = f.readline(4096)
            st = os.fstat(f.fileno())
            f.seek(max(0, st.st_size - TAIL_BYTES))
            tail = f.read()
    except OSError:
        return None, None, [], None
    m = _T.search(first_line)
    first_t = float(m.group(1)) if m else None
    last_start = tail.rfind(b"\n", 0, len(tail.rstrip(b"\n"))) + 1
    m = _T.search(tail, last_start, last_start + 200)  # the envelope's "t" comes before the message's fields
    last_t = float(m.group(1)) if m else None
    found = sorted((pos, mark) for mark in _MARKS if (pos := tail.rfind(mark)) >= 0)
    events = [e for pos, _ in found if (e := _line_at(tail, pos)) is not None]
    return first_t, last_t, events, st.st_mtime


def _ending(metrics, tail: list[dict], mtime: float | None, now: float) -> tuple[str, str]:
    """(status, reason) as the module docstring says."""
    finished_how = ""
    for e in reversed(tail):
        text = str(e.get("text") or "")
        if e.get("type") == "log" and text.startswith("Finished in "):
            finished_how = text[text.rfind("(") + 1:].rstrip(").") if "(" in text else ""
            break
    if isinstance(metrics, dict):
        return Status.FINISHED, {"early_stopping": "stopped early: validation stopped improving",
                                 "completed": "trained every epoch"}.get(finished_how, finished_how)
    for e in reversed(tail):
        kind, text = e.get("type"), str(e.get("text") or e.get("message") or "")
        if kind == "error":
            return Status.FAILED, text or str(e.get("kind") or "an error")
        if kind == "log" and text.startswith("Cancelled"):
            return Status.STOPPED, "cancelled"
        if kind == "log" and text.startswith("Resuming"):
            break  # what happened before this resume is history
    if mtime is not None and now - mtime < RUNNING_S:
        return Status.RUNNING, "training (its log changed in the last half minute)"
    return Status.STOPPED, "interrupted: the app or the engine stopped before the run finished"


def _figures(metrics) -> dict:
    """The held-out figures: test when there is a test split, else validation (and it says which)."""
    if not isinstance(metrics, dict):
        return {}
    split = "test" if isinstance(metrics.get("test"), dict) else ("val" if isinstance(metrics.get("val"), dict) else "")
    if not split:
        return {}
    m = metrics[split]
    ci = m.get("ci95") if isinstance(m.get("ci95"), dict) else {}
    out = {"split": split, "n": m.get("n")}
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        if _num(m.get(key)) is not None:
            out[key] = _num(m[key])
            c = ci.get(key)
            if isinstance(c, list) and len(c) == 2 and all(_num(v) is not None for v in c):
                out[f"{key}_ci"] = [float(c[0]), float(c[1])]
    return out


def _labels(meta, counts: dict) -> dict:
    """How many labeled examples a run learned from (labels.json; older runs: their split counts)."""
    if isinstance(meta, dict) and isinstance(meta.get("examples"), int):
        return {"examples": meta["examples"], "train": meta.get("train"),
                "sidecar_sha256": meta.get("sidecar_sha256")}
    if counts and all(isinstance(v, int) for v in counts.values()):
        return {"examples": sum(counts.values()), "train": counts.get("train"), "sidecar_sha256": None}
    return {}


def read_notes(run_dir: str | os.PathLike) -> dict:
    notes = _json(os.path.join(os.fspath(run_dir), NOTES))
    return notes if isinstance(notes, dict) else {}


def read_summary(run_dir: str | os.PathLike, now: float | None = None) -> RunSummary:
    """The summary of one run folder; missing or damaged files leave their fields empty."""
    run = os.fspath(run_dir)
    j = os.path.join
    cfg = _json(j(run, "config.json")) or {}
    model = _json(j(run, "model.json")) or {}
    recipe = _json(j(run, "recipe.json")) or {}
    facts = recipe.get("facts") if isinstance(recipe.get("facts"), dict) else {}
    metrics = _json(j(run, "metrics.json"))
    notes = read_notes(run)
    first_t, last_t, tail, mtime = _events_ends(j(run, "events.jsonl"))
    status, reason = _ending(metrics, tail, mtime, time.time() if now is None else now)
    last = j(run, "checkpoints", "last")
    resumable = status in (Status.STOPPED, Status.FAILED) and (
        (os.path.isfile(j(last, "state.json")) and os.path.isfile(j(last, "model.safetensors")))
        or (_json(j(run, "refit.json")) or {}).get("status") == "running")
    best_state = _json(j(run, "checkpoints", "best", "state.json")) or {}
    best = {}
    if best_state:
        score = _num(best_state.get("best_score"))
        monitor = best_state.get("monitor") or cfg.get("monitor") or ""
        if score is None and isinstance(best_state.get("metrics"), dict):
            score = _num(best_state["metrics"].get(monitor))
        best = {"monitor": monitor, "score": score, "epoch": best_state.get("epoch")}
    contender = _json(j(run, "contender.json")) or {}
    if contender.get("winner") == "simple model":  # the run kept its simple model: its validation figure
        monitor = contender.get("monitor") or "val_accuracy"
        best = {"monitor": monitor, "score": _num(((contender.get("simple") or {}).get("val") or {}).get(monitor)),
                "epoch": None}
    created = first_t
    if created is None:
        try:
            created = os.stat(j(run, "config.json")).st_mtime
        except OSError:
            pass
    duration = max(0.0, last_t - first_t) if first_t is not None and last_t is not None else None
    counts = {k: facts.get(f"n_{k}") for k in ("train", "val", "test") if facts.get(f"n_{k}") is not None}
    labels = _labels(_json(j(run, "labels.json")), counts)
    return RunSummary(
        path=run, name=os.path.basename(run.rstrip(os.sep)), display_name=str(notes.get("display_name") or ""),
        note=str(notes.get("note") or ""), created=created, data=[str(d) for d in cfg.get("data") or []],
        modality=str(model.get("modality") or facts.get("modality") or ""),
        classes=model.get("num_classes") or facts.get("n_classes"), counts=counts, labels=labels,
        backbone=str(model.get("backbone") or cfg.get("backbone") or ""),
        backbone_name=str(facts.get("backbone_name") or model.get("backbone") or ""),
        freeze=cfg.get("freeze"), stages=facts.get("stages"), epochs=cfg.get("epochs"), lr=_num(cfg.get("lr")),
        status=status, reason=reason, resumable=bool(resumable), best=best, figures=_figures(metrics),
        duration_s=duration, device=str(facts.get("device") or cfg.get("device") or ""))


def list_runs(runs_root: str | os.PathLike, use_index: bool = True) -> list[RunSummary]:
    """Every run folder directly under `runs_root`, newest first; a missing root lists nothing.

    With `use_index`, summaries of folders unchanged since the last listing come from the
    rebuildable cache in index.py instead of being read again."""
    from .index import SummaryIndex, events_mtime, signature

    root = os.fspath(runs_root)
    try:
        entries = [e.path for e in os.scandir(root) if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return []
    now = time.time()
    index = SummaryIndex(root) if use_index else None
    cached = index.load() if index is not None else {}
    runs, fresh, keep = [], [], set()
    for path in entries:
        sig = signature(path)
        hit = cached.get(path)
        if sig is not None and hit is not None and hit[0] == sig:
            runs.append(RunSummary(**hit[1]))
            keep.add(path)
            continue
        if not is_run_dir(path):
            continue
        summary = read_summary(path, now)
        runs.append(summary)
        mtime = events_mtime(sig) if sig else None
        if sig is not None and summary.status != Status.RUNNING and (mtime is None or now - mtime >= RUNNING_S):
            fresh.append((path, sig, summary.to_dict()))
            keep.add(path)
    if index is not None:
        index.store(fresh, keep)
        index.close()
    runs.sort(key=lambda r: (r.created or 0.0, r.name), reverse=True)
    return runs
