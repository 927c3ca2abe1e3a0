"""engine.server in-process, with a scripted stand-in for engine.train: how runs, requests,
cancels and failures become protocol messages. No torch is imported here."""
from __future__ import annotations

import io
import threading
import types

import pytest

from engine import protocol, server
from engine.errors import Cancelled, NanLossError

WAIT_S = 10.0
MESSAGE_WAIT_S = 60.0  # an upper bound only: a loaded 2-core machine can take over 10 s to scan and resolve


class Capture:
    """A thread-safe output stream that decodes what the server sends."""

    def __init__(self):
        self._cond = threading.Condition()
        self._text = ""

    def write(self, text: str) -> None:
        with self._cond:
            self._text += text
            self._cond.notify_all()

    def flush(self) -> None:
        pass

    @property
    def messages(self) -> list[protocol.Message]:
        with self._cond:
            return self._decoded()

    def of(self, cls) -> list:
        return [m for m in self.messages if isinstance(m, cls)]

    def wait_for(self, cls, pred=lambda m: True):
        """The first message of this type satisfying pred (waits for it to be sent)."""
        def found():
            return next((m for m in self._decoded() if isinstance(m, cls) and pred(m)), None)

        with self._cond:
            msg = self._cond.wait_for(found, MESSAGE_WAIT_S)
        assert msg is not None, f"no {cls.__name__} within {MESSAGE_WAIT_S} s; got {[m.TYPE for m in self.messages]}"
        return msg

    def _decoded(self):
        return [protocol.decode(line).message for line in self._text.splitlines()]


def line(msg: protocol.Message, seq: int = 1, version: str | None = None) -> bytes:
    text = protocol.encode(msg, seq)
    if version is not None:
        text = text.replace(f'"v":"{protocol.PROTOCOL_VERSION}"', f'"v":"{version}"')
    return text.encode()


@pytest.fixture
def srv():
    out = Capture()
    s = server.Server(out, heartbeat_s=3600, stop_grace_s=WAIT_S, probe=False)
    s.begin()
    s.out = out
    yield s
    s.close()


@pytest.fixture
def fake_train(monkeypatch):
    """Install a scripted engine.train; returns a holder whose .fn is what train() does."""
    holder = types.SimpleNamespace(fn=None, calls=[])

    def train(config, reporter=None, cancel=None, resume_from=None):
        holder.calls.append((config, resume_from))
        return holder.fn(reporter, cancel)

    monkeypatch.setitem(__import__("sys").modules, "engine.train", types.SimpleNamespace(train=train))
    return holder


def start(srv, seq=5, **config):
    srv.handle_line(line(protocol.Start(config={"data": ["/data"], **config}), seq))


def test_hello_is_sent_first(srv):
    hello = srv.out.messages[0]
    assert isinstance(hello, protocol.Hello)
    assert hello.protocol == protocol.PROTOCOL_VERSION and hello.pid > 0 and hello.device == ""


def test_ping_is_answered_with_a_heartbeat(srv):
    srv.handle_line(line(protocol.Ping()))
    hb = srv.out.wait_for(protocol.Heartbeat)
    assert hb.rss_bytes > 0 and hb.busy is False


def test_bad_lines_get_protocol_errors_and_the_engine_goes_on(srv):
    srv.handle_line(b"not json at all\n")
    srv.handle_line(line(protocol.Ping(), seq=7, version="2.0"))
    srv.handle_line(b'{"v":"1.0","type":"frobnicate","seq":8}\n')
    srv.handle_line(line(protocol.Hello(), seq=9))  # an engine->app type sent the wrong way
    srv.handle_line(line(protocol.Ping(), seq=10))
    srv.out.wait_for(protocol.Heartbeat)
    errors = srv.out.of(protocol.Error)
    assert [(e.kind, e.request_seq) for e in errors] == [("protocol", None), ("protocol", 7)]
    assert "2.0" in errors[1].message


def test_completed_run_sends_result_then_bye(srv, fake_train):
    def run(reporter, cancel):
        reporter(protocol.Metric(global_step=1, values={"loss": 0.5}))
        return {"run_dir": "/runs/a", "metrics": {"test": {"accuracy": 1.0}}, "stopped": "completed"}

    fake_train.fn = run
    start(srv, epochs=2)
    srv.out.wait_for(protocol.Bye)
    tail = [m.TYPE for m in srv.out.messages if not isinstance(m, (protocol.Hello, protocol.Heartbeat))]
    assert tail == ["metric", "result", "bye"]
    assert srv.out.of(protocol.Result)[0].run_dir == "/runs/a"
    assert srv.out.of(protocol.Bye)[0].reason == "completed"
    assert fake_train.calls[0][0].epochs == 2


def test_result_reported_by_train_is_not_repeated(srv, fake_train):
    def run(reporter, cancel):
        reporter(protocol.Result(run_dir="/runs/b", metrics={}))
        return {"run_dir": "/runs/b", "metrics": {}, "stopped": "early_stopping"}

    fake_train.fn = run
    start(srv)
    assert srv.out.wait_for(protocol.Bye).reason == "completed"
    assert len(srv.out.of(protocol.Result)) == 1


def test_cancel_reaches_the_run_and_ends_with_bye_cancelled(srv, fake_train):
    entered = threading.Event()

    def run(reporter, cancel):
        entered.set()
        assert cancel.wait(WAIT_S)
        raise Cancelled("cancelled")

    fake_train.fn = run
    start(srv)
    assert entered.wait(WAIT_S)
    srv.handle_line(line(protocol.Ping(), seq=6))
    assert srv.out.wait_for(protocol.Heartbeat).busy is True
    srv.handle_line(line(protocol.Cancel(), seq=7))
    assert srv.out.wait_for(protocol.Bye).reason == "cancelled"
    assert srv.out.of(protocol.Error) == []


def test_second_start_while_running_is_refused(srv, fake_train):
    release = threading.Event()
    fake_train.fn = lambda reporter, cancel: (release.wait(WAIT_S), {"run_dir": "", "stopped": "completed"})[1]
    start(srv, seq=5)
    start(srv, seq=6)
    err = srv.out.wait_for(protocol.Error)
    assert (err.kind, err.request_seq) == ("busy", 6)
    release.set()
    assert srv.out.wait_for(protocol.Bye).reason == "completed"
    assert len(fake_train.calls) == 1


def test_nan_loss_fails_the_run_and_logs_the_traceback(srv, fake_train, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints" / "last").mkdir(parents=True)

    def run(reporter, cancel):
        reporter(protocol.Checkpoint(kind="last", path=str(run_dir / "checkpoints" / "last"), epoch=1))
        raise NanLossError("The loss became NaN at step 7; lower the learning rate.")

    fake_train.fn = run
    start(srv)
    assert srv.out.wait_for(protocol.Bye).reason == "failed"
    err = srv.out.of(protocol.Error)[0]
    assert err.kind == "nan_loss" and "step 7" in err.message and "Traceback" in err.detail
    assert "NaN at step 7" in (run_dir / "log.txt").read_text()


def test_bad_config_fails_before_training(srv, fake_train):
    fake_train.fn = lambda reporter, cancel: pytest.fail("train must not run")
    start(srv, batch_size=0)
    assert srv.out.wait_for(protocol.Bye).reason == "failed"
    err = srv.out.of(protocol.Error)[0]
    assert err.kind == "config" and "Batch size" in err.message


def test_unexpected_exception_is_an_internal_error_and_the_engine_lives(srv, fake_train):
    def run(reporter, cancel):
        raise ValueError("boom")

    fake_train.fn = run
    start(srv)
    assert srv.out.wait_for(protocol.Bye).reason == "failed"
    err = srv.out.of(protocol.Error)[0]
    assert err.kind == "internal" and "ValueError: boom" in err.message and "Traceback" in err.detail
    srv.handle_line(line(protocol.Ping(), seq=9))
    srv.out.wait_for(protocol.Heartbeat)


def test_request_error_carries_the_request_seq(srv):
    srv.handle_line(line(protocol.InspectData(paths=[]), seq=42))
    err = srv.out.wait_for(protocol.Error)
    assert (err.kind, err.request_seq) == ("config", 42)


def test_slow_request_does_not_block_ping_or_cancel(srv, monkeypatch):
    entered, cancelled = threading.Event(), threading.Event()

    def slow(self, msg):
        entered.set()
        assert self._request_cancel.wait(WAIT_S)
        cancelled.set()
        return protocol.Backbones(items=[{"id": "late"}])

    monkeypatch.setitem(server.REQUESTS, protocol.ListBackbones, slow)
    srv.handle_line(line(protocol.ListBackbones(), seq=11))
    assert entered.wait(WAIT_S)
    srv.handle_line(line(protocol.Ping(), seq=12))
    assert srv.out.wait_for(protocol.Heartbeat).busy is True
    srv.handle_line(line(protocol.Cancel(), seq=13))
    reply = srv.out.wait_for(protocol.Backbones)
    assert cancelled.is_set() and reply.request_seq == 11


def test_close_cancels_the_run_then_says_bye_shutdown(fake_train):
    out = Capture()
    s = server.Server(out, heartbeat_s=3600, stop_grace_s=WAIT_S, probe=False)
    s.begin()

    def run(reporter, cancel):
        assert cancel.wait(WAIT_S)
        reporter(protocol.Checkpoint(kind="last", path="/runs/c/checkpoints/last"))
        raise Cancelled("cancelled")

    fake_train.fn = run
    start(s)
    assert s.close() == 0
    assert [m.TYPE for m in out.messages][-3:] == ["checkpoint", "bye", "bye"]
    assert [b.reason for b in out.of(protocol.Bye)] == ["cancelled", "shutdown"]


def test_serve_stops_on_shutdown_and_on_eof():
    out = Capture()
    stdin = io.BytesIO(line(protocol.Ping(), 1) + line(protocol.Shutdown(), 2) + line(protocol.Ping(), 3))
    assert server.serve(out, stdin, heartbeat_s=3600, probe=False) == 0
    assert [m.TYPE for m in out.messages] == ["hello", "heartbeat", "bye"]
    out = Capture()
    assert server.serve(out, io.BytesIO(b""), heartbeat_s=3600, probe=False) == 0
    assert [m.TYPE for m in out.messages] == ["hello", "bye"]


def test_overlong_request_line_is_skipped():
    limit = 64
    stream = io.BytesIO(b"a" * 200 + b"\n" + b"ok\n" + b"b" * 70)
    assert list(server.read_lines(stream, limit)) == [None, b"ok\n", None]


def test_errors_map_to_kinds():
    class OutOfMemoryError(RuntimeError):
        pass

    from engine.config import ConfigError

    assert server.error_message(OutOfMemoryError("CUDA out of memory")).kind == "out_of_memory"
    assert server.error_message(ConfigError("Bad."), request_seq=3).request_seq == 3
    assert server.error_message(Cancelled("stop")).kind == "cancelled"


def test_broken_pipe_is_swallowed():
    class Gone:
        def write(self, text):
            raise BrokenPipeError

        def flush(self):
            raise BrokenPipeError

    s = server.Server(Gone(), heartbeat_s=3600, probe=False)
    s.send(protocol.Log(text="nobody listens"))
    assert s.sender._stream.closed


def test_run_log_holds_lines_until_the_run_dir_exists_and_keeps_other_threads_out(tmp_path):
    import logging

    from engine.runlog import RunLog

    lib = logging.getLogger("some.library")
    lib.setLevel(logging.INFO)
    run_dir = tmp_path / "runs" / "r1"
    with RunLog() as runlog:
        lib.warning("early library warning")
        other = threading.Thread(target=lambda: lib.warning("from another thread"))
        other.start()
        other.join()
        run_dir.mkdir(parents=True)
        runlog.note(protocol.Log(text=f"Run directory: {run_dir}"))
        runlog.note(protocol.Log(level="warning", text="lr lowered"))
        lib.info("later library info")
    lib.warning("after the run")
    text = (run_dir / "log.txt").read_text()
    for expected in ("early library warning", f"Run directory: {run_dir}", "WARNING run: lr lowered",
                     "later library info"):
        assert expected in text
    assert "from another thread" not in text and "after the run" not in text
    assert text.index("early library warning") < text.index("later library info")


def test_hidden_test_backbones_are_listed_only_when_asked(srv, monkeypatch):
    monkeypatch.delenv(server.SHOW_HIDDEN_ENV, raising=False)
    ids = {b["id"] for b in srv.list_backbones(protocol.ListBackbones()).items}
    assert "efficientnet_lite0" in ids and "test_tiny_cnn" not in ids
    monkeypatch.setenv(server.SHOW_HIDDEN_ENV, "1")
    items = {b["id"]: b for b in srv.list_backbones(protocol.ListBackbones()).items}
    assert items["test_tiny_cnn"]["hidden"] and items["test_tiny_cnn"]["weights_available"]
    assert "efficientnet_lite0" in items


def _png(path, color, size=12):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path)


def test_inspect_data_reports_fatal_data_with_its_classes_and_skipped_files(srv, tmp_path):
    for i in range(3):
        _png(tmp_path / "d" / "cat" / f"c{i}.png", (200, 30 * i, 30))
    _png(tmp_path / "d" / "dog" / "d0.png", (30, 30, 200))
    (tmp_path / "d" / "dog" / "notes.png").write_bytes(b"this is a text file, not a picture")
    srv.handle_line(line(protocol.InspectData(paths=[str(tmp_path / "d")]), seq=21))
    reply = srv.out.wait_for(protocol.DataReport)
    report = reply.report
    assert reply.request_seq == 21
    assert "dog" in report["fatal"] and "fewer than 2 usable examples" in report["fatal"]
    assert {c["name"]: c["count"] for c in report["classes"]} == {"cat": 3, "dog": 1}
    assert [s["path"] for s in report["skipped"]] == [str(tmp_path / "d" / "dog" / "notes.png")]
    messages = {f["code"]: f["message"] for f in report["findings"]}
    assert messages["not_image"] == "1 file has an image extension but no image inside and will be left out."


def test_inspect_data_of_a_missing_folder_is_a_clear_error(srv, tmp_path):
    srv.handle_line(line(protocol.InspectData(paths=[str(tmp_path / "nowhere")]), seq=22))
    err = srv.out.wait_for(protocol.Error)
    assert (err.kind, err.request_seq) == ("data", 22)
    assert err.message.startswith(str(tmp_path / "nowhere")) and "does not exist" in err.message


@pytest.mark.parametrize("raw", [b"[" * 2000 + b"\n",  # fault audit: RecursionError killed the engine
                                 b'{"v":"1.0","type":"ping","seq":' + b"[" * 5000 + b"]" * 5000 + b"}\n",
                                 b'{"v":"1.0","type":"ping","seq":1e999}\n'])  # int(inf): OverflowError
def test_a_line_that_breaks_the_decoder_gets_an_error_reply_and_the_engine_goes_on(srv, raw):
    srv.handle_line(raw)
    srv.handle_line(line(protocol.Ping(), seq=2))
    srv.out.wait_for(protocol.Heartbeat)
    assert [e.kind for e in srv.out.of(protocol.Error)] == ["protocol"]
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(raw)


def test_inspect_data_groups_by_pattern_and_render_images_draws_dicom_in_a_window(srv, tmp_path):
    import base64
    import io

    import numpy as np
    from PIL import Image

    from tests.dicom_files import grey, save

    for c, cls in enumerate(("a", "b")):
        for p in range(3):
            for i in range(2):
                save(grey(np.random.default_rng(100 * c + 10 * p + i).integers(0, 3000, (8, 8)).astype(np.int16),
                          modality="CT", RescaleSlope=1, RescaleIntercept=-1024, patient_id=f"{cls}{p}"),
                     tmp_path / "d" / cls / f"pt{p}_{i}.dcm")
    srv.handle_line(line(protocol.InspectData(paths=[str(tmp_path / "d")],
                                              grouping={"group_by": "pattern", "group_pattern": r"(?P<group>pt\d)_"}),
                         seq=23))
    groups = srv.out.wait_for(protocol.DataReport).report["groups"]
    # the pattern names pt0..pt2 in both class folders: 3 groups, each spanning both classes
    assert groups["sources"] == {"pattern": 12} and groups["count"] == 3 and groups["spanning_classes"] == 3
    one = str(tmp_path / "d" / "a" / "pt0_0.dcm")
    pictures = {}
    for n, window in enumerate(("file", "bone")):
        srv.handle_line(line(protocol.RenderImages(paths=[one, str(tmp_path / "nowhere.dcm")], size=32, window=window),
                             seq=30 + n))
        reply = srv.out.wait_for(protocol.Images, lambda m, n=n: m.request_seq == 30 + n)
        good, bad = reply.items
        assert "error" in bad and good["width"] == 8
        pictures[window] = np.asarray(Image.open(io.BytesIO(base64.b64decode(good["png"]))))
    assert pictures["file"].shape == (8, 8, 3) and (pictures["file"] != pictures["bone"]).any()
    srv.handle_line(line(protocol.RenderImages(paths=[one], window="sunset"), seq=40))
    assert srv.out.wait_for(protocol.Error).kind == "config"
