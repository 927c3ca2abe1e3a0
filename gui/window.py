"""The main window: a step sidebar (Data → Model → Train → Results → Try it → Save),
one page per step, a message bar for plain-language errors, and drops anywhere.

It owns the Qt-free models and the pages (each page subscribes to its own model's
events); `Session` talks to the engine and updates the models. What one model's change
means for another step (the step list, the Train button, the recipe shown on three
pages) is wired here, once.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow,
                               QMessageBox, QStackedWidget, QVBoxLayout, QWidget)

from .backbone_model import BackboneModel, native_input_size
from .data_model import usable_drop_paths
from .data_options import DataOptions
from .data_page import DataPage
from .drops import local_paths, route_drop
from .model_page import ModelPage
from .clinical_controller import ClinicalController
from .explain_controller import ExplainController
from .clinical_panel import ClinicalPanel
from .results_page import ResultsPage
from .session import Models, Session
from .settings import Settings, runs_dir
from .thumbnails import ThumbnailLoader
from .train_model import TrainSettings
from .train_page import TrainPage
from .try_page import SavePage, TryPage
from .widgets import MessageBar
from .window_history import HistoryUi
from .window_labels import LabelUi

STEPS = ("Data", "Model", "Train", "Results", "Try it", "Save")
DATA, MODEL, TRAIN, RESULTS, TRY, SAVE = range(len(STEPS))


def resources_dir() -> Path:
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))
    return base / "resources"


def demo_choices() -> list[str]:
    demo = resources_dir() / "demo"
    return [k for k in ("images", "text") if (demo / k).is_dir()]


class MainWindow(QMainWindow):
    DEFAULT_SIZE = (1280, 760)

    def __init__(self, client, settings: Settings | None = None, show_hidden: bool | None = None):
        super().__init__()
        self.setWindowTitle("Transfer Studio")
        self.setAcceptDrops(True)
        self.settings = settings or Settings().load()
        if show_hidden is None:
            show_hidden = os.environ.get("TRANSFER_STUDIO_SHOW_HIDDEN") == "1"
        self.runs_root = runs_dir()
        self.models = m = Models(backbones=BackboneModel(show_hidden=show_hidden))
        self.data, self.backbones, self.run, self.results, self.recipe = m.data, m.backbones, m.run, m.results, m.recipe
        self.thumbnails = ThumbnailLoader(self)
        self.library: "LibraryDialog | None" = None  # the model library window, made on first use
        self._wanted_backbone: str | None = None  # the row whose weights are being imported

        self.data_page = DataPage(self.data, self.thumbnails, demo_choices())
        self.model_page = ModelPage(self.backbones)
        self.train_page = TrainPage(self.run)
        self.results_page = ResultsPage(self.results, self.thumbnails, m.explain)
        self.clinical_panel = ClinicalPanel(m.clinical)
        self.results_page.add_tab(self.clinical_panel, "Clinical evaluation")
        self.try_page = TryPage(self.results, self.thumbnails, m.explain)
        self.save_page = SavePage(self.results)
        self.pages = [self.data_page, self.model_page, self.train_page, self.results_page, self.try_page,
                      self.save_page]
        self.train_page.set_settings(TrainSettings.from_dict(self.settings.get("train_defaults") or {}))

        self.steps = QListWidget()
        self.steps.setAccessibleName("Steps")
        for i, name in enumerate(STEPS):
            item = QListWidgetItem(f"{i + 1}   {name}")
            item.setToolTip(f"Step {i + 1}: {name} (Ctrl+{i + 1})")
            self.steps.addItem(item)
        f = self.steps.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.steps.setFont(f)
        self.steps.setFixedWidth(self.steps.fontMetrics().horizontalAdvance("0   Results  ✓") + 36)
        self.steps.setSpacing(4)
        self.stack = QStackedWidget()
        for p in self.pages:
            self.stack.addWidget(p)
        self.steps.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.engine_label = QLabel()
        self.engine_label.setWordWrap(True)
        self.engine_label.setMaximumWidth(self.steps.width())

        side = QVBoxLayout()
        side.addWidget(self.steps, 1)
        side.addWidget(self.engine_label)
        self.message = MessageBar()
        main = QVBoxLayout()
        main.addWidget(self.message)
        main.addWidget(self.stack, 1)
        central = QWidget()
        lay = QHBoxLayout(central)
        lay.addLayout(side)
        lay.addLayout(main, 1)
        self.setCentralWidget(central)

        self.session = Session(client, m, self.train_page.settings, self.runs_root, self)
        self.clinical_controller = ClinicalController(self.session, m.clinical, m.results)
        self.explain_controller = ExplainController(self.session, m.explain, m.results)
        self.data_options = DataOptions(self.session, self.data)  # grouping rescans; DICOM previews
        self.thumbnails.fallback = self.data_options.draw  # DICOM thumbnails on every page, drawn by the engine
        self.session.notify.connect(self.notify)
        self.history = HistoryUi(self)  # runs, bundles, recent models; a folder to a table; the LR finder
        self.labeling = LabelUi(self)  # the Label mode; Relabel as… / Exclude from the results
        self.message.actionTriggered.connect(self._on_message_action)
        self._connect_pages()
        self._connect_models()
        self._make_menu()
        self._restore_geometry()
        self.steps.setCurrentRow(DATA)
        self._refresh_steps()
        self._refresh_train()
        self._show_engine()
        if self.settings.problem:
            self.notify(self.settings.problem, "warning")

    # ---------------------------------------------------------------- wiring
    def _connect_pages(self) -> None:
        s = self.session
        self.data_page.openRequested.connect(self.open_folder_dialog)
        self.data_page.demoRequested.connect(self.open_demo)
        self.data_page.nextRequested.connect(lambda: self.go(MODEL))
        self.data_page.recheckRequested.connect(lambda: self.load_data(list(self.data.paths)))
        self.model_page.backboneChosen.connect(s.choose_backbone)
        self.model_page.freezeChanged.connect(lambda _k: s.preview_recipe())
        self.train_page.settingsChanged.connect(s.preview_recipe)
        self.model_page.nextRequested.connect(lambda: self.go(TRAIN))
        self.model_page.libraryRequested.connect(lambda b: self.open_library(b or None, choose_file=bool(b)))
        self.train_page.startRequested.connect(self.start_training)
        self.train_page.cancelRequested.connect(s.cancel)
        self.train_page.resultsRequested.connect(lambda: self.go(RESULTS))
        self.results_page.nextRequested.connect(lambda: self.go(TRY))
        self.results_page.cellFilesRequested.connect(s.load_cell_files)
        self.try_page.chooseRequested.connect(self.choose_try_files)
        self.try_page.nextRequested.connect(lambda: self.go(SAVE))
        self.save_page.saveRequested.connect(self.save_dialog)
        self.save_page.openFolderRequested.connect(
            lambda p: QDesktopServices.openUrl(QUrl.fromLocalFile(p)) if p else None)
        self.clinical_controller.listen_to(self.clinical_panel)
        self.explain_controller.listen_to(self.results_page, self.try_page)
        busy_pages = {"predict": self.try_page, "explain": self.try_page, "save": self.save_page}
        s.requests.busyChanged.connect(lambda name, on: name in busy_pages and busy_pages[name].set_busy(on))

    def _connect_models(self) -> None:
        """What a change in one model means beyond its own page."""
        m = self.models
        m.engine.events.changed.connect(self._show_engine)
        m.data.events.changed.connect(self._on_data)
        m.recipe.events.changed.connect(self._show_recipe)
        m.results.events.result.connect(lambda: self.go(RESULTS))
        m.results.events.result.connect(lambda: m.clinical.set_result(m.results.run_dir, m.results.metrics))
        m.run.events.started.connect(self._remember_train_settings)
        for event in (m.engine.events.changed, m.data.events.changed, m.backbones.events.listed,
                      m.backbones.events.freeze, m.run.events.changed, m.results.events.result,
                      m.results.events.predictions, m.results.events.saved):
            event.connect(self._refresh_steps)
            event.connect(self._refresh_train)

    def _make_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open folder…", QKeySequence.StandardKey.Open, self.open_folder_dialog)
        self.labeling.add_menu(file_menu, self._action)
        if demo_choices():
            self._action(file_menu, "Open &demo data", "Ctrl+D", lambda _checked=False: self.open_demo(demo_choices()[0]))
        self.recent_menu = file_menu.addMenu("&Recent folders")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        self.history.add_menu(file_menu, self._action)
        file_menu.addSeparator()
        self._action(file_menu, "Model &library…", "Ctrl+L", lambda _checked=False: self.open_library())
        file_menu.addSeparator()
        self._action(file_menu, "&Save model…", QKeySequence.StandardKey.Save, self.save_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", "Ctrl+Q", self.close)
        go_menu = self.menuBar().addMenu("&Go")
        for i, name in enumerate(STEPS):
            self._action(go_menu, f"&{i + 1} {name}", f"Ctrl+{i + 1}", lambda _checked=False, i=i: self.go(i))

    def _action(self, menu, text, shortcut, slot) -> QAction:
        a = QAction(text, self)
        a.setShortcut(QKeySequence(shortcut))
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.get("recent_folders") or []:
            self.recent_menu.addAction(path, lambda _checked=False, p=path: self.load_data([p]))
        self.recent_menu.setEnabled(True)

    # ---------------------------------------------------------------- steps
    def step_enabled(self, step: int) -> bool:
        if step == DATA:
            return True
        if step == MODEL:
            return self.data.ready
        if step == TRAIN:  # also to watch or resume a run opened from the Runs view
            return (self.data.ready and self.backbones.ready) or self.run.running or self.run.can_resume
        return self.results.ready

    def go(self, step: int) -> bool:
        if not self.step_enabled(step):
            return False
        self.steps.setCurrentRow(step)
        self.stack.setCurrentIndex(step)  # also from the Label mode, shown while step 1 stays current
        return True

    def _refresh_steps(self) -> None:
        done = {DATA: self.data.ready, MODEL: self.backbones.ready, TRAIN: self.run.stopped == "completed",
                RESULTS: False, TRY: bool(self.results.predictions), SAVE: bool(self.results.saved_path)}
        for i in range(len(STEPS)):
            item = self.steps.item(i)
            on = self.step_enabled(i)
            flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if on else Qt.ItemFlag.NoItemFlags
            item.setFlags(flags)
            item.setText(f"{i + 1}   {STEPS[i]}{'  ✓' if on and done.get(i) else ''}")

    def _show_engine(self) -> None:
        engine = self.models.engine
        self.engine_label.setText(engine.text())
        if engine.hello is not None:
            self.train_page.set_devices(engine.device, engine.devices)

    def _remember_train_settings(self, resumed: bool) -> None:
        """The form as a new run started with it: the next session opens with the same choices."""
        if not resumed:
            self.settings.set("train_defaults", self.train_page.settings().to_dict())

    def _on_data(self) -> None:
        self.results_page.text_mode = self.try_page.text_mode = self.train_page.text_mode = \
            self.data.modality == "text"

    def _refresh_train(self) -> None:
        reason = ""
        if not self.data.ready:
            reason = "First choose data in step 1."
        elif not self.backbones.ready:
            reason = "First choose a model in step 2."
        self.train_page.refresh(can_start=not reason, reason=reason)

    def _show_recipe(self) -> None:
        """The engine's answer to "what would a start use?" on every page that shows part of it."""
        r = self.recipe
        spec = self.backbones.spec(self.backbones.selected)
        auto = r.value("input_size") if self.data.modality == "image" else None
        self.train_page.set_auto_input_size(auto, native_input_size(spec))
        self.train_page.set_recipe(r)
        self.model_page.set_auto_input_size(auto)
        if r.is_auto("freeze"):  # a depth the person chose says nothing about what Auto would pick
            self.backbones.set_auto_freeze(r.value("freeze"), r.reason("freeze"))
        self.data.set_refit(r.value("refit") if r.ready else None)

    # ---------------------------------------------------------------- actions
    def notify(self, text: str, level: str = "error", action: str = "") -> None:
        label = {"resume": "Resume from last checkpoint", "restart": "Restart engine", "undo_label": "Undo"}.get(action)
        self._message_action = action
        self.message.show_message(text, level, label)

    def _on_message_action(self) -> None:
        self.message.hide()
        if self._message_action == "resume":
            self.session.resume()
            self.go(TRAIN)
        elif self._message_action == "restart":
            self.session.restart_engine()
        elif self._message_action == "undo_label":
            self.labeling.undo_fix()

    def load_data(self, paths: list[str]) -> None:
        paths = usable_drop_paths(paths)
        if not paths:
            self.notify("Drop a folder (with one sub-folder per class) or a CSV file; single files can only be "
                        "tried once a model is trained.", "warning")
            return
        self.message.hide()
        self.results_page.current_cell = None
        self.settings.add_recent_folders(paths)
        self.session.load_data(paths)
        self.go(DATA)

    def open_library(self, backbone: str | None = None, choose_file: bool = False) -> None:
        """Show the model library; for a backbone whose weights are missing, import for it and
        select it on the Model step once its weights are in."""
        if self.library is None:
            from .library_dialog import LibraryDialog

            self.library = LibraryDialog(self.session.requests, self)
            self.library.page.importedBackbones.connect(self._on_imported)
            self.library.page.libraryChanged.connect(self.session.refresh_backbones)
        self._wanted_backbone = backbone
        self.library.open_for(backbone, choose_file=choose_file)

    def _on_imported(self, backbones: list) -> None:
        if self._wanted_backbone in backbones:
            self.session.prefer_backbone = self._wanted_backbone
            self._wanted_backbone = None

    def open_demo(self, kind: str) -> None:
        self.load_data([str(resources_dir() / "demo" / kind)])

    def open_folder_dialog(self) -> None:
        recent = self.settings.get("recent_folders") or [str(Path.home())]
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of labeled files", recent[0])
        if folder:
            self.load_data([folder])

    def start_training(self) -> None:
        if self.session.start_training():
            self.message.hide()
            self.go(TRAIN)

    def choose_try_files(self) -> None:
        start = self.settings.get("last_try_dir") or str(Path.home())
        files, _ = QFileDialog.getOpenFileNames(self, "Choose files to try", start)
        if files:
            self.settings.set("last_try_dir", str(Path(files[0]).parent))
            self.try_files(files)

    def try_files(self, paths: list[str]) -> None:
        files = [p for p in paths if os.path.isfile(p)]
        if files:
            self.go(TRY)
            self.session.predict(files)

    def save_dialog(self) -> None:
        if not self.results.ready:
            return
        start = self.settings.get("last_save_dir") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose where to save the model", start)
        if folder:
            self.settings.set("last_save_dir", folder)
            self.go(SAVE)
            self.session.save(folder)

    # ---------------------------------------------------------------- drag and drop (gui/drops.py decides)
    def dragEnterEvent(self, event):
        if local_paths(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event):
        if local_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = local_paths(event)
        if paths:
            event.acceptProposedAction()
            route_drop(self, paths, on_try=self.stack.currentIndex() == TRY)

    # ---------------------------------------------------------------- window life
    def _restore_geometry(self) -> None:
        geo = self.settings.get("window_geometry")
        if geo:
            try:
                self.restoreGeometry(QByteArray.fromHex(geo.encode("ascii")))
                return
            except (ValueError, UnicodeError):
                pass
        self.resize(*self.DEFAULT_SIZE)

    def confirm_quit(self) -> bool:
        answer = QMessageBox.question(self, "Quit Transfer Studio?",
                                      "A model is training. Quit and stop it? Its last checkpoint is kept.")
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event):
        if self.run.running and not self.confirm_quit():
            event.ignore()
            return
        self.settings.set("window_geometry", bytes(self.saveGeometry().toHex()).decode("ascii"))
        try:
            self.settings.save()
        except OSError:
            pass  # never block closing on a read-only config folder
        self.session.shutdown()
        event.accept()
