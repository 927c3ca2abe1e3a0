"""The conversation with the engine: requests, replies, the live run, errors and crashes.

Views call the user actions here (load_data, start_training, predict, save...); replies
and engine messages update the Qt-free models, and each model's events tell the views
that show it. The session knows the models, not the pages. Nothing here blocks the UI
thread; every request goes through the one tracker (`gui/requests.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal

from engine import protocol as P

from .backbone_model import BackboneModel
from .clinical_model import ClinicalModel
from .data_model import DataModel
from .engine_status import EngineStatus
from .errors_text import plain_error
from .explain_model import Explanations
from .jobs_model import FolderJob, LRFinder
from .long_requests import LongRequests
from .recipe_asker import RecipeAsker
from .recipe_model import RecipePreview
from .reopen import Reopener
from .requests import EngineRequests
from .results_model import ResultsModel
from .train_model import ConfigError, RunState, TrainSettings, build_config


@dataclass
class Models:
    """The app's Qt-free state, one model per part of the workflow."""
    data: DataModel = field(default_factory=DataModel)
    backbones: BackboneModel = field(default_factory=BackboneModel)
    run: RunState = field(default_factory=RunState)
    results: ResultsModel = field(default_factory=ResultsModel)
    recipe: RecipePreview = field(default_factory=RecipePreview)  # what the engine's auto recipe will do
    engine: EngineStatus = field(default_factory=EngineStatus)
    folder: FolderJob = field(default_factory=FolderJob)  # Try it → Predict a folder
    lr: LRFinder = field(default_factory=LRFinder)  # the Train page's learning-rate finder
    clinical: ClinicalModel = field(default_factory=ClinicalModel)  # the Results page's threshold and audits
    explain: Explanations = field(default_factory=Explanations)  # maps over the gallery and the Try page


class Session(QObject):
    notify = Signal(str, str, str)  # text, level, action ("" | "resume" | "restart")

    def __init__(self, client, models: Models, train_settings: Callable[[], TrainSettings], runs_root,
                 parent=None):
        super().__init__(parent)
        self.client = client
        self.m = models
        self.train_settings = train_settings  # the Train form's current choices
        self.runs_root = str(runs_root)
        self.requests = EngineRequests(client, self)
        self.requests.unhandledError.connect(self._show_error)
        self.requests.engineNeeded.connect(self._start_if_crashed)
        self.on_ready_once: list[Callable] = []
        self.closing = False
        self.cancel_requested = False
        self.prefer_backbone: str | None = None  # select this one once a backbone list shows it usable
        self.recipe_asker = RecipeAsker(self)  # the engine's answer to "what would a start use?"
        self.reopen = Reopener(self)  # runs and bundles of earlier sessions; resume after a restart
        self.long = LongRequests(self)  # a folder into a table; the learning-rate finder
        c, run = client, models.run
        c.ready.connect(self._on_ready)
        c.error.connect(self._on_error)
        c.status.connect(lambda s: run.on_status(s.phase, s.detail))
        c.progress.connect(self._on_progress)
        c.metric.connect(lambda m: run.on_metric(m.epoch, m.values))
        c.epochEnd.connect(lambda e: run.on_epoch(e.epoch, e.values, e.best))
        c.log.connect(lambda m: run.log(m.level, m.text))
        c.checkpoint.connect(lambda ck: run.on_checkpoint(ck.kind, ck.path, ck.epoch))
        c.result.connect(self._on_result)
        c.bye.connect(self._on_bye)
        c.crashed.connect(self._on_crashed)
        c.notResponding.connect(lambda stuck: models.engine.set_state("not_responding" if stuck else "ready"))
        c.protocolWarning.connect(lambda text: run.log("warning", f"protocol: {text}"))

    @property
    def hello(self):
        return self.m.engine.hello

    # ---------------------------------------------------------------- engine life
    def start_engine(self) -> None:
        self.m.engine.set_state("starting")
        self.client.start()

    def _start_if_crashed(self) -> None:
        if self.m.engine.state == "crashed":
            self.restart_engine()

    def _on_ready(self, hello) -> None:
        """First hello: ask for the backbones; a second one (devices probed) updates the device list."""
        first = self.m.engine.hello is None
        self.m.engine.set_state("ready", hello)
        if not first:
            return
        if not self.m.backbones.specs:
            self.request(P.ListBackbones(), self._on_backbones)
        actions, self.on_ready_once = self.on_ready_once, []
        for action in actions:
            action()

    def _on_crashed(self, exit_code: int, last_stderr: str) -> None:
        if self.closing:
            return
        self.m.engine.set_state("crashed")
        run = self.m.run
        was_running = run.running
        if was_running:
            run.finish("crashed")
        tail = (last_stderr or "").strip().splitlines()
        why = f" Its last words: “{tail[-1][:200]}”" if tail else ""
        text = f"The engine stopped unexpectedly (exit code {exit_code}).{why}"
        if was_running and run.can_resume:
            self.notify.emit(text + " Your last checkpoint is safe.", "error", "resume")
        else:
            self.notify.emit(text, "error", "restart")
        run.log("error", f"engine exited with code {exit_code}\n{last_stderr or ''}".rstrip())

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
    def request(self, msg, on_reply: Callable, on_error: Callable | None = None, busy: str = ""):
        return self.requests.request(msg, on_reply, on_error, busy=busy)

    def _on_error(self, err) -> None:
        """An Error tied to no request: a run that failed, or trouble on the pipe."""
        run = self.m.run
        run.log("error", f"{err.kind}: {err.message}\n{err.detail}".rstrip())
        if run.running and err.kind != "protocol":  # a skipped bad line does not end a run
            run.finish("failed")
        self._show_error(err)

    def _show_error(self, err) -> None:
        action = "resume" if self.m.run.can_resume else ""
        self.notify.emit(plain_error(err), "error", action)

    def _tell(self, err) -> None:
        self.notify.emit(plain_error(err), "error", "")

    # ---------------------------------------------------------------- data
    def load_data(self, paths: list[str]) -> None:
        self.m.data.begin_scan(paths)
        self.request(P.InspectData(paths=list(paths), grouping=self.m.data.grouping()), self._on_report,
                     self._on_report_error, busy="scan")

    def _on_report(self, reply) -> None:
        data = self.m.data
        if data.paths and getattr(reply, "report", None) is not None:
            data.set_report(reply.report)  # a fatal problem is shown on the Data page itself
            self.m.backbones.set_data_modality(data.modality)
        self._describe_selected()
        self.preview_recipe()

    def _on_report_error(self, err) -> None:
        self.m.data.set_error(plain_error(err))
        self._tell(err)

    # ---------------------------------------------------------------- backbones
    def refresh_backbones(self) -> None:
        """Ask again which backbones have their weights (after a library import or removal)."""
        self.request(P.ListBackbones(), self._on_backbones)

    def _on_backbones(self, reply) -> None:
        bm = self.m.backbones
        bm.set_backbones(list(getattr(reply, "items", []) or []))
        preferred = bm.choice(self.prefer_backbone)
        if preferred is not None and preferred.enabled:
            bm.select(preferred.id)
            self.prefer_backbone = None
        bm.set_data_modality(self.m.data.modality)
        self._describe_selected()

    def choose_backbone(self, backbone: str) -> None:
        if self.m.backbones.select(backbone):
            self._describe_selected()
            self.preview_recipe()

    def _describe_selected(self) -> None:
        bm = self.m.backbones
        if bm.selected and bm.info_for != bm.selected:
            self.request(P.DescribeBackbone(backbone=bm.selected), self._on_info)

    def _on_info(self, info) -> None:
        bm = self.m.backbones
        if info.backbone and info.backbone != bm.selected:
            return  # the person picked another one meanwhile
        bm.set_info(bm.selected, list(info.stages or []), info.total_params, info.recommended_freeze)

    # ---------------------------------------------------------------- what Auto will do
    def preview_recipe(self) -> None:
        """Ask the engine (soon, once per burst of changes) what a start with the current choices would use."""
        self.recipe_asker.soon()

    def current_config(self) -> dict:
        """The config a start would send now (raises ValueError/ConfigError with a plain sentence)."""
        m = self.m
        return build_config(m.data.paths, m.backbones.selected, m.backbones.freeze, self.train_settings(),
                            self.runs_root, data_options=m.data.run_options())

    # ---------------------------------------------------------------- training
    def start_training(self, resume_from: str | None = None) -> bool:
        if self.m.run.running:
            return False
        try:
            config = self.current_config()
        except (ValueError, ConfigError) as exc:
            self.notify.emit(str(exc), "error", "")
            return False
        self.recipe_asker.now_if_due()  # the settings changed just now: show what this run will use
        self._launch(config, resume_from)
        return True

    def resume(self) -> None:
        run = self.m.run
        if not run.can_resume or not run.config:
            return
        config, run_dir = run.config, run.run_dir
        self.restart_engine(then=lambda: self._launch(config, run_dir))

    def _launch(self, config: dict, resume_from: str | None) -> None:
        self.cancel_requested = False
        self.m.run.start(config, resume_dir=resume_from)
        if self.hello is None:
            self.on_ready_once.append(lambda: self.client.start_run(config, resume_from=resume_from))
        else:
            self.client.start_run(config, resume_from=resume_from)

    def cancel(self) -> None:
        if self.m.run.running:
            self.cancel_requested = True
            self.client.cancel()
            self.m.run.set_detail("cancelling…")

    def _on_progress(self, p) -> None:
        if getattr(p, "phase", "") == "scan":
            self.m.data.on_scan_progress(p.step, p.steps)
        else:
            self.m.run.on_progress(p)

    def _on_result(self, r) -> None:
        """A run ended. A cancelled run also sends one (without metrics); its bye says so."""
        run = self.m.run
        if not r.metrics or self.cancel_requested:
            run.run_dir = r.run_dir or run.run_dir
            return
        run.finish("completed", r.run_dir)
        self.m.results.set_result(r.run_dir, r.metrics)

    def _on_bye(self, b) -> None:
        run = self.m.run
        if run.running and b.reason in ("cancelled", "failed", "completed"):
            # "completed" without a result with metrics: nothing to show, treat as failed
            run.finish(b.reason if b.reason != "completed" else "failed")
            if b.reason == "cancelled":
                extra = " You can resume from the last checkpoint." if run.can_resume else ""
                self.notify.emit(f"Training was cancelled.{extra}", "info", "resume" if run.can_resume else "")

    def load_cell_files(self, split: str, files: list) -> None:
        """Predict the split's files once so every confusion-matrix cell can list its files."""
        res = self.m.results
        self.request(P.Predict(model=res.run_dir, paths=[f for f, _ in files], top_k=1),
                     lambda reply: res.set_cell_predictions(split, files, list(reply.items or [])))

    # ---------------------------------------------------------------- try it, save
    def predict(self, paths: list[str]) -> None:
        res = self.m.results
        if not res.ready or not paths:
            return
        k = max(1, min(3, len(res.classes()) or 3))
        self.request(P.Predict(model=res.run_dir, paths=list(paths), top_k=k),
                     lambda reply: res.set_predictions(list(reply.items or [])), self._tell, busy="predict")

    def save(self, folder: str) -> None:
        res = self.m.results
        if not res.ready or not folder:
            return
        out = str(Path(folder) / f"{Path(res.run_dir).name or 'model'}.tsbundle")
        self.request(P.SaveBundle(run_dir=res.run_dir, out=out), self._on_saved, self._tell, busy="save")

    def _on_saved(self, reply) -> None:
        self.m.results.set_saved(reply.path, reply.model_card)
        self.notify.emit(f"Saved the model to {reply.path}.", "success", "")
