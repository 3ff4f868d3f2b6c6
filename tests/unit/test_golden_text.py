"""Golden rows from real sentences: each row is the tokenizer's own encoding of sentences, cut to
the row's valid length; the rows' texts survive the bundle's .npz; parity reports spans agreement."""
from __future__ import annotations

import numpy as np
import pytest

from mobilesdk.capture import run_torch
from mobilesdk.golden import TextFeed, calibration_batches, golden_cases, read_sentences
from mobilesdk.errors import ConfigError
from mobilesdk.models import build_model
from mobilesdk.pipeline.bundle import load_golden, save_golden
from mobilesdk.pipeline.check import ReferenceCase, evaluate
from mobilesdk.text.tokenizer import CLS, SEP, TextTokenizer, train_wordpiece
from tests.unit.test_text import SENTENCES


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_wordpiece(SENTENCES, vocab_size=300).save(str(path))
    return TextFeed(TextTokenizer(path), tuple(SENTENCES[:6]))


@pytest.fixture(scope="module")
def model():
    return build_model("textclf", "tiny", name="textclf")


def test_rows_are_the_tokenizers_encoding_cut_to_each_valid_length(feed, model):
    _, spec = model
    for case in golden_cases(spec, text=feed):
        ids, mask = case.inputs["input_ids"], case.inputs["attention_mask"]
        for row, r in enumerate(case.text):
            n = int(mask[row].sum())
            assert len(r.ids) == n and list(ids[row, :n]) == r.ids and not ids[row, n:].any()
            assert r.ids == feed.tokenizer.encode(r.text, n).ids
            if n >= 2:
                assert r.ids[0] == CLS and r.ids[-1] == SEP
            assert all(r.text[s:e].strip() for s, e in r.offsets if e > s)


def test_calibration_rows_come_from_sentences_too(feed, model):
    _, spec = model
    for batch in calibration_batches(spec, 3, text=feed):
        assert set(np.unique(batch["input_ids"][:, :1])) <= {0, CLS}  # every row starts with [CLS] (or is padding)


def test_text_rows_survive_the_bundle_npz(feed, model, tmp_path):
    module, spec = model
    case = golden_cases(spec, text=feed)[0]
    save_golden(tmp_path / "g.npz", case.inputs, run_torch(module, spec, case.inputs), case.text)
    inputs, outputs, text, _ = load_golden(tmp_path / "g.npz")
    assert text == case.text and set(inputs) == set(case.inputs)


def test_parity_reports_spans_agreement_and_it_drops_when_lid_changes(feed, model):
    module, spec = model
    golden = [ReferenceCase(c.name, c.inputs, run_torch(module, spec, c.inputs), c.text)
              for c in golden_cases(spec, text=feed)]
    same = {r.output: r.spans_agreement for r in evaluate(lambda x: run_torch(module, spec, x), spec, "fp32", golden)}
    assert same == {"sentiment": None, "lid": 1.0}

    def flipped(x):  # the artifact swaps two languages' scores on every third token
        out = run_torch(module, spec, x)
        lid = out["lid"].copy()
        lid[:, ::3, [0, 1]] = lid[:, ::3, [1, 0]]
        return {**out, "lid": lid}

    lid = next(r for r in evaluate(flipped, spec, "fp32", golden) if r.output == "lid")
    assert lid.spans_agreement < 0.5 and not lid.passed


def test_sentences_files(tmp_path):
    (tmp_path / "a.txt").write_text("one\n\ntwo\n")
    (tmp_path / "b.jsonl").write_text('{"text": "x"}\n{"text": "y"}\n')
    (tmp_path / "c.jsonl").write_text('{"words": []}\n')
    (tmp_path / "d.txt").write_text("\n")
    assert read_sentences(tmp_path / "a.txt") == ("one", "two")
    assert read_sentences(tmp_path / "b.jsonl") == ("x", "y")
    with pytest.raises(ConfigError, match='not JSON lines with a "text" field'):
        read_sentences(tmp_path / "c.jsonl")
    with pytest.raises(ConfigError, match="has no sentences"):
        read_sentences(tmp_path / "d.txt")
