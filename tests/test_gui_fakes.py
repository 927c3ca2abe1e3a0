"""A scripted stand-in for gui.engine_client.EngineClient, plus GUI test helpers.

The fake has the client's signals and methods and answers through the event loop
(QTimer.singleShot(0)), like the real one, so GUI tests are fast and deterministic.
Its data report is computed from the dropped folder (files Qt cannot decode are
"skipped"), and its training emits progress/metrics step by step so cancel and crash
can land mid-run. Holds no tests itself.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, QPoint, QPointF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from engine import protocol as P

TINY_STAGES = [{"name": "stem", "params": 120}, {"name": "blocks", "params": 880}, {"name": "head", "params": 30}]
BACKBONES = [
    {"id": "tiny_image", "display_name": "Tiny image net", "modality": "image", "num_params": 1030,
     "preprocess": {"input_size": 32}, "license": "Apache-2.0", "weights_available": True,
     "description": "A tiny test network."},
    {"id": "tiny_text", "display_name": "Tiny text net", "modality": "text", "num_params": 2000,
     "preprocess": {"max_length": 64}, "license": "MIT", "weights_available": True},
    {"id": "absent_image", "display_name": "Absent weights net", "modality": "image", "num_params": 5000,
     "preprocess": {"input_size": 224}, "license": "BSD", "weights_available": False},
]


def png_bytes(rgb=(200, 30, 30), size=8) -> bytes:
    """A valid little PNG, written with the standard library."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_image_folder(root: Path, classes=("cat", "dog"), per_class=4, corrupt=0) -> Path:
    colors = [(220, 40, 40), (40, 40, 220), (40, 180, 40), (200, 200, 40)]
    for ci, name in enumerate(classes):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (d / f"{name}_{i}.png").write_bytes(png_bytes(colors[ci % len(colors)]))
        for i in range(corrupt):
            (d / f"broken_{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


class FakeEngine(QObject):
    ready = Signal(object)
    message = Signal(object)
    status = Signal(object)
    progress = Signal(object)
    metric = Signal(object)
    epochEnd = Signal(object)
    log = Signal(object)
    checkpoint = Signal(object)
    heartbeat = Signal(object)
    result = Signal(object)
    error = Signal(object)
    bye = Signal(object)
    reply = Signal(int, object)
    notResponding = Signal(bool)
    crashed = Signal(int, str)
    protocolWarning = Signal(str)
    stateChanged = Signal(str)

    def __init__(self, program=None, parent=None, env=None, *, epochs=3, steps=5, fail_run=None,
                 hold_after_checkpoint=False):
        super().__init__(parent)
        self.hello = None
        self.running = False
        self.seq = 0
        self.sent: list = []  # every request / start, in order
        self.runs: list[dict] = []  # start_run calls: {"config", "resume_from"}
        self.epochs, self.steps, self.fail_run = epochs, steps, fail_run
        self.hold_after_checkpoint = hold_after_checkpoint  # pause the first run at its first checkpoint
        self.classes: list[str] = []
        self.timer = QTimer(self)
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._tick)
        self.script: list = []
        self.run_dir = ""
        self.weights = {b["id"]: b["weights_available"] for b in BACKBONES}  # what ListBackbones says
        self.library: list[dict] = []  # entries the model library lists
        self.stopped_jobs: set[int] = set()  # long requests a CancelRequest named
        self.hold_jobs = False
        self.explained: list = []  # (path, target) of each image Explain answered
        self.job_sent_one = False
        self.held = None
        self.error_files: dict[str, str] = {}  # class -> a real file the results call confidently wrong

    # ------------------------------------------------------------ client API
    def start(self):
        if self.running:
            return
        self.running = True
        self.stateChanged.emit("starting")
        self.hello = P.Hello(device="cpu", devices=[{"name": "Test CPU", "kind": "cpu", "memory_bytes": 0}])
        QTimer.singleShot(0, lambda: self.ready.emit(self.hello))

    def is_running(self):
        return self.running

    def send(self, msg):
        self.seq += 1
        self.sent.append(msg)
        return self.seq

    def request(self, msg):
        seq = self.send(msg)
        if isinstance(msg, P.CancelRequest):
            self.stopped_jobs.add(msg.target)
            return seq
        reply = self.answer(msg)
        if isinstance(reply, list):  # a long request: partial results, then the answer
            QTimer.singleShot(0, lambda: self._stream(seq, reply))
        else:
            QTimer.singleShot(0, lambda: self.reply.emit(seq, reply))
        return seq

    def _stream(self, seq, messages):
        """One message per turn of the event loop; a CancelRequest skips to the answer, marked cancelled;
        `hold_jobs` pauses after the first partial result until `release_jobs()`."""
        if not messages:
            return
        if self.hold_jobs and self.job_sent_one:
            self.held = (seq, messages)
            return
        msg = messages.pop(0)
        if seq in self.stopped_jobs and isinstance(msg, P.JobProgress):
            messages = [m for m in messages if not isinstance(m, P.JobProgress)]
            final = messages[-1]
            messages = [P.FolderPredicted(folder=final.folder, total=final.total, done=msg.done - len(msg.items),
                                          cancelled=True) if isinstance(final, P.FolderPredicted) else
                        P.Error(kind="cancelled", message="Cancelled.")]
            msg = messages.pop(0)
        self.job_sent_one = True
        self.reply.emit(seq, msg)
        QTimer.singleShot(0, lambda: self._stream(seq, messages))

    def release_jobs(self):
        self.hold_jobs = False
        if self.held:
            seq, messages = self.held
            self.held = None
            QTimer.singleShot(0, lambda: self._stream(seq, messages))

    def start_run(self, config, resume_from=None):
        self.runs.append({"config": config, "resume_from": resume_from})
        seq = self.send(P.Start(config=config, resume_from=resume_from))
        self.run_dir = resume_from or str(Path(config["runs_root"]) / f"run{len(self.runs)}")
        self.script = list(self._training_script(config))
        self.timer.start()
        return seq

    def cancel(self):
        if self.script:
            self.timer.stop()
            self.script = [P.Result(run_dir=self.run_dir, metrics={}), P.Bye(reason="cancelled")]  # as the server
            QTimer.singleShot(0, self.timer.start)

    def shutdown(self, timeout_ms=5000, block=False):
        self.timer.stop()
        self.running = False

    # ------------------------------------------------------------ test controls
    def crash(self, code=-11, stderr="Fatal Python error: Segmentation fault"):
        self.timer.stop()
        self.script = []
        self.running = False
        self.hello = None
        self.crashed.emit(code, stderr)

    # ------------------------------------------------------------ canned replies
    def answer(self, msg):
        if isinstance(msg, P.ListBackbones):
            return P.Backbones(items=[dict(b, weights_available=self.weights[b["id"]]) for b in BACKBONES])
        if isinstance(msg, P.ListLibrary):
            return P.LibraryItems(root="/fake/library", items=[dict(e) for e in self.library])
        if isinstance(msg, P.ImportWeights):
            return self._import(msg)
        if isinstance(msg, P.DescribeBackbone):
            return P.BackboneInfo(backbone=msg.backbone, stages=[dict(s) for s in TINY_STAGES],
                                  total_params=1030, recommended_freeze=1)
        if isinstance(msg, P.InspectData):
            return self._inspect(msg.paths)
        if isinstance(msg, P.Predict):
            items = []
            for p in msg.paths:
                if QImage(p).isNull():
                    items.append({"path": p, "error": "not an image this model can read"})
                else:
                    probs = [0.7] + [0.3 / max(1, len(self.classes) - 1)] * (len(self.classes) - 1)
                    items.append({"path": p, "top": [[c, pr] for c, pr in zip(self.classes, probs)][:msg.top_k]})
            return P.Predictions(items=items)
        if isinstance(msg, P.Explain):
            return P.Explained(items=[self._explain(p, msg.target) for p in msg.paths])
        if isinstance(msg, P.SaveBundle):
            out = Path(msg.out)
            out.mkdir(parents=True)
            card = f"# Model card\n\nClasses: {', '.join(self.classes)}\n"
            (out / "MODEL_CARD.md").write_text(card)
            return P.Saved(path=str(out), model_card=card)
        if isinstance(msg, P.ResolveConfig):
            return self._resolve(msg.config)
        if isinstance(msg, P.LabelQueue):
            return self._label_queue(msg)
        if isinstance(msg, P.PredictFolder):
            return self._folder(msg)
        if isinstance(msg, P.FindLR):
            lrs = [10 ** (-6 + i * 0.25) for i in range(20)]
            losses = [2.0 - 1.5 / (1 + 2.718 ** (-(i - 10))) + (0.5 * (i - 15) if i > 15 else 0) for i in range(20)]
            parts = [P.JobProgress(done=i + 1, total=20, items=[[lrs[i], losses[i]]]) for i in range(20)]
            return parts + [P.LRFound(lrs=lrs, losses=losses, suggestion=lrs[10], rule="steepest descent",
                                      stopped="diverged")]
        if isinstance(msg, P.OpenBundle):
            root = Path(msg.path)
            if not (root / "manifest.json").is_file():
                return P.Error(kind="bundle", message=f"{root} is not a saved bundle.")
            labels = json.loads((root / "labels.json").read_text())
            return P.BundleOpened(path=str(root), classes=labels["classes"], modality="image",
                                  metrics=json.loads((root / "metrics.json").read_text()), model_card="# Card\n")
        return P.Error(kind="internal", message=f"the fake cannot answer {msg.TYPE}")

    def _explain(self, path: str, target):
        """A map as the engine gives one: base and heat PNGs in a folder (a red square in the corner)."""
        import tempfile

        classes = self.classes or ["cat", "dog"]
        t = 0 if target is None else int(target)
        item = {"path": path, "target": t, "target_label": classes[t], "predicted": 0, "predicted_label": classes[0],
                "probabilities": [0.7] + [0.3 / max(1, len(classes) - 1)] * (len(classes) - 1), "classes": classes}
        if path.endswith(".txt"):
            text = Path(path).read_text(encoding="utf-8").strip()
            words, pos = [], 0
            for i, word in enumerate(text.split()):
                start = text.index(word, pos)
                pos = start + len(word)
                words.append([word, 1.0 if i == 0 else 0.05, start, pos])
            return dict(item, modality="text", method="integrated_gradients", text=text, words=words)
        folder = Path(tempfile.mkdtemp(prefix="fake-explain-"))
        base, heat = QImage(16, 16, QImage.Format.Format_RGB32), QImage(16, 16, QImage.Format.Format_ARGB32)
        base.fill(0xFF808080)
        heat.fill(0x00000000)
        for x in range(4):
            for y in range(4):
                heat.setPixel(x, y, 0xFFFF0000)
        base.save(str(folder / "base.png"))
        heat.save(str(folder / "heat.png"))
        self.explained.append((path, target))
        return dict(item, modality="image", method="gradcam", base=str(folder / "base.png"),
                    heat=str(folder / "heat.png"), overlay=str(folder / "heat.png"))

    def _folder(self, msg):
        """Rows of three files at a time, like the engine's chunks; not-images are rows with a reason."""
        files = sorted(str(p) for p in Path(msg.folder).rglob("*") if p.is_file())
        classes = self.classes or ["cat", "dog"]
        rows = []
        for i, p in enumerate(files):
            if QImage(p).isNull():
                rows.append({"path": p, "error": "could not read it (not an image)"})
            else:
                top = 0.9 if i % 2 else 0.55
                rows.append({"path": p, "top": [[classes[i % len(classes)], top],
                                                [classes[(i + 1) % len(classes)], 1 - top]][:msg.top_k]})
        parts = [P.JobProgress(done=min(len(rows), i + 3), total=len(rows), eta_s=1.0, per_s=100.0, items=rows[i:i + 3])
                 for i in range(0, len(rows), 3)]
        return parts + [P.FolderPredicted(folder=msg.folder, total=len(rows), done=len(rows),
                                          unreadable=sum("error" in r for r in rows), seconds=0.1)]

    def _label_queue(self, msg):
        """The unlabeled files, least sure first (the first class guessed, 0.5 + a step per file)."""
        from engine.labels.sidecar import LabelStore
        from gui.label_model import data_files

        store = LabelStore(msg.root)
        files = [f for f in data_files(msg.root) if store.label_of(f) is None]
        classes = self.classes or ["cat", "dog"]
        items = [{"rank": r + 1, "path": f, "guess": classes[r % len(classes)],
                  "confidence": round(0.5 + 0.4 * r / max(1, len(files)), 3), "score": 1.0 - r / max(1, len(files))}
                 for r, f in enumerate(reversed(files))]
        return [P.JobProgress(done=len(files), total=len(files)),  # a long request: progress, then the answer
                P.LabelSuggestions(root=msg.root, strategy=msg.strategy, items=items[:msg.limit], total=len(files))]

    def _resolve(self, config: dict):
        """The engine's own (torch-free) recipe on the last inspected data: 70/15/15 per class, like a scan."""
        from types import SimpleNamespace

        from engine.config import RunConfig
        from engine.recipe import Facts, resolve

        spec = next(b for b in BACKBONES if b["id"] == config["backbone"])
        body = [SimpleNamespace(name=s["name"]) for s in TINY_STAGES[:-1]]
        counts = [c["count"] for c in self.report["classes"]]
        n_val = sum(round(n * config["val_fraction"]) for n in counts)
        n_test = sum(round(n * config["test_fraction"]) for n in counts)
        facts = Facts.gather(self.report, SimpleNamespace(id=spec["id"], display_name=spec["display_name"], stages=body,
                                                          preprocess=spec["preprocess"], recommended_freeze=1),
                             "cpu", n_train=sum(counts) - n_val - n_test, n_val=n_val, n_classes=len(counts),
                             modality=spec["modality"], cores=2)
        cfg, settings = resolve(RunConfig.from_dict(config), facts)
        seconds = 4.0 * int(cfg.epochs)  # the real engine times a few steps; the fake pretends 4 s an epoch
        return P.ResolvedConfig(config=cfg.to_dict(), settings=[x.to_dict() for x in settings],
                                facts=facts.to_dict(), estimate={"seconds": seconds})

    def _import(self, msg):
        spec = next((b for b in BACKBONES if b["id"] == msg.backbone), None)
        if spec is None or not os.path.isfile(msg.path):
            return P.Error(kind="weights", message=f"Could not import {msg.path}: choose the backbone it is for.")
        self.weights[spec["id"]] = True
        entry = {"id": spec["id"], "backbone": spec["id"], "display_name": spec["display_name"],
                 "kind": "safetensors", "source": f"file: {Path(msg.path).name}",
                 "size_bytes": os.path.getsize(msg.path), "license": spec["license"],
                 "imported_at": "2026-01-02T03:04:05+00:00", "builtin": False, "hashes_ok": None, "problem": None}
        self.library.append(entry)
        return P.Imported(entries=[dict(entry)])

    def _inspect(self, paths):
        from engine.labels.sidecar import has_sidecar

        if len(paths) == 1 and os.path.isdir(paths[0]) and has_sidecar(paths[0]):
            return self._inspect_labeled(paths[0])
        classes, skipped, widths, heights = [], [], [], []
        for root in paths:
            if not os.path.isdir(root):
                return P.Error(kind="data", message=f"{root} is not a folder; choose a folder of labeled files.")
            for d in sorted(Path(root).iterdir()):
                if not d.is_dir():
                    continue
                good = 0
                for f in sorted(d.iterdir()):
                    img = QImage(str(f))
                    if img.isNull():
                        skipped.append({"path": str(f), "reason": "unreadable image"})
                    else:
                        good += 1
                        widths.append(img.width())
                        heights.append(img.height())
                classes.append({"name": d.name, "count": good, "splits": {}})
        self.classes = [c["name"] for c in classes]
        findings = []
        if skipped:
            findings.append({"severity": "warning", "code": "corrupt",
                             "message": f"{len(skipped)} files could not be decoded and were left out.",
                             "advice": "Replace them with readable copies or delete them."})
        fatal = None if len(classes) >= 2 else f"{paths[0]} needs at least two class folders."
        def stats(v):
            v = sorted(v) or [0]
            return {"min": v[0], "median": v[len(v) // 2], "max": v[-1]}

        self.report = {"roots": list(paths), "modality": "image", "classes": classes,
                       "imbalance_ratio": 1.0, "skipped": skipped, "findings": findings,
                       "fatal": fatal, "image": {"count": len(widths), "width": stats(widths),
                                                 "height": stats(heights), "modes": {"RGB": len(widths)}}}
        return P.DataReport(report=self.report)

    def _inspect_labeled(self, root):
        """A folder with a labels file: each file's label is the sidecar's, else its folder's (as the scan)."""
        from engine.labels.sidecar import EXCLUDED, LabelStore
        from gui.label_model import data_files

        store, by_class, excluded, overridden, unlabeled = LabelStore(root), {}, 0, 0, 0
        for f in data_files(root):
            label = store.label_of(f)
            unlabeled += label is None
            row = store.get(f)
            excluded += label == EXCLUDED
            overridden += bool(row and Path(f).parent.name != label and Path(f).parent != Path(root)
                               and label != EXCLUDED)
            if label and label != EXCLUDED and not QImage(f).isNull():
                by_class.setdefault(label, []).append(f)
        self.classes = sorted(by_class)
        self.labeled_files = by_class
        classes = [{"name": c, "count": len(by_class[c]), "splits": {}} for c in self.classes]
        fatal = None if len(classes) >= 2 else f"{root} needs labels of at least two classes."
        n = sum(len(v) for v in by_class.values())
        self.report = {"roots": [root], "modality": "image", "classes": classes, "imbalance_ratio": 1.0,
                       "skipped": [], "findings": [], "fatal": fatal,
                       "labels": {"from_sidecar": len(store.rows) - excluded, "overridden": overridden,
                                  "excluded": excluded, "unlabeled": unlabeled},
                       "image": {"count": n, "width": {"min": 8, "median": 8, "max": 8},
                                 "height": {"min": 8, "median": 8, "max": 8}, "modes": {"RGB": n}}}
        return P.DataReport(report=self.report)

    # ------------------------------------------------------------ training script
    def _training_script(self, config):
        yield P.Status(phase="loading_model", detail="tiny")
        start_epoch = 2 if config and self.runs[-1]["resume_from"] else 1
        for epoch in range(start_epoch, self.epochs + 1):
            for step in range(1, self.steps + 1):
                g = (epoch - 1) * self.steps + step
                if g < self.epochs * self.steps:  # like the real engine: throttled, the last step unreported
                    yield P.Progress(epoch=epoch, epochs=self.epochs, step=step, steps=self.steps, global_step=g,
                                     total_steps=self.epochs * self.steps, samples_per_s=50.0, eta_s=3.0)
                yield P.Metric(global_step=g, epoch=epoch - 1 + step / self.steps,
                               values={"loss": 1.0 / g, "lr": 1e-3})
                if self.fail_run and g == self.fail_run:
                    yield P.Error(kind="out_of_memory", message="The engine ran out of memory.")
                    yield P.Bye(reason="failed")
                    return
            yield P.EpochEnd(epoch=epoch, values={"train_loss": 1.0 / epoch, "val_loss": 1.2 / epoch,
                                                  "train_accuracy": 0.5 + 0.1 * epoch,
                                                  "val_accuracy": 0.45 + 0.1 * epoch}, best=True)
            yield P.Checkpoint(kind="last", path=f"{self.run_dir}/checkpoints/last", epoch=epoch)
        yield P.Status(phase="evaluating", detail="Scoring the best model")
        n = len(self.classes)
        cm = [[3 if i == j else (1 if j == (i + 1) % n else 0) for j in range(n)] for i in range(n)]
        split = {"accuracy": 0.75, "balanced_accuracy": 0.75, "macro_f1": 0.74, "classes": self.classes,
                 "per_class": [{"name": c, "precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}
                               for c in self.classes],
                 "confusion_matrix": cm,
                 "confident_errors": [{"path": self.error_files.get(self.classes[i], f"/data/{self.classes[i]}/x{i}.png"),
                                       "true": self.classes[i],
                                       "predicted": self.classes[(i + 1) % n], "probability": 0.9}
                                      for i in range(n)]}
        yield P.Result(run_dir=self.run_dir, metrics={"classes": self.classes, "val": split, "test": split})
        yield P.Bye(reason="completed")

    def _tick(self):
        if not self.script:
            self.timer.stop()
            return
        msg = self.script.pop(0)
        name = {P.Status: "status", P.Progress: "progress", P.Metric: "metric", P.EpochEnd: "epochEnd",
                P.Checkpoint: "checkpoint", P.Result: "result", P.Error: "error", P.Bye: "bye"}[type(msg)]
        getattr(self, name).emit(msg)
        if isinstance(msg, P.Checkpoint) and self.hold_after_checkpoint:
            self.hold_after_checkpoint = False
            self.timer.stop()


# ---------------------------------------------------------------- helpers for tests
def drop_paths(widget, paths, pos=None):
    """Simulate dragging local files onto `widget` and dropping them (enter, then drop)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = pos or widget.rect().center()
    enter = QDragEnterEvent(QPoint(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the window refused the drag"
    drop = QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop
