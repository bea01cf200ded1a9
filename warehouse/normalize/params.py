"""Parameter counts estimated from config.json dimensions, one documented formula per architecture family.

Used only when the Hub gives no count (no safetensors, no gguf metadata): ``params_source = 'config-estimate'``.
Each formula counts the backbone's weights and biases as the reference ``transformers`` implementation
builds them (no task heads beyond the LM head unless its docstring says so, no buffers). Which model types
use which formula is data: ``warehouse/mappings/params_formulas.csv``. The families of the config-only tail
have their own modules, each formula documented with what it leaves out and a real total it reproduces:
``params_decoders`` (gpt_neo, gptj, gpt_neox, falcon, phi, moe_decoder, deepseek_mla), ``params_seq2seq``
(t5, bart, whisper), ``params_encoders`` (distilbert, albert, deberta, xlnet, vit, wav2vec2).
``tests/test_params_formulas.py`` checks each against the published totals kept in ``tests/data``.

``gated_decoder`` (llama, mistral, mixtral, qwen2, qwen3, gemma, gemma2, phi3): with hidden h, layers L, heads n,
kv heads k (default n), head_dim d (default h/n), intermediate i, vocab V, experts E (mixtral, default 1)::

    V*h * (1 if tie_word_embeddings else 2)                       embeddings (+ untied LM head)
  + L * ( h*n*d + 2*h*k*d + n*d*h                                 q, k, v, o projections
          + [qwen2] n*d + 2*k*d                                   q/k/v biases
          + [qwen3] 2*d                                           q/k RMS norms
          + E*3*h*i + [E > 1] h*E                                 gated MLP (gate, up, down) + router
          + 2*h  [gemma2: 4*h]                                    RMS norms (gemma2: pre/post attention and MLP)
  + h                                                             final norm
  (meta-llama/Llama-3.1-8B: exactly the Hub's safetensors total, 8,030,261,248; Mixtral-8x22B: 140,620,634,112,
  exactly the Hub's total of HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1. phi3 fuses qkv and gate/up: same count)

``bert_encoder`` (bert, roberta, xlm-roberta, camembert, electra), embedding size e (default h),
positions P, token types T (default 2)::

    (V + P + T)*e + 2*e  [+ e*h + h when e != h]                 embeddings, LayerNorm, projection
  + L * ( 4*(h*h + h) + 2*h + (h*i + i) + (i*h + h) + 2*h )       attention, LayerNorms, feed-forward
  + [not electra] h*h + h                                          pooler
  (google-bert/bert-base-uncased: 109,482,240; the Hub's 110,106,428 adds the pretraining heads)

``gpt2``: positions P (n_positions), inner size I (n_inner, default 4h)::

    V*h + P*h + L * ( 4*h + 3*h*h + 3*h + h*h + h + h*I + I + I*h + h ) + 2*h
  (openai-community/gpt2: 124,439,808; the Hub's 137,022,720 also counts the attn.bias mask buffers)
"""

from __future__ import annotations

from typing import Any, Callable

from warehouse.normalize import params_decoders, params_encoders, params_seq2seq
from warehouse.normalize.params_common import integer as _int

TIED_BY_DEFAULT = {"gemma", "gemma2"}


def gated_decoder(cfg: dict[str, Any], model_type: str) -> int | None:
    h, n, L, i, V = (_int(cfg, k) for k in ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size"))
    if None in (h, n, L, i, V):
        return None
    k = _int(cfg, "num_key_value_heads") or n
    d = _int(cfg, "head_dim") or h // n
    experts = _int(cfg, "num_local_experts") or 1
    tie = cfg.get("tie_word_embeddings")
    tie = (model_type in TIED_BY_DEFAULT) if not isinstance(tie, bool) else tie
    attn = h * n * d + 2 * h * k * d + n * d * h
    if model_type == "qwen2":
        attn += n * d + 2 * k * d
    if model_type == "qwen3":
        attn += 2 * d
    mlp = experts * 3 * h * i + (h * experts if experts > 1 else 0)
    norms = 4 * h if model_type == "gemma2" else 2 * h
    return V * h * (1 if tie else 2) + L * (attn + mlp + norms) + h


def bert_encoder(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, i, V, P = (_int(cfg, k) for k in ("hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size", "max_position_embeddings"))
    if None in (h, L, i, V, P):
        return None
    e = _int(cfg, "embedding_size") or h
    t = _int(cfg, "type_vocab_size") or 2
    emb = (V + P + t) * e + 2 * e + (e * h + h if e != h else 0)
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    pooler = 0 if model_type == "electra" else h * h + h
    return emb + L * layer + pooler


def gpt2(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V = (_int(cfg, k) for k in ("n_embd", "n_layer", "vocab_size"))
    P = _int(cfg, "n_positions", "n_ctx")
    if None in (h, L, V, P):
        return None
    inner = _int(cfg, "n_inner") or 4 * h
    layer = 4 * h + 3 * h * h + 3 * h + h * h + h + h * inner + inner + inner * h + h
    return V * h + P * h + L * layer + 2 * h


FORMULAS: dict[str, Callable[[dict[str, Any], str], int | None]] = {
    "gated_decoder": gated_decoder,
    "bert_encoder": bert_encoder,
    "gpt2": gpt2,
    **params_decoders.FORMULAS,
    **params_seq2seq.FORMULAS,
    **params_encoders.FORMULAS,
}


def estimate(cfg: dict[str, Any], model_type: str | None, formulas: dict[str, str]) -> tuple[int | None, str | None]:
    """(parameter estimate, formula name), or (None, None) when no formula covers the model type."""
    name = formulas.get(model_type or "")
    if name is None:
        return None, None
    value = FORMULAS[name](cfg, model_type or "")
    return (value, name) if value is not None else (None, None)
