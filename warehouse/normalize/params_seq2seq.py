"""Parameter formulas for encoder-decoder families (see ``params.py``).

- ``t5`` (t5, mt5, umt5): shared embedding, per stack relative position biases (one per stack; umt5: one per
  layer), gated-GELU feed-forward when ``feed_forward_proj`` is gated, RMS norms without bias, an untied LM
  head when ``tie_word_embeddings`` is false (mt5, umt5, flan-t5). Leaves out the legacy relative-attention
  bias that the original t5-small/base/large checkpoints also save in the first decoder block's
  cross-attention (t5-small: 60,506,624 here, 60,506,880 on the Hub; flan-t5 checkpoints match exactly).
- ``bart`` (bart, mbart, marian, pegasus, plbart): learned positions with BART's offset of 2 (bart, mbart,
  plbart) or sinusoidal tables saved as weights (marian, pegasus), embedding LayerNorms (bart, mbart,
  plbart), final LayerNorms per stack (mbart, pegasus), a tied LM head, and ``final_logits_bias`` (a buffer
  the checkpoints save) when the architecture is ``*ForConditionalGeneration``. Leaves out classification
  heads. facebook/bart-base: 139,420,416 and facebook/mbart-large-50-many-to-many-mmt: 611,129,542, both
  exactly the Hub's totals.
- ``whisper``: two input convolutions, sinusoidal encoder positions (saved), learned decoder positions,
  k_proj without bias, a tied output projection. whisper-tiny: 37,760,640 (the paper: 39M).
"""

from __future__ import annotations

from typing import Any

from warehouse.normalize.params_common import architectures, dims, integer

LEARNED_OFFSET = {"bart": 2, "mbart": 2, "plbart": 2}  # BartLearnedPositionalEmbedding adds 2 rows
EMBEDDING_NORM = {"bart", "mbart", "plbart"}
FINAL_NORM = {"mbart", "pegasus"}


def t5(cfg: dict[str, Any], model_type: str) -> int | None:
    d, kv, heads, ff, L, V = dims(cfg, "d_model", "d_kv", "num_heads", "d_ff", "num_layers", "vocab_size")
    if None in (d, kv, heads, ff, L, V):
        return None
    Ld = integer(cfg, "num_decoder_layers") or L
    buckets = integer(cfg, "relative_attention_num_buckets") or 32
    gated = str(cfg.get("feed_forward_proj", "relu")).startswith("gated")
    attn = 4 * d * heads * kv
    ffn = d * ff * (2 if gated else 1) + ff * d
    rel = buckets * heads * ((L + Ld) if model_type == "umt5" else 2)
    tied = cfg.get("tie_word_embeddings", model_type == "t5") is not False
    return V * d + L * (attn + ffn + 2 * d) + Ld * (2 * attn + ffn + 3 * d) + 2 * d + rel + (0 if tied else V * d)


def bart(cfg: dict[str, Any], model_type: str) -> int | None:
    d, Le, Ld, fe, fd, V, P = dims(
        cfg, "d_model", "encoder_layers", "decoder_layers", "encoder_ffn_dim", "decoder_ffn_dim", "vocab_size", "max_position_embeddings"
    )
    if None in (d, Le, Ld, fe, fd, V, P):
        return None
    attn = 4 * (d * d + d)
    enc = attn + 2 * d + (d * fe + fe + fe * d + d) + 2 * d
    dec = 2 * attn + 4 * d + (d * fd + fd + fd * d + d) + 2 * d
    positions = 2 * (P + LEARNED_OFFSET.get(model_type, 0)) * d
    norms = (4 * d if model_type in EMBEDDING_NORM else 0) + (4 * d if model_type in FINAL_NORM else 0)
    decoder_vocab = integer(cfg, "decoder_vocab_size") or V
    embeddings = V * d + (decoder_vocab * d if cfg.get("share_encoder_decoder_embeddings") is False else 0)
    logits_bias = decoder_vocab if any(a.endswith("ForConditionalGeneration") for a in architectures(cfg)) else 0
    return embeddings + positions + norms + Le * enc + Ld * dec + logits_bias


def whisper(cfg: dict[str, Any], model_type: str) -> int | None:
    d, Le, Ld, fe, fd, V, mels, src, tgt = dims(
        cfg, "d_model", "encoder_layers", "decoder_layers", "encoder_ffn_dim", "decoder_ffn_dim", "vocab_size",
        "num_mel_bins", "max_source_positions", "max_target_positions",
    )  # fmt: skip
    if None in (d, Le, Ld, fe, fd, V, mels, src, tgt):
        return None
    attn = 4 * d * d + 3 * d  # k_proj has no bias
    enc = attn + 2 * d + (d * fe + fe + fe * d + d) + 2 * d
    dec = 2 * attn + 4 * d + (d * fd + fd + fd * d + d) + 2 * d
    convs = (mels * d * 3 + d) + (d * d * 3 + d)
    return convs + src * d + Le * enc + 2 * d + V * d + tgt * d + Ld * dec + 2 * d


FORMULAS = {"t5": t5, "bart": bart, "whisper": whisper}
