"""The mean-pooling layer computes the masked mean in a plain BERT, and survives save/load in plain transformers."""
import torch
from transformers import AutoModel, AutoModelForSequenceClassification

from engine.backbones import build_model, build_tokenizer, get_spec, weights_info
from engine.backbones.mean_pool import POOLER_SCALE, add_mean_pool_layer, has_mean_pool_layer


def _batch(tok):
    # different lengths, so padding is present and must be left out of the mean
    return tok(["a short text", "a much longer text about the law and the courts of the land", "x"],
               padding=True, return_tensors="pt")


def test_pooler_output_is_the_masked_mean_of_the_pretrained_token_vectors():
    spec = get_spec("minilm_l6")
    model = build_model(spec, 3).eval()
    assert has_mean_pool_layer(model) and model.config.num_hidden_layers == 7
    plain = AutoModel.from_pretrained(weights_info(model)["path"], local_files_only=True).eval()
    batch = _batch(build_tokenizer(spec))
    with torch.no_grad():
        h = plain(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        mean = (h * mask).sum(1) / mask.sum(1)
        want = torch.tanh(POOLER_SCALE * torch.nn.functional.layer_norm(mean, mean.shape[-1:], eps=1e-12))
        got = model.bert(**batch).pooler_output
    assert (got - want).abs().max() < 2e-2  # the [CLS] residual is 1/ALPHA of the mean's weight
    # CLS vector of the pretrained model is something else entirely
    cls = torch.tanh(POOLER_SCALE * torch.nn.functional.layer_norm(h[:, 0], h.shape[-1:], eps=1e-12))
    assert (cls - want).abs().max() > 10 * (got - want).abs().max()
    add_mean_pool_layer(model)  # idempotent
    assert model.config.num_hidden_layers == 7


def test_saved_model_reloads_in_plain_transformers_with_identical_logits(tmp_path):
    spec = get_spec("minilm_l6")
    model = build_model(spec, 4).eval()
    model.save_pretrained(tmp_path / "m")
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path / "m", local_files_only=True).eval()
    assert again.config.num_hidden_layers == 7
    batch = _batch(build_tokenizer(spec))
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, again(**batch).logits)
