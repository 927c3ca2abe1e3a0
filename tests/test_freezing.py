"""Stages, freezing levels, frozen BatchNorm, per-stage learning rates and the feature split."""
import dataclasses

import pytest
import torch

from engine.backbones import all_specs, build_model, build_tokenizer, get_spec, model_from_config, stage_summary
from engine.backbones.spec import Stage
from engine.errors import BackboneError
from engine.freezing import (freeze_to, num_freeze_levels, param_groups, set_frozen_eval, split_for_features,
                             stage_names, stage_of, stage_param_counts)

pytestmark = pytest.mark.usefixtures("no_network")
ALL_IDS = [s.id for s in all_specs(include_hidden=True)]


@pytest.fixture(autouse=True)
def empty_library(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_LIBRARY", str(tmp_path / "library"))


def _meta_model(spec, num_classes=3):
    with torch.device("meta"):
        return model_from_config(spec, num_classes)


@pytest.mark.parametrize("backbone", ALL_IDS)
def test_every_parameter_belongs_to_exactly_one_stage_or_the_head(backbone):
    spec = get_spec(backbone)
    model = _meta_model(spec)
    names = stage_names(spec) + [spec.head.name]
    per_stage = dict.fromkeys(names, 0)
    for name, p in model.named_parameters():
        per_stage[stage_of(name, spec)] += p.numel()
    for name in model.state_dict():  # buffers too (BatchNorm statistics)
        assert stage_of(name, spec) in names
    assert all(n > 0 for n in per_stage.values()), per_stage  # no empty stage
    assert sum(per_stage[s] for s in stage_names(spec)) == spec.num_params
    assert num_freeze_levels(spec) == len(spec.stages) >= 2
    summary, total = stage_summary(spec)
    assert [(s["name"], s["params"]) for s in summary[:-1]] == [(n, per_stage[n]) for n in stage_names(spec)]
    assert total == sum(s["params"] for s in summary) and summary[0]["prefixes"] == list(spec.stages[0].prefixes)


@pytest.mark.parametrize("backbone", ALL_IDS)
def test_freeze_to_every_level(backbone):
    spec = get_spec(backbone)
    model = _meta_model(spec)
    total = sum(p.numel() for p in model.parameters())
    for k in range(num_freeze_levels(spec) + 1):
        counts = stage_param_counts(model, spec, k)
        assert [c["name"] for c in counts] == stage_names(spec) + [spec.head.name]
        assert sum(c["params"] for c in counts) == total
        expected = sum(c["params"] for c in counts[k:])
        assert freeze_to(model, spec, k) == expected
        assert sum(p.numel() for p in model.parameters() if p.requires_grad) == expected
        assert [c["trainable"] for c in counts] == [i >= k for i in range(len(counts))]
    head_only = sum(p.numel() for n, p in model.named_parameters() if spec.head.covers(n))
    assert freeze_to(model, spec, num_freeze_levels(spec)) == head_only  # linear probe
    assert freeze_to(model, spec, 0) == total  # full fine-tune
    with pytest.raises(BackboneError, match="between 0"):
        freeze_to(model, spec, num_freeze_levels(spec) + 1)


def test_stage_of_rejects_unknown_and_ambiguous_names():
    spec = get_spec("test_tiny_cnn")
    assert stage_of("blocks.1.0.conv_pw.weight", spec) == "blocks 2"
    assert stage_of("classifier.bias", spec) == "head"
    with pytest.raises(BackboneError, match="no stage"):
        stage_of("something_else.weight", spec)
    overlapping = dataclasses.replace(spec, stages=spec.stages + (Stage("again", ("blocks.1",)),))
    with pytest.raises(BackboneError, match="several stages"):
        stage_of("blocks.1.0.conv_pw.weight", overlapping)
    assert not Stage("s", ("blocks.1",)).covers("blocks.10.weight")


def test_frozen_batchnorm_stays_in_eval_mode():
    spec = get_spec("test_tiny_cnn")
    torch.manual_seed(0)
    model = build_model(spec, 3)
    k = 3
    freeze_to(model, spec, k)
    model.train()
    set_frozen_eval(model, spec, k)
    frozen = set(stage_names(spec)[:k])
    bns = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert bns
    for name, bn in bns.items():
        assert bn.training == (stage_of(name, spec) not in frozen), name
    before = {n: bn.running_mean.clone() for n, bn in bns.items()}
    model(torch.randn(4, 3, 32, 32)).sum().backward()
    for name, bn in bns.items():
        changed = not torch.equal(before[name], bn.running_mean)
        assert changed == (stage_of(name, spec) not in frozen), name
        if stage_of(name, spec) in frozen:
            assert all(p.grad is None for p in bn.parameters())


def test_param_groups_decay_by_stage_and_skip_norms():
    spec = get_spec("test_tiny_cnn")
    model = build_model(spec, 3)
    n, k, lr, decay = num_freeze_levels(spec), 2, 1e-3, 0.5
    freeze_to(model, spec, k)
    groups = param_groups(model, spec, k, lr=lr, decay=decay, weight_decay=0.05)
    names = {id(p): name for name, p in model.named_parameters()}
    seen = []
    for g in groups:
        stages = {stage_of(names[id(p)], spec) for p in g["params"]}
        assert len(stages) == 1
        stage = stages.pop()
        distance = 0 if stage == spec.head.name else n - stage_names(spec).index(stage)
        assert g["lr"] == pytest.approx(lr * decay ** distance)
        one_d = {p.ndim <= 1 for p in g["params"]}
        assert one_d == {g["weight_decay"] == 0.0}
        assert g["weight_decay"] in (0.0, 0.05)
        seen += [id(p) for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(seen) == sorted(trainable) and len(seen) == len(set(seen))
    assert groups[0]["name"].startswith("head") and groups[0]["lr"] == lr
    assert min(g["lr"] for g in groups) == pytest.approx(lr * decay ** (n - k))
    torch.optim.AdamW(groups)  # a valid optimizer spec


def _check_split(model, spec, x):
    model.eval()
    features_fn, head_fn = split_for_features(model, spec)
    with torch.no_grad():
        for name, p in model.named_parameters():  # torchvision starts some heads at zero
            if spec.head.covers(name):
                p.normal_(0, 0.5)
        feats = features_fn(x)
        out = model(**x).logits if isinstance(x, dict) else model(x)
        assert torch.allclose(head_fn(feats), out, atol=1e-5)
        assert feats.shape[0] == 2 and out.abs().max() > 1e-3


@pytest.mark.parametrize("backbone", ["test_tiny_cnn", "efficientnet_lite0", "resnet18", "mobilenet_v3_large",
                                      "efficientnet_b0"])
def test_split_for_features_images(backbone):
    spec = get_spec(backbone)
    torch.manual_seed(0)
    model = build_model(spec, 4, "auto") if spec.weights.kind in ("package", "random") else model_from_config(spec, 4)
    _check_split(model, spec, torch.randn(2, 3, 64, 64))


def test_split_for_features_convnext_family():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    spec = get_spec("convnext_tiny")  # same class and forward pass as convnext_tiny, shrunk
    tiny = ConvNeXt([CNBlockConfig(8, 16, 1), CNBlockConfig(16, None, 1)], num_classes=3)
    _check_split(tiny, spec, torch.randn(2, 3, 32, 32))


def test_split_for_features_vit_family():
    import torchvision
    spec = get_spec("vit_b_16")
    tiny = torchvision.models.VisionTransformer(image_size=32, patch_size=16, num_layers=1, num_heads=2,
                                                hidden_dim=8, mlp_dim=16, num_classes=3)
    _check_split(tiny, spec, torch.randn(2, 3, 32, 32))


_SHRINK = {"bert": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
           "distilbert": {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64},
           "roberta": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}}


@pytest.mark.parametrize("backbone", ["test_tiny_bert", "minilm_l6", "distilbert_base_uncased", "roberta_base"])
def test_split_for_features_text(backbone):
    spec = get_spec(backbone)
    torch.manual_seed(0)
    if spec.weights.kind in ("package", "random"):
        model = build_model(spec, 3, "auto")
    else:  # same classes and forward pass, shrunk so the test stays fast
        model = model_from_config(spec, 3, {**spec.hf_config, **_SHRINK[spec.hf_config["model_type"]]})
    tok = build_tokenizer(get_spec("minilm_l6"))
    x = dict(tok(["the cat sat on the mat", "stocks fell sharply today in early trading"],
                 padding=True, return_tensors="pt"))
    _check_split(model, spec, x)
