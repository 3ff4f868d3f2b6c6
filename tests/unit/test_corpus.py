"""The code-switched text corpus (examples/train/corpus.py): deterministic, valid word spans, and the
committed data under examples/train/data/textclf is exactly what the generator produces."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "train" / "data" / "textclf"
CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")


def _load():
    path = ROOT / "examples" / "train" / "corpus.py"
    spec = importlib.util.spec_from_file_location("textclf_corpus", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


corpus = _load()


@pytest.fixture(scope="module")
def records():
    return corpus.generate(0)


@pytest.fixture(scope="module")
def splits(records):
    return corpus.split(records)


def test_same_seed_same_records_other_seed_other_records(records):
    assert corpus.generate(0) == records
    assert corpus.generate(1) != records


def test_committed_files_are_the_generators_output(splits):
    for name in corpus.SPLITS:
        lines = (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert lines == [json.dumps(r, ensure_ascii=False) for r in splits[name]], name
        assert all(list(json.loads(line)) == ["text", "sentiment", "words"] for line in lines[:5])
    assert (DATA / "README.md").read_text(encoding="utf-8") == corpus.readme(0, corpus.stats(splits))


def test_word_spans_are_valid(records):
    for r in records:
        text, spans = r["text"], r["words"]
        covered = [0] * len(text)
        previous = None
        for start, end, lang in spans:
            assert 0 <= start < end <= len(text), r
            assert previous is None or previous[1] <= start, r  # sorted, non-overlapping
            if previous is not None and previous[1] == start:
                assert previous[2] != lang, r  # maximal: touching words differ in language
            word = text[start:end]
            assert not any(ch.isspace() for ch in word), r
            if lang == "zh":
                assert all(CJK.match(ch) for ch in word), (word, r)
            elif lang in ("en", "ms"):
                assert LATIN_WORD.fullmatch(word), (word, r)
            elif CJK.search(word):
                assert word.startswith("#"), (word, r)  # only a hashtag mixes Chinese into `other`
            for i in range(start, end):
                covered[i] += 1
            previous = (start, end, lang)
        for ch, n in zip(text, covered):
            assert n == (0 if ch.isspace() else 1), r


def test_labels_in_allowed_sets(records):
    assert {r["sentiment"] for r in records} == {"negative", "neutral", "positive"}
    assert {lang for r in records for *_, lang in r["words"]} == {"zh", "en", "ms", "other"}


def test_a_word_form_always_has_the_same_language(records):
    labels = defaultdict(set)
    for r in records:
        for start, end, lang in r["words"]:
            if lang in ("en", "ms"):
                labels[r["text"][start:end].lower()].add(lang)
    assert not {w: ls for w, ls in labels.items() if len(ls) > 1}
    for word, lang in [("ok", "en"), ("best", "en"), ("lol", "en"), ("app", "en"), ("lah", "ms"),
                       ("sedap", "ms"), ("gilaaa", "ms"), ("sooo", "en")]:
        assert corpus.latin_lang(word) == lang, word


def test_punctuation_and_scripts_are_split_off():
    def tagged(text):
        return [(text[s:e], lang) for s, e, lang in corpus.words(text)]
    assert tagged("这个app好用吗?") == [("这个", "zh"), ("app", "en"), ("好用吗", "zh"), ("?", "other")]
    assert tagged("so good!!!😂 #foodie @amirul_92") == [
        ("so", "en"), ("good", "en"), ("!!!😂", "other"), ("#foodie", "other"), ("@amirul_92", "other")]
    assert tagged("RM15 je, 3pm kat https://bit.ly/x") == [
        ("RM15", "other"), ("je", "ms"), (",", "other"), ("3pm", "other"), ("kat", "ms"),
        ("https://bit.ly/x", "other")]


def test_size_unique_and_balanced(records):
    texts = [r["text"] for r in records]
    assert len(set(texts)) == len(texts) >= 5000
    counts = {s: sum(r["sentiment"] == s for r in records) for s in corpus.SENTIMENTS}
    assert max(counts.values()) <= 1.2 * min(counts.values()), counts


def test_splits_disjoint_and_each_has_every_label(splits):
    texts = {name: {r["text"] for r in rs} for name, rs in splits.items()}
    assert not texts["train"] & texts["validation"]
    assert not texts["train"] & texts["test"]
    assert not texts["validation"] & texts["test"]
    total = sum(map(len, texts.values()))
    assert 0.75 < len(texts["train"]) / total < 0.85
    for name, rs in splits.items():
        assert {r["sentiment"] for r in rs} == set(corpus.SENTIMENTS), name
        assert {lang for r in rs for *_, lang in r["words"]} == set(corpus.LANGS), name


def test_many_sentences_mix_languages(records):
    langs = [{lang for *_, lang in r["words"]} - {"other"} for r in records]
    mixed = sum(len(ls) >= 2 for ls in langs) / len(records)
    assert mixed >= 0.4
    for mono in ("zh", "en", "ms"):  # and every language also occurs on its own
        assert sum(ls == {mono} for ls in langs) >= 0.05 * len(records), mono
