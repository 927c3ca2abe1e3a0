"""How DICOM values become 8-bit pixels: the named windows (standard library only).

One home for the names and the CT presets, read by the run's config (and so the GUI and
CLI) and by engine/data/dicom.py, which a bundle's predict.py carries beside this file.
"file" = the file's own VOI LUT or Window Center/Width (its whole range when it has
none); "full" = each image's whole value range; the others are CT presets (centre and
width in Hounsfield units), applied to CT files only.
"""
CT_PRESETS = {"lung": (-600.0, 1500.0), "soft_tissue": (40.0, 400.0), "bone": (400.0, 1800.0),
              "brain": (40.0, 80.0)}
WINDOWS = ("file", "full", *CT_PRESETS)


def preset_applies(window: str, modality: str) -> bool:
    """Whether a named CT preset sets the window of a file of this Modality (else its own window does)."""
    return window in CT_PRESETS and str(modality or "").upper() == "CT"

WINDOW_TITLES = {"file": "The file's own window", "full": "Full range", "lung": "CT lung (-600/1500 HU)",
                 "soft_tissue": "CT soft tissue (40/400 HU)", "bone": "CT bone (400/1800 HU)",
                 "brain": "CT brain (40/80 HU)"}
