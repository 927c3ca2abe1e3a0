"""Where files dropped on the window go (the window's drag-and-drop events only ask here).

A run folder or a bundle opens it (window_history), folders/CSV load data, a folder without
class folders (or with an 'unlabeled' one) opens for labeling (window_labels), plain files are
tried on the trained model; on the Try page a folder is predicted (the first 200 files, or
whole through "Predict a folder").
"""
from __future__ import annotations

import os
from pathlib import Path

from .data_model import usable_drop_paths
from .label_model import is_labeling_folder

TRY_FILES_FROM_A_FOLDER = 200


def local_paths(event) -> list[str]:
    """The local files and folders a drag carries ([] for anything else)."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


def route_drop(window, paths: list[str], on_try: bool) -> None:
    if window.history.take_drop(paths, on_try):  # a run folder, a bundle, or a folder to predict whole
        return
    if window.results.ready and (on_try or not usable_drop_paths(paths)):
        files = []
        for p in paths:
            if os.path.isdir(p):
                files += sorted(str(f) for f in Path(p).rglob("*") if f.is_file())[:TRY_FILES_FROM_A_FOLDER]
            else:
                files.append(p)
        window.try_files(files)
    elif len(paths) == 1 and is_labeling_folder(paths[0]):  # no class folders yet: label it
        window.labeling.open(paths[0])
    else:
        window.load_data(paths)
