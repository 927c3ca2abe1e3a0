"""The window's part for what outlives a session: File → Runs… / Open run… / Open bundle… / Recent
models, drops of run folders and bundles, and the windows of the long requests (a folder into a
table, the learning-rate finder). Composition only: the models and the session do the work.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from engine import history

from .reopen import is_bundle

RECENT_KEY = "recent_models"
MAX_RECENT = 10


class HistoryUi:
    def __init__(self, window):
        self.w = window
        self.runs_model = None
        self.runs_dialog = None
        self.compare_dialog = None
        self.folder_dialog = None
        self.lr_dialog = None
        s = window.session
        window.try_page.folderRequested.connect(self.choose_folder)
        window.train_page.lrFindRequested.connect(self.find_lr)
        window.train_page.resumeRequested.connect(s.resume)
        window.models.run.events.changed.connect(self._on_run_changed)

    # ---------------------------------------------------------------- menu
    def add_menu(self, file_menu, action) -> None:
        action(file_menu, "Ru&ns…", "Ctrl+R", lambda _checked=False: self.show_runs())
        action(file_menu, "Open r&un…", "Ctrl+Shift+O", lambda _checked=False: self.open_run_dialog())
        action(file_menu, "Open &bundle…", "Ctrl+B", lambda _checked=False: self.open_bundle_dialog())
        self.recent_menu = file_menu.addMenu("Recent &models")
        self.recent_menu.aboutToShow.connect(self._fill_recent)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.w.settings.get(RECENT_KEY) or []:
            self.recent_menu.addAction(path, lambda _checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(True)

    def _remember(self, path: str) -> None:
        recent = [p for p in self.w.settings.get(RECENT_KEY) or [] if p != path]
        self.w.settings.set(RECENT_KEY, [path, *recent][:MAX_RECENT])

    # ---------------------------------------------------------------- opening
    @staticmethod
    def openable(path: str) -> bool:
        return history.is_run_dir(path) or is_bundle(path)

    def open_path(self, path: str) -> bool:
        """A run folder or a bundle: show it (results, Try it, Save) and remember it."""
        s = self.w.session
        if is_bundle(path):
            s.reopen.open_bundle(path)
        elif history.is_run_dir(path):
            if not s.reopen.open_run(path):
                return False
            if self.w.results.run_dir != path:  # not finished: the Train page shows it, with Resume
                self._go_train()
        else:
            self.w.notify(f"{path} is neither a run folder nor a saved bundle.", "warning")
            return False
        self._remember(path)
        return True

    def take_drop(self, paths: list[str], on_try: bool) -> bool:
        """A dropped run folder or bundle opens; one folder dropped on the Try page (a model ready) is
        predicted whole, into the table. False: the window's usual drop (data, or a few files to try)."""
        if len(paths) != 1:
            return False
        if self.openable(paths[0]):
            self.open_path(paths[0])
            return True
        if on_try and self.w.results.ready and Path(paths[0]).is_dir():
            self.predict_folder(paths[0])
            return True
        return False

    def open_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open a run folder", str(self.w.runs_root))
        if folder:
            self.open_path(folder)

    def open_bundle_dialog(self) -> None:
        start = self.w.settings.get("last_save_dir") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.w, "Open a saved bundle (.tsbundle folder)", start)
        if folder:
            self.open_path(folder)

    # ---------------------------------------------------------------- the Runs view
    def show_runs(self):
        if self.runs_dialog is None:
            from .history_model import RunsModel
            from .runs_dialog import RunsDialog

            self.runs_model = RunsModel(str(self.w.runs_root))
            self.runs_dialog = RunsDialog(self.runs_model, self.w)
            self.runs_dialog.openRequested.connect(self.open_path)
            self.runs_dialog.resumeRequested.connect(self.resume)
            self.runs_dialog.compareRequested.connect(self.compare)
        self.runs_model.refresh()
        self._on_run_changed()
        self.runs_dialog.show()
        self.runs_dialog.raise_()
        return self.runs_dialog

    def resume(self, run_dir: str) -> None:
        if self.w.session.reopen.resume_run(run_dir):
            self._go_train()

    def _go_train(self) -> None:
        from .window import TRAIN

        self.w.go(TRAIN)

    def compare(self, paths: list) -> None:
        from .compare_dialog import CompareDialog
        from .history_model import Comparison

        runs = [r for p in paths if (r := self.runs_model.run(p)) is not None]
        if len(runs) >= 2:
            self.compare_dialog = CompareDialog(Comparison(runs), self.w)
            self.compare_dialog.show()

    def _on_run_changed(self) -> None:
        run = self.w.models.run
        if self.runs_dialog is not None:
            self.runs_dialog.set_busy_run(run.run_dir if run.running else None)
            if not run.running and run.stopped and self.runs_dialog.isVisible():
                self.runs_model.refresh()

    # ---------------------------------------------------------------- long requests
    def choose_folder(self) -> None:
        start = self.w.settings.get("last_try_dir") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.w, "Choose a folder to predict", start)
        if folder:
            self.w.settings.set("last_try_dir", folder)
            self.predict_folder(folder)

    def predict_folder(self, folder: str):
        if self.folder_dialog is None:
            from .folder_dialog import FolderDialog

            self.folder_dialog = FolderDialog(self.w.models.folder, self.w)
            self.folder_dialog.cancelRequested.connect(self.w.session.long.cancel_folder)
            self.folder_dialog.saveRequested.connect(self.save_csv)
            self.folder_dialog.againRequested.connect(self.choose_folder)
        self.w.session.long.predict_folder(folder)
        self.folder_dialog.show()
        self.folder_dialog.raise_()
        return self.folder_dialog

    def save_csv(self) -> None:
        job = self.w.models.folder
        suggested = str(Path(job.folder or str(Path.home())).with_suffix(".predictions.csv"))
        path, _ = QFileDialog.getSaveFileName(self.folder_dialog or self.w, "Save the table as CSV", suggested,
                                              "CSV files (*.csv)")
        if path:
            try:
                self.w.session.long.save_csv(path)
            except OSError as exc:
                self.w.notify(f"Could not write {path}: {exc}", "error")

    def find_lr(self):
        if self.lr_dialog is None:
            from .lr_dialog import LRDialog

            self.lr_dialog = LRDialog(self.w.models.lr, self.w)
            self.lr_dialog.cancelRequested.connect(self.w.session.long.cancel_lr)
            self.lr_dialog.useRequested.connect(self._use_lr)
        self.w.session.long.find_lr()
        self.lr_dialog.show()
        self.lr_dialog.raise_()
        return self.lr_dialog

    def _use_lr(self, lr: float) -> None:
        self.w.train_page.use_lr(lr)
        self.lr_dialog.close()
