"""The conversation with the engine: requests, replies, the live run, errors and crashes.

Views call the user actions here (load_data, start_training, predict, save...); engine
signals update the Qt-free models and then ask the window to refresh. Nothing here
blocks the UI thread: every reply arrives as a signal. Requests made before the
engine's hello are queued and sent when it arrives.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal

from engine import protocol as P

from .errors_text import plain_error
from .recipe_asker import RecipeAsker
from .train_model import ConfigError, build_config

class Session(QObject):
    changed = Signal(str)  # which part changed: engine|data|backbones|freeze|recipe|run|results|predictions|saved
    notify = Signal(str, str, str)  # text, level, action ("" | "resume" | "restart")

    def __init__(self, window, client, parent=None):
        super().__init__(parent)
        self.w = window
        self.client = client
        self.hello = None
        self.engine_state = "starting"
        self.pending: dict[int, tuple[Callable, Callable | None]] = {}
        self.answered: set[int] = set()
        self.queued: list[tuple] = []
        self.on_ready_once: list[Callable] = []
        self.closing = False
        self.cancel_requested = False
        self.prefer_backbone: str | None = None  # select this one once a backbone list shows it usable
        self.recipe_asker = RecipeAsker(self)  # the engine's answer to "what would a start use?"
        c = client
        c.ready.connect(self._on_ready)
        c.reply.connect(self._on_reply)
        c.error.connect(self._on_error)
        c.status.connect(self._on_status)
        c.progress.connect(self._on_progress)
        c.metric.connect(self._on_metric)
        c.epochEnd.connect(self._on_epoch)
        c.log.connect(lambda m: self.w.train_page.append_log(m.level, m.text))
        c.checkpoint.connect(self._on_checkpoint)
        c.result.connect(self._on_result)
        c.bye.connect(self._on_bye)
        c.crashed.connect(self._on_crashed)
        c.notResponding.connect(self._on_not_responding)
        c.protocolWarning.connect(lambda text: self.w.train_page.append_log("warning", f"protocol: {text}"))

    # ---------------------------------------------------------------- engine life
    def start_engine(self) -> None:
        self.engine_state = "starting"
        self.changed.emit("engine")
        self.client.start()

    def _on_ready(self, hello) -> None:
        """First hello: ask for the backbones; a second one (devices probed) updates the device list."""
        first = self.hello is None
        self.hello = hello
        self.engine_state = "ready"
        self.w.train_page.set_devices(getattr(hello, "device", "") or "cpu", list(getattr(hello, "devices", []) or []))
        self.changed.emit("engine")
        if not first:
            return
        if not self.w.backbones.specs:
            self.request(P.ListBackbones(), self._on_backbones)
        queued, self.queued = self.queued, []
        for msg, on_reply, on_error in queued:
            self.request(msg, on_reply, on_error)
        actions, self.on_ready_once = self.on_ready_once, []
        for action in actions:
            action()

    def device_name(self) -> str:
        h = self.hello
        if h is None:
            return ""
        for d in getattr(h, "devices", []) or []:
            if isinstance(d, dict) and d.get("kind") == str(h.device).split(":")[0] and d.get("name"):
                return str(d["name"])
        return str(getattr(h, "device", "cpu")).upper()

    def _on_not_responding(self, stuck: bool) -> None:
        self.engine_state = "not_responding" if stuck else "ready"
        self.changed.emit("engine")

    def _on_crashed(self, exit_code: int, last_stderr: str) -> None:
        if self.closing:
            return
        self.hello = None
        self.engine_state = "crashed"
        for seq, (_, on_error) in list(self.pending.items()):
            if on_error:
                on_error(P.Error(kind="internal", message="the engine stopped before answering."))
        self.pending.clear()
        run = self.w.run
        was_running = run.running
        if was_running:
            run.finish("crashed")
        self.w.data.scanning = False
        tail = (last_stderr or "").strip().splitlines()
        why = f" Its last words: “{tail[-1][:200]}”" if tail else ""
        text = f"The engine stopped unexpectedly (exit code {exit_code}).{why}"
        if was_running and run.can_resume:
            self.notify.emit(text + " Your last checkpoint is safe.", "error", "resume")
        else:
            self.notify.emit(text, "error", "restart")
        self.w.train_page.append_log("error", f"engine exited with code {exit_code}\n{last_stderr or ''}".rstrip())
        self.changed.emit("engine")
        self.changed.emit("run")

    def restart_engine(self, then: Callable | None = None) -> None:
        if then:
            self.on_ready_once.append(then)
        if not self.client.is_running():
            self.start_engine()
        elif self.hello is not None and then:
            self.on_ready_once.remove(then)
            then()

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Ask the engine to stop (it checkpoints a run first) and wait for it, bounded."""
        self.closing = True
        try:
            self.client.shutdown(timeout_ms, block=True)
        except Exception:  # the window must close whatever the engine does
            pass

    # ---------------------------------------------------------------- requests
    def request(self, msg, on_reply: Callable, on_error: Callable | None = None) -> None:
        if self.hello is None:
            self.queued.append((msg, on_reply, on_error))
            if not self.client.is_running() and self.engine_state == "crashed":
                self.restart_engine()
            return
        seq = self.client.request(msg)
        self.pending[seq] = (on_reply, on_error)

    def _on_reply(self, seq: int, message) -> None:
        handlers = self.pending.pop(seq, None)
        if handlers is None:
            return
        self.answered.add(seq)
        on_reply, on_error = handlers
        if isinstance(message, P.Error):
            (on_error or self._show_error)(message)
        else:
            on_reply(message)

    def _on_error(self, err) -> None:
        seq = getattr(err, "request_seq", None)
        if seq is not None and seq in self.answered:
            return
        if seq is not None and seq in self.pending:
            self._on_reply(seq, err)
            return
        self.w.train_page.append_log("error", f"{err.kind}: {err.message}\n{err.detail}".rstrip())
        if self.w.run.running and err.kind != "protocol":  # a skipped bad line does not end a run
            self.w.run.finish("failed")
            self.changed.emit("run")
        self._show_error(err)

    def _show_error(self, err) -> None:
        action = "resume" if self.w.run.can_resume else ""
        self.notify.emit(plain_error(err), "error", action)

    # ---------------------------------------------------------------- data
    def load_data(self, paths: list[str]) -> None:
        self.w.data.begin_scan(paths)
        self.changed.emit("data")
        self.request(P.InspectData(paths=list(paths)), self._on_report, self._on_report_error)

    def _on_report(self, reply) -> None:
        data = self.w.data
        if data.paths and getattr(reply, "report", None) is not None:
            data.set_report(reply.report)  # a fatal problem is shown on the Data page itself
            self.w.backbones.set_data_modality(data.modality)
        self.changed.emit("data")
        self.changed.emit("backbones")
        self._describe_selected()
        self.preview_recipe()

    def _on_report_error(self, err) -> None:
        self.w.data.set_error(plain_error(err))
        self.notify.emit(plain_error(err), "error", "")
        self.changed.emit("data")

    # ---------------------------------------------------------------- backbones
    def refresh_backbones(self) -> None:
        """Ask again which backbones have their weights (after a library import or removal)."""
        self.request(P.ListBackbones(), self._on_backbones)

    def _on_backbones(self, reply) -> None:
        bm = self.w.backbones
        bm.set_backbones(list(getattr(reply, "items", []) or []))
        preferred = bm.choice(self.prefer_backbone)
        if preferred is not None and preferred.enabled:
            bm.select(preferred.id)
            self.prefer_backbone = None
        bm.set_data_modality(self.w.data.modality)
        self.changed.emit("backbones")
        self._describe_selected()

    def choose_backbone(self, backbone: str) -> None:
        if self.w.backbones.select(backbone):
            self.changed.emit("freeze")
            self._describe_selected()
            self.preview_recipe()

    def _describe_selected(self) -> None:
        bm = self.w.backbones
        if bm.selected and bm.info_for != bm.selected:
            self.request(P.DescribeBackbone(backbone=bm.selected), self._on_info)

    def _on_info(self, info) -> None:
        bm = self.w.backbones
        if info.backbone and info.backbone != bm.selected:
            return  # the person picked another one meanwhile
        bm.set_info(bm.selected, list(info.stages or []), info.total_params, info.recommended_freeze)
        self.changed.emit("freeze")

    # ---------------------------------------------------------------- what Auto will do
    def preview_recipe(self) -> None:
        """Ask the engine (soon, once per burst of changes) what a start with the current choices would use."""
        self.recipe_asker.soon()

    # ---------------------------------------------------------------- training
    def start_training(self, resume_from: str | None = None) -> bool:
        w = self.w
        if w.run.running:
            return False
        try:
            settings = w.train_page.settings()
            config = build_config(w.data.paths, w.backbones.selected, w.backbones.freeze, settings,
                                  str(w.runs_root))
        except (ValueError, ConfigError) as exc:
            self.notify.emit(str(exc), "error", "")
            return False
        w.remember_train_settings(settings)
        self.recipe_asker.now_if_due()  # the settings changed just now: show what this run will use
        self._launch(config, resume_from)
        return True

    def resume(self) -> None:
        run = self.w.run
        if not run.can_resume or not run.config:
            return
        config, run_dir = run.config, run.run_dir
        self.restart_engine(then=lambda: self._launch(config, run_dir))

    def _launch(self, config: dict, resume_from: str | None) -> None:
        w = self.w
        self.cancel_requested = False
        previous_dir = w.run.run_dir if resume_from else None
        w.run.start(config)
        if previous_dir:
            w.run.run_dir = previous_dir
        if not resume_from and w.train_page.plots is not None:
            w.train_page.plots.clear()
        w.train_page.ensure_plots()
        w.train_page.append_log("info", ("Resuming " + resume_from) if resume_from else "Starting a new run.")
        if self.hello is None:
            self.on_ready_once.append(lambda: self.client.start_run(config, resume_from=resume_from))
        else:
            self.client.start_run(config, resume_from=resume_from)
        self.changed.emit("run")

    def cancel(self) -> None:
        if self.w.run.running:
            self.cancel_requested = True
            self.client.cancel()
            self.w.run.detail = "cancelling…"
            self.changed.emit("run")

    def _on_status(self, s) -> None:
        self.w.run.on_status(s.phase, s.detail)
        self.changed.emit("run")

    def _on_progress(self, p) -> None:
        if getattr(p, "phase", "") == "scan" and self.w.data.scanning:
            self.w.data_page.set_scan_progress(p.step, p.steps)
            return
        first = not self.w.run.total_steps
        self.w.run.on_progress(p)
        if first and self.w.run.total_steps:
            self.w.train_page.ensure_plots().set_total_steps(self.w.run.total_steps)
        self.changed.emit("run")

    def _on_metric(self, m) -> None:
        self.w.train_page.ensure_plots().add_step(float(m.epoch), dict(m.values or {}))

    def _on_epoch(self, e) -> None:
        self.w.train_page.ensure_plots().add_epoch(int(e.epoch), dict(e.values or {}))
        vals = ", ".join(f"{k} {v:.4g}" for k, v in (e.values or {}).items() if isinstance(v, (int, float)))
        self.w.train_page.append_log("info", f"epoch {e.epoch}: {vals}{' (best so far)' if e.best else ''}")

    def _on_checkpoint(self, c) -> None:
        self.w.run.on_checkpoint(c.kind, c.path, c.epoch)

    def _on_result(self, r) -> None:
        """A run ended. A cancelled run also sends one (without metrics); its bye says so."""
        run = self.w.run
        if not r.metrics or self.cancel_requested:
            run.run_dir = r.run_dir or run.run_dir
            return
        run.finish("completed", r.run_dir)
        self.w.results.set_result(r.run_dir, r.metrics)
        self.changed.emit("run")
        self.changed.emit("results")

    def _on_bye(self, b) -> None:
        run = self.w.run
        if run.running and b.reason in ("cancelled", "failed", "completed"):
            # "completed" without a result with metrics: nothing to show, treat as failed
            run.finish(b.reason if b.reason != "completed" else "failed")
            if b.reason == "cancelled":
                extra = " You can resume from the last checkpoint." if run.can_resume else ""
                self.notify.emit(f"Training was cancelled.{extra}", "info", "resume" if run.can_resume else "")
            self.changed.emit("run")

    def load_cell_files(self, split: str, files: list) -> None:
        """Predict the split's files once so every confusion-matrix cell can list its files."""
        res = self.w.results

        def done(reply):
            res.set_cell_predictions(split, files, list(reply.items or []))
            self.changed.emit("cells")

        self.request(P.Predict(model=res.run_dir, paths=[f for f, _ in files], top_k=1), done)

    # ---------------------------------------------------------------- try it, save
    def predict(self, paths: list[str]) -> None:
        res = self.w.results
        if not res.ready or not paths:
            return
        k = max(1, min(3, len(res.classes()) or 3))
        self.w.try_page.set_busy(True)
        self.request(P.Predict(model=res.run_dir, paths=list(paths), top_k=k), self._on_predictions,
                     self._on_predict_error)

    def _on_predictions(self, reply) -> None:
        self.w.try_page.set_busy(False)
        self.w.results.set_predictions(list(reply.items or []))
        self.changed.emit("predictions")

    def _on_predict_error(self, err) -> None:
        self.w.try_page.set_busy(False)
        self.notify.emit(plain_error(err), "error", "")

    def save(self, folder: str) -> None:
        res = self.w.results
        if not res.ready or not folder:
            return
        name = Path(res.run_dir).name or "model"
        out = str(Path(folder) / f"{name}.tsbundle")
        self.w.save_page.set_busy(True)
        self.request(P.SaveBundle(run_dir=res.run_dir, out=out), self._on_saved, self._on_save_error)

    def _on_saved(self, reply) -> None:
        self.w.save_page.set_busy(False)
        self.w.results.set_saved(reply.path, reply.model_card)
        self.notify.emit(f"Saved the model to {reply.path}.", "success", "")
        self.changed.emit("saved")

    def _on_save_error(self, err) -> None:
        self.w.save_page.set_busy(False)
        self.notify.emit(plain_error(err), "error", "")
