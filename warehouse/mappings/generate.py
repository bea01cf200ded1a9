"""Generate ``arch_classes.csv`` (model_type -> encoder | decoder | encoder-decoder) from transformers itself.

A dev-time tool: ``transformers`` is a dev-only dependency (its auto-model mapping *names* and config classes
import without torch); the product reads only the CSV it writes. Run from the repo root::

    .venv/bin/python -m warehouse.mappings.generate          # rewrite warehouse/mappings/arch_classes.csv
    .venv/bin/python -m warehouse.mappings.generate --check  # exit 1 when the CSV is not what it would write

Every model type transformers knows (``CONFIG_MAPPING_NAMES``) gets a class, decided by the first rule that
applies (the ``rule`` column says which, ``evidence`` names the mapping entry or config default):

1. ``override``: ``arch_overrides.csv``, a small hand-kept file, each row with its reason (also for legacy
   types transformers no longer ships but the Hub still lists).
2. ``seq2seq-lm``: in ``MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES`` or ``MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES``.
3. ``config-encoder-decoder``: the type's config class defaults to ``is_encoder_decoder=True`` (DETR, Informer...).
4. ``masked-lm``: in ``MODEL_FOR_MASKED_LM_MAPPING_NAMES`` (before causal LM: BERT-style encoders also offer
   an LM head for decoder use, e.g. ``BertLMHeadModel``).
5. ``causal-lm``: in ``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES``.
6. ``multimodal-lm``: in the image/audio-text-to-text mappings without an encoder-decoder config: a modality
   encoder feeding a decoder LM.
7. ``encoder-head``: only encoder-style heads (classification, CTC, backbone, embeddings, segmentation...).
8. ``component``: the rest, with at most a base-model mapping: sub-configs of multi-part models
   (``clip_text_model``, ``sam_mask_decoder``, ``qwen2_vl_text``) and bare backbones, by the grammar of the config
   class name: ``*Decoder*``/``*Talker*``/``*Depth*`` is a decoder; a ``*Text*`` part takes the class of the model
   it belongs to (an encoder's text tower is an encoder, a VLM's text model a decoder, an encoder-decoder's text
   model its decoder); anything else (vision and audio towers, prompt encoders, Q-Formers, dual encoders) is an
   encoder.
"""

from __future__ import annotations

import argparse
import csv
import io
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "arch_classes.csv"
OVERRIDES = HERE / "arch_overrides.csv"
COLUMNS = ("model_type", "arch_class", "rule", "evidence")
DECODER_PARTS = ("Decoder", "Talker", "Depth", "GlobalTransformer", "CodePredictor")

SEQ2SEQ = ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES")
MASKED = ("MODEL_FOR_MASKED_LM_MAPPING_NAMES",)
CAUSAL = ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",)
MULTIMODAL = (
    "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES", "MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES",
    "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES", "MODEL_FOR_TEXT_TO_SPECTROGRAM_MAPPING_NAMES",
    "MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES",
)  # fmt: skip
BASE = ("MODEL_MAPPING_NAMES",)
NOT_HEADS = set(SEQ2SEQ + MASKED + CAUSAL + MULTIMODAL + BASE + ("CONFIG_MAPPING_NAMES",))


def read_overrides(path: Path = OVERRIDES) -> dict[str, tuple[str, str]]:
    """model_type -> (arch_class, reason); every row must give a reason."""
    rows = list(csv.DictReader(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")))
    missing = [r["model_type"] for r in rows if not (r.get("reason") or "").strip()]
    if missing:
        raise ValueError(f"{path.name}: every override needs a reason; missing for {missing}")
    return {r["model_type"]: (r["arch_class"], r["reason"].strip()) for r in rows}


def _transformers():
    """transformers' version, its auto-model mapping names, and each config class's is_encoder_decoder default."""
    warnings.filterwarnings("ignore")
    import importlib

    import transformers
    from transformers.models.auto import configuration_auto
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    modeling = importlib.import_module("transformers.models.auto.modeling_auto")  # the real module, not the lazy one
    mappings = {name: dict(value) for name, value in vars(modeling).items() if name.endswith("_MAPPING_NAMES")}
    mappings["CONFIG_MAPPING_NAMES"] = dict(configuration_auto.CONFIG_MAPPING_NAMES)
    encoder_decoder: dict[str, bool] = {}
    for model_type in configuration_auto.CONFIG_MAPPING_NAMES:
        try:
            config = configuration_auto.CONFIG_MAPPING[model_type]()
        except Exception:  # noqa: BLE001 - a config that needs arguments says nothing by default
            continue
        encoder_decoder[model_type] = bool(getattr(config, "is_encoder_decoder", False))
    return transformers.__version__, mappings, encoder_decoder


def _first(model_type: str, names: tuple[str, ...], mappings: dict[str, dict]) -> str | None:
    for name in names:
        value = mappings.get(name, {}).get(model_type)
        if value:
            return f"{name}: {value if isinstance(value, str) else '/'.join(value)}"
    return None


def classify(model_type: str, mappings: dict[str, dict], encoder_decoder: dict[str, bool], overrides: dict) -> tuple[str, str, str]:
    """(arch_class, rule, evidence) for one model type, by the module docstring's rules in order."""
    if model_type in overrides:
        klass, reason = overrides[model_type]
        return klass, "override", reason
    if hit := _first(model_type, SEQ2SEQ, mappings):
        return "encoder-decoder", "seq2seq-lm", hit
    config_class = mappings["CONFIG_MAPPING_NAMES"].get(model_type, "?")
    if encoder_decoder.get(model_type):
        return "encoder-decoder", "config-encoder-decoder", f"{config_class}().is_encoder_decoder is True"
    if hit := _first(model_type, MASKED, mappings):
        return "encoder", "masked-lm", hit
    if hit := _first(model_type, CAUSAL, mappings):
        return "decoder", "causal-lm", hit
    if hit := _first(model_type, MULTIMODAL, mappings):
        return "decoder", "multimodal-lm", hit
    heads = tuple(sorted(n for n, v in mappings.items() if n not in NOT_HEADS and model_type in v))
    if heads:
        return "encoder", "encoder-head", _first(model_type, heads, mappings) or heads[0]
    raise LookupError(f"{model_type}: a component (rule 8), decided once every other type is")


def _parent(model_type: str, decided: dict[str, tuple[str, str, str]]) -> str | None:
    """The model a component belongs to: the longest decided type its name starts with (``-`` read as ``_``)."""
    key = model_type.replace("-", "_")
    known = {t.replace("-", "_"): t for t in decided}
    parts = key.split("_")
    for end in range(len(parts) - 1, 0, -1):
        if (candidate := "_".join(parts[:end])) in known:
            return known[candidate]
    return None


def classify_component(model_type: str, config_class: str, decided: dict[str, tuple[str, str, str]]) -> tuple[str, str, str]:
    """(arch_class, "component", evidence) for a sub-config or bare backbone (rule 8)."""
    if any(part in config_class for part in DECODER_PARTS):
        return "decoder", "component", f"{config_class}: a decoder part"
    parent = _parent(model_type, decided)
    if "Text" in config_class and parent is not None:
        klass = decided[parent][0]
        klass = "decoder" if klass == "encoder-decoder" else klass
        return klass, "component", f"{config_class}: the text part of {parent} ({decided[parent][0]})"
    return "encoder", "component", f"{config_class}: a modality tower or encoder part" + (f" of {parent}" if parent else "")


def generate() -> str:
    """The CSV text: a header line naming the transformers version, then one row per model type, sorted."""
    version, mappings, encoder_decoder = _transformers()
    overrides = read_overrides()
    types = sorted(set(mappings["CONFIG_MAPPING_NAMES"]) | set(overrides))
    decided: dict[str, tuple[str, str, str]] = {}
    for model_type in types:
        try:
            decided[model_type] = classify(model_type, mappings, encoder_decoder, overrides)
        except LookupError:
            continue
    for model_type in (t for t in types if t not in decided):
        decided[model_type] = classify_component(model_type, mappings["CONFIG_MAPPING_NAMES"][model_type], decided)
    out = io.StringIO()
    out.write(f"# generated by warehouse/mappings/generate.py from transformers {version}: do not edit, see arch_overrides.csv\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for model_type in types:
        writer.writerow((model_type, *decided[model_type]))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed CSV instead of writing it")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        same = TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET.name} is {'up to date' if same else 'stale: run python -m warehouse.mappings.generate'}")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({text.count(chr(10)) - 2} model types)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
