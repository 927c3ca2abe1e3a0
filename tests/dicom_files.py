"""DICOM files written by the tests with pydicom: known stored values, known tags."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"  # the wheel's own; never downloaded

# distinctive identifying values: a PHI test searches every file the app writes for them
PHI = {"PatientName": "Zyxwphi^Quorvalda", "PatientBirthDate": "19011231", "AccessionNumber": "ACCQ7731X",
       "InstitutionName": "Phisearch Memorial Hospital", "ReferringPhysicianName": "Drphi^Vexmorran",
       "StudyDescription": "PHIQ study of Quorvalda", "OtherPatientIDs": "OTHERPHI9988"}


def base(sop_class: str = SECONDARY_CAPTURE, patient_id: str = "PAT-0001", modality: str = "OT",
         syntax=ExplicitVRLittleEndian) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.Modality = patient_id, modality
    for k, v in PHI.items():
        setattr(ds, k, v)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    return ds


def grey(arr: np.ndarray, *, photometric: str = "MONOCHROME2", bits_stored: int | None = None,
         **tags) -> Dataset:
    """A greyscale dataset holding `arr` (2-D, or 3-D for frames) as stored values."""
    arr = np.asarray(arr)
    ds = base(**{k: tags.pop(k) for k in ("sop_class", "patient_id", "modality") if k in tags})
    ds.set_pixel_data(arr, photometric, bits_stored or arr.dtype.itemsize * 8)
    for k, v in tags.items():
        setattr(ds, k, v)
    return ds


def rgb(arr: np.ndarray, planar: int = 0, **tags) -> Dataset:
    ds = grey(np.zeros(arr.shape[:2], np.uint8), **tags)
    ds.PhotometricInterpretation, ds.SamplesPerPixel, ds.PlanarConfiguration = "RGB", 3, planar
    data = arr.transpose(2, 0, 1) if planar else arr
    ds.PixelData = np.ascontiguousarray(data, dtype=np.uint8).tobytes()
    return ds


def ybr_full_422(y: int, cb: int, cr: int, rows: int = 2, cols: int = 4, **tags) -> Dataset:
    """An uncompressed YBR_FULL_422 image of one colour: pairs of pixels stored Y Y Cb Cr."""
    ds = grey(np.zeros((rows, cols), np.uint8), **tags)
    ds.PhotometricInterpretation, ds.SamplesPerPixel, ds.PlanarConfiguration = "YBR_FULL_422", 3, 0
    ds.PixelData = bytes([y, y, cb, cr]) * (rows * cols // 2)
    return ds


def rle(ds: Dataset) -> Dataset:
    ds.compress(RLELossless, encoding_plugin="pydicom")
    return ds


def sr(**tags) -> Dataset:
    ds = base(COMPREHENSIVE_SR, modality="SR", **tags)
    ds.ValueType = "CONTAINER"
    return ds


def save(ds: Dataset, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_dicom_tree(root, patients: int = 3, per_patient: int = 3, size: int = 16, seed: int = 0) -> Path:
    """A PACS-like tree: 2 classes, `patients` patients each with `per_patient` images (no extension),
    MONOCHROME1 with a rescale and a window of their own, one RLE-compressed file and one SR object.

    Class 'lesion' has a bright square (dark on screen: MONOCHROME1) that 'clear' lacks."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for c, cls in enumerate(("clear", "lesion")):
        for p in range(patients):
            pid = f"PIDQ{c}{p:03d}X"  # distinctive: the PHI test searches for it
            for i in range(per_patient):
                arr = rng.integers(100, 300, (size, size)).astype(np.uint16)
                if cls == "lesion":
                    arr[4:12, 4:12] += 900
                ds = grey(arr, photometric="MONOCHROME1", patient_id=pid, RescaleSlope=2, RescaleIntercept=-1024,
                          WindowCenter=0, WindowWidth=1000)
                if c == 0 and p == 0 and i == 0:
                    rle(ds)
                save(ds, root / cls / f"study{c}{p}" / f"IM{i:05d}")  # no patient data in the path
    save(sr(patient_id="PIDQ0000X"), root / "clear" / "SR00001")
    return root
