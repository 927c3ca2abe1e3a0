"""One measurement per process: `python -m benchmarks.worker TASK JSON_ARGS`.

Tasks
- ours:      engine.train.train() on a RunConfig; per-epoch train/validation seconds are
             taken by wrapping Loop.run_epoch / Loop.validate (timing only, no behaviour
             change), the event timeline by the reporter. `in_memory` swaps the image
             dataset for pre-computed tensors (the "same loop on in-memory tensors").
- plain:     the textbook loop: torchvision transforms + ImageFolder + DataLoader + AdamW,
             on the same backbone, weights and training files.
- handprobe: features extracted by hand (eval transform, model without head) then
             scikit-learn LogisticRegression, scored on the same validation split.
- engine:    the engine process as the app starts it: time to hello, to first metric
             after `start`, and its peak RSS.
The last stdout line is `BENCH-RESULT {json}`.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from benchmarks.common import emit


def _images_from_splits(splits_path: str, name: str):
    d = json.loads(Path(splits_path).read_text())
    return [(p, int(label)) for p, label, _sha in d[name]], d["classes"]


# ---------------------------------------------------------------------------------- ours
def _in_memory_datasets():
    """Replace make_dataset: each split becomes fixed float tensors computed once up front."""
    import torch

    from engine.train import batches

    real = batches.make_dataset

    class Tensors(torch.utils.data.Dataset):
        def __init__(self, xs, ys):
            self.xs, self.ys = xs, ys

        def __len__(self):
            return len(self.ys)

        def __getitem__(self, i):
            return self.xs[i], self.ys[i], i

    def collate(rows):
        return torch.stack([r[0] for r in rows]), torch.tensor([r[1] for r in rows], dtype=torch.long)

    def make(examples, **kw):
        ds, coll = real(examples, **kw)
        xs, ys = [], []
        for i in range(len(ds)):
            x, y = coll([ds[i]])
            xs.append(x[0])
            ys.append(int(y[0]))
        return Tensors(xs, ys), collate

    batches.make_dataset = make


def task_ours(a: dict) -> dict:
    t_import = time.perf_counter()
    import torch

    from engine import protocol
    from engine.backbones import get_spec
    from engine.config import RunConfig
    from engine.train import loop as L
    from engine.train import train

    # what the other tasks import before their clock starts (the engine process has them
    # loaded while the user picks data); train()'s own lazy imports would count otherwise
    import sklearn.metrics  # noqa: F401
    import timm  # noqa: F401
    import torchvision  # noqa: F401

    import engine.backbones  # noqa: F401
    import engine.data  # noqa: F401
    import engine.evaluate  # noqa: F401
    import engine.freezing  # noqa: F401

    if a.get("threads"):
        torch.set_num_threads(int(a["threads"]))
    if a.get("in_memory"):
        _in_memory_datasets()
    epochs_t: list[dict] = []
    real_epoch, real_validate = L.Loop.run_epoch, L.Loop.validate

    def run_epoch(self, state, epoch):
        t = time.perf_counter()
        out = real_epoch(self, state, epoch)
        epochs_t.append({"epoch": epoch, "train_s": time.perf_counter() - t, "samples": state.samples_in_epoch})
        return out

    def validate(self):
        t = time.perf_counter()
        out = real_validate(self)
        if epochs_t:
            epochs_t[-1]["val_s"] = time.perf_counter() - t
        return out

    L.Loop.run_epoch, L.Loop.validate = run_epoch, validate
    freeze = a.get("freeze", 0)
    if freeze == "all":
        freeze = len(get_spec(a["backbone"]).stages)
    cfg = RunConfig(data=[a["data"]], backbone=a["backbone"], freeze=freeze, epochs=a.get("epochs"),
                    batch_size=a.get("batch_size"), input_size=a.get("input_size"), augment=a.get("augment", "light"),
                    lr=a.get("lr"), early_stopping_patience=None, runs_root=a["runs_root"], name=a["name"],
                    num_workers=a.get("num_workers"), seed=0, head_warmup=a.get("head_warmup"),
                    freeze_bn_stats=a.get("freeze_bn_stats"))
    events: list[dict] = []
    t0 = time.perf_counter()
    import_s = t0 - t_import

    def reporter(msg):
        t = time.perf_counter() - t0
        if isinstance(msg, protocol.Status):
            events.append({"t": t, "type": "status", "phase": msg.phase})
        elif isinstance(msg, protocol.EpochEnd):
            events.append({"t": t, "type": "epoch_end", "epoch": msg.epoch, "values": msg.values})
        elif isinstance(msg, protocol.Metric) and not any(e["type"] == "metric" for e in events):
            events.append({"t": t, "type": "metric"})

    result = train(cfg, reporter=reporter)
    total = time.perf_counter() - t0
    metrics = result.get("metrics") or {}
    resolved = json.loads((Path(result["run_dir"]) / "config.json").read_text())
    return {"task": "ours", "import_s": import_s, "total_s": total, "epochs": epochs_t, "events": events,
            "run_dir": result["run_dir"], "config": {k: resolved[k] for k in (
                "freeze", "epochs", "batch_size", "lr", "input_size", "num_workers", "augment", "head_warmup",
                "freeze_bn_stats")},
            "test_accuracy": (metrics.get("test") or {}).get("accuracy"),
            "val_accuracy": (metrics.get("val") or {}).get("accuracy"),
            "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------- plain
def _train_folder(splits: str, dest: Path) -> Path:
    """An ImageFolder tree of symlinks to exactly the engine's training files."""
    items, classes = _images_from_splits(splits, "train")
    for c in classes:
        (dest / c).mkdir(parents=True, exist_ok=True)
    for i, (p, label) in enumerate(items):
        link = dest / classes[label] / f"{i:06d}{Path(p).suffix}"
        if not link.exists():
            link.symlink_to(p)
        if not link.exists():
            raise FileNotFoundError(f"{p} (a training file of the engine's run) has disappeared")
    return dest


def task_plain(a: dict) -> dict:
    import torch
    import torchvision.transforms as T
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from engine.backbones import build_model, get_spec

    t_start = time.perf_counter()
    spec = get_spec(a["backbone"])
    pp = spec.preprocess
    folder = _train_folder(a["splits"], Path(a["workdir"]) / "plain-train")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tf = T.Compose([T.RandomResizedCrop(a["input_size"], scale=(0.7, 1.0),
                                        interpolation=T.InterpolationMode(pp["interpolation"])),
                    T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(pp["mean"], pp["std"])])
    ds = ImageFolder(str(folder), tf)
    torch.manual_seed(0)
    model = build_model(spec, len(ds.classes), weights="auto").to(device)
    loader = DataLoader(ds, batch_size=a["batch_size"], shuffle=True, num_workers=a.get("num_workers", 0),
                        pin_memory=device.type == "cuda")
    opt = torch.optim.AdamW(model.parameters(), lr=a.get("lr", 1e-3), weight_decay=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    epochs = []
    for epoch in range(1, a["epochs"] + 1):
        model.train()
        t, n = time.perf_counter(), 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += len(y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        epochs.append({"epoch": epoch, "train_s": time.perf_counter() - t, "samples": n})
    return {"task": "plain", "epochs": epochs, "total_s": time.perf_counter() - t_start,
            "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------- hand probe
def task_handprobe(a: dict) -> dict:
    import numpy as np
    import torch
    import torchvision.transforms as T
    from sklearn.linear_model import LogisticRegression
    from torch.utils.data import DataLoader

    from engine.backbones import build_model, get_spec
    from engine.data.images import load_image

    t0 = time.perf_counter()
    spec = get_spec(a["backbone"])
    pp = spec.preprocess
    size = a["input_size"]
    tf = T.Compose([T.Resize(int(size / pp["crop_pct"]), interpolation=T.InterpolationMode(pp["interpolation"])),
                    T.CenterCrop(size), T.ToTensor(), T.Normalize(pp["mean"], pp["std"])])
    train_items, classes = _images_from_splits(a["splits"], "train")
    val_items, _ = _images_from_splits(a["splits"], "val")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(spec, len(classes), weights="auto").eval().to(device)
    model.reset_classifier(0)  # timm: the model now returns pooled features
    t_model = time.perf_counter()

    class Files(torch.utils.data.Dataset):
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            p, y = self.items[i]
            return tf(load_image(p)), y  # the engine's decoding (transparency on white)

    def features(items):
        out, ys = [], []
        with torch.no_grad():
            for x, y in DataLoader(Files(items), batch_size=64):
                out.append(model(x.to(device)).float().cpu().numpy())
                ys.append(y.numpy())
        return np.concatenate(out), np.concatenate(ys)

    xtr, ytr = features(train_items)
    xva, yva = features(val_items)
    t_feat = time.perf_counter()
    clf = LogisticRegression(max_iter=1000).fit(xtr, ytr)
    acc = float((clf.predict(xva) == yva).mean())
    t_end = time.perf_counter()
    return {"task": "handprobe", "total_s": t_end - t0, "model_s": t_model - t0, "features_s": t_feat - t_model,
            "fit_s": t_end - t_feat, "val_accuracy": acc, "n_train": len(ytr), "n_val": len(yva)}


# ---------------------------------------------------------------------------------- engine process
def task_engine(a: dict) -> dict:
    """Start `python -m engine` as the app does and time hello, start -> first metric, RSS."""
    import os
    import queue
    import subprocess
    import threading

    from engine import protocol
    from engine.config import RunConfig

    env = dict(os.environ)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "engine"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=a["cwd"])
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put((time.perf_counter(), ln)) for ln in proc.stdout], daemon=True).start()
    marks: dict[str, float] = {}
    seq = [0]

    def send(msg):
        seq[0] += 1
        proc.stdin.write(protocol.encode(msg, seq[0]))
        proc.stdin.flush()

    def wait_for(pred, timeout=900):
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            try:
                t, line = lines.get(timeout=1)
            except queue.Empty:
                if proc.poll() is not None:
                    raise RuntimeError("the engine exited early")
                continue
            try:
                env_ = protocol.decode(line)
            except Exception:  # noqa: BLE001 - stray output
                continue
            if env_.type == "error":
                raise RuntimeError(f"engine error: {getattr(env_.message, 'message', env_.message)}")
            if pred(env_):
                return t, env_
        raise TimeoutError("engine did not answer in time")

    t_hello, _ = wait_for(lambda e: e.type == "hello")
    t_ready, hello = wait_for(lambda e: e.type == "hello" and getattr(e.message, "device", ""))
    cfg = RunConfig(data=[a["data"]], backbone=a["backbone"], freeze=0, epochs=1, input_size=a["input_size"],
                    batch_size=a.get("batch_size"), runs_root=a["runs_root"], name="engine-start",
                    early_stopping_patience=None)
    t_start = time.perf_counter()
    send(protocol.Start(config=cfg.to_dict()))
    t_metric, _ = wait_for(lambda e: e.type == "metric")
    t_bye, bye = wait_for(lambda e: e.type == "bye")
    status = Path(f"/proc/{proc.pid}/status")
    hwm = None
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM"):
                hwm = int(line.split()[1]) / 1024
    send(protocol.Shutdown())
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    marks.update(hello_s=t_hello - t0, ready_s=t_ready - t0, start_to_metric_s=t_metric - t_start,
                 spawn_to_metric_s=t_metric - t0, start_to_bye_s=t_bye - t_start)
    return {"task": "engine", **marks, "engine_peak_rss_mb": round(hwm, 1) if hwm else None,
            "bye": getattr(bye.message, "reason", None), "device": getattr(hello.message, "device", None)}


TASKS = {"ours": task_ours, "plain": task_plain, "handprobe": task_handprobe, "engine": task_engine}


def main(argv: list[str]) -> int:
    task, args = argv[1], json.loads(argv[2]) if len(argv) > 2 else {}
    emit(TASKS[task](args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
