"""bundle.toml: which models, formats and precisions a bundle holds.

    [bundle]
    name = "demo"                  # bundle name, also the bridges' namespace
    version = "0.1.0"
    formats = ["executorch"]       # default for every model
    precisions = ["fp32", "int8-dynamic", "int8-static"]
    calibration_batches = 8        # reference batches for static int8
    fp16_safe_masks = false        # rewrite mask constants outside fp16 range to -1e4 (see mask_lint.py)

    [models.enhancer]              # the table name is the model's name in the bundle
    family = "enhancer"            # a reference family ...
    preset = "small"
    seed = 0
    checkpoint = "weights.safetensors"   # optional, relative to this file

    [models.textclf]
    family = "textclf"
    tokenizer = "models/textclf/tokenizer.json"   # a text model's tokenizer (`tokenizers` format) ...
    sentences = "data/sentences.jsonl"            # ... and the sentences its golden rows are made of

    [models.aligner]
    family = "aligner"
    audio = "clips/clean"          # a folder of WAV files: an audio model's golden and calibration speech
    reference = "refs/aligner"     # optional: .npz cases of your own (inputs, expected outputs) added to the
                                   # golden set (mobilesdk/pipeline/reference.py)

    [models.mybert]
    factory = "mypkg.models:make"  # ... or any function returning (nn.Module, ModelSpec)
    formats = ["executorch"]       # per-model overrides of the [bundle] lists
    skip = ["executorch/int8-static"]   # format/precision pairs this model leaves out, or with reasons
                                        # for the report: skip = { "coreai/fp16" = "18x slower on Linux" }

    [models.distil]
    huggingface = "models/distilbert"   # ... or a local save_pretrained() directory (never the hub)
    task = "sequence-classification"    # | token-classification | ctc | feature-extraction
    max_length = 64                     # optional: longest token (or sample) axis; default from the model

    [models.distil.spec]           # replaces whole fields of the derived spec (`mobilesdk spec` prints it)
    dims = [{ name = "batch", min = 1, max = 4, default = 4 }, { name = "tokens", min = 2, max = 64, default = 32 }]

    [models.mybert.tflite]         # options of one converter for this model (`Converter.options`)
    buckets = { tokens = [32, 64, 128] }

Every mistake is a ConfigError naming the key and the fix.
"""
from __future__ import annotations

import difflib
import re
import tomllib
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from mobilesdk.errors import ConfigError
from mobilesdk.spec import PRECISIONS

BUNDLE_KEYS = {
    "name": str,
    "version": str,
    "formats": list,
    "precisions": list,
    "calibration_batches": int,
    "out": str,
    "fp16_safe_masks": bool,
}
MODEL_KEYS = {
    "family": str,
    "preset": str,
    "seed": int,
    "checkpoint": str,
    "tokenizer": str,
    "sentences": str,
    "audio": str,
    "reference": str,
    "factory": str,
    "huggingface": str,
    "task": str,
    "max_length": int,
    "spec": dict,
    "formats": list,
    "precisions": list,
    "calibration_batches": int,
    "fp16_safe_masks": bool,
    "skip": object,  # a list of "format/precision", or a table of them with reasons: checked in `_skips`
}
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ModelConfig:
    name: str
    family: str | None
    preset: str
    seed: int
    checkpoint: Path | None
    factory: str | None
    huggingface: Path | None
    task: str
    max_length: int
    formats: tuple[str, ...]
    precisions: tuple[str, ...]
    calibration_batches: int
    fp16_safe_masks: bool
    skip: tuple[str, ...] = ()  # "format/precision" pairs left out
    left_out: dict[str, str] = dataclasses.field(default_factory=dict)  # the config's own skips -> reason ("" if none)
    tokenizer: Path | None = None  # tokenizer.json of a text model
    sentences: Path | None = None  # .txt / .jsonl sentences its golden and calibration rows come from
    audio: Path | None = None  # folder of WAV clips (and clips.json) its golden and calibration audio comes from
    reference: Path | None = None  # folder of .npz user references: more golden cases, maybe with expected outputs
    options: dict[str, dict] = dataclasses.field(default_factory=dict)  # format -> [models.<name>.<format>]
    spec: dict = dataclasses.field(default_factory=dict)  # [models.<name>.spec]: replaces fields of the spec

    @property
    def source(self) -> str:
        if self.huggingface:
            return f"huggingface:{self.huggingface.name}:{self.task}"
        return f"factory:{self.factory}" if self.factory else f"{self.family}:{self.preset}"


@dataclass(frozen=True)
class BundleConfig:
    path: Path
    name: str
    version: str
    out: Path | None
    models: tuple[ModelConfig, ...]


def _check_keys(table: dict, allowed: dict, where: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise ConfigError(f"{where}: unknown key `{key}`; {hint}allowed keys: {', '.join(sorted(allowed))}")
        want = allowed[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: `{key}` must be a {want.__name__}, got {type(value).__name__} {value!r}")


def _names(value: list, key: str, where: str, known: tuple[str, ...]) -> tuple[str, ...]:
    for v in value:
        if v not in known:
            close = difflib.get_close_matches(str(v), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{where}: `{key}` has unknown entry {v!r}; {hint}choose from {', '.join(known)}")
    if not value:
        raise ConfigError(f"{where}: `{key}` is empty; list at least one of {', '.join(known)}")
    return tuple(value)


def _model_checks(name: str, table: dict, where: str, path: Path, known_formats: tuple[str, ...],
                  known_options: dict[str, dict[str, type]]) -> dict[str, dict]:
    """Reject a [models.<name>] table that mixes its sources or options; return its converter options
    (the `[models.<name>.<format>]` tables, removed from `table`)."""
    options = {fmt: table.pop(fmt) for fmt in known_formats if isinstance(table.get(fmt), dict)}
    for fmt, opts in options.items():
        allowed = known_options.get(fmt, {})
        if not allowed:
            raise ConfigError(f"{where}: format `{fmt}` takes no options; remove [models.{name}.{fmt}]")
        _check_keys(opts, allowed, f"{path} [models.{name}.{fmt}]")
    _check_keys(table, MODEL_KEYS, where)
    sources = [k for k in ("family", "factory", "huggingface") if k in table]
    if len(sources) != 1:
        raise ConfigError(f"{where}: set exactly one of `family` (a reference model), `factory` "
                          "(\"pkg.module:function\") or `huggingface` (a local save_pretrained directory)")
    if ("huggingface" in table) != ("task" in table):
        raise ConfigError(f"{where}: `huggingface` and `task` go together (task: sequence-classification, "
                          "token-classification, ctc or feature-extraction)")
    if "max_length" in table and "huggingface" not in table:
        raise ConfigError(f"{where}: `max_length` applies to `huggingface` models; a family has presets")
    if "factory" in table and ":" not in table["factory"]:
        raise ConfigError(f"{where}: `factory` must look like \"package.module:function\", got {table['factory']!r}")
    if "family" not in table and ("preset" in table or "checkpoint" in table):
        raise ConfigError(f"{where}: `preset` and `checkpoint` apply to `family` models; this model loads its own weights")
    if ("tokenizer" in table) != ("sentences" in table):
        raise ConfigError(f"{where}: `tokenizer` and `sentences` go together (the golden rows are tokenized sentences)")
    for key in ("tokenizer", "sentences"):
        if key in table and not (path.parent / table[key]).is_file():
            raise ConfigError(f"{where}: {key} `{path.parent / table[key]}` does not exist. Fix: the path is "
                              "relative to the config file")
    if "audio" in table and not (path.parent / table["audio"]).is_dir():
        raise ConfigError(f"{where}: audio `{path.parent / table['audio']}` is not a folder. Fix: point it at a "
                          "folder of WAV files, relative to the config file")
    if "reference" in table and not (path.parent / table["reference"]).is_dir():
        raise ConfigError(f"{where}: reference `{path.parent / table['reference']}` is not a folder. Fix: point it at "
                          "a folder of .npz files (input.<name>, output.<name>), relative to the config file")
    return options


def _skips(value, where: str, known_formats: tuple[str, ...]) -> dict[str, str]:
    """`skip`: a list of "format/precision" pairs, or a table of them with a reason each; pair -> reason."""
    if isinstance(value, list):
        value = {pair: "" for pair in value}
    if not isinstance(value, dict) or not all(isinstance(r, str) for r in value.values()):
        raise ConfigError(f"{where}: `skip` must be a list of \"format/precision\" or a table of them with reasons, "
                          f"e.g. skip = {{ \"coreai/fp16\" = \"why\" }}; got {value!r}")
    for pair in value:
        fmt, _, prec = str(pair).partition("/")
        if fmt not in known_formats or prec not in PRECISIONS:
            raise ConfigError(
                f"{where}: `skip` entry {pair!r} is not \"format/precision\"; formats: "
                f"{', '.join(known_formats)}; precisions: {', '.join(PRECISIONS)}"
            )
    return {str(pair): reason for pair, reason in value.items()}


def _spec_override(table: dict, where: str) -> dict:
    from mobilesdk.spec import ModelSpec

    _check_keys(table, {f.name: object for f in dataclasses.fields(ModelSpec)}, where)
    return table


def load(path: str | Path, known_formats: tuple[str, ...], known_options: dict[str, dict[str, type]] | None = None
         ) -> BundleConfig:
    """The config at `path`; `known_options` maps each format to the option keys its converter takes."""
    path = Path(path)
    known_options = known_options or {}
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file `{path}` does not exist. Fix: pass the path of a bundle.toml") from None
    except OSError as e:  # a directory, no permission
        raise ConfigError(f"cannot read config file `{path}`: {e.strerror or e}. Fix: pass the path of a bundle.toml") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"`{path}` is not UTF-8 text (byte {e.start}). Fix: save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"`{path}` is not valid TOML: {e}. Fix: correct the syntax there (https://toml.io)") from None
    for key in data:
        if key not in ("bundle", "models"):
            raise ConfigError(f"{path}: unknown table `[{key}]`; use `[bundle]` and `[models.<name>]`")
    bundle = data.get("bundle", {})
    if not isinstance(bundle, dict):
        raise ConfigError(f"{path}: `bundle` must be a table. Fix: write it as `[bundle]` with keys under it")
    _check_keys(bundle, BUNDLE_KEYS, f"{path} [bundle]")
    formats = _names(bundle.get("formats", ["executorch"]), "formats", f"{path} [bundle]", known_formats)
    precisions = _names(bundle.get("precisions", list(PRECISIONS)), "precisions", f"{path} [bundle]", PRECISIONS)
    batches = bundle.get("calibration_batches", 8)
    models_table = data.get("models")
    if not isinstance(models_table, dict) or not models_table:
        raise ConfigError(f"{path}: no models; add a `[models.<name>]` table with `family`, `factory` or `huggingface`")
    models = []
    for name, table in models_table.items():
        where = f"{path} [models.{name}]"
        if not NAME.match(name):
            raise ConfigError(f"{where}: model names must match {NAME.pattern} (they become file and class names)")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table")
        options = _model_checks(name, table, where, path, known_formats, known_options)
        checkpoint = table.get("checkpoint")
        left_out = _skips(table.get("skip", []), where, known_formats)
        models.append(
            ModelConfig(
                name=name,
                family=table.get("family"),
                preset=table.get("preset", "tiny"),
                seed=table.get("seed", 0),
                checkpoint=(path.parent / checkpoint) if checkpoint else None,
                factory=table.get("factory"),
                huggingface=(path.parent / table["huggingface"]) if "huggingface" in table else None,
                task=table.get("task", ""),
                max_length=table.get("max_length", 0),
                formats=_names(table["formats"], "formats", where, known_formats) if "formats" in table else formats,
                precisions=_names(table["precisions"], "precisions", where, PRECISIONS)
                if "precisions" in table
                else precisions,
                calibration_batches=table.get("calibration_batches", batches),
                fp16_safe_masks=table.get("fp16_safe_masks", bundle.get("fp16_safe_masks", False)),
                skip=tuple(left_out),
                left_out=left_out,
                tokenizer=(path.parent / table["tokenizer"]) if "tokenizer" in table else None,
                sentences=(path.parent / table["sentences"]) if "sentences" in table else None,
                audio=(path.parent / table["audio"]) if "audio" in table else None,
                reference=(path.parent / table["reference"]) if "reference" in table else None,
                options=options,
                spec=_spec_override(table.get("spec", {}), f"{path} [models.{name}.spec]"),
            )
        )
    out = bundle.get("out")
    return BundleConfig(
        path=path,
        name=bundle.get("name", path.stem),
        version=bundle.get("version", "0.1.0"),
        out=(path.parent / out) if out else None,
        models=tuple(models),
    )
