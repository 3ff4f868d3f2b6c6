"""Every kernel of the MIL reference evaluator against the PyTorch op it comes from.

Each case builds a one-op MIL program with coremltools' Builder, runs it through
`converters.coreml.mil.ProgramEvaluator` and compares with torch. `test_every_kernel_is_tested` fails
when a kernel is added without a case here.
"""
from __future__ import annotations


import numpy as np
import pytest

ct = pytest.importorskip("coremltools", reason="coremltools is not installed (the coreml extra)")
torch = pytest.importorskip("torch")

from coremltools.converters.mil import Builder as mb  # noqa: E402
from coremltools.converters.mil.mil import types  # noqa: E402

from converters.coreml.mil.constexpr import CONSTEXPR, unpack_bits  # noqa: E402
from converters.coreml.mil.evaluator import NotEvaluatedError, ProgramEvaluator  # noqa: E402
from converters.coreml.mil.kernels import KERNELS  # noqa: E402

F = torch.nn.functional
RNG = np.random.default_rng(0)


def mil(fn, opset=None, **inputs):
    """Evaluate the program `fn(*inputs)` builds; returns one array or a list (several outputs)."""
    specs = [mb.TensorSpec(shape=v.shape, dtype=types.numpy_type_to_builtin_type(v.dtype)) for v in inputs.values()]
    prog = mb.program(input_specs=specs, opset_version=opset or ct.target.iOS17)(fn)
    out = list(ProgramEvaluator(prog)(inputs).values())
    return out[0] if len(out) == 1 else out


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape).astype(np.float32)


def close(got, ref, atol=1e-5, rtol=1e-5):
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    got = np.asarray(got)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.dtype == bool or np.issubdtype(ref.dtype, np.integer):
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), atol=atol, rtol=rtol)


# elementwise -------------------------------------------------------------------------------------
BINARY = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "real_div": torch.div, "maximum": torch.maximum,
    "minimum": torch.minimum, "mod": torch.remainder, "floor_div": lambda x, y: torch.div(x, y, rounding_mode="floor"),
    "pow": torch.pow, "equal": torch.eq, "not_equal": torch.ne, "greater": torch.gt, "greater_equal": torch.ge,
    "less": torch.lt, "less_equal": torch.le,
}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary(op):
    x, y = rand(2, 3, 4), rand(3, 1, low=0.5, high=2.0)  # broadcasting; y > 0 for pow/div/mod
    if op == "pow":
        x = np.abs(x)
    got = mil(lambda x, y: getattr(mb, op)(x=x, y=y), x=x, y=y)
    close(got, BINARY[op](t(x), t(y)), atol=1e-5)


def test_integer_floor_div_and_mod():
    x = np.array([7, -7, 5, -1, 0], dtype=np.int32)
    y = np.array([2, 2, -3, 3, 4], dtype=np.int32)
    close(mil(lambda x, y: mb.floor_div(x=x, y=y), x=x, y=y), torch.div(t(x), t(y), rounding_mode="floor").int())
    close(mil(lambda x, y: mb.mod(x=x, y=y), x=x, y=y), torch.remainder(t(x), t(y)).int())


@pytest.mark.parametrize("op,ref", [("logical_and", torch.logical_and), ("logical_or", torch.logical_or),
                                    ("logical_xor", torch.logical_xor)])
def test_logical(op, ref):
    x, y = rand(3, 4) > 0, rand(3, 4) > 0
    close(mil(lambda x, y: getattr(mb, op)(x=x, y=y), x=x, y=y), ref(t(x), t(y)))


UNARY = {
    "abs": (torch.abs, None), "acos": (torch.acos, (-0.9, 0.9)), "asin": (torch.asin, (-0.9, 0.9)),
    "atan": (torch.atan, None), "atanh": (torch.atanh, (-0.9, 0.9)), "ceil": (torch.ceil, None),
    "cos": (torch.cos, None), "cosh": (torch.cosh, None), "erf": (torch.erf, None), "exp": (torch.exp, None),
    "exp2": (torch.exp2, None), "floor": (torch.floor, None), "round": (torch.round, None),
    "sign": (torch.sign, None), "sin": (torch.sin, None), "sinh": (torch.sinh, None),
    "sqrt": (torch.sqrt, (0.01, 4.0)), "square": (torch.square, None), "tan": (torch.tan, (-1.2, 1.2)),
    "tanh": (torch.tanh, None), "identity": (torch.clone, None), "relu": (torch.relu, None),
    "relu6": (F.relu6, (-3.0, 9.0)), "sigmoid": (torch.sigmoid, (-20.0, 20.0)), "silu": (F.silu, None),
    "softplus": (F.softplus, (-30.0, 30.0)), "softsign": (F.softsign, None),
    "log": (torch.log, (0.01, 4.0)), "rsqrt": (torch.rsqrt, (0.01, 4.0)), "inverse": (torch.reciprocal, (0.5, 4.0)),
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary(op):
    ref, rng = UNARY[op]
    x = rand(3, 5, low=rng[0], high=rng[1]) if rng else rand(3, 5)
    if op == "round":
        x = np.array([[-2.5, -1.5, -0.5, 0.5, 1.5], [2.5, 0.2, -0.7, 3.49, 3.51]], dtype=np.float32)
    if op in ("log", "rsqrt", "inverse"):  # MIL adds a tiny epsilon; make it explicit and zero-effect
        got = mil(lambda x: getattr(mb, op)(x=x, epsilon=np.float32(0.0)), x=x)
    else:
        got = mil(lambda x: getattr(mb, op)(x=x), x=x)
    close(got, ref(t(x)), atol=1e-5, rtol=1e-5)


def test_log_default_epsilon_matches_torch_log():
    x = rand(4, low=0.1, high=3.0)
    close(mil(lambda x: mb.log(x=x), x=x), torch.log(t(x)))


def test_logical_not_and_select_and_cast():
    c, a, b = rand(3, 4) > 0, rand(3, 4), rand(1, 4)
    close(mil(lambda c: mb.logical_not(x=c), c=c), torch.logical_not(t(c)))
    close(mil(lambda c, a, b: mb.select(cond=c, a=a, b=b), c=c, a=a, b=b), torch.where(t(c), t(a), t(b)))
    x = rand(3, 4, low=-5, high=5)
    close(mil(lambda x: mb.cast(x=x, dtype="int32"), x=x), t(x).to(torch.int32))
    close(mil(lambda x: mb.cast(x=x, dtype="fp16"), x=x), t(x).half())
    close(mil(lambda c: mb.cast(x=c, dtype="fp32"), c=c), t(c).float())


def test_clip_threshold():
    x = rand(4, 6)
    close(mil(lambda x: mb.clip(x=x, alpha=np.float32(-0.5), beta=np.float32(0.7)), x=x), torch.clamp(t(x), -0.5, 0.7))
    close(mil(lambda x: mb.threshold(x=x, alpha=np.float32(0.3)), x=x), torch.clamp(t(x), min=0.3))


ALPHA = {
    "leaky_relu": (lambda x: mb.leaky_relu(x=x, alpha=np.float32(0.1)), lambda x: F.leaky_relu(x, 0.1)),
    "elu": (lambda x: mb.elu(x=x, alpha=np.float32(0.7)), lambda x: F.elu(x, 0.7)),
    "thresholded_relu": (lambda x: mb.thresholded_relu(x=x, alpha=np.float32(0.5)), lambda x: F.threshold(x, 0.5, 0.0)),
    "clamped_relu": (lambda x: mb.clamped_relu(x=x, alpha=np.float32(0.1), beta=np.float32(1.0)),
                     lambda x: torch.clamp(F.leaky_relu(x, 0.1), max=1.0)),
    "linear_activation": (lambda x: mb.linear_activation(x=x, alpha=np.float32(1.5), beta=np.float32(-0.2)),
                          lambda x: 1.5 * x - 0.2),
    "scaled_tanh": (lambda x: mb.scaled_tanh(x=x, alpha=np.float32(2.0), beta=np.float32(0.5)),
                    lambda x: 2.0 * torch.tanh(0.5 * x)),
    "sigmoid_hard": (lambda x: mb.sigmoid_hard(x=x, alpha=np.float32(1 / 6), beta=np.float32(0.5)), F.hardsigmoid),
}


@pytest.mark.parametrize("op", sorted(ALPHA))
def test_activation_with_parameters(op):
    build, ref = ALPHA[op]
    x = rand(2, 3, 5, low=-5, high=5)
    close(mil(lambda x: build(x), x=x), ref(t(x)), atol=1e-6)


def test_prelu_and_softplus_parametric():
    x = rand(2, 3, 4, 5)  # rank 4: MIL's prelu takes per-channel alpha on rank 4 only (docs/toolchain-traps.md#1)
    alpha, beta = np.array([0.1, 0.2, 0.3], np.float32), np.array([1.0, 2.0, 0.5], np.float32)
    close(mil(lambda x: mb.prelu(x=x, alpha=alpha), x=x), F.prelu(t(x), t(alpha)))
    got = mil(lambda x: mb.softplus_parametric(x=x, alpha=alpha, beta=beta), x=x)
    close(got, t(alpha)[:, None, None] * F.softplus(t(beta)[:, None, None] * t(x)), atol=1e-6)


@pytest.mark.parametrize("mode", ["EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION"])
def test_gelu(mode):
    x = rand(4, 7, low=-4, high=4)
    ref = {"EXACT": F.gelu(t(x)), "TANH_APPROXIMATION": F.gelu(t(x), approximate="tanh"),
           "SIGMOID_APPROXIMATION": t(x) * torch.sigmoid(1.702 * t(x))}[mode]
    close(mil(lambda x: mb.gelu(x=x, mode=mode), x=x), ref, atol=1e-6)


# normalisation, softmax, reductions ----------------------------------------------------------------
def test_softmax():
    x = rand(2, 3, 6, low=-10, high=10)
    close(mil(lambda x: mb.softmax(x=x, axis=1), x=x), torch.softmax(t(x), dim=1), atol=1e-6)


def test_layer_norm():
    x, g, b = rand(2, 5, 8), rand(8), rand(8)
    got = mil(lambda x: mb.layer_norm(x=x, axes=[-1], gamma=g, beta=b, epsilon=np.float32(1e-5)), x=x)
    close(got, F.layer_norm(t(x), (8,), t(g), t(b), 1e-5), atol=1e-5)
    got = mil(lambda x: mb.layer_norm(x=x, axes=[1, 2], epsilon=np.float32(1e-5)), x=x)
    close(got, F.layer_norm(t(x), (5, 8), eps=1e-5), atol=1e-5)


def test_instance_batch_l2_norm():
    x, g, b = rand(2, 3, 7), rand(3), rand(3)
    mean, var = rand(3), rand(3, low=0.5, high=2.0)
    got = mil(lambda x: mb.instance_norm(x=x, gamma=g, beta=b, epsilon=np.float32(1e-5)), x=x)
    close(got, F.instance_norm(t(x), weight=t(g), bias=t(b), eps=1e-5), atol=1e-5)
    got = mil(lambda x: mb.batch_norm(x=x, mean=mean, variance=var, gamma=g, beta=b, epsilon=np.float32(1e-5)), x=x)
    close(got, F.batch_norm(t(x), t(mean), t(var), t(g), t(b), training=False, eps=1e-5), atol=1e-5)
    got = mil(lambda x: mb.l2_norm(x=x, epsilon=np.float32(1e-12)), x=x)
    close(got, F.normalize(t(x).reshape(2, -1), dim=1).reshape(2, 3, 7), atol=1e-6)


REDUCE = {
    "reduce_sum": lambda x: torch.sum(x, dim=(0, 2), keepdim=True),
    "reduce_mean": lambda x: torch.mean(x, dim=(0, 2), keepdim=True),
    "reduce_max": lambda x: torch.amax(x, dim=(0, 2), keepdim=True),
    "reduce_min": lambda x: torch.amin(x, dim=(0, 2), keepdim=True),
    "reduce_prod": lambda x: torch.prod(torch.prod(x, dim=0, keepdim=True), dim=2, keepdim=True),
    "reduce_l1_norm": lambda x: torch.linalg.vector_norm(x, 1, dim=(0, 2), keepdim=True),
    "reduce_l2_norm": lambda x: torch.linalg.vector_norm(x, 2, dim=(0, 2), keepdim=True),
    "reduce_sum_square": lambda x: torch.sum(x * x, dim=(0, 2), keepdim=True),
    "reduce_log_sum": lambda x: torch.log(torch.sum(x, dim=(0, 2), keepdim=True)),
    "reduce_log_sum_exp": lambda x: torch.logsumexp(x, dim=(0, 2), keepdim=True),
}


@pytest.mark.parametrize("op", sorted(REDUCE))
def test_reduce(op):
    x = rand(2, 3, 4, low=0.2, high=1.5)
    close(mil(lambda x: getattr(mb, op)(x=x, axes=[0, -1], keep_dims=True), x=x), REDUCE[op](t(x)), atol=1e-5)
    if op == "reduce_sum":  # all axes, keep_dims False
        close(mil(lambda x: mb.reduce_sum(x=x), x=x), torch.sum(t(x)), atol=1e-5)


@pytest.mark.parametrize("op,ref", [("reduce_argmax", torch.argmax), ("reduce_argmin", torch.argmin)])
def test_reduce_arg(op, ref):
    x = rand(3, 5, 4)
    close(mil(lambda x: getattr(mb, op)(x=x, axis=1, keep_dims=False), x=x), ref(t(x), dim=1).int())
    close(mil(lambda x: getattr(mb, op)(x=x, axis=-1, keep_dims=True), x=x), ref(t(x), dim=-1, keepdim=True).int())


@pytest.mark.parametrize("exclusive,reverse", [(False, False), (True, False), (False, True), (True, True)])
def test_cumsum(exclusive, reverse):
    x = rand(3, 5)
    ref = torch.flip(torch.cumsum(torch.flip(t(x), [1]), 1), [1]) if reverse else torch.cumsum(t(x), 1)
    if exclusive:
        ref = ref - t(x)
    close(mil(lambda x: mb.cumsum(x=x, axis=1, exclusive=exclusive, reverse=reverse), x=x), ref, atol=1e-5)


# linear algebra, convolution, pooling -----------------------------------------------------------------
def test_linear_matmul_einsum():
    x, w, b = rand(2, 5, 8), rand(6, 8), rand(6)
    close(mil(lambda x: mb.linear(x=x, weight=w, bias=b), x=x), F.linear(t(x), t(w), t(b)), atol=1e-5)
    y = rand(2, 6, 8)
    got = mil(lambda x, y: mb.matmul(x=x, y=y, transpose_y=True), x=x, y=y)
    close(got, torch.matmul(t(x), t(y).transpose(-1, -2)), atol=1e-5)
    got = mil(lambda x, y: mb.matmul(x=x, y=y, transpose_x=True), x=x, y=rand(5, 3))
    a, b2, b3 = rand(2, 3, 4, 5), rand(2, 3, 5, 6), rand(2, 5, 4, 6)
    got = mil(lambda a, b: mb.einsum(values=(a, b), equation="nchw,nwhu->nchu"), a=a, b=b3)
    close(got, torch.einsum("nchw,nwhu->nchu", t(a), t(b3)), atol=1e-5)
    got = mil(lambda a, b: mb.matmul(x=a, y=b), a=a, b=b2)
    close(got, torch.matmul(t(a), t(b2)), atol=1e-5)


@pytest.mark.parametrize(
    "sp,stride,pad,dil,groups",
    [(1, 1, "valid", 1, 1), (1, 2, (3, 3), 1, 1), (1, 3, (2, 1), 2, 2), (1, 1, "same", 1, 1), (2, 2, (1, 2), 1, 1),
     (2, 1, "same", 2, 3)],
)
def test_conv(sp, stride, pad, dil, groups):
    n, cin, cout, k = 2, 6, 12, 5
    x = rand(n, cin, *([23] * sp))
    w, b = rand(cout, cin // groups, *([k] * sp)), rand(cout)
    kw = dict(strides=[stride] * sp, dilations=[dil] * sp, groups=groups, bias=b)
    if isinstance(pad, tuple):
        kw.update(pad_type="custom", pad=list(pad) * sp)
    else:
        kw.update(pad_type=pad)
    got = mil(lambda x: mb.conv(x=x, weight=w, **kw), x=x)
    xt = F.pad(t(x), list(pad) * sp) if isinstance(pad, tuple) else t(x)  # torch pads symmetric only
    conv = F.conv1d if sp == 1 else F.conv2d
    ref = conv(xt, t(w), t(b), stride=stride, dilation=dil, groups=groups,
               padding=0 if isinstance(pad, tuple) else pad)
    close(got, ref, atol=1e-4)


@pytest.mark.parametrize(
    "sp,stride,padding,out_pad,dil,groups",
    [(1, 2, 7, 0, 1, 1), (1, 2, 0, 0, 1, 1), (1, 3, 2, 1, 1, 2), (1, 2, 1, 0, 2, 1), (2, 2, 1, 1, 1, 1)],
)
def test_conv_transpose(sp, stride, padding, out_pad, dil, groups):
    n, cin, cout, k = 2, 4, 6, 4
    x = rand(n, cin, *([9] * sp))
    w, b = rand(cin, cout // groups, *([k] * sp)), rand(cout)
    ct_fn = F.conv_transpose1d if sp == 1 else F.conv_transpose2d
    ref = ct_fn(t(x), t(w), t(b), stride=stride, padding=padding, output_padding=out_pad, groups=groups, dilation=dil)
    kw = dict(strides=[stride] * sp, dilations=[dil] * sp, groups=groups, bias=b, pad_type="custom",
              pad=[padding] * 2 * sp)
    if out_pad:
        kw["output_shape"] = list(ref.shape)
    close(mil(lambda x: mb.conv_transpose(x=x, weight=w, **kw), x=x), ref, atol=1e-4)


@pytest.mark.parametrize("op", ["avg_pool", "max_pool", "l2_pool"])
def test_pool(op):
    x = rand(2, 3, 17, low=0.1, high=2.0)
    got = mil(lambda x: getattr(mb, op)(x=x, kernel_sizes=[3], strides=[2], pad_type="valid"), x=x)
    ref = {"avg_pool": F.avg_pool1d(t(x), 3, 2), "max_pool": F.max_pool1d(t(x), 3, 2),
           "l2_pool": F.lp_pool1d(t(x), 2, 3, 2)}[op]
    close(got, ref, atol=1e-5)
    if op == "avg_pool":  # padding, counted or excluded
        for exclude in (False, True):
            got = mil(lambda x: mb.avg_pool(x=x, kernel_sizes=[3], strides=[2], pad_type="custom", pad=[1, 1],
                                            exclude_padding_from_average=exclude), x=x)
            close(got, F.avg_pool1d(t(x), 3, 2, padding=1, count_include_pad=not exclude), atol=1e-5)


def test_scaled_dot_product_attention():
    q, k, v = rand(2, 3, 5, 8), rand(2, 3, 7, 8), rand(2, 3, 7, 4)
    m = rand(2, 1, 5, 7) > -1.0
    got = mil(lambda q, k, v, m: mb.scaled_dot_product_attention(query=q, key=k, value=v, attn_mask=m),
              opset=ct.target.iOS18, q=q, k=k, v=v, m=m)
    close(got, F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(m)), atol=1e-5)


# shapes, indexing, construction ---------------------------------------------------------------------
def test_shape_ops():
    x = rand(2, 3, 4)
    close(mil(lambda x: mb.reshape(x=x, shape=[0, 0, -1]), x=x), t(x).reshape(2, 3, 4))
    close(mil(lambda x: mb.reshape(x=x, shape=[-1, 0]), x=x), t(x).reshape(6, 4))  # iOS17: zeros align right
    close(mil(lambda x: mb.reshape(x=x, shape=[1, 0, -1, 0]), x=x), t(x).reshape(1, 2, 3, 4))
    z = rand(2, 50)  # the coremltools docs' example: a 0 without a matching input dim is 1
    close(mil(lambda z: mb.reshape(x=z, shape=[1, 0, -1, 0]), z=z), t(z).reshape(1, 1, 2, 50))
    close(mil(lambda x: mb.transpose(x=x, perm=[2, 0, 1]), x=x), t(x).permute(2, 0, 1))
    close(mil(lambda x: mb.transpose(x=x, perm=[0, -1, -2]), x=x), t(x).permute(0, 2, 1))
    close(mil(lambda x: mb.expand_dims(x=x, axes=[0, -1]), x=x), t(x)[None, ..., None])
    y = rand(2, 1, 4, 1)
    close(mil(lambda y: mb.squeeze(x=y, axes=[-1]), y=y), t(y).squeeze(-1))
    close(mil(lambda y: mb.squeeze(x=y), y=y), t(y).squeeze())
    close(mil(lambda x: mb.shape(x=x), x=x), torch.tensor(t(x).shape, dtype=torch.int32))
    close(mil(lambda x: mb.tile(x=x, reps=[2, 1, 3]), x=x), torch.tile(t(x), (2, 1, 3)))
    close(mil(lambda x: mb.reverse(x=x, axes=[1, 2]), x=x), torch.flip(t(x), [1, 2]))
    close(mil(lambda x: mb.flatten2d(x=x, axis=2), x=x), t(x).reshape(6, 4))
    close(mil(lambda x, z: mb.stack(values=[x, z], axis=1), x=x, z=x + 1), torch.stack([t(x), t(x + 1)], 1))


def test_fill_range():
    x = rand(2, 3)
    close(mil(lambda x: mb.fill(shape=mb.shape(x=x), value=np.float32(2.5)), x=x), torch.full((2, 3), 2.5))
    close(mil(lambda x: mb.fill_like(ref_tensor=x, value=np.float32(-1.0)), x=x, opset=ct.target.iOS16),
          torch.full_like(t(x), -1.0))
    n = np.array([7], dtype=np.int32)
    got = mil(lambda n: mb.range_1d(start=np.int32(1), end=mb.squeeze(x=n), step=np.int32(2)), n=n)
    close(got, torch.arange(1, 7, 2, dtype=torch.int32))
    got = mil(lambda x: mb.range_1d(start=np.float32(0.5), end=mb.add(x=mb.mul(x=mb.reduce_sum(x=x), y=np.float32(0)),
                                                                       y=np.float32(3.0)), step=np.float32(0.75)), x=x)
    close(got, torch.arange(0.5, 3.0, 0.75))


def test_concat_split():
    a, b = rand(2, 3), rand(2, 5)
    close(mil(lambda a, b: mb.concat(values=[a, b], axis=-1), a=a, b=b), torch.cat([t(a), t(b)], -1))
    c = rand(2, 3)
    got = mil(lambda a, c: mb.concat(values=[a, c], axis=1, interleave=True), a=a, c=c)
    close(got, torch.stack([t(a), t(c)], dim=2).reshape(2, 6))
    s = np.array([4], np.int32)  # scalars (sizes) concatenate into a shape vector
    got = mil(lambda s: mb.concat(values=[mb.squeeze(x=s), np.int32(2)], axis=0), s=s)
    close(got, torch.tensor([4, 2], dtype=torch.int32))
    x = rand(2, 9)
    got = mil(lambda x: mb.split(x=x, split_sizes=[2, 3, 4], axis=1), x=x)
    for got, ref in zip(got, torch.split(t(x), [2, 3, 4], 1)):
        close(got, ref)
    for got, ref in zip(mil(lambda x: mb.split(x=x, num_splits=3, axis=-1), x=x), torch.chunk(t(x), 3, -1)):
        close(got, ref)


def test_slicing():
    x = rand(4, 6, 5)
    got = mil(lambda x: mb.slice_by_index(x=x, begin=[1, 0, 4], end=[3, 5, 0], stride=[1, 2, -2],
                                          begin_mask=[False, True, False], end_mask=[False, False, True]), x=x)
    close(got, torch.from_numpy(x[1:3, :5:2, 4::-2].copy()))
    got = mil(lambda x: mb.slice_by_index(x=x, begin=[2, 0, 0], end=[3, -1, 5], squeeze_mask=[True, False, False]), x=x)
    close(got, t(x)[2, :-1, :])
    close(mil(lambda x: mb.slice_by_size(x=x, begin=[1, 2, 0], size=[2, -1, 3]), x=x), t(x)[1:3, 2:, 0:3])


def test_gathers():
    table = rand(10, 4)
    ids = np.array([[1, 9, -1], [0, 3, 3]], dtype=np.int32)
    got = mil(lambda tb, i: mb.gather(x=tb, indices=i, axis=0), tb=table, i=ids)
    close(got, F.embedding(t(ids % 10).long(), t(table)))
    x = rand(2, 5, 3)
    idx = np.array([[4, 0], [2, 2]], dtype=np.int32)
    got = mil(lambda x, i: mb.gather(x=x, indices=i, axis=1, batch_dims=1), x=x, i=idx)
    close(got, torch.stack([t(x)[b, t(idx[b]).long()] for b in range(2)]))
    idx3 = RNG.integers(0, 5, size=(2, 4, 3)).astype(np.int32)
    got = mil(lambda x, i: mb.gather_along_axis(x=x, indices=i, axis=1), x=x, i=idx3)
    close(got, torch.gather(t(x), 1, t(idx3).long()))
    nd = np.array([[0, 4], [1, 2]], dtype=np.int32)
    close(mil(lambda x, i: mb.gather_nd(x=x, indices=i), x=x, i=nd), t(x)[[0, 1], [4, 2]])
    upd = rand(2, 1, 3)
    pos = np.array([[[1, 4, 0]], [[3, 3, 2]]], dtype=np.int32)
    got = mil(lambda x, i, u: mb.scatter_along_axis(data=x, indices=i, updates=u, axis=1, mode="update"),
              x=x, i=pos, u=upd)
    close(got, torch.scatter(t(x), 1, t(pos).long(), t(upd)))


@pytest.mark.parametrize("mode", ["update", "add"])
def test_scatter_nd_is_index_put(mode):
    x, upd = rand(3, 5, 2), rand(4, 2)
    pos = np.array([[0, 1], [2, 4], [1, -1], [2, 4 if mode == "add" else 0]], dtype=np.int32)  # add: a repeat
    got = mil(lambda x, i, u: mb.scatter_nd(data=x, indices=i, updates=u, mode=mode), x=x, i=pos, u=upd)
    ref = torch.index_put(t(x), (t(pos[:, 0]).long(), t(pos[:, 1]).long()), t(upd), accumulate=mode == "add")
    close(got, ref)


def test_band_one_hot_pad():
    x = rand(2, 5, 5)
    close(mil(lambda x: mb.band_part(x=x, lower=np.int32(-1), upper=np.int32(0)), x=x), torch.tril(t(x)))
    close(mil(lambda x: mb.band_part(x=x, lower=np.int32(0), upper=np.int32(-1)), x=x), torch.triu(t(x)))
    i = np.array([[0, 3], [2, 1]], dtype=np.int32)
    got = mil(lambda i: mb.one_hot(indices=i, one_hot_vector_size=np.int32(4), axis=-1, on_value=np.float32(1),
                                   off_value=np.float32(0)), i=i)
    close(got, F.one_hot(t(i).long(), 4).float())
    y = rand(2, 3, 6)
    for mode, tmode in (("constant", "constant"), ("reflect", "reflect"), ("replicate", "replicate")):
        got = mil(lambda y: mb.pad(x=y, pad=[2, 1], mode=mode), y=y)
        close(got, F.pad(t(y), (2, 1), mode=tmode))
    got = mil(lambda y: mb.pad(x=y, pad=[0, 0, 1, 2, 3, 0], mode="constant", constant_val=np.float32(-7)), y=y)
    close(got, F.pad(t(y), (3, 0, 1, 2), value=-7.0))


def test_sorting():
    x = rand(3, 8)
    got = mil(lambda x: mb.argsort(x=x, axis=-1, ascending=False), x=x)
    close(got, torch.argsort(t(x), dim=-1, descending=True).int())
    close(mil(lambda x: mb.argsort(x=x, axis=0, ascending=True), x=x), torch.argsort(t(x), dim=0).int())
    values, indices = mil(lambda x: mb.topk(x=x, k=3, axis=-1), x=x)
    ref = torch.topk(t(x), 3, dim=-1)
    close(values, ref.values)
    close(indices, ref.indices.int())


# fp16 semantics --------------------------------------------------------------------------------------
def test_fp16_program_rounds_after_every_op_and_overflows_to_inf():
    x = np.array([300.0, 1.0 / 3.0, -70000.0, 2.0], dtype=np.float32)
    got = mil(lambda x: mb.mul(x=mb.cast(x=x, dtype="fp16"), y=np.float16(300.0)), x=x)
    assert got.dtype == np.float16
    close(got, (t(x).half() * 300.0), atol=0, rtol=0)  # torch half: same rounding, same inf
    assert np.isinf(got[0]) and np.isinf(got[2])
    # rounding happens after each op: (1/3 in fp16) * 3 != 1 exactly, as in torch half
    got = mil(lambda x: mb.mul(x=mb.real_div(x=mb.cast(x=x, dtype="fp16"), y=np.float16(3.0)), y=np.float16(3.0)), x=x)
    close(got, t(x).half() / 3.0 * 3.0, atol=0, rtol=0)


def test_fp32_program_stays_fp32():
    x = np.array([300.0, 1e30], dtype=np.float32)
    got = mil(lambda x: mb.mul(x=x, y=np.float32(300.0)), x=x)
    assert got.dtype == np.float32 and np.isfinite(got).all()


def test_fp16_softmax_with_float32_min_fill_is_nan_where_torch_is_finite():
    """The attention-mask trap: (1 - mask) * finfo(float32).min becomes 0 * -inf = NaN in fp16."""
    scores, mask = rand(2, 5), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.float32)
    fill = np.float32(np.finfo(np.float32).min)

    def prog(s, m):
        bias = mb.mul(x=mb.sub(x=np.float16(1.0), y=mb.cast(x=m, dtype="fp16")), y=np.float16(-np.inf))
        return mb.softmax(x=mb.add(x=mb.cast(x=s, dtype="fp16"), y=bias), axis=-1)

    got = mil(prog, s=scores, m=mask)
    ref = torch.softmax(t(scores) + (1 - t(mask)) * float(fill), -1)
    assert torch.isfinite(ref).all() and np.isnan(got).all()


# compressed weights ----------------------------------------------------------------------------------
def test_constexpr_affine_dequantize():
    w = rand(4, 6)
    scale = (np.abs(w).max(axis=1) / 127).astype(np.float32)
    qd = np.clip(np.round(w / scale[:, None]), -128, 127).astype(np.int8)
    got = mil(lambda x: mb.add(x=x, y=mb.constexpr_affine_dequantize(quantized_data=qd, zero_point=np.int8(0),
                                                                       scale=scale, axis=0)),
              x=np.zeros((4, 6), np.float32), opset=ct.target.iOS16)
    ref = torch.fake_quantize_per_channel_affine(t(w), t(scale), torch.zeros(4, dtype=torch.int32), 0, -128, 127)
    close(got, ref, atol=1e-7)
    from coremltools.converters.mil.mil.ops.defs.iOS16.constexpr_ops import constexpr_affine_dequantize as ref_op

    exact = ref_op.decompress(qd, np.int8(0), scale, 0)
    np.testing.assert_array_equal(got, exact)


@pytest.mark.parametrize("nbits", [1, 2, 4, 6, 8])
def test_constexpr_lut_to_dense_ios16(nbits):
    from coremltools.optimize._utils import pack_elements_into_bits

    shape = (3, 7)
    lut = rand(2**nbits)
    idx = RNG.integers(0, 2**nbits, size=shape)
    packed = pack_elements_into_bits(idx.reshape(-1).astype(np.uint8), nbits)
    dims = np.array(shape, np.uint32)
    got = mil(lambda x: mb.add(x=x, y=mb.constexpr_lut_to_dense(lut=lut, indices=packed, shape=dims)),
              x=np.zeros(shape, np.float32), opset=ct.target.iOS16)
    close(got, t(lut)[t(idx).long()], atol=0, rtol=0)


def test_unpack_bits_matches_coremltools():
    from coremltools.optimize._utils import restore_elements_from_packed_bits

    packed = RNG.integers(0, 256, size=19).astype(np.uint8)
    for nbits in (1, 2, 3, 4, 6, 8):
        n = 19 * 8 // nbits
        want = restore_elements_from_packed_bits(packed, nbits, n)
        np.testing.assert_array_equal(unpack_bits(packed, nbits, n), want)


def test_constexpr_ios18_blockwise_and_lut_and_sparse():
    data = RNG.integers(-8, 8, size=(4, 6)).astype(np.int8)
    scale, offset = rand(2, 3, low=0.1, high=1.0), RNG.integers(-2, 2, size=(2, 3)).astype(np.int8)
    z = np.zeros((4, 6), np.float32)
    got = mil(lambda x: mb.add(x=x, y=mb.constexpr_blockwise_shift_scale(data=data, scale=scale, offset=offset)),
              x=z, opset=ct.target.iOS18)
    ref = (t(data).float() - t(offset).float().repeat_interleave(2, 0).repeat_interleave(2, 1)) * \
        t(scale).repeat_interleave(2, 0).repeat_interleave(2, 1)
    close(got, ref, atol=1e-6)
    idx = RNG.integers(0, 4, size=(4, 6)).astype(types.np_uint2_dtype)
    lut = rand(2, 1, 4, 1)  # one LUT per half of the rows
    got = mil(lambda x: mb.add(x=x, y=mb.constexpr_lut_to_dense(indices=idx, lut=lut)),
              x=z, opset=ct.target.iOS18)
    ref = torch.stack([t(lut[r // 2, 0, :, 0])[t(idx[r].astype(np.int64))] for r in range(4)])
    close(got, ref, atol=0, rtol=0)
    mask = (RNG.uniform(size=(4, 6)) > 0.5).astype(types.np_uint1_dtype)
    nz = rand(int(mask.sum()))
    got = mil(lambda x: mb.add(x=x, y=mb.constexpr_sparse_to_dense(nonzero_data=nz, mask=mask)),
              x=z, opset=ct.target.iOS18)
    ref = torch.zeros(4, 6)
    ref[t(mask).bool()] = t(nz)
    close(got, ref, atol=0, rtol=0)


def test_constexpr_cast():
    w = rand(3, 4).astype(np.float16)
    got = mil(lambda x: mb.add(x=x, y=mb.constexpr_cast(source_val=w, output_dtype="fp32")),
              x=np.zeros((3, 4), np.float32), opset=ct.target.iOS16)
    close(got, t(w).float(), atol=0, rtol=0)


# what is not evaluated fails loudly --------------------------------------------------------------------
def test_unknown_op_raises_not_evaluated():
    x = rand(1, 2, 4, 4)
    specs = [mb.TensorSpec(shape=x.shape)]
    prog = mb.program(input_specs=specs, opset_version=ct.target.iOS17)(
        lambda x: mb.upsample_nearest_neighbor(x=x, scale_factor_height=2, scale_factor_width=2))
    with pytest.raises(NotEvaluatedError, match="not evaluated: upsample_nearest_neighbor"):
        ProgramEvaluator(prog)


def test_every_kernel_is_tested():
    """Every kernel is built (`mb.<op>(` or a table of op names) by some case in this file."""
    import re
    from pathlib import Path

    source = Path(__file__).read_text()
    tested = set(re.findall(r"mb\.(\w+)\(", source)) | set(BINARY) | set(UNARY) | set(ALPHA) | set(REDUCE)
    tested |= {"logical_and", "logical_or", "logical_xor", "avg_pool", "max_pool", "l2_pool", "reduce_argmax",
               "reduce_argmin"}  # parametrized by name above
    untested = sorted((set(KERNELS) | set(CONSTEXPR)) - tested)
    assert not untested, f"kernels without a test against PyTorch: {untested}"
