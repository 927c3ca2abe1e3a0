"""The engine's two pipes, as the server uses them: stdout only for protocol lines, and dropped
quietly once the app has gone; stdin read line by line, a line over the protocol's limit skipped
rather than read into memory (standard library only)."""
from __future__ import annotations


class ProtocolOut:
    """The protocol stream; once the reader has gone (broken pipe), writes are dropped."""

    def __init__(self, stream):
        self._stream = stream
        self.closed = False

    def write(self, text: str) -> None:
        if not self.closed:
            try:
                self._stream.write(text)
            except (OSError, ValueError):
                self.closed = True

    def flush(self) -> None:
        if not self.closed:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.closed = True


def read_lines(stream, limit: int):
    """Lines of a binary stream; a line longer than `limit` is skipped and yields None."""
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while True:
                rest = stream.readline(limit + 1)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        if raw.strip():
            yield raw
