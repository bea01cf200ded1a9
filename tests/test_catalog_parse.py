"""The catalog's field parsers: every row of the shipped catalog, and the refusals."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from warehouse.catalog import SHIPPED_CATALOG
from warehouse.catalog.parse import parse_architecture, parse_date, parse_license, parse_params, parse_row

M, B, T = 10**6, 10**9, 10**12

# Every row of the shipped catalog: (Name, params_min, params_max, date YYYY-MM, arch_class), read by hand from the CSV.
EXPECTED = [
    ('ALBERT', 12 * M, 60 * M, "2019-09", 'encoder'),
    ('AlexaTM 20B', 20 * B, 20 * B, "2022-08", 'encoder-decoder'),
    ('Alpaca', 7 * B, 7 * B, "2023-03", 'decoder'),
    ('AlphaFold', None, None, "2019-09", 'encoder'),
    ('Anthropic Assistant', 10 * M, 52 * B, "2021-12", 'decoder'),
    ('BART', 140 * M, 400 * M, "2019-10", 'encoder-decoder'),
    ('BERT', 110 * M, 340 * M, "2018-10", 'encoder'),
    ('Big Bird', None, None, "2020-07", 'encoder'),
    ('BlenderBot3', 3 * B, 175 * B, "2022-08", 'decoder'),
    ('BLOOM', 176 * B, 176 * B, "2022-07", 'decoder'),
    ('ChatGPT', None, None, "2022-10", 'decoder'),
    ('Chinchilla', 70 * B, 70 * B, "2022-03", 'decoder'),
    ('CLIP', None, None, "2021-02", 'encoder'),
    ('CM3', None, 13 * B, "2022-01", 'decoder'),
    ('CTRL', 1630 * M, 1630 * M, "2019-09", 'decoder'),
    ('DALL-E', 12 * B, 12 * B, "2021-01", 'decoder'),
    ('DALL-E 2', 3.5 * B, 3.5 * B, "2022-04", 'encoder-decoder'),
    ('DeBERTa', 134 * M, 750 * M, "2020-06", 'encoder'),
    ('Decision Transformers', None, None, "2021-06", 'decoder'),
    ('DialoGPT', 1.5 * B, 1.5 * B, "2019-10", 'decoder'),
    ('DistilBERT', 66 * M, 66 * M, "2019-10", 'encoder'),
    ('DQ-BART', None, None, "2022-03", 'encoder-decoder'),
    ('Dolly', 6 * B, 12 * B, "2023-03", 'decoder'),
    ('E5', 300 * M, 300 * M, "2022-12", 'encoder'),
    ('ELECTRA', 110 * M, 330 * M, "2020-01", 'encoder'),
    ('ERNIE', 10 * B, 260 * B, "2019-05", 'encoder'),
    ('Flamingo', None, 80 * B, "2022-04", 'decoder'),
    ('Flan-T5', 80 * M, 11 * B, "2022-11", 'encoder-decoder'),
    ('Flan-PaLM', 8 * B, 540 * B, "2022-11", 'decoder'),
    ('Galactica', 125 * M, 120 * B, "2022-11", 'decoder'),
    ('Gato', 1.2 * B, 1.2 * B, "2022-05", 'decoder'),
    ('GLaM', 96 * B, 1.2 * T, "2021-12", 'decoder'),
    ('GLIDE', 3.5 * B, 5 * B, "2021-12", 'encoder'),
    ('GLM', 110 * M, 130 * B, "2022-03", 'encoder-decoder'),
    ('Global Context ViT', 90 * M, 90 * M, "2022-06", 'encoder'),
    ('Gopher', 280 * B, 280 * B, "2021-12", 'decoder'),
    ('GopherCite', 280 * B, 280 * B, "2022-03", 'decoder'),
    ('GPT', 117 * M, 117 * M, "2018-06", 'decoder'),
    ('GPT-2', 124 * M, 1.5 * B, "2019-02", 'decoder'),
    ('GPT-3', 175 * B, 175 * B, "2020-05", 'decoder'),
    ('GPT-3.5', 175 * B, 175 * B, "2022-10", 'decoder'),
    ('GPT-J', 6 * B, 6 * B, "2021-05", 'decoder'),
    ('GPT-Neo', 2.7 * B, 5 * B, "2021-03", 'decoder'),
    ('GPT-NeoX-20B', 20 * B, 20 * B, "2022-04", 'decoder'),
    ('HTLM', 400 * M, 400 * M, "2021-07", 'encoder-decoder'),
    ('Imagen', 2 * B, 2 * B, "2022-06", None),
    ('InstructGPT', None, None, "2022-01", 'decoder'),
    ('InstructOR', 330 * M, 330 * M, "2022-12", 'encoder-decoder'),
    ('Jurassic-1', 7.5 * B, 178 * B, "2021-09", 'decoder'),
    ('LAMDA', 137 * B, 137 * B, "2022-01", 'decoder'),
    ('LLaMA', 7 * B, 65 * B, "2023-02", 'decoder'),
    ('mBART', None, None, "2020-01", 'encoder-decoder'),
    ('Megatron', 3.9 * B, 8.3 * B, "2020-03", None),
    ('Minerva', 540 * B, 540 * B, "2022-06", 'decoder'),
    ('MT-NLG (Megatron TuringNLG)', 530 * B, 530 * B, "2021-10", 'decoder'),
    ('OpenAssistant LLaMa', 30 * B, 30 * B, "2023-04", 'decoder'),
    ('OPT', None, 175 * B, "2022-05", 'decoder'),
    ('PalM', 540 * B, 540 * B, "2022-04", 'decoder'),
    ('Pegasus', 223 * M, 568 * M, "2019-12", 'encoder-decoder'),
    ('Pythia', 70 * M, 12 * B, "2023-04", 'decoder'),
    ('RoBERTa', 356 * M, 356 * M, "2019-07", 'encoder'),
    ('SeeKer', 365 * M, 3 * B, "2022-03", None),
    ('Sparrow', 70 * B, 70 * B, "2022-09", 'decoder'),
    ('StableDiffusion', None, 890 * M, "2021-12", 'encoder-decoder'),
    ('Swin Transformer', 29 * M, 197 * M, "2021-03", 'encoder'),
    ('Switch', 1 * T, 1 * T, "2021-01", 'encoder-decoder'),
    ('T0', 3 * B, 11 * B, "2022-03", 'encoder-decoder'),
    ('T5', None, 11 * B, "2019-10", 'encoder-decoder'),
    ('Trajectory Transformers', None, None, "2021-06", 'decoder'),
    ('Transformer XL', 151 * M, 151 * M, "2019-01", 'decoder'),
    ('Turing-NLG', 17 * B, 530 * B, "2020-02", 'decoder'),
    ('UL2', 20 * B, 20 * B, "2022-05", 'encoder-decoder'),
    ('Vicuna', 13 * B, 13 * B, "2023-03", 'decoder'),
    ('ViT', 86 * M, 632 * M, "2020-10", 'encoder'),
    ('Wu Dao 2.0', 1750 * B, 1750 * B, "2021-06", 'decoder'),
    ('XLM-RoBERTa', 270 * M, 550 * M, "2019-10", 'encoder'),
    ('XLNet', 117 * M, 360 * M, "2019-05", 'decoder'),
]

with SHIPPED_CATALOG.open(encoding="utf-8", newline="") as _fh:
    SHIPPED_ROWS = {r["Name"]: r for r in csv.DictReader(_fh)}


def _n(x):
    return None if x is None else round(x)


def test_expected_covers_every_shipped_row():
    assert [e[0] for e in EXPECTED] == list(SHIPPED_ROWS)
    assert len(SHIPPED_ROWS) == 77


@pytest.mark.parametrize(("name", "pmin", "pmax", "month", "arch"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_every_shipped_row_parses(name, pmin, pmax, month, arch):
    raw = SHIPPED_ROWS[name]
    row, problems = parse_row(raw)
    assert problems == []
    assert (row["params_min"], row["params_max"]) == (_n(pmin), _n(pmax)), raw["Num. Params"]
    assert parse_params(raw["Num. Params"]).max == _n(pmax)
    assert row["date"] == dt.date(int(month[:4]), int(month[5:]), 1), raw["Date"]
    assert parse_date(raw["Date"]).date == row["date"]
    assert row["arch_class"] == arch, raw["Pretraining Architecture"]
    if row["params_sizes"]:
        assert min(row["params_sizes"]) >= (row["params_min"] or 0) and max(row["params_sizes"]) <= row["params_max"]
    if row["params_min"] is None and row["params_max"] is None:
        assert row["params_note"], "an unknown size always says why"
    if arch is None:
        assert row["arch_note"], "a NULL arch_class always says why"


@pytest.mark.parametrize(
    ("text", "lo", "hi", "sizes", "kind"),
    [
        ("340M", 340 * M, 340 * M, [340 * M], "sizes"),
        ("1.5B", 1500 * M, 1500 * M, [1500 * M], "sizes"),
        ("175B", 175 * B, 175 * B, [175 * B], "sizes"),
        ("175 B", 175 * B, 175 * B, [175 * B], "sizes"),
        ("Base = 110M, Large = 340M", 110 * M, 340 * M, [110 * M, 340 * M], "sizes"),
        ("Base=117M, Large=360M", 117 * M, 360 * M, [117 * M, 360 * M], "sizes"),
        ("80M(small), 250M(base), 780M(large), 3B(xl), 11B(xxl)", 80 * M, 11 * B, [80 * M, 250 * M, 780 * M, 3 * B, 11 * B], "sizes"),
        ("V1: 6B, V2: 12B", 6 * B, 12 * B, [6 * B, 12 * B], "sizes"),
        ("T0-3B: 3 billion, T0, T0p, T0pp: 11 billion", 3 * B, 11 * B, [3 * B, 11 * B], "sizes"),
        ("10M to 52B", 10 * M, 52 * B, [10 * M, 52 * B], "range"),
        ("29M-197M", 29 * M, 197 * M, [29 * M, 197 * M], "range"),
        ("86M(Base) to 632M (Huge)", 86 * M, 632 * M, [86 * M, 632 * M], "range"),
        ("13B (largest)", None, 13 * B, [13 * B], "open"),
        ("11 B (up to)", None, 11 * B, [11 * B], "open"),
        ("1.75T", 1750 * B, 1750 * B, [1750 * B], "sizes"),
        ("Base = 110M, Large = 340MT", 110 * M, 340 * M, [110 * M, 340 * M], "sizes"),  # the source's typo, accepted as data
        ("N/A", None, None, [], "unknown"),
        ("Depends on the base model", None, None, [], "unknown"),
        ("", None, None, [], "unknown"),
    ],
)
def test_parse_params(text, lo, hi, sizes, kind):
    p = parse_params(text)
    assert (p.min, p.max, p.sizes, p.kind) == (lo, hi, sizes, kind)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Large = 340MT, XL = 1B", "unparseable size '340MT'"),  # the BERT typo is accepted only as BERT's exact text
        ("1.5Q", "unparseable size '1.5Q'"),
        ("about as big as BERT", "no size"),
        ("?", "no size"),
        ("30x smaller", "unparseable size '30x'"),
    ],
)
def test_parse_params_refuses(text, reason):
    with pytest.raises(ValueError, match=reason.replace("?", r"\?").replace(".", r"\.")):
        parse_params(text)


def test_parse_date():
    assert parse_date("10/2018").date == dt.date(2018, 10, 1)
    assert parse_date("1/2020").date == dt.date(2020, 1, 1)
    year_only = parse_date("2020")  # ELECTRA's Date in the 2023 edition
    assert (year_only.date, year_only.precision) == (dt.date(2020, 1, 1), "year")


@pytest.mark.parametrize(("text", "reason"), [
    ("13/2020", "month 13 out of range"),
    ("00/2020", "month 0 out of range"),
    ("2020-10", "unparseable Date"),
    ("Oct 2020", "unparseable Date"),
    ("10/1850", "year 1850 out of range"),
    ("", "Date is empty"),
])
def test_parse_date_refuses(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_date(text)


@pytest.mark.parametrize(("text", "klass"), [
    ("Encoder", "encoder"), ("Decoder", "decoder"), ("Encoder/Decoder", "encoder-decoder"),
    ("Encoder and decoder", "encoder-decoder"), ("encoder-decoder", "encoder-decoder"),
    ("Encoder or Decorder, depending on the base model", None),
])
def test_parse_architecture(text, klass):
    assert parse_architecture(text)[0] == klass


@pytest.mark.parametrize("text", ["Transformer", "Encoder-ish", "U-Net", ""])
def test_parse_architecture_refuses(text):
    with pytest.raises(ValueError, match="Pretraining Architecture"):
        parse_architecture(text)


@pytest.mark.parametrize(("text", "spdx", "klass"), [
    ("Open, Apache-2.0", "apache-2.0", "open"),
    ("Open, MIT license", "mit", "open"),
    ("Open, Modified MIT license", "mit", "open"),
    ("Limited, non-commerical CC BY-NC 4.0 license", "cc-by-nc-4.0", "limited"),
    ("Limited, non-commercial license CC-BY-NC-SA-4.0", "cc-by-nc-sa-4.0", "limited"),
    ("Open, but need to follow restrictions in Attachment A, BigScience RAIL License v1.0", "bigscience-bloom-rail-1.0", "open"),
    ("open, CreativeML Open RAIL++-M License", "openrail++", "open"),
    ("the code is open sourced, with MIT-license", "mit", "open-code"),
    ("Limited, Non-commercial bespoke license", None, "limited"),
    ("Closed source, accessible through API", None, "closed"),
    ("N/A", None, "unknown"),
    ("", None, "unknown"),
])
def test_parse_license(text, spdx, klass):
    assert parse_license(text) == (spdx, klass)


def test_parse_row_collects_every_reason():
    row, problems = parse_row({"Name": "X", "Pretraining Architecture": "Transformer", "Date": "2020-10", "Num. Params": "lots"})
    assert row is None
    assert [c for c, _ in problems] == ["Pretraining Architecture", "Date", "Num. Params"]
