"""The engine process: requests arrive as JSON Lines on stdin, events leave on stdout.

Threads, so that `ping` and `cancel` are answered while work goes on:
- the main thread reads stdin and dispatches (never blocks on work);
- one run thread per training run (`start`); it ends with `bye(completed|cancelled|failed)`;
- one request thread answers describe_backbone / inspect_data / predict / explain / ... in turn,
  each reply carrying `request_seq` = the request's seq;
- a heartbeat thread (every 2 s: memory in use, busy flag);
- a probe thread that imports torch once at start-up and re-sends `hello` with devices.

Hello is sent twice on purpose: at once (before torch is imported, `device == ""` means
"still probing") so the app knows within a fraction of a second that the engine is alive,
then again when torch has loaded, with `device`/`devices` filled in. A bad or unknown
request never kills the engine; EOF on stdin (the app went away) cancels the run, waits
for its checkpoint and exits, so no orphan keeps the GPU.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
from pathlib import Path

from . import __version__, jobs, protocol, runtime
from .config import ConfigError, RunConfig
from .errors import Cancelled, DataError, EngineError
from .failures import error_message  # noqa: F401 - the server's replies; tests read it here too
from .runlog import RunLog
from .stdio import ProtocolOut, read_lines  # noqa: F401 - read_lines: tests read it here too

log = logging.getLogger("engine.server")

HEARTBEAT_S = 2.0
STOP_GRACE_S = 60.0  # how long a cancelled run may take to save its checkpoint on exit
SHOW_HIDDEN_ENV = "TRANSFER_STUDIO_SHOW_HIDDEN"  # "1": list the hidden test backbones too


class Server:
    """Dispatches protocol requests; `serve(stdin)` runs it until shutdown or EOF."""

    def __init__(self, out, *, heartbeat_s: float = HEARTBEAT_S, stop_grace_s: float = STOP_GRACE_S,
                 probe: bool = True):
        self.sender = protocol.Sender(ProtocolOut(out))
        self.heartbeat_s = heartbeat_s
        self.stop_grace_s = stop_grace_s
        self._probe = probe
        self._closing = threading.Event()
        self._shutdown = threading.Event()
        self._run_lock = threading.Lock()
        self._run_thread: threading.Thread | None = None
        self._run_cancel = threading.Event()
        self._requests: queue.Queue = queue.Queue()
        self._request_cancel = threading.Event()
        self._request_busy = False
        self.jobs = jobs.JobRunner(self)  # long requests (JOBS), one at a time beside the quick ones
        self._describe_cache: dict[str, protocol.BackboneInfo] = {}

    # ------------------------------------------------------------------ output
    def send(self, msg: protocol.Message) -> None:
        try:
            self.sender.send(msg)
        except Exception:  # noqa: BLE001 - e.g. a value json cannot encode; never kill the engine
            log.exception("could not send %s", msg.TYPE)

    def hello(self, device: str = "", devices: list | None = None) -> protocol.Hello:
        return protocol.Hello(engine_version=__version__, python=runtime.python_version(),
                              torch=runtime.package_version("torch"), device=device,
                              devices=list(devices or []), pid=os.getpid())

    def heartbeat(self) -> protocol.Heartbeat:
        return protocol.Heartbeat(rss_bytes=runtime.rss_bytes(), gpu_bytes=runtime.gpu_bytes(), busy=self.busy)

    @property
    def run_active(self) -> bool:
        t = self._run_thread
        return t is not None and t.is_alive()

    @property
    def busy(self) -> bool:
        return self.run_active or self._request_busy or self.jobs.busy

    # ------------------------------------------------------------------ lifecycle
    def begin(self) -> None:
        """Say hello and start the background threads (heartbeat, requests, probe)."""
        self.send(self.hello())
        self._thread(self._request_loop, "requests")
        self._thread(self.jobs.loop, "jobs")
        self._thread(self._heartbeat_loop, "heartbeat")
        if self._probe:
            self._thread(self._probe_devices, "probe")

    def serve(self, stdin) -> int:
        """Read requests until shutdown or EOF; then stop cleanly. Returns the exit code."""
        self.begin()
        try:
            for raw in read_lines(stdin, protocol.MAX_LINE_BYTES):
                if raw is None:
                    self.send(protocol.Error(kind="protocol", message="The engine ignored a request line "
                                             f"longer than {protocol.MAX_LINE_BYTES} bytes."))
                    continue
                self.handle_line(raw)
                if self._shutdown.is_set():
                    break
            else:
                log.info("stdin closed (the app went away): cancelling and exiting")
        except KeyboardInterrupt:
            log.info("interrupted: cancelling and exiting")
        return self.close()

    def close(self) -> int:
        """Cancel whatever runs, let the run save its checkpoint, say bye(shutdown)."""
        self._run_cancel.set()
        self._request_cancel.set()
        self.jobs.close()
        t = self._run_thread
        if t is not None:
            t.join(self.stop_grace_s)
            if t.is_alive():
                log.error("the run did not stop within %.0f s; exiting anyway", self.stop_grace_s)
        self._requests.put(None)
        self._closing.set()
        self.send(protocol.Bye(reason="shutdown"))
        return 0

    def _thread(self, target, name: str, *args) -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=f"engine-{name}", daemon=True)
        t.start()
        return t

    def _heartbeat_loop(self) -> None:
        while not self._closing.wait(self.heartbeat_s):
            self.send(self.heartbeat())

    def _probe_devices(self) -> None:
        try:
            from .train.device import describe, resolve_device  # imports torch: seconds

            devices = runtime.complete_devices(describe())
            self.send(self.hello(device=resolve_device("auto").type, devices=devices))
        except Exception as exc:  # noqa: BLE001
            log.exception("device probe failed")
            err = error_message(exc)
            self.send(dataclasses.replace(err, message="The training engine could not load PyTorch "
                                          f"({type(exc).__name__}: {exc}); reinstall Transfer Studio."))

    # ------------------------------------------------------------------ dispatch
    def handle_line(self, raw: bytes | str) -> None:
        """Decode one request line and act on it; never raises."""
        try:
            env = protocol.decode(raw)
            foreign = protocol.major(env.v) != protocol.major(protocol.PROTOCOL_VERSION)
        except Exception as exc:  # noqa: BLE001 - whatever a line holds, it gets an error reply
            log.warning("bad request line: %s", exc)
            self.send(protocol.Error(kind="protocol", detail=str(exc),
                                     message="The engine received a line it could not read and ignored it."))
            return
        if foreign:
            self.send(protocol.Error(kind="protocol", request_seq=env.seq,
                                     message=f"The app speaks protocol {env.v} but this engine speaks "
                                             f"{protocol.PROTOCOL_VERSION}; install matching versions."))
            return
        msg = env.message
        if isinstance(msg, protocol.Ping):
            self.send(self.heartbeat())
        elif isinstance(msg, protocol.Cancel):
            self._run_cancel.set()
            self._request_cancel.set()
        elif isinstance(msg, protocol.Shutdown):
            self._shutdown.set()
        elif isinstance(msg, protocol.CancelRequest):
            self.jobs.cancel(int(msg.target))
        elif isinstance(msg, protocol.Start):
            self.start_run(msg, env.seq)
        elif type(msg) in JOBS:
            self.jobs.put(env.seq, msg)
        elif type(msg) in REQUESTS:
            self._requests.put((env.seq, msg))
        else:  # unknown type, or an engine->app type sent the wrong way
            log.info("ignored a message of type %r", env.type)

    # ------------------------------------------------------------------ training
    def start_run(self, msg: protocol.Start, seq: int) -> None:
        with self._run_lock:
            if self.run_active:
                self.send(protocol.Error(kind="busy", request_seq=seq,
                                         message="A training run is already in progress; cancel it or wait "
                                                 "for it to finish."))
                return
            self._run_cancel = threading.Event()
            self._run_thread = self._thread(self._run, "run", msg, self._run_cancel)

    def _run(self, msg: protocol.Start, cancel: threading.Event) -> None:
        with RunLog(msg.resume_from) as runlog:
            result_seen = False

            def reporter(m: protocol.Message) -> None:
                nonlocal result_seen
                result_seen = result_seen or isinstance(m, protocol.Result)
                runlog.note(m)
                self.send(m)

            try:
                config = RunConfig.from_dict(dict(msg.config)) if msg.config else None
                if config is None and not msg.resume_from:
                    raise ConfigError("The start request carried no settings; choose data and try again.")
                if config is not None and not msg.resume_from:
                    config.validate()
                if config is not None and config.gpus > 1:  # several processes, rank 0's messages relayed
                    from .train.launch import run_in_processes

                    out = run_in_processes(config, msg.resume_from, reporter, cancel)
                else:
                    from .train import train

                    out = train(config, reporter=reporter, cancel=cancel, resume_from=msg.resume_from)
            except Cancelled:
                self.send(protocol.Bye(reason="cancelled"))
            except BaseException as exc:  # noqa: BLE001 - every failure becomes an error event
                err = error_message(exc)
                log.error("run failed (%s): %s\n%s", err.kind, err.message, err.detail)  # stderr and log.txt
                self.send(err)
                self.send(protocol.Bye(reason="failed"))
            else:
                if not result_seen:
                    self.send(protocol.Result(run_dir=str(out.get("run_dir", "")), metrics=out.get("metrics") or {}))
                self.send(protocol.Bye(reason="cancelled" if out.get("stopped") == "cancelled" else "completed"))

    # ------------------------------------------------------------------ requests
    def _request_loop(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            seq, msg = item
            self._request_cancel.clear()
            self._request_busy = True
            try:
                reply = REQUESTS[type(msg)](self, msg)
                self.send(dataclasses.replace(reply, request_seq=seq))
            except BaseException as exc:  # noqa: BLE001
                err = error_message(exc, request_seq=seq)
                log.warning("%s failed: %s\n%s", msg.TYPE, err.message, err.detail)
                self.send(err)
            finally:
                self._request_busy = False

    def list_backbones(self, msg: protocol.ListBackbones) -> protocol.Backbones:
        """Every registry entry with `weights_available`; hidden test entries only when
        TRANSFER_STUDIO_SHOW_HIDDEN=1 (the GUI tests train the tiny ones through the window)."""
        from .backbones import all_specs, locate_weights

        show_hidden = os.environ.get(SHOW_HIDDEN_ENV) == "1"
        items = []
        for spec in all_specs(include_hidden=show_hidden):
            try:
                available = spec.weights.kind == "random" or locate_weights(spec) is not None
            except EngineError:
                available = False
            items.append(dict(spec.to_dict(), weights_available=available))
        return protocol.Backbones(items=items)

    def describe_backbone(self, msg: protocol.DescribeBackbone) -> protocol.BackboneInfo:
        if msg.backbone not in self._describe_cache:  # the structure does not depend on the weights
            self._describe_cache[msg.backbone] = _describe(msg.backbone)
        return self._describe_cache[msg.backbone]

    def inspect_data(self, msg: protocol.InspectData) -> protocol.DataReport:
        """The health report, also for data that cannot be trained on (its `fatal` says why), so
        the app can show the classes and skipped files beside the fatal sentence. Only a path
        that does not exist is an error: there is nothing to report on."""
        if not msg.paths:
            raise ConfigError("No data given: name at least one folder of labeled examples.")
        paths = [str(p) for p in msg.paths]
        for p in paths:
            full = os.path.abspath(os.path.expanduser(p))
            if not os.path.exists(full):
                raise DataError(f"{full} does not exist; check the path for typos or choose the folder again.")
        from .data import health_report

        grouping = {k: msg.grouping[k] for k in ("group_by", "groups_file", "group_pattern") if k in msg.grouping}
        return protocol.DataReport(report=health_report(paths, reporter=self.send, cancel=self._request_cancel,
                                                        **grouping))

    def render_images(self, msg: protocol.RenderImages) -> protocol.Images:
        """Small PNGs of example files as the model would see them (engine.data.previews)."""
        from .data.previews import render_previews

        return protocol.Images(items=render_previews(list(msg.paths), int(msg.size), str(msg.window)),
                               window=str(msg.window))

    def resolve_config(self, msg: protocol.ResolveConfig) -> protocol.ResolvedConfig:
        """The auto recipe applied to this config and data, as a start would (engine.recipe)."""
        from .train.plan import preview

        cfg, settings, facts, estimate = preview(RunConfig.from_dict(dict(msg.config)), cancel=self._request_cancel)
        return protocol.ResolvedConfig(config=cfg.to_dict(), settings=[s.to_dict() for s in settings],
                                       facts=facts.to_dict(), estimate=estimate or {})

    def predict(self, msg: protocol.Predict) -> protocol.Predictions:
        from .bundle.reader import open_predictor

        model = Path(msg.model)
        if not model.exists():
            raise ConfigError(f"{model} does not exist; choose a trained run or a saved model bundle.")
        predictor = open_predictor(str(model))  # a run or a bundle, with its decision rule
        return protocol.Predictions(items=predictor.predict_paths([str(p) for p in msg.paths], top_k=msg.top_k))

    def explain(self, msg: protocol.Explain) -> protocol.Explained:
        """Grad-CAM maps / word attributions (engine.explain), cached per (model, file, class)."""
        from .explain import explain_paths

        if not Path(msg.model).exists():
            raise ConfigError(f"{msg.model} does not exist; choose a trained run or a saved model bundle.")
        target = None if msg.target is None else int(msg.target)
        return protocol.Explained(items=explain_paths(msg.model, [str(p) for p in msg.paths], target))

    def save_bundle(self, msg: protocol.SaveBundle) -> protocol.Saved:
        from .bundle import save_bundle

        path = Path(save_bundle(msg.run_dir, msg.out))
        card = path / "MODEL_CARD.md"
        return protocol.Saved(path=str(path), model_card=card.read_text(encoding="utf-8") if card.is_file() else "")

    def library(self, msg: protocol.Message) -> protocol.Message:
        from .library.requests import handle_library_request

        return handle_library_request(msg)

    def clinical(self, msg: protocol.Message) -> protocol.Message:
        from .evaluate.requests import handle_clinical_request

        return handle_clinical_request(msg, reporter=self.send, cancel=self._request_cancel)


REQUESTS = {
    protocol.ListBackbones: Server.list_backbones,
    protocol.DescribeBackbone: Server.describe_backbone,
    protocol.InspectData: Server.inspect_data,
    protocol.RenderImages: Server.render_images,
    protocol.ResolveConfig: Server.resolve_config,
    protocol.Predict: Server.predict,
    protocol.Explain: Server.explain,
    protocol.SaveBundle: Server.save_bundle,
    protocol.OpenBundle: jobs.open_bundle,
    protocol.ListLibrary: Server.library,
    protocol.ImportWeights: Server.library,
    protocol.RemoveFromLibrary: Server.library,
    protocol.Reconsider: Server.clinical,
    protocol.EvaluateFolder: Server.clinical,
    protocol.AuditSubgroups: Server.clinical,
    protocol.SaveReport: Server.clinical,
}


JOBS = jobs.JOBS  # long requests: answered on the job thread, with JobProgress on the way


def _describe(backbone_id: str) -> protocol.BackboneInfo:
    """Stages and parameter counts (engine.backbones.stage_summary), the recommended depth frozen."""
    from .backbones import get_spec, stage_summary

    spec = get_spec(backbone_id)
    k = int(spec.recommended_freeze)
    stages, total = stage_summary(spec, k)
    return protocol.BackboneInfo(backbone=spec.id, stages=stages, total_params=total, recommended_freeze=k)


def serve(out, stdin, **kwargs) -> int:
    """Run a Server on these streams (what `python -m engine` does)."""
    return Server(out, **kwargs).serve(stdin)
