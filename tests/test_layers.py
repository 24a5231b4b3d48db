"""The layer catalogue against Keras itself.

Every case builds the real Keras layer, calls it on ``keras.Input`` and
compares the output shape (or Keras's refusal) with what the transfer
function computes for a concrete input: a Keras refusal must show as an
assumption that is plainly false (or an opaque result), an accepted layer
as assumptions that all hold and the same dims.
"""

from __future__ import annotations

import inspect
import os
import random

import pytest
import z3

from keras_shape_lint import symbolic as S
from keras_shape_lint.layers import lookup
from keras_shape_lint.values import ListValue, Tensor, Unknown

from layer_ctx import LayerCtx

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KERAS_ERRORS = (ValueError, TypeError, ZeroDivisionError, IndexError)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


# ----------------------------------------------------------------- helpers


def run_model(name, args, kwargs, inputs, image_data_format="channels_last"):
    model = lookup(f"keras.layers.{name}")
    assert model is not None, f"{name} is not registered"
    cfg = model.bind(list(args), dict(kwargs))
    assert cfg is not None, f"{name}: required parameter missing"
    ctx = LayerCtx(image_data_format)
    return ctx, model.apply(ctx, cfg, inputs)


def run_keras(keras, name, args, kwargs, dims):
    """Keras's output dims (batch axis dropped), or None when Keras rejects."""
    try:
        layer = getattr(keras.layers, name)(*args, **kwargs)
        out = layer(keras.Input(shape=dims))
    except KERAS_ERRORS:
        return None
    return tuple(out.shape[1:])


def positional(keras, name, kwargs):
    """Split kwargs into the longest positional prefix of Keras's own signature."""
    params = [
        p.name
        for p in inspect.signature(getattr(keras.layers, name).__init__).parameters.values()
        if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    args, rest = [], dict(kwargs)
    for param in params:
        if param not in rest:
            break
        args.append(rest.pop(param))
    return args, rest


def check_against_keras(keras, name, kwargs, dims, use_positional=False):
    args, kw = positional(keras, name, kwargs) if use_positional else ([], dict(kwargs))
    expected = run_keras(keras, name, args, kw, dims)
    x = Tensor(dims)
    ctx, out = run_model(name, args, kw, x)
    for term in ctx.assumptions:
        assert isinstance(term, bool), f"symbolic assumption from a concrete case: {term}"
    accepted = all(ctx.assumptions) and not ctx.opaques
    if expected is None:
        assert not accepted, f"Keras rejects {name}({kwargs}) on {dims}; we give {out}"
        return
    assert not ctx.opaques, f"opaque: {ctx.opaques}"
    assert all(ctx.assumptions), f"Keras accepts {name}({kwargs}) on {dims}; we assume {ctx.assumptions}"
    assert out.dims == expected, f"{name}({kwargs}) on {dims}: Keras {expected}, ours {out.dims}"
    if out is not x and len(out.dims) > 1:
        # merge checks find the channel axis through the tensor's layout
        assert out.channels_last == (kwargs.get("data_format") != "channels_first")


# ------------------------------------------------------- random configurations

_random = random.Random(20240611)
DEFAULT = object()  # leave the argument out


def per_axis(*values):
    """An option drawn per case: one value, or a tuple of ``rank`` values."""
    return lambda rank: tuple(_random.choice(values) for _ in range(rank))


def draw(options, rank):
    out = {}
    for key, choices in options.items():
        value = _random.choice(choices)
        if callable(value):
            value = value(rank)
        if value is not DEFAULT:
            out[key] = value
    return out


def spatial_input(rank, sizes, channels, channels_first):
    spatial = tuple(_random.choice(sizes) for _ in range(rank))
    c = _random.choice(channels)
    return (c,) + spatial if channels_first else spatial + (c,)


def cases(names_by_rank, options, count, sizes=(1, 2, 3, 5, 7, 8, 9, None), channels=(2, 3, 4, 6)):
    out = []
    for rank, names in names_by_rank.items():
        for index in range(count):
            name = names[index % len(names)]
            kwargs = draw(options, rank)
            first = kwargs.get("data_format") == "channels_first"
            dims = spatial_input(rank, sizes if rank < 3 else sizes[:5] + (None,), channels, first)
            out.append(pytest.param(name, kwargs, dims, index % 2 == 1, id=f"{name}-{index}"))
    return out


FORMATS = [DEFAULT, "channels_last", "channels_first"]

CONV_CASES = cases(
    {1: ["Conv1D"], 2: ["Conv2D", "Convolution2D"], 3: ["Conv3D"]},
    {
        "filters": [2, 4, 6, 12],
        "kernel_size": [1, 2, 3, 4, per_axis(1, 2, 3)],
        "strides": [DEFAULT, 1, 2, 3, per_axis(1, 2)],
        "padding": [DEFAULT, "valid", "same", "same", "causal", "Same"],
        "data_format": FORMATS,
        "dilation_rate": [DEFAULT, DEFAULT, DEFAULT, 1, 2, 3, per_axis(1, 2)],
        "groups": [DEFAULT, 1, 2, 2, 3],
    },
    count=90,
    channels=(2, 3, 4, 6, 6, 12, 12, None),
)

DEPTHWISE_CASES = cases(
    {1: ["DepthwiseConv1D"], 2: ["DepthwiseConv2D"]},
    {
        "kernel_size": [1, 2, 3, per_axis(1, 3)],
        "strides": [DEFAULT, 1, 2, 3, per_axis(1, 2)],
        "padding": [DEFAULT, "valid", "same", "causal"],
        "depth_multiplier": [DEFAULT, 1, 2, 3],
        "data_format": FORMATS,
        "dilation_rate": [DEFAULT, 1, 2],
    },
    count=40,
)

SEPARABLE_CASES = cases(
    {1: ["SeparableConv1D"], 2: ["SeparableConv2D", "SeparableConvolution2D"]},
    {
        "filters": [1, 4, 5],
        "kernel_size": [1, 2, 3, per_axis(1, 3)],
        "strides": [DEFAULT, 1, 2, 3],
        "padding": [DEFAULT, "valid", "same", "causal"],
        "data_format": FORMATS,
        "dilation_rate": [DEFAULT, 1, 2],
        "depth_multiplier": [DEFAULT, 1, 2],
    },
    count=40,
)

TRANSPOSE_CASES = cases(
    {1: ["Conv1DTranspose"], 2: ["Conv2DTranspose", "Convolution2DTranspose"], 3: ["Conv3DTranspose"]},
    {
        "filters": [2, 3],
        "kernel_size": [1, 2, 3, 4, per_axis(1, 2, 3)],
        "strides": [DEFAULT, 1, 2, 3, per_axis(1, 2)],
        "padding": [DEFAULT, "valid", "same", "SAME"],
        "output_padding": [DEFAULT, DEFAULT, DEFAULT, None, 0, 1, 2, per_axis(0, 1)],
        "data_format": FORMATS,
        "dilation_rate": [DEFAULT, DEFAULT, 1, 1, 2],
    },
    count=70,
    channels=(2, 3, 3, 2, None),
)

POOL_CASES = cases(
    {
        1: ["MaxPooling1D", "AveragePooling1D", "MaxPool1D", "AvgPool1D"],
        2: ["MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D"],
        3: ["MaxPooling3D", "AveragePooling3D"],
    },
    {
        "pool_size": [1, 2, 3, per_axis(1, 2, 3)],
        "strides": [DEFAULT, None, 1, 2, 3, per_axis(1, 2, 3)],
        "padding": [DEFAULT, "valid", "same"],
        "data_format": FORMATS,
    },
    count=40,
)

GLOBAL_CASES = cases(
    {
        1: ["GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAvgPool1D"],
        2: ["GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalMaxPool2D"],
        3: ["GlobalAveragePooling3D", "GlobalMaxPooling3D"],
    },
    {"data_format": FORMATS, "keepdims": [DEFAULT, False, True]},
    count=8,
)


def _pads(rank):
    if rank == 1:
        return _random.choice([0, 2, (0, 3), (2, 1)])
    single = [0, 1, 2, 3]
    kind = _random.choice(["int", "ints", "pairs"])
    if kind == "int":
        return _random.choice(single)
    if kind == "ints":
        return tuple(_random.choice(single) for _ in range(rank))
    return tuple((_random.choice(single), _random.choice(single)) for _ in range(rank))


RESHAPE_CASES = (
    cases(
        {1: ["ZeroPadding1D"], 2: ["ZeroPadding2D"], 3: ["ZeroPadding3D"]},
        {"padding": [DEFAULT, _pads], "data_format": FORMATS},
        count=15,
    )
    + cases({1: ["Cropping1D"]}, {"cropping": [DEFAULT, _pads]}, count=15)
    + cases(
        {2: ["Cropping2D"], 3: ["Cropping3D"]},
        {"cropping": [DEFAULT, _pads], "data_format": FORMATS},
        count=15,
    )
    + cases({1: ["UpSampling1D"]}, {"size": [DEFAULT, 1, 3]}, count=8)
    + cases(
        {2: ["UpSampling2D"], 3: ["UpSampling3D"]},
        {"size": [DEFAULT, 1, 3, per_axis(1, 2, 3)], "data_format": FORMATS},
        count=12,
    )
)


SPATIAL_CASES = CONV_CASES + DEPTHWISE_CASES + SEPARABLE_CASES + TRANSPOSE_CASES
SPATIAL_CASES += POOL_CASES + GLOBAL_CASES + RESHAPE_CASES


@pytest.mark.parametrize("name, kwargs, dims, use_positional", SPATIAL_CASES)
def test_spatial_layers_match_keras(keras, name, kwargs, dims, use_positional):
    check_against_keras(keras, name, kwargs, dims, use_positional)


# ----------------------------------------------------- hand-written cases

OTHER_CASES = [
    ("Flatten", {}, (3, 4, 5)),
    ("Flatten", {}, (7,)),
    ("Flatten", {}, ()),
    ("Flatten", {}, (3, None, 5)),
    ("Flatten", {"data_format": "channels_first"}, (3, 4)),
    ("Reshape", {"target_shape": (-1, 4)}, (6, 2)),
    ("Reshape", {"target_shape": (3, -1, 2)}, (6, 2)),
    ("Reshape", {"target_shape": (4, 3)}, (6, 2)),
    ("Reshape", {"target_shape": (5, 3)}, (6, 2)),
    ("Reshape", {"target_shape": (-1, 5)}, (6, 2)),
    ("Reshape", {"target_shape": (-1, -1)}, (6, 2)),
    ("Reshape", {"target_shape": (-1, 4)}, (6, None)),
    ("Reshape", {"target_shape": (None, 4)}, (6, 2)),
    ("Reshape", {"target_shape": [2, 2, 3]}, (12,)),
    ("Reshape", {"target_shape": (0, -1)}, (6, 2)),
    ("Permute", {"dims": (2, 1)}, (3, 4)),
    ("Permute", {"dims": (3, 1, 2)}, (3, None, 5)),
    ("Permute", {"dims": (1, 3)}, (3, 4)),
    ("Permute", {"dims": (2, 1)}, (3, 4, 5)),
    ("RepeatVector", {"n": 3}, (5,)),
    ("RepeatVector", {"n": 0}, (5,)),
    ("RepeatVector", {"n": 3}, (5, 2)),
    ("PReLU", {"shared_axes": [2]}, (4, None)),
    ("PReLU", {"shared_axes": 1}, (None, 4)),
    ("PReLU", {"shared_axes": [1, 2]}, (None, 3, 4)),
    ("Dense", {"units": 7}, (3,)),
    ("Dense", {"units": 7}, (4, None, 3)),
    ("Dense", {"units": 7}, (3, None)),
    ("Dense", {"units": 0}, (3,)),
    ("Dense", {"units": 7}, ()),
    ("Embedding", {"input_dim": 100, "output_dim": 8}, (12,)),
    ("Embedding", {"input_dim": 100, "output_dim": 8}, (None, 3)),
    ("Embedding", {"input_dim": 100, "output_dim": 8}, ()),
    ("Embedding", {"input_dim": 100, "output_dim": 0}, (5,)),
    ("GroupNormalization", {}, (8, 64)),
    ("GroupNormalization", {"groups": 4}, (8, 6)),
    ("GroupNormalization", {"groups": 4}, (8, 12)),
    ("GroupNormalization", {"groups": 8}, (4, 4)),
    ("GroupNormalization", {"groups": -1}, (5, 7)),
    ("GroupNormalization", {"groups": 2, "axis": 1}, (6, 5)),
    ("GroupNormalization", {"groups": 2}, (6, None)),
    ("BatchNormalization", {}, (5, 3)),
    ("BatchNormalization", {"axis": 1}, (5, None)),
    ("BatchNormalization", {}, (5, None)),
    ("BatchNormalization", {"axis": 3}, (5, 3)),
    ("LayerNormalization", {"axis": [1, 2]}, (5, 3)),
    ("LayerNormalization", {}, (5, None)),
    ("LayerNormalization", {"center": False, "scale": False}, (5, None)),
    ("UnitNormalization", {}, (5, None)),
    ("UnitNormalization", {"axis": 4}, (5, 3)),
    ("RMSNormalization", {}, (5, 3)),
    ("SpatialDropout1D", {"rate": 0.5}, (5, 3)),
    ("SpatialDropout2D", {"rate": 0.5, "data_format": "channels_first"}, (5, 3, 4)),
    ("SpatialDropout3D", {"rate": 0.5}, (5, 3, 4, 2)),
    ("SpatialDropout2D", {"rate": 0.5}, (5, 3)),
    ("ZeroPadding2D", {"padding": ((1, 2), 3)}, (4, 5, 3)),
    ("Cropping2D", {"cropping": 2}, (4, 5, 3)),
    ("Cropping3D", {"cropping": ((0, 1), 2, (1, 0))}, (4, 5, 6, 3)),
]

SHAPE_PRESERVING = [
    ("Activation", {"activation": "relu"}),
    ("ReLU", {}),
    ("LeakyReLU", {}),
    ("PReLU", {}),
    ("ELU", {}),
    ("Softmax", {}),
    ("Dropout", {"rate": 0.3}),
    ("AlphaDropout", {"rate": 0.3}),
    ("GaussianNoise", {"stddev": 0.1}),
    ("GaussianDropout", {"rate": 0.2}),
    ("ActivityRegularization", {}),
    ("Identity", {}),
    ("Masking", {}),
    ("Rescaling", {"scale": 1 / 255}),
    ("Normalization", {}),
    ("BatchNormalization", {}),
    ("LayerNormalization", {}),
    ("UnitNormalization", {}),
    ("GroupNormalization", {"groups": 2}),
]


@pytest.mark.parametrize(
    "name, kwargs, dims", OTHER_CASES + [(name, kwargs, (4, None, 6)) for name, kwargs in SHAPE_PRESERVING]
)
def test_other_layers_match_keras(keras, name, kwargs, dims):
    check_against_keras(keras, name, kwargs, dims, use_positional=bool(kwargs))


@pytest.mark.parametrize(
    "name, args, dims",
    [
        ("Conv2D", (8, 3, 2, "same", "channels_first", 1, 2), (6, 9, 10)),
        ("Conv1D", (8, 3, 1, "causal", None, 2, 4), (9, 8)),
        ("Conv3DTranspose", (4, 3, 2, "same", "channels_first", 1), (2, 5, 6, 7)),
        ("Conv2DTranspose", (4, 3, 2, "same", 1, "channels_first"), (2, 5, 6)),
        ("DepthwiseConv2D", (3, 2, "valid", 3, "channels_first", 1), (2, 8, 9)),
        ("SeparableConv2D", (4, 3, 1, "valid", "channels_first", 2, 3), (2, 8, 9)),
        ("MaxPooling2D", (3, 1, "same", "channels_first"), (2, 8, 9)),
        ("AveragePooling2D", ((2, 3), None, "valid", "channels_first"), (2, 8, 9)),
        ("ZeroPadding2D", ((1, 2), "channels_first"), (2, 8, 9)),
        ("UpSampling2D", (3, "channels_first"), (2, 8, 9)),
        ("GlobalMaxPooling2D", ("channels_first", True), (2, 8, 9)),
    ],
)
def test_positional_arguments_match_keras(keras, name, args, dims):
    expected = run_keras(keras, name, args, {}, dims)
    ctx, out = run_model(name, args, {}, Tensor(dims))
    assert expected is not None
    assert all(ctx.assumptions) and out.dims == expected


# ------------------------------------------------------ unknown (None) dims


@pytest.mark.parametrize(
    "name, kwargs, dims",
    [
        ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2}, (None, 9, 3)),
        ("Conv2D", {"filters": 4, "kernel_size": 3, "data_format": "channels_first"}, (3, 9, None)),
        ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2}, (None, None, 3)),
        ("MaxPooling2D", {}, (None, 9, 3)),
        ("UpSampling2D", {}, (None, 9, 3)),
        ("Cropping2D", {"cropping": 1}, (None, 9, 3)),
        ("ZeroPadding1D", {}, (None, 3)),
    ],
)
def test_none_dims_propagate(keras, name, kwargs, dims):
    ctx, out = run_model(name, (), kwargs, Tensor(dims))
    expected = run_keras(keras, name, (), kwargs, dims)
    assert None in expected and out.dims == expected


# ------------------------------------------------------------ symbolic dims


def evaluate(term, env):
    """The value of an int or bool term once its variables take ``env``'s values."""
    if not S.is_sym(term):
        return term
    pairs = [(z3.Int(name), z3.IntVal(value)) for name, value in env.items()]
    value = z3.simplify(z3.substitute(term, *pairs))
    if z3.is_int_value(value):
        return value.as_long()
    if z3.is_true(value) or z3.is_false(value):
        return z3.is_true(value)
    raise AssertionError(f"{term} does not reduce to a constant: {value}")


def substitute(value, env):
    if isinstance(value, tuple):
        return tuple(substitute(v, env) for v in value)
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return evaluate(value, env)


H, W, C, G, K, ST = (z3.Int(n) for n in ("h", "w", "c", "g", "k", "s"))

SYMBOLIC_CASES = [
    (
        "Conv2D",
        {"filters": 8, "kernel_size": 3, "strides": 2},
        (H, W, C),
        {"h": range(1, 9), "w": [4, 7], "c": [4]},
    ),
    (
        "Conv2D",
        {"filters": 8, "kernel_size": 3, "padding": "same", "strides": 3},
        (H, W, C),
        {"h": range(1, 9), "w": [5], "c": [3]},
    ),
    (
        "Conv2D",
        {"filters": 6, "kernel_size": K, "strides": ST},
        (H, 9, 4),
        {"h": range(2, 9), "k": [1, 2, 3], "s": [1, 2, 3]},
    ),
    (
        "Conv2D",
        {"filters": 6, "kernel_size": 3, "groups": G},
        (8, 8, C),
        {"c": [2, 3, 4, 6], "g": [1, 2, 3, 4]},
    ),
    (
        "Conv1D",
        {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "causal"},
        (H, C),
        {"h": range(1, 7), "c": [2]},
    ),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2}, (H, C), {"h": range(1, 9), "c": [2]}),
    (
        "DepthwiseConv2D",
        {"kernel_size": 3, "depth_multiplier": G},
        (H, 6, C),
        {"h": range(2, 6), "g": [1, 3], "c": [2, 5]},
    ),
    (
        "Conv2DTranspose",
        {"filters": 3, "kernel_size": K, "strides": ST},
        (H, 4, 2),
        {"h": [1, 3, 4], "k": [1, 2, 3, 5], "s": [1, 2, 3]},
    ),
    (
        "Conv2DTranspose",
        {"filters": 3, "kernel_size": K, "strides": 3, "padding": "same", "output_padding": 1},
        (H, 4, 2),
        {"h": [1, 4], "k": [1, 2, 3, 4]},
    ),
    (
        "Conv1DTranspose",
        {"filters": 3, "kernel_size": 3, "dilation_rate": ST, "padding": "valid"},
        (H, 2),
        {"h": [2, 5], "s": [1, 2, 3]},
    ),
    (
        "MaxPooling2D",
        {"pool_size": K, "strides": ST},
        (H, W, 2),
        {"h": range(1, 8), "w": [6], "k": [1, 2, 3], "s": [1, 2]},
    ),
    ("AveragePooling1D", {"pool_size": 3, "padding": "same"}, (H, 2), {"h": range(1, 8)}),
    ("MaxPooling1D", {"pool_size": 2, "strides": ST, "padding": "same"}, (H, 2), {"h": range(1, 8), "s": [1, 2, 3]}),
    ("GlobalAveragePooling2D", {"keepdims": True}, (H, W, C), {"h": [3], "w": [5], "c": [7]}),
    ("ZeroPadding2D", {"padding": ((1, K), 2)}, (H, W, C), {"h": [1, 4], "w": [2], "c": [3], "k": [0, 3]}),
    (
        "Cropping2D",
        {"cropping": ((1, K), 2)},
        (H, W, C),
        {"h": [2, 4, 6], "w": [5, 6], "c": [3], "k": [0, 3]},
    ),
    ("UpSampling2D", {"size": (K, 2)}, (H, W, C), {"h": [1, 3], "w": [2], "c": [3], "k": [1, 4]}),
    ("Flatten", {}, (H, W, C), {"h": [1, 3], "w": [2], "c": [3, 5]}),
    ("Reshape", {"target_shape": (-1, C)}, (H, W, 4), {"h": [1, 3], "w": [2], "c": [2, 3, 8]}),
    ("Reshape", {"target_shape": (W, H)}, (H, W), {"h": [3], "w": [2]}),
    ("Dense", {"units": K}, (H, C), {"h": [3], "c": [2], "k": [1, 5]}),
    ("RepeatVector", {"n": K}, (C,), {"c": [4], "k": [1, 3]}),
    ("Embedding", {"input_dim": 10, "output_dim": K}, (H,), {"h": [3], "k": [2]}),
    ("GroupNormalization", {"groups": G}, (H, C), {"h": [3], "c": [4, 6, 8], "g": [1, 2, 4, 8]}),
]


def _assignments(domains):
    names = list(domains)
    envs = [{}]
    for name in names:
        envs = [dict(env, **{name: value}) for env in envs for value in domains[name]]
    return envs


@pytest.mark.parametrize("name, kwargs, dims, domains", SYMBOLIC_CASES, ids=[c[0] for c in SYMBOLIC_CASES])
def test_symbolic_dims_evaluate_like_keras(keras, name, kwargs, dims, domains):
    ctx, out = run_model(name, (), kwargs, Tensor(dims))
    assert not ctx.opaques
    assert any(S.is_sym(term) for term in out.dims + tuple(ctx.assumptions))
    for env in _assignments(domains):
        expected = run_keras(keras, name, (), substitute(kwargs, env), substitute(dims, env))
        holds = all(evaluate(term, env) for term in ctx.assumptions)
        assert holds == (expected is not None), f"{env}: Keras {expected}, assumptions {ctx.assumptions}"
        if expected is not None:
            assert substitute(out.dims, env) == expected, env


# --------------------------------------------------- recorded assumptions


def implied(assumptions, claim) -> bool:
    solver = z3.Solver()
    solver.add(*[a for a in assumptions if S.is_sym(a)])
    if solver.check() != z3.sat:
        return False
    solver.add(z3.Not(claim))
    return solver.check() == z3.unsat


def test_group_divisibility_is_assumed():
    ctx, out = run_model("Conv2D", (), {"filters": 12, "kernel_size": 1, "groups": G}, Tensor((8, 8, C)))
    assert out.dims == (8, 8, 12)
    assert implied(ctx.assumptions, C % G == 0)
    assert implied(ctx.assumptions, 12 % G == 0)
    assert implied(ctx.assumptions, G >= 1)
    assert not implied(ctx.assumptions, C == G)


def test_valid_padding_needs_a_large_enough_input():
    conv = {"filters": 4, "kernel_size": 5, "dilation_rate": 2}
    ctx, out = run_model("Conv2D", (), conv, Tensor((H, W, 3)))
    assert implied(ctx.assumptions, z3.And(H >= 9, W >= 9))
    assert not implied(ctx.assumptions, H >= 10)
    ctx, _ = run_model("MaxPooling2D", (), {"pool_size": 3}, Tensor((H, W, 3)))
    assert implied(ctx.assumptions, H >= 3)


def test_same_padding_assumes_nothing_of_the_input():
    ctx, _ = run_model("Conv2D", (), {"filters": 4, "kernel_size": 5, "padding": "same"}, Tensor((H, W, 3)))
    assert not any(S.is_sym(a) for a in ctx.assumptions)


def test_strides_with_dilation_is_assumed_away():
    conv = {"filters": 4, "kernel_size": 3, "strides": ST, "dilation_rate": K}
    ctx, _ = run_model("Conv2D", (), conv, Tensor((H, W, 3)))
    assert implied(ctx.assumptions, z3.Or(ST == 1, K == 1))


def test_group_normalization_divisibility_is_assumed():
    ctx, _ = run_model("GroupNormalization", (), {}, Tensor((H, C)))
    assert implied(ctx.assumptions, C % 32 == 0)
    unknown_rank = Unknown("x", free=True)
    ctx, out = run_model("GroupNormalization", (), {"groups": 4}, unknown_rank)
    assert implied(ctx.assumptions, unknown_rank.as_tensor().channels_dim() % 4 == 0)


def test_reshape_inference_assumes_divisibility():
    ctx, out = run_model("Reshape", (), {"target_shape": (-1, 3)}, Tensor((H, W)))
    assert implied(ctx.assumptions, (H * W) % 3 == 0)


# ------------------------------------------------------------- odd inputs


def test_unknown_rank_input_gets_the_layer_rank():
    x = Unknown("x", free=True)
    ctx, out = run_model("Conv2D", (), {"filters": 4, "kernel_size": 1}, x)
    assert not ctx.opaques and out.rank == 3 and x.as_tensor().rank == 3


def test_shape_preserving_layer_returns_its_input():
    x = Tensor((H, 3))
    _, out = run_model("Dropout", (0.5,), {}, x)
    assert out is x


@pytest.mark.parametrize(
    "name, kwargs, inputs",
    [
        ("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "reflect"}, Tensor((8, 8, 3))),
        ("Conv2D", {"filters": 4, "kernel_size": 3, "data_format": 7}, Tensor((8, 8, 3))),
        ("Conv2D", {"filters": 4, "kernel_size": "three"}, Tensor((8, 8, 3))),
        ("Conv2D", {"filters": 4, "kernel_size": 3}, Tensor((8, 3))),
        ("Conv2D", {"filters": 4, "kernel_size": 3}, 3),
        ("MaxPooling2D", {"padding": Unknown("p", free=True)}, Tensor((8, 8, 3))),
        ("Reshape", {"target_shape": "abc"}, Tensor((8, 8, 3))),
        ("Permute", {"dims": (1, z3.Int("d"))}, Tensor((8, 8))),
    ],
)
def test_not_understood_is_opaque(name, kwargs, inputs):
    ctx, out = run_model(name, (), kwargs, inputs)
    assert ctx.opaques and not out.known


def test_dense_on_an_input_of_unknown_rank_keeps_its_leading_axes():
    import keras

    x = Unknown("x", free=True)
    ctx, out = run_model("Dense", (4,), {}, x)
    assert not ctx.opaques and not out.known and out.channels_dim() == 4
    assert out.with_rank(2)
    leading, features = x.as_tensor().dims
    concrete = tuple(z3.simplify(z3.substitute(d, (leading, z3.IntVal(5)), (features, z3.IntVal(7)))).as_long()
                     if isinstance(d, z3.ExprRef) else d for d in out.dims)
    expected = keras.layers.Dense(4)(keras.Input(shape=(5, 7))).shape
    assert (None,) + concrete == tuple(expected)


def test_list_values_are_sequences():
    ctx, out = run_model("Reshape", (), {"target_shape": ListValue([2, -1])}, Tensor((4, 3)))
    assert out.dims == (2, 6)
    ctx, out = run_model("ZeroPadding2D", (), {"padding": ListValue([1, (0, 2)])}, Tensor((4, 3, 1)))
    assert out.dims == (6, 5, 1)
