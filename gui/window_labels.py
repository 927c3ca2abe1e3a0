"""The window's part for labeling: the Label mode (File → Label a folder…, the Data page's button,
a dropped folder without class folders), "Train on my labels", the model's guesses and the
queue order from the engine, and Relabel as… / Exclude from the Results page's error gallery.

Why a mode and not a seventh step: labeling makes the data of step 1, so it is reached from
where data comes in (a drop, the Data page, the File menu) and leads back into the usual
steps; a step in the list would sit before Data for the few who label and confuse the many
who arrive with labeled folders. Composition only: the label model, the label store and the
session do the work.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from engine.labels.sidecar import LabelStore

from .label_chart import learning_curve
from .label_model import USEFUL, LabelModel
from .label_page import LabelPage
from .label_queue import QueueAsker
from .results_page import relabelable
from .thumbnails import ThumbnailLoader


def root_of(path: str, roots: list[str]) -> str | None:
    """The data folder among `roots` that holds `path` (the deepest, if they nest)."""
    p = os.path.abspath(path)
    inside = [r for r in roots if r and os.path.isdir(r) and
              os.path.commonpath([p, os.path.abspath(r)]) == os.path.abspath(r)]
    return max(inside, key=len) if inside else None


class LabelUi:
    def __init__(self, window):
        self.w = w = window
        self.model = LabelModel()
        self.images = ThumbnailLoader(window)  # its own cache of big images, kept to the files around the current one
        self.images.fallback = lambda *args: window.thumbnails.fallback(*args)  # DICOM: drawn by the engine
        self.page = LabelPage(self.model, self.images)
        w.stack.addWidget(self.page)
        self.queue = QueueAsker(w.session, self.model, on_progress=self.page.show_ranking)
        self.train_pending = False  # "Train on my labels": start once the data and a model are ready
        self.last_fix = None  # (store, path, the row it replaced): Undo after a fix from the results
        self.page.trainRequested.connect(self.train)
        self.page.orderChanged.connect(self.set_order)
        self.page.closeRequested.connect(lambda: w.go(0))
        w.steps.itemClicked.connect(lambda _item: self.showing and w.stack.setCurrentIndex(w.steps.currentRow()))
        w.data_page.labelRequested.connect(lambda root: self.open(root) if root else self.open_dialog())
        w.results_page.relabelRequested.connect(self.relabel)
        w.results_page.excludeRequested.connect(self.exclude)
        m = w.models
        for event in (m.data.events.changed, m.backbones.events.freeze, m.backbones.events.listed):
            event.connect(self._maybe_start)
        m.results.events.result.connect(self._on_result)
        self.model.events.problem.connect(lambda text: w.notify(text, "warning"))
        w.session.requests.busyChanged.connect(lambda name, on: name == "label_queue" and self.page.set_busy(on))

    @property
    def showing(self) -> bool:
        return self.w.stack.currentWidget() is self.page

    def add_menu(self, file_menu, action) -> None:
        action(file_menu, "Label &a folder…", "Ctrl+Shift+L", lambda _checked=False: self.open_dialog())

    # ---------------------------------------------------------------- opening
    def open_dialog(self) -> None:
        recent = self.w.settings.get("recent_folders") or [str(Path.home())]
        folder = QFileDialog.getExistingDirectory(self.w, "Choose a folder of files to label", recent[0])
        if folder:
            self.open(folder)

    def open(self, root: str) -> None:
        """Show the Label mode on `root`, with the last model trained on it (if any) making guesses."""
        self.w.message.hide()
        self.model.open(root)
        self.w.settings.add_recent_folders([self.model.root])
        self.w.go(0)  # the mode belongs to step 1; a click on any step (Data too) leaves it
        self.w.stack.setCurrentWidget(self.page)
        self.page.setFocus()
        self.refresh_model_guesses()

    # ---------------------------------------------------------------- the model in the loop
    def latest_run(self) -> str | None:
        """The run whose model makes the guesses: the Results page's, if trained on this folder alone."""
        res = self.w.results
        if res.ready and res.source == "run" and self.model.root and self._run_on_root(res.run_dir):
            return res.run_dir
        return None

    def _run_data(self, run_dir: str | None) -> list[str]:
        """The data folders a run trained on: the live run's config, else the run folder's config.json."""
        run = self.w.run
        if run_dir and run.run_dir == run_dir and run.config:
            return list(run.config.get("data") or [])
        try:
            return list(json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8")).get("data") or [])
        except (OSError, ValueError, AttributeError, TypeError):
            return []

    def _run_on_root(self, run_dir: str) -> bool:
        data = self._run_data(run_dir)
        return len(data) == 1 and os.path.abspath(data[0]) == self.model.root

    def refresh_model_guesses(self) -> None:
        if not self.model.is_open:
            return
        self.page.set_curve(learning_curve(self.w.runs_root, self.model.root))
        run = self.latest_run()
        if run:
            self.queue.ask(run)

    def set_order(self, order: str) -> None:
        self.model.set_order(order)
        if order == USEFUL and not self.model.useful_order:
            self.refresh_model_guesses()

    def _on_result(self) -> None:
        if self.model.is_open:
            self.refresh_model_guesses()

    # ---------------------------------------------------------------- train on my labels
    def train(self) -> None:
        """Read the folder again (the scan takes the labels file into account), then start the usual run."""
        if self.w.run.running:
            self.w.notify("A run is already going; wait for it or cancel it on the Train page.", "warning")
            return
        self.train_pending = True
        self.w.load_data([self.model.root])

    def _maybe_start(self) -> None:
        w = self.w
        if not self.train_pending or w.data.scanning:
            return
        if not w.data.ready:
            self.train_pending = False
            return  # the Data page says why (load_data went there)
        if not w.backbones.ready:
            if w.backbones.selected is None and w.backbones.specs:
                self.train_pending = False
                w.go(1)  # no usable model: the Model step says what to do
            return
        self.train_pending = False
        w.start_training()

    # ---------------------------------------------------------------- fixing labels from the errors
    def _roots(self) -> list[str]:
        return list(self.w.data.paths) + self._run_data(self.w.results.run_dir)

    def _store_for(self, path: str) -> LabelStore | None:
        if not relabelable(path):
            self.w.notify("A row of a table keeps its label in the table; change it there.", "warning")
            return None
        root = root_of(path, self._roots())
        if root is None:
            self.w.notify(f"{path} is not inside the data folder of this run; its label cannot be changed here.")
            return None
        return LabelStore(root)

    def relabel(self, path: str, label: str) -> None:
        store = self._store_for(path)
        if store is not None:
            self._changed(store, path, store.label(path, label, reason="relabeled from the results"), f"now {label}")

    def exclude(self, path: str, reason: str) -> None:
        store = self._store_for(path)
        if store is not None:
            self._changed(store, path, store.exclude(path, reason), "excluded")

    def _changed(self, store: LabelStore, path: str, previous, what: str) -> None:
        self.last_fix = (store, path, previous)  # what Undo on the message puts back
        self.w.results_page.mark_changed(path, what)
        self._reload_label_mode(path)
        self.w.notify(f"{os.path.basename(path)} is {what} (saved in the labels file beside the data; the "
                      "original is untouched). The next run uses it.", "success", action="undo_label")

    def undo_fix(self) -> None:
        """Undo on the message after "Relabel as…" / "Exclude…": the labels file holds what it held before."""
        if self.last_fix is None:
            return
        store, path, previous = self.last_fix
        self.last_fix = None
        store.restore(path, previous)
        self.w.results_page.mark_changed(path, None)
        self._reload_label_mode(path)
        self.w.notify(f"{os.path.basename(path)}: the change is undone.", "info")

    def _reload_label_mode(self, path: str) -> None:
        if self.model.is_open and self.model.store and os.path.abspath(path).startswith(self.model.root + os.sep):
            self.model.open(self.model.root)  # the Label mode shows the new label too
