import subprocess
import sys

import pytest

from mobilesdk.config import load
from mobilesdk.errors import ConfigError

FORMATS = ("executorch",)


def write(tmp_path, text):
    p = tmp_path / "bundle.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        ("[bundle]\nname='x'\n", "no models"),
        ("[models.a]\nfamily='enhancer'\ncolour='red'\n", "unknown key `colour`"),
        ("[models.a]\nfamily='enhancer'\nseed='1'\n", "`seed` must be a int"),
        ("[models.a]\nfamily='enhancer'\nformats=['tflight']\n", "unknown entry 'tflight'"),
        ("[models.a]\nfamily='enhancer'\nprecisions=['int4']\n", "unknown entry 'int4'"),
        ("[models.a]\nfamily='enhancer'\nfactory='m:f'\n", "exactly one of `family`"),
        ("[models.a]\nfactory='nocolon'\n", "package.module:function"),
        ("[models.1a]\nfamily='enhancer'\n", "model names must match"),
        ("[bundel]\nname='x'\n", "unknown table `[bundel]`"),
        ("[models.a\n", "not valid TOML"),
        ("[models.a]\nfamily='enhancer'\nskip=['executorch']\n", "`skip` entry 'executorch' is not"),
        ("[models.a]\nfamily='enhancer'\nreference='refs/a'\n", "reference `.*refs/a` is not a folder"),
        ("[models.a]\nfamily='enhancer'\nskip={ 'executorch/fp32' = 3 }\n", "`skip` must be a list"),
        ("[models.a]\nfamily='enhancer'\nskip={ 'executorch/fp99' = 'x' }\n", "`skip` entry 'executorch/fp99' is not"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(write(tmp_path, text), FORMATS)


def test_defaults_and_overrides(tmp_path):
    cfg = load(write(tmp_path, "[bundle]\nprecisions=['fp32']\n[models.a]\nfamily='textclf'\n[models.b]\nfamily='aligner'\nprecisions=['int8-static']\ncheckpoint='w.pt'\n"), FORMATS)
    a, b = cfg.models
    assert (a.preset, a.precisions, a.formats, a.source) == ("tiny", ("fp32",), ("executorch",), "textclf:tiny")
    assert b.precisions == ("int8-static",) and b.checkpoint == tmp_path / "w.pt"


def test_skip_leaves_out_one_format_precision_pair(tmp_path):
    from mobilesdk.pipeline.build import plan
    from mobilesdk.pipeline.cache import Cache

    cfg = load(write(tmp_path, "[bundle]\nprecisions=['fp32', 'int8-dynamic', 'int8-static']\n"
                               "[models.a]\nfamily='textclf'\nskip=['executorch/int8-static']\n"), FORMATS)
    graph, _ = plan(cfg.models[0], tmp_path, Cache.default(enabled=False))
    names = [s.name for s in graph.steps]
    assert [n for n in names if n.startswith("convert/")] == ["convert/a/executorch/fp32", "convert/a/executorch/int8-dynamic"]


def test_skip_takes_reasons_and_the_manifest_and_report_carry_them(tmp_path):
    from mobilesdk.pipeline.bundle import render_report
    from tests.unit.test_manifest import sample

    cfg = load(write(tmp_path, "[bundle]\nprecisions=['fp32', 'int8-dynamic']\n[models.a]\nfamily='textclf'\n"
                               "skip = { 'executorch/int8-dynamic' = 'too slow here' }\n"), FORMATS)
    mc = cfg.models[0]
    assert mc.skip == ("executorch/int8-dynamic",) and mc.left_out == {"executorch/int8-dynamic": "too slow here"}
    m = sample()
    m.models[0].left_out.update(mc.left_out)
    assert "- executorch/int8-dynamic: left out by the config: too slow here" in render_report(m, {})


def test_converter_options_come_from_the_models_format_table(tmp_path):
    """`[models.x.tflite] buckets = {...}` reaches the TFLite bucket plan; unknown keys say what is allowed."""
    from converters.tflite.buckets import plan_for
    from mobilesdk.models import build_model
    from mobilesdk.pipeline import load_config

    cfg = load_config(write(tmp_path, "[bundle]\nformats=['tflite']\n[models.a]\nfamily='textclf'\n"
                                      "[models.a.tflite]\nbuckets={tokens=[16, 40]}\n"))
    assert cfg.models[0].options == {"tflite": {"buckets": {"tokens": [16, 40]}}}
    _, spec = build_model("textclf", "tiny")
    assert sorted(plan_for(spec, cfg.models[0].options["tflite"]).buckets) == [(16,), (40,), (64,)]  # + max
    with pytest.raises(ConfigError, match="unknown key `bucket`; did you mean `buckets`"):
        load_config(write(tmp_path, "[models.a]\nfamily='textclf'\n[models.a.tflite]\nbucket={tokens=[16]}\n"))
    with pytest.raises(ConfigError, match="format `coreml` takes no options"):
        load_config(write(tmp_path, "[models.a]\nfamily='textclf'\n[models.a.coreml]\nx=1\n"))


def test_cli_reports_a_bad_config_in_one_line_with_exit_code_2(tmp_path):
    p = write(tmp_path, "[models.a]\nfamily='enhancer'\ncolour='red'\n")
    r = subprocess.run([sys.executable, "-m", "mobilesdk.cli", "build", str(p), "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "unknown key `colour`" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_cli_missing_config_file(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mobilesdk.cli", "build", str(tmp_path / "nope.toml")], capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("table,message", [
    ("huggingface='m'", "`huggingface` and `task` go together"),
    ("family='textclf'\nfactory='a:b'", "exactly one of `family`"),
    ("family='textclf'\nmax_length=3", "`max_length` applies to `huggingface` models"),
    ("huggingface='m'\ntask='ctc'\npreset='tiny'", "`preset` and `checkpoint` apply to `family` models"),
    ("family='textclf'\n[models.a.spec]\ndimz=[]", "unknown key `dimz`; did you mean `dims`"),
    ("family='textclf'\ntokenizer='t.json'", "`tokenizer` and `sentences` go together"),
    ("family='textclf'\ntokenizer='t.json'\nsentences='s.txt'", r"tokenizer `.*t.json` does not exist. Fix: the path is relative to the config file"),
])
def test_model_sources_and_their_keys_are_checked(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        load(write(tmp_path, f"[models.a]\n{table}\n"), FORMATS)


def test_text_files_are_relative_to_the_config(tmp_path):
    (tmp_path / "t.json").write_text("{}")
    (tmp_path / "s.txt").write_text("hello\n")
    m = load(write(tmp_path, "[models.a]\nfamily='textclf'\ntokenizer='t.json'\nsentences='s.txt'\n"), FORMATS).models[0]
    assert m.tokenizer == tmp_path / "t.json" and m.sentences == tmp_path / "s.txt"


def test_text_feed_is_checked_against_the_spec(tmp_path):
    """A tokenizer with more ids than the model has embeddings, or a model without a tokens input."""
    from mobilesdk.pipeline.sources import load_model, text_feed
    from mobilesdk.text.tokenizer import train_wordpiece

    train_wordpiece([f"word{i} 字{chr(0x4e00 + i)}" for i in range(1500)], vocab_size=3000, min_frequency=1).save(
        str(tmp_path / "t.json"))
    (tmp_path / "s.txt").write_text("hello\n")
    for family, message in (("textclf", "more than the model's 1000 embeddings"), ("enhancer", "has 0 `tokens` inputs")):
        mc = load(write(tmp_path, f"[models.a]\nfamily='{family}'\ntokenizer='t.json'\nsentences='s.txt'\n"), FORMATS).models[0]
        with pytest.raises(ConfigError, match=message):
            text_feed(load_model(mc)[1], mc)


def test_a_huggingface_directory_is_relative_to_the_config(tmp_path):
    cfg = load(write(tmp_path, "[models.a]\nhuggingface='models/bert'\ntask='sequence-classification'\n"), FORMATS)
    m = cfg.models[0]
    assert m.huggingface == tmp_path / "models/bert" and m.source == "huggingface:bert:sequence-classification"


def test_a_huggingface_directory_without_a_model_is_one_line_error(tmp_path):
    from mobilesdk.models import huggingface

    with pytest.raises(ConfigError, match="has no config.json. Fix: point it at a directory written by save_pretrained"):
        huggingface.load(tmp_path, "ctc", "a")
    with pytest.raises(ConfigError, match="task `translate` is unknown"):
        huggingface.load(tmp_path, "translate", "a")
