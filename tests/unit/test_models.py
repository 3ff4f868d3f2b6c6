"""The reference model families: registry, PyTorch semantics, capture, checkpoints.

Every test is generated from `FAMILIES` and the specs, so a new family is tested (or fails the
coverage test) without editing this file. Tiny presets everywhere except capture, which also runs
the small presets.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch

from mobilesdk.capture import capture, run_torch
from mobilesdk.errors import CheckpointError, ConfigError
from mobilesdk.models import FAMILIES, build_model, load_checkpoint
from mobilesdk.models.aligner import FRAMES, Aligner
from mobilesdk.spec import Dim, ModelSpec, output_axis_dim, valid_length

NP = {"float32": np.float32, "int32": np.int32, "int64": np.int64}
KNOWN_KINDS = {"audio", "tokens", "category", "mask"}  # input kinds make_inputs can generate
FORBIDDEN_OPS = ("prelu", "stft", "group_norm", "max_pool1d")  # break a converter (docs/toolchain-traps.md)
NAMES = sorted(FAMILIES)
MASKED = [f for f in NAMES if FAMILIES[f].spec("x", **FAMILIES[f].presets["tiny"]).masks]
CASES = [(f, p) for f in NAMES for p in ("tiny", "small")]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: extra threads only add OpenMP barriers, which stall on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def built(family: str, preset: str = "tiny", seed: int = 0) -> tuple[torch.nn.Module, ModelSpec]:
    return build_model(family, preset, seed=seed)


def masked_dim(spec: ModelSpec) -> str:
    """The dim the mask runs over, or else the first non-batch dim."""
    return spec.masks[0].axis if spec.masks else next(d.name for d in spec.dims if d.name != "batch")


def lengths_for(spec: ModelSpec, n: int) -> dict[str, int]:
    return {d.name: (n if d.name == masked_dim(spec) else d.main_length) for d in spec.dims if d.name != "batch"}


def make_inputs(spec: ModelSpec, n: int, valid: list[int], seed: int = 0) -> dict[str, np.ndarray]:
    """A batch padded to length n on the masked dim; row i has valid[i] valid positions (junk after)."""
    rng = np.random.default_rng(seed)
    lengths, batch = lengths_for(spec, n), len(valid)
    out = {}
    for t in spec.inputs:
        shape = tuple(batch if s == "batch" else lengths[s] if isinstance(s, str) else s for s in t.shape)
        if t.kind == "audio":
            x = 0.3 * np.sin(np.arange(shape[-1]) * rng.uniform(0.01, 0.2)) + 0.1 * rng.standard_normal(shape)
        elif t.kind in ("tokens", "category"):
            x = rng.integers(t.low, t.high, size=shape)
        elif t.kind == "mask":
            x = (np.arange(shape[-1])[None, :] < np.asarray(valid)[:, None]).astype(np.int64)
        out[t.name] = x.astype(NP[t.dtype])
    return out


def rejunk(spec: ModelSpec, arrays: dict[str, np.ndarray], valid: list[int], seed: int) -> dict[str, np.ndarray]:
    """New random values at every padded position of the non-mask inputs (the mask keeps them padding)."""
    rng, mask_inputs = np.random.default_rng(seed), {m.input for m in spec.masks}
    out = dict(arrays)
    for t in spec.inputs:
        if t.name in mask_inputs or masked_dim(spec) not in t.shape:
            continue
        x = arrays[t.name].copy()
        for i, v in enumerate(valid):
            tail = x[i, ..., v:]
            tokens = t.kind == "tokens"
            junk = rng.integers(t.low, t.high, tail.shape) if tokens else 5 * rng.standard_normal(tail.shape)
            x[i, ..., v:] = junk.astype(x.dtype)
        out[t.name] = x
    return out


def run(module, spec, arrays) -> dict[str, np.ndarray]:
    return run_torch(module, spec, arrays)


def valid_positions(spec: ModelSpec, n: int, v: int) -> dict[str, int | None]:
    """Per output, how many leading positions are valid for a row with v valid (None: pooled)."""
    dim, full = masked_dim(spec), lengths_for(spec, n)
    return {
        o.name: None if output_axis_dim(spec, o) is None else valid_length(spec, o, {dim: v}, full)
        for o in spec.outputs
    }


def some_lengths(spec: ModelSpec) -> tuple[int, int, list[int]]:
    """A short and a long padded length on the masked dim and valid lengths that fit the short one."""
    d = spec.dim(masked_dim(spec))
    short, long = d.odd_length(), d.max
    if short >= long:
        short = d.min
    return short, long, [short, (2 * short) // 3 + 1, short // 3, 1]


# registry -----------------------------------------------------------------------------------------
DERIVED_DIM_TESTS = {"aligner": "test_aligner_frames_follow_the_derived_dim"}  # frame validity per family


def test_every_family_has_presets_and_is_covered():
    assert NAMES, "no model families registered"
    for name, fam in FAMILIES.items():
        assert fam.name == name and fam.description and "\n" not in fam.description
        assert {"tiny", "small"} <= set(fam.presets), f"family `{name}` needs tiny and small presets"
        for preset, kwargs in fam.presets.items():
            spec = fam.spec(f"{name}_{preset}", **kwargs)
            assert isinstance(spec, ModelSpec) and spec.dim("batch").min == 1 and spec.dim("batch").max == 8
            assert {t.kind for t in spec.inputs} <= KNOWN_KINDS, f"make_inputs cannot generate `{name}` inputs"
            if spec.derived_dims:  # the model's own frame validity must match DerivedDim.length
                assert name in DERIVED_DIM_TESTS, f"`{name}` has derived dims: add a frame-validity test"
                assert callable(globals().get(DERIVED_DIM_TESTS[name]))
            if spec.masks:
                assert name in MASKED


@pytest.mark.parametrize("family", NAMES)
def test_param_counts(family):
    sizes = {p: sum(x.numel() for x in built(family, p)[0].parameters()) for p in ("tiny", "small")}
    assert 5_000 < sizes["tiny"] < 100_000, sizes
    assert 300_000 < sizes["small"] < 2_000_000, sizes


def test_build_model_errors_name_the_choices():
    with pytest.raises(ConfigError, match="unknown model family `nope`.*enhancer"):
        build_model("nope")
    with pytest.raises(ConfigError, match="no preset `huge`.*tiny, small"):
        build_model("textclf", "huge")
    with pytest.raises(ConfigError, match="no option `colour`"):
        FAMILIES["aligner"].build(seed=0, colour="red")
    with pytest.raises(ConfigError, match="divisible"):
        FAMILIES["textclf"].build(seed=0, hidden=30, heads=4)
    module, spec = build_model("textclf")
    assert spec.name == "textclf_tiny" and not module.training
    assert build_model("textclf", name="sentiment")[1].name == "sentiment"


# semantics --------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", NAMES)
def test_outputs_match_spec_shapes(family):
    module, spec = built(family)
    d = spec.dim(masked_dim(spec))
    for n in (d.min, d.odd_length()):
        outs = run(module, spec, make_inputs(spec, n, [n, n]))
        sizes = {"batch": 2, **lengths_for(spec, n)}
        sizes.update({dd.name: dd.length(sizes[dd.source]) for dd in spec.derived_dims})
        for o in spec.outputs:
            expected = tuple(sizes[s] if isinstance(s, str) else s for s in o.shape)
            assert outs[o.name].shape == expected and outs[o.name].dtype == np.float32, (o.name, n)


@pytest.mark.parametrize("family", NAMES)
def test_seed_is_deterministic_and_does_not_touch_global_rng(family):
    fam, kwargs = FAMILIES[family], FAMILIES[family].presets["tiny"]
    state = torch.random.get_rng_state()
    a, b, c = fam.build(seed=0, **kwargs), fam.build(seed=0, **kwargs), fam.build(seed=1, **kwargs)
    assert torch.equal(state, torch.random.get_rng_state())
    spec = fam.spec("x", **kwargs)
    n = spec.dim(masked_dim(spec)).main_length
    x = make_inputs(spec, n, [n, n // 2])
    ra, rb, rc = run(a, spec, x), run(b, spec, x), run(c, spec, x)
    for o in spec.outputs:
        assert np.array_equal(ra[o.name], rb[o.name])
        assert not np.allclose(ra[o.name], rc[o.name], atol=1e-3)


@pytest.mark.parametrize("family", NAMES)
def test_outputs_are_not_degenerate(family):
    module, spec = built(family)
    n = spec.dim(masked_dim(spec)).main_length
    outs = run(module, spec, make_inputs(spec, n, [n] * 8, seed=3))
    for o in spec.outputs:
        y = outs[o.name]
        assert np.isfinite(y).all() and y.std() > 1e-2, o.name
        if o.metric in ("top1", "frame_argmax", "lid"):
            top2 = np.sort(y, axis=-1)[..., -2:]
            assert (top2[..., 1] - top2[..., 0] < 1e-4).mean() < 0.01, f"{o.name}: argmax near ties"
            assert len(np.unique(y.argmax(-1))) > 1, f"{o.name}: one class wins everywhere"
    if family == "enhancer":
        assert np.abs(outs["enhanced"]).max() < 0.99  # tanh is not saturated


@pytest.mark.parametrize("preset", ["tiny", "small"])  # small: padding must not leak across layers either
@pytest.mark.parametrize("family", MASKED)
def test_padding_invariance(family, preset):
    module, spec = built(family, preset)
    short, long, valid = some_lengths(spec)
    x_long = make_inputs(spec, long, valid, seed=1)
    x_short = {k: (v[:, :short] if v.ndim > 1 else v) for k, v in x_long.items()}
    x_long = rejunk(spec, x_long, valid, seed=2)  # different junk in the padding of the longer batch
    a, b = run(module, spec, x_short), run(module, spec, x_long)
    for i, v in enumerate(valid):
        for name, upto in valid_positions(spec, short, v).items():
            ya, yb = (a[name][i], b[name][i]) if upto is None else (a[name][i, :upto], b[name][i, :upto])
            np.testing.assert_allclose(ya, yb, atol=1e-5, rtol=1e-5, err_msg=f"{name} row {i} (valid {v})")
            if upto is None:
                assert ya.argmax() == yb.argmax()


@pytest.mark.parametrize("family", NAMES)
def test_batch_independence_and_fully_padded_rows(family):
    module, spec = built(family)
    short, _, valid = some_lengths(spec)
    valid = [*valid, 0] if spec.masks else [short] * 3
    x = make_inputs(spec, short, valid, seed=4)
    together = run(module, spec, x)
    for o in spec.outputs:
        assert np.isfinite(together[o.name]).all(), f"{o.name}: non-finite output (fully padded row?)"
    for i in range(len(valid)):
        alone = run(module, spec, {k: v[i : i + 1] for k, v in x.items()})
        for o in spec.outputs:
            np.testing.assert_allclose(alone[o.name][0], together[o.name][i], atol=1e-5, rtol=1e-5)


def test_aligner_frames_follow_the_derived_dim():
    module, spec = built("aligner")
    assert spec.derived("frames") == FRAMES and (FRAMES.stride, FRAMES.receptive_field) == (320, 400)
    for n in (1600, 1999, 12345, 32000):
        outs = run(module, spec, make_inputs(spec, n, [n]))
        assert outs["log_probs"].shape[1] == FRAMES.length(n) == (n - 400) // 320 + 1, n
    n = 2000
    valid = [2000, 1999, 1961, 1679, 721, 720, 719, 401, 400, 399, 1, 0]
    outs = run(module, spec, make_inputs(spec, n, valid, seed=5))
    got = (outs["durations"] > 0).sum(-1).tolist()
    assert got == [FRAMES.length(v) for v in valid]
    mask = torch.from_numpy(make_inputs(spec, n, valid)["attention_mask"])
    assert Aligner.frame_mask(mask, FRAMES.length(n)).sum(-1).tolist() == got


def test_aligner_lang_id_selects_the_attention_projections():
    module, spec = built("aligner")
    x = make_inputs(spec, 4000, [4000, 4000], seed=6)
    x["lang_id"] = np.array([0, 1], dtype=np.int32)
    x["waveform"][1] = x["waveform"][0]
    out = run(module, spec, x)["log_probs"]
    assert not np.allclose(out[0], out[1], atol=1e-3)


def test_enhancer_without_the_stft_branch():
    fam = FAMILIES["enhancer"]
    kwargs = {**fam.presets["tiny"], "stft_branch": False}
    module, spec = fam.build(seed=0, **kwargs), fam.spec("plain", **kwargs)
    with_branch = sum(p.numel() for p in built("enhancer")[0].parameters())
    assert sum(p.numel() for p in module.parameters()) < with_branch
    assert run(module, spec, make_inputs(spec, 2048, [2048]))["enhanced"].shape == (1, 1, 2048)


# capture ---------------------------------------------------------------------------------------
def assert_exported_matches_eager(exported_module, module, spec: ModelSpec, n: int, valid: list[int]) -> None:
    x = make_inputs(spec, n, valid, seed=n)
    eager, exported = run(module, spec, x), run(exported_module, spec, x)
    for o in spec.outputs:
        np.testing.assert_allclose(exported[o.name], eager[o.name], atol=1e-5, rtol=1e-5, err_msg=f"{o.name} @ {n}")


@pytest.mark.parametrize("family,preset", CASES)
def test_capture_runs_at_other_lengths(family, preset):
    module, spec = built(family, preset)
    d = spec.dim(masked_dim(spec))
    n = d.main_length
    ep = capture(module, spec, make_inputs(spec, n, [n, n - d.multiple_of, n // 2, 1][: spec.golden_batch]))
    ops = {str(node.target) for node in ep.graph.nodes if node.op == "call_function"}
    assert not [op for op in ops if any(bad in op for bad in FORBIDDEN_OPS)], ops
    exported = ep.module()
    for m in [d.odd_length()] + ([d.max] if preset == "tiny" else []):
        assert_exported_matches_eager(exported, module, spec, m, [m, m // 2 + 1, 0] if spec.masks else [m, m])


@pytest.mark.parametrize("family", NAMES)
def test_capture_with_a_static_batch_of_one(family):
    """ExecuTorch's XNNPACK reshapes allow one dynamic dim, so a converter may capture batch 1.

    For the aligner this needs time-major activations: flattening [1, T, C] guards on `1 % T`, which
    torch.export cannot prove for the derived frame count.
    """
    module, spec = built(family)
    dims = tuple(Dim("batch", 1, 1, default=1) if d.name == "batch" else d for d in spec.dims)
    one = dataclasses.replace(spec, dims=dims)
    d = one.dim(masked_dim(one))
    ep = capture(module, one, make_inputs(one, d.main_length, [d.main_length // 2]))
    assert_exported_matches_eager(ep.module(), module, one, d.odd_length(), [d.odd_length() // 2 + 1])


# checkpoints -----------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("family", NAMES)
def test_checkpoint_round_trip(family, suffix, tmp_path):
    from safetensors.torch import save_file

    source, spec = built(family)
    path = tmp_path / f"w{suffix}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    loaded, _ = build_model(family, seed=7, checkpoint=path)
    n = spec.dim(masked_dim(spec)).min
    x = make_inputs(spec, n, [n, n // 2])
    a, b = run(source, spec, x), run(loaded, spec, x)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_checkpoint_accepts_a_wrapped_state_dict(tmp_path):
    source, _ = built("textclf")
    torch.save({"state_dict": source.state_dict(), "epoch": 3}, tmp_path / "w.pt")
    fresh = FAMILIES["textclf"].build(seed=9, **FAMILIES["textclf"].presets["tiny"])
    loaded = load_checkpoint(fresh, tmp_path / "w.pt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in source.state_dict().items())


def _bad_checkpoint(tmp_path, edit) -> str:
    state = dict(built("textclf")[0].state_dict())
    edit(state)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as e:
        build_model("textclf", checkpoint=tmp_path / "bad.pt")
    msg = str(e.value)
    assert "\n" not in msg and "bad.pt" in msg and "Fix:" in msg
    return msg


def test_checkpoint_errors_name_the_keys(tmp_path):
    msg = _bad_checkpoint(tmp_path, lambda s: s.pop("classifier.weight"))
    assert "missing keys `classifier.weight`" in msg
    msg = _bad_checkpoint(tmp_path, lambda s: s.update({"extra.weight": torch.zeros(2)}))
    assert "unexpected keys `extra.weight`" in msg
    msg = _bad_checkpoint(tmp_path, lambda s: s.update({"classifier.weight": torch.zeros(5, 32)}))
    assert "`classifier.weight` expected (3, 32) got (5, 32)" in msg

    def drop_layer(s):
        for k in [k for k in s if k.startswith("layer.")]:
            s.pop(k)

    msg = _bad_checkpoint(tmp_path, drop_layer)
    assert msg.count("`layer.") == 5 and "… and " in msg and " more" in msg


def test_checkpoint_missing_or_unreadable_file(tmp_path):
    with pytest.raises(CheckpointError, match="nowhere.pt` does not exist"):
        build_model("textclf", checkpoint=tmp_path / "nowhere.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*junk.safetensors"):
        build_model("textclf", checkpoint=tmp_path / "junk.safetensors")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint either")
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*junk.pt"):
        build_model("textclf", checkpoint=tmp_path / "junk.pt")
