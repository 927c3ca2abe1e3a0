"""Keeps the engine's reading of the data in step with the Data page's choices.

Why a file of its own: grouping and the DICOM window are choices about the data, made on
the Data page, but both need the engine: a new grouping needs a new scan (groups decide
the split), and a DICOM file can only be drawn by the engine (Qt has no DICOM reader;
the GUI imports no pydicom), in the chosen window, as training will see it.
"""
from __future__ import annotations

from engine import protocol as P

from .data_model import DataModel

PREVIEW_SIZE = 128  # pixels, longest side: the page scales down
PER_CLASS = 6


class DataOptions:
    """Rescans on a new grouping; asks for DICOM previews on a new report or window."""

    def __init__(self, session, data: DataModel):
        self.session, self.data = session, data
        self._drawn_for: tuple | None = None  # (report id, window) previews were asked for
        self._last_good = data.grouping()  # the grouping of the last scan that worked
        self._fallback: dict | None = None  # where to go back to if a new grouping's scan fails
        data.events.grouping_changed.connect(self.rescan)
        data.events.window_changed.connect(self.request_previews)
        data.events.changed.connect(self._on_changed)

    def rescan(self) -> None:
        if self.data.paths:
            self._fallback = self._last_good
            self.session.load_data(list(self.data.paths))

    def _on_changed(self) -> None:
        d = self.data
        failed = d.error or d.fatal
        if self._fallback is not None and not d.scanning and failed and d.grouping() != self._fallback:
            # a grouping the engine refused (an unreadable CSV...): say why, and go back to the grouping
            # that worked, so the data is not lost behind a problem only the grouping caused
            back, self._fallback = self._fallback, None
            self.session.notify.emit(f"{failed} The images are grouped as before.", "error", "")
            d.set_grouping(back["group_by"], back["group_pattern"] or "", back["groups_file"] or "")
            return
        if d.report is not None and not d.scanning and not d.fatal:
            self._last_good, self._fallback = d.grouping(), None
        if d.report and d.dicom and self._drawn_for != (id(d.report), d.window):
            self.request_previews()

    def request_previews(self) -> None:
        d = self.data
        if not (d.report and d.dicom):
            return
        self._drawn_for = (id(d.report), d.window)
        paths = [p for ps in d.sample_paths(per_class=PER_CLASS).values() for p in ps]
        if paths:
            self.session.request(P.RenderImages(paths=paths, size=PREVIEW_SIZE, window=d.window), self._on_images)

    def draw(self, path: str, size: int, done) -> None:
        """ThumbnailLoader's fallback: one file Qt could not read, drawn by the engine (DICOM) in the
        window chosen for the run; done(png bytes) or done(None) when the engine cannot either."""
        import base64

        def drawn(reply) -> None:
            items = list(getattr(reply, "items", []) or [])
            done(base64.b64decode(items[0]["png"]) if items and items[0].get("png") else None)

        self.session.request(P.RenderImages(paths=[path], size=size, window=self.data.window), drawn,
                             lambda err: done(None))

    def _on_images(self, reply) -> None:
        self.data.set_previews(list(getattr(reply, "items", []) or []), str(getattr(reply, "window", "file")))
