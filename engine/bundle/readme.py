"""README.md of a bundle: how to run it without Transfer Studio, with it, and in plain Python.

Apart from the model card (model_card.py), which says what the model is and how good; this says
how to use the files beside it, for a network or a simple model alike.
"""
from __future__ import annotations

from .clinical_card import readme_decision


def render_readme(manifest: dict, rule: dict | None = None) -> str:
    modality, bb = manifest["modality"], manifest["backbone"]
    simple = manifest.get("kind") == "simple"
    extra = "pillow" if modality == "image" else ("" if simple else "tokenizers")
    lines = [f"# {manifest['name']}", "",
             f"{'An image' if modality == 'image' else 'A text'} classifier saved by Transfer Studio "
             f"{manifest['app']['version']}. MODEL_CARD.md says what it does and how well.", "",
             "## Predict without installing Transfer Studio", "",
             "```", f"pip install onnxruntime numpy {extra}".rstrip(),
             "python predict.py FILE_OR_FOLDER [...] [--top-k 3] [--csv predictions.csv]"]
    if modality == "text":
        lines.append('python predict.py --text "a sentence to classify"')
    else:
        lines += ["```", "", "DICOM inputs (`.dcm`, or files from a PACS export with no extension) also need pydicom "
                  "and pylibjpeg with its decoders (JPEG, JPEG-LS, JPEG 2000, RLE); predict.py reads them with the "
                  "window this model was trained with (`dicom_window` in preprocess.json):", "", "```",
                  "pip install pydicom pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle"]
    lines += ["```", "", "## With Transfer Studio", "", "```",
              "transfer-studio predict --model THIS_FOLDER FILE_OR_FOLDER [...]",
              "transfer-studio evaluate --model THIS_FOLDER --data LABELED_FOLDER", "```", "",
              "## In plain Python", "", "```python"]
    if simple:
        lines += ["import json, numpy as np", "from safetensors.numpy import load_file",
                  't = load_file("model.safetensors")  # classical.json says what each array is',
                  "# x: predict.py's grey_pixels() (images) or word_counts() over vocabulary.json (texts)",
                  'if "mean" in t:  # grey pixels', '    x = (x - t["mean"]) / t["scale"]',
                  "else:  # word counts -> TF-IDF", '    x = np.where(x > 0, 1 + np.log(np.maximum(x, 1)), 0) * t["idf"]',
                  "    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)",
                  'logits = x @ t["weight"].T + t["bias"]  # softmax for probabilities; labels.json names them']
    elif modality == "image":
        build = (f'timm.create_model("{bb["arch"]}", pretrained=False, num_classes=len(classes))'
                 if bb["source"] == "timm" else
                 f'torchvision.models.get_model("{bb["arch"]}", weights=None, num_classes=len(classes))')
        lines += ["import json, " + bb["source"], "from safetensors.torch import load_file",
                  'classes = json.load(open("labels.json"))["classes"]', f"model = {build}",
                  'model.load_state_dict(load_file("model.safetensors"))', "model.eval()",
                  "# inputs as preprocess.json describes; predict.py's load_any_image() and",
                  "# preprocess_image() make exactly the array the model was trained on"]
    else:
        lines += ["from transformers import AutoModelForSequenceClassification, AutoTokenizer",
                  'model = AutoModelForSequenceClassification.from_pretrained(".", local_files_only=True)',
                  'tokenizer = AutoTokenizer.from_pretrained(".", local_files_only=True)',
                  "# truncate to max_length from preprocess.json; labels are in model.config.id2label"]
    lines += ["```"] + (readme_decision(rule) if rule else [])
    lines += ["", "`manifest.json` lists the sha256 of every file; Transfer Studio and predict.py refuse a "
              "bundle whose files were changed."]
    return "\n".join(lines) + "\n"
