import json

from mobilesdk.manifest import (
    SCHEMA_PATH, SCHEMA_VERSION, Artifact, FileEntry, LintFinding, Manifest, Model, OutputParity, SemanticRow, from_json, schema_text, to_json, validate,
)


def sample():
    row = OutputParity("y", "sqnr", 1e-6, 1e-7, 120.0, None, 60.0, 1.0, 1e-5, "", True)
    art = Artifact("executorch", "fp32", "models/m/executorch/fp32/model.pte", ["models/m/executorch/fp32/model.pte"],
                   "executorch.runtime", False, ["main:t=32"], {"delegated_partitions": 1, "shapes": "dynamic"}, [row],
                   [SemanticRow("pad_length", True, True, 90.0, 1.0, 1e-6, "t 16 padded to 32")], True, "")
    lint = [LintFinding("masked_fill", "masked_fill.Scalar", "-inf", "m.py:3 in forward: ...", False)]
    model = Model("m", "enhancer:tiny", "d", "abc", "models/m/spec.json", [], [], [], {}, [], lint, [], [art])
    return Manifest(SCHEMA_VERSION, "b", "0.1.0", "0.1.0", {"torch": "2.13.0"}, [model], [FileEntry("a", "00", 1)], True)


def test_committed_schema_matches_the_dataclasses():
    # Regenerate with: python -m mobilesdk.manifest > mobilesdk/manifest.schema.json (and bump SCHEMA_VERSION)
    assert SCHEMA_PATH.read_text() == schema_text()


def test_manifest_round_trips_and_validates():
    m = sample()
    text = to_json(m)
    assert from_json(text) == m
    assert validate(json.loads(text)) == []


def test_schema_rejects_missing_and_mistyped_fields():
    data = json.loads(to_json(sample()))
    del data["models"][0]["artifacts"][0]["parity"][0]["sqnr_db"]
    data["files"][0]["size"] = "big"
    errors = validate(data)
    assert any("sqnr_db" in e for e in errors) and any("files/0/size" in e for e in errors)
    data = json.loads(to_json(sample()))
    data["schema_version"] = "0.9"
    assert validate(data)


def test_the_report_traces_a_padded_artifacts_parity_failure_to_the_models_own_padding_dependence():
    import dataclasses

    from mobilesdk.pipeline.bundle import semantics_table

    model = sample().models[0]
    padded = dataclasses.replace(model.artifacts[0], format="tflite", passed=False,
                                 meta={"padded_dims": "t", "buckets": "32,64"})
    leaky = [SemanticRow("pad_length", True, False, 23.0, 1.0, 1e-6, "t 16 padded to 32")]
    text = "\n".join(semantics_table(dataclasses.replace(model, semantics=leaky, artifacts=[padded])))
    assert "PyTorch itself fails pad_length" in text and "parity of tflite/fp32 (pads t to 32,64) fail" in text
    sound = [dataclasses.replace(leaky[0], passed=True, sqnr_db=200.0)]
    assert "parity of" not in "\n".join(semantics_table(dataclasses.replace(model, semantics=sound, artifacts=[padded])))


def test_compare_reads_an_earlier_minor_schema_and_verify_does_not(tmp_path):
    """A release bundle of schema 1.2 (before user references) is compared with a new one; verify and
    run still insist on their own version, and another major is refused by both."""
    import pytest

    from mobilesdk.errors import BundleError
    from mobilesdk.pipeline.verify import read_manifest

    data = json.loads(to_json(sample()))
    major, minor = SCHEMA_VERSION.split(".")
    data["schema_version"] = f"{major}.{int(minor) - 1}"
    del data["models"][0]["reference_parity"], data["models"][0]["artifacts"][0]["reference_parity"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    assert read_manifest(tmp_path, older=True) == sample()
    with pytest.raises(BundleError, match="this mobilesdk reads"):
        read_manifest(tmp_path)
    data["schema_version"] = f"{int(major) + 1}.0"
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="this mobilesdk reads"):
        read_manifest(tmp_path, older=True)
