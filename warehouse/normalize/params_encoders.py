"""Parameter formulas for encoder families beyond ``bert_encoder`` (see ``params.py``).

Backbone weights and biases plus the head the config's ``architectures`` names where the formula knows it;
never buffers (``position_ids``, which the Hub's safetensors totals include when a checkpoint saved them).

- ``distilbert``: + the masked-LM head (DistilBertForMaskedLM) or the sequence-classification head.
  distilbert-base-uncased: 66,985,530 and its SST-2 finetune: 66,955,010, both the Hub's totals.
- ``albert``: one shared layer group (ALBERT shares weights across layers), the factorized embedding
  projection, the pooler; the masked-LM head counts its bias twice because checkpoints save both
  ``predictions.bias`` and ``predictions.decoder.bias`` (albert-base-v2: 11,842,272, the Hub's total).
- ``deberta`` / ``deberta_v2``: disentangled attention (v1: fused in_proj with q/v biases and position
  projections; v2: separate projections, shared position keys, position buckets, the optional conv layer).
  microsoft/deberta-v3-base: 183,831,552 (the card: 86M backbone + 98M embedding). Leaves out LM heads.
- ``xlnet``: two-stream relative attention (q, k, v, o, r, three biases, segment embeddings), the LM head's
  bias (XLNetLMHeadModel ties its weight). xlnet-base-cased: 116,750,336.
- ``vit`` (vit, deit): patch embedding, class (and DeiT distillation) tokens, positions, the pooler
  (ViTModel) or the classifier(s) named by the architecture. google/vit-base-patch16-224: 86,567,656.
- ``wav2vec2`` (wav2vec2, hubert): the convolutional feature encoder, feature projection, weight-normed
  positional convolution, the masked-time embedding, the CTC head when named. Leaves out the pretraining
  quantizer and adapters. wav2vec2-large-xlsr-53-english: 315,472,545, the Hub's total.
"""

from __future__ import annotations

from typing import Any

from warehouse.normalize.params_common import architectures, dims, int_list, integer, num_labels


def _ffn_block(h: int, i: int) -> int:
    """A post-attention block: attention output LayerNorm, feed-forward in and out, its LayerNorm."""
    return 2 * h + (h * i + i) + (i * h + h) + 2 * h


def _named(cfg: dict[str, Any], suffix: str) -> bool:
    return any(a.endswith(suffix) for a in architectures(cfg))


def distilbert(cfg: dict[str, Any], model_type: str) -> int | None:
    d, L, hd, V, P = dims(cfg, "dim", "n_layers", "hidden_dim", "vocab_size", "max_position_embeddings")
    if None in (d, L, hd, V, P):
        return None
    total = V * d + P * d + 2 * d + L * (4 * (d * d + d) + _ffn_block(d, hd))
    if _named(cfg, "ForMaskedLM"):
        total += (d * d + d) + 2 * d + V
    elif _named(cfg, "ForSequenceClassification"):
        total += (d * d + d) + d * num_labels(cfg) + num_labels(cfg)
    return total


def albert(cfg: dict[str, Any], model_type: str) -> int | None:
    h, i, V, P = dims(cfg, "hidden_size", "intermediate_size", "vocab_size", "max_position_embeddings")
    if None in (h, i, V, P):
        return None
    e = integer(cfg, "embedding_size") or 128
    t = integer(cfg, "type_vocab_size") or 2
    groups = integer(cfg, "num_hidden_groups") or 1
    inner = integer(cfg, "inner_group_num") or 1
    layer = 4 * (h * h + h) + _ffn_block(h, i)
    total = (V + P + t) * e + 2 * e + (e * h + h) + groups * inner * layer + (h * h + h)
    if _named(cfg, "ForMaskedLM") or _named(cfg, "ForPreTraining"):
        total += (h * e + e) + 2 * e + 2 * V
    return total


def _att_types(cfg: dict[str, Any]) -> set[str]:
    raw = cfg.get("pos_att_type") or []
    items = raw.split("|") if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return {str(x).strip().lower() for x in items}


def deberta(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, i, V, P = dims(cfg, "hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size", "max_position_embeddings")
    if None in (h, L, i, V, P):
        return None
    v2 = model_type == "deberta-v2"
    e = integer(cfg, "embedding_size") or h
    emb = V * e + (P * e if cfg.get("position_biased_input", not v2) else 0) + 2 * h + (e * h if e != h else 0)
    types = _att_types(cfg) if cfg.get("relative_attention") else set()
    if v2:
        attn = 3 * (h * h + h)
        if cfg.get("share_att_key") is False:
            attn += (h * h + h) * (("c2p" in types) + ("p2c" in types))
    else:
        attn = 3 * h * h + 2 * h + (h * h if "c2p" in types else 0) + (h * h + h if "p2c" in types else 0)
    total = emb + L * (attn + (h * h + h) + _ffn_block(h, i))
    if cfg.get("relative_attention"):
        span = (integer(cfg, "position_buckets") if v2 else None) or integer(cfg, "max_relative_positions") or P
        total += 2 * span * h
        if v2 and "layer_norm" in str(cfg.get("norm_rel_ebd", "")):
            total += 2 * h
    kernel = integer(cfg, "conv_kernel_size") if v2 else None
    if kernel:
        total += h * h * kernel // (integer(cfg, "conv_groups") or 1) + h + 2 * h
    return total


def xlnet(cfg: dict[str, Any], model_type: str) -> int | None:
    d, L, n, di, V = dims(cfg, "d_model", "n_layer", "n_head", "d_inner", "vocab_size")
    if None in (d, L, n, di, V):
        return None
    dh = d // n
    layer = 5 * d * n * dh + 3 * n * dh + 2 * n * dh + 2 * d + (d * di + di) + (di * d + d) + 2 * d
    return V * d + d + L * layer + (V if _named(cfg, "LMHeadModel") else 0)


def vit(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, i, size, patch = dims(cfg, "hidden_size", "num_hidden_layers", "intermediate_size", "image_size", "patch_size")
    if None in (h, L, i, size, patch):
        return None
    channels = integer(cfg, "num_channels") or 3
    tokens = 2 if model_type == "deit" else 1
    emb = channels * patch * patch * h + h + tokens * h + ((size // patch) ** 2 + tokens) * h
    total = emb + L * (4 * (h * h + h) + _ffn_block(h, i)) + 2 * h  # layernorm_before/after: in _ffn_block
    labels = num_labels(cfg)
    if _named(cfg, "ForImageClassificationWithTeacher"):
        return total + 2 * (h * labels + labels)
    if _named(cfg, "ForImageClassification"):
        return total + h * labels + labels
    return total + (h * h + h if _named(cfg, "Model") else 0)


def _feature_encoder(cfg: dict[str, Any]) -> int | None:
    conv_dim, kernels = int_list(cfg, "conv_dim"), int_list(cfg, "conv_kernel")
    if conv_dim is None or kernels is None or len(conv_dim) != len(kernels):
        return None
    bias = cfg.get("conv_bias") is True
    total, previous = 0, 1
    for out, kernel in zip(conv_dim, kernels):
        total += previous * out * kernel + (out if bias else 0)
        previous = out
    norm = cfg.get("feat_extract_norm", "group")
    return total + (2 * conv_dim[0] if norm == "group" else sum(2 * c for c in conv_dim))


def wav2vec2(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, i, K, groups = dims(cfg, "hidden_size", "num_hidden_layers", "intermediate_size", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups")
    features = _feature_encoder(cfg)
    if None in (h, L, i, K, groups, features):
        return None
    last = int_list(cfg, "conv_dim")[-1]  # type: ignore[index]
    projection_norm = model_type != "hubert" or cfg.get("feat_proj_layer_norm", True) is not False
    masked = (cfg.get("mask_time_prob", 0.05) or 0) > 0 or (cfg.get("mask_feature_prob", 0) or 0) > 0
    total = features + (2 * last if projection_norm else 0) + (last * h + h) + (h if masked else 0)
    total += h * (h // groups) * K + K + h  # positional conv: weight_v, weight_g, bias
    total += 2 * h + L * (4 * (h * h + h) + _ffn_block(h, i))
    V = integer(cfg, "vocab_size")
    if _named(cfg, "ForCTC") and V:
        total += h * V + V
    return total


FORMULAS = {
    "distilbert": distilbert, "albert": albert, "deberta": deberta, "xlnet": xlnet, "vit": vit, "wav2vec2": wav2vec2,
}  # fmt: skip
