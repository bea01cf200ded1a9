"""Parameter formulas for decoder-only families beyond llama-style ``gated_decoder`` (see ``params.py``).

Each counts the weights and biases of the backbone and the LM head as transformers builds them (an untied
head counted, a tied one once), never buffers (rotary tables, attention masks). What each leaves out:

- ``gpt_neo``: the local/global attention masks (buffers). EleutherAI/gpt-neo-125m: 125,198,592.
- ``gptj``: the causal mask buffers. GPT-J-6B: 6,050,882,784 (lm_head untied, with its bias).
- ``gpt_neox``: rotary and mask buffers. Pythia-160m: 162,322,944, the Pythia paper's total.
- ``falcon``: rotary buffers; old (7B: one parallel LayerNorm, multi-query) and new decoder architecture
  (40B/180B: two LayerNorms, ``num_kv_heads``).
- ``phi``: phi-1/1.5/2 (parallel attention and MLP, biases, an LM head with a bias).
- ``moe_decoder``: qwen2_moe / qwen3_moe (routed experts of ``moe_intermediate_size``, a router, qwen2_moe's
  shared expert and its gate; dense layers per ``mlp_only_layers`` / ``decoder_sparse_step``). Every expert
  counted: the total, not the parameters active per token.
- ``deepseek_mla``: deepseek_v2 / deepseek_v3 (multi-head latent attention, ``first_k_dense_replace`` dense
  layers, routed and shared experts, v3's router score bias). Leaves out v3's multi-token-prediction layer
  (``num_nextn_predict_layers``), which the Hub's safetensors total includes (671B here, 685B there).
"""

from __future__ import annotations

from typing import Any

from warehouse.normalize.params_common import dims, integer


def gpt_neo(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V, P = dims(cfg, "hidden_size", "num_layers", "vocab_size", "max_position_embeddings")
    if None in (h, L, V, P):
        return None
    i = integer(cfg, "intermediate_size") or 4 * h
    layer = 4 * h + 3 * h * h + (h * h + h) + (h * i + i) + (i * h + h)
    return V * h + P * h + L * layer + 2 * h


def gptj(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V = dims(cfg, "n_embd", "n_layer", "vocab_size")
    if None in (h, L, V):
        return None
    i = integer(cfg, "n_inner") or 4 * h
    layer = 2 * h + 4 * h * h + (h * i + i) + (i * h + h)
    return V * h + L * layer + 2 * h + (V * h + V)


def gpt_neox(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V, i = dims(cfg, "hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size")
    if None in (h, L, V, i):
        return None
    bias = cfg.get("attention_bias", True) is not False
    layer = 4 * h + (3 * h * h + (3 * h if bias else 0)) + (h * h + (h if bias else 0)) + (h * i + i) + (i * h + h)
    tied = cfg.get("tie_word_embeddings") is True
    return V * h * (1 if tied else 2) + L * layer + 2 * h


def falcon(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V, n = dims(cfg, "hidden_size", "num_hidden_layers", "vocab_size", "num_attention_heads")
    if None in (h, L, V, n):
        return None
    d = h // n
    new = cfg.get("new_decoder_architecture") is True
    k = (integer(cfg, "num_kv_heads") or n) if new else (1 if cfg.get("multi_query", True) is not False else n)
    i = integer(cfg, "ffn_hidden_size") or 4 * h
    bias = cfg.get("bias") is True
    norms = 2 if new or cfg.get("parallel_attn", True) is False else 1
    attn = h * (n * d + 2 * k * d) + n * d * h + ((n * d + 2 * k * d) + h if bias else 0)
    mlp = h * i + i * h + ((i + h) if bias else 0)
    return V * h + L * (norms * 2 * h + attn + mlp) + 2 * h + (0 if cfg.get("tie_word_embeddings", True) else V * h)


def phi(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V, i, n = dims(cfg, "hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size", "num_attention_heads")
    if None in (h, L, V, i, n):
        return None
    d = h // n
    k = integer(cfg, "num_key_value_heads") or n
    attn = (h * n * d + n * d) + 2 * (h * k * d + k * d) + (n * d * h + h)
    layer = 2 * h + attn + (h * i + i) + (i * h + h)
    return V * h + L * layer + 2 * h + (V * h + V)


def _attention(cfg: dict[str, Any], h: int, n: int, model_type: str) -> int:
    k = integer(cfg, "num_key_value_heads") or n
    d = integer(cfg, "head_dim") or h // n
    attn = h * n * d + 2 * h * k * d + n * d * h
    if model_type == "qwen2_moe" or cfg.get("attention_bias") is True:
        attn += n * d + 2 * k * d
    if model_type == "qwen3_moe":
        attn += 2 * d  # q_norm, k_norm
    return attn


def moe_decoder(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V, n, i, mi, E = dims(
        cfg, "hidden_size", "num_hidden_layers", "vocab_size", "num_attention_heads", "intermediate_size",
        "moe_intermediate_size", "num_experts",
    )  # fmt: skip
    if None in (h, L, V, n, i, mi, E):
        return None
    shared = integer(cfg, "shared_expert_intermediate_size") or 0
    step = integer(cfg, "decoder_sparse_step") or 1
    dense_only = set(cfg.get("mlp_only_layers") or [])
    sparse = E * 3 * h * mi + h * E + ((3 * h * shared + h) if shared else 0)
    total = 0
    for layer in range(L):
        is_sparse = layer not in dense_only and (layer + 1) % step == 0
        total += _attention(cfg, h, n, model_type) + (sparse if is_sparse else 3 * h * i) + 2 * h
    tied = cfg.get("tie_word_embeddings") is True
    return V * h * (1 if tied else 2) + total + h


def _mla(cfg: dict[str, Any], h: int, n: int) -> int | None:
    kv_rank, nope, rope, v = dims(cfg, "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
    if None in (kv_rank, nope, rope, v):
        return None
    q_rank = integer(cfg, "q_lora_rank")
    q = (h * q_rank + q_rank + q_rank * n * (nope + rope)) if q_rank else h * n * (nope + rope)
    return q + h * (kv_rank + rope) + kv_rank + kv_rank * n * (nope + v) + n * v * h


def deepseek_mla(cfg: dict[str, Any], model_type: str) -> int | None:
    h, L, V, n, i, mi, E = dims(
        cfg, "hidden_size", "num_hidden_layers", "vocab_size", "num_attention_heads", "intermediate_size",
        "moe_intermediate_size", "n_routed_experts",
    )  # fmt: skip
    attn = _mla(cfg, h, n) if None not in (h, n) else None
    if None in (h, L, V, n, i, mi, E, attn):
        return None
    shared = integer(cfg, "n_shared_experts") or 0
    first_dense = integer(cfg, "first_k_dense_replace") or 0
    sparse = (E + shared) * 3 * h * mi + h * E + (E if model_type == "deepseek_v3" else 0)
    layers = sum(attn + 2 * h + (3 * h * i if layer < first_dense else sparse) for layer in range(L))
    tied = cfg.get("tie_word_embeddings") is True
    return V * h * (1 if tied else 2) + layers + h


FORMULAS = {
    "gpt_neo": gpt_neo, "gptj": gptj, "gpt_neox": gpt_neox, "falcon": falcon, "phi": phi,
    "moe_decoder": moe_decoder, "deepseek_mla": deepseek_mla,
}  # fmt: skip
