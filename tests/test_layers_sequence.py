"""The sequence layers (attention, EinsumDense, recurrent, wrappers, keras_hub) against Keras.

Each case builds the real layer and calls it on ``keras.Input`` tensors, and,
when every size is known, calls it once more on arrays of those sizes: many of
these layers check their inputs only when data flows (an attention's dot
product, a position table's length, ranks that differ).  The transfer function
must agree with both: a call Keras accepts gives no opaque result, only
assumptions that hold, and Keras's own output shapes; a call it refuses, at
build time or on data, an assumption that is plainly false or an opaque result.
"""

from __future__ import annotations

import importlib
import os

import pytest
import z3

from keras_shape_lint import symbolic as S
from keras_shape_lint.frontend import normalise
from keras_shape_lint.layers import lookup
from keras_shape_lint.values import LayerValue, ListValue, Tensor, Unknown

from hub import install_package_stub
from layer_ctx import LayerCtx

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BUILD_ERRORS = (ValueError, TypeError, ZeroDivisionError, IndexError, AttributeError)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


# ------------------------------------------------------------------ case spelling


class In:
    """An input tensor of the call: its non-batch dims (and dtype)."""

    def __init__(self, *dims, dtype="float32"):
        self.dims, self.dtype = dims, dtype

    def __repr__(self):
        return f"In{self.dims}"


class Make:
    """A layer built inside the case (the layer a wrapper wraps)."""

    def __init__(self, name, **kwargs):
        self.name, self.kwargs = name, kwargs

    def __repr__(self):
        return f"{self.name}({self.kwargs})"


def call(name, kwargs, inputs, *args, **call_kwargs):
    return pytest.param(name, kwargs, inputs, args, call_kwargs, id=f"{name}-{kwargs}-{inputs}-{args}-{call_kwargs}")


# keras_hub layers, by the module that defines them (see tests/hub.py)
HUB_MODULES = {
    "TransformerEncoder": "transformer_encoder",
    "TransformerDecoder": "transformer_decoder",
    "PositionEmbedding": "position_embedding",
    "TokenAndPositionEmbedding": "token_and_position_embedding",
    "ReversibleEmbedding": "reversible_embedding",
    "RotaryEmbedding": "rotary_embedding",
    "SinePositionEncoding": "sine_position_encoding",
}
HUB = "hub."


def layer_class(keras, name):
    if not name.startswith(HUB):
        return getattr(keras.layers, name)
    if not install_package_stub():
        pytest.skip("keras_hub is not installed (.ci/run installs it with --no-deps)")
    short = name[len(HUB):]
    module = importlib.import_module(f"keras_hub.src.layers.modeling.{HUB_MODULES[short]}")
    return getattr(module, short)


def qualified(name):
    return f"keras_hub.layers.{name[len(HUB):]}" if name.startswith(HUB) else f"keras.layers.{name}"


# ------------------------------------------------------------------ the two sides


def _complete(value) -> bool:
    if isinstance(value, In):
        return None not in value.dims
    if isinstance(value, (list, tuple)):
        return all(_complete(item) for item in value)
    return True


def keras_shapes(keras, name, kwargs, inputs, args, call_kwargs):
    """Keras's output dims (a tuple of them for several outputs), or None when it refuses."""
    import numpy as np

    def symbolic(value):
        if isinstance(value, In):
            return keras.Input(shape=value.dims, dtype=value.dtype)
        if isinstance(value, Make):
            return layer_class(keras, value.name)(**value.kwargs)
        if isinstance(value, list):
            return [symbolic(item) for item in value]
        return value

    def data(value):
        if isinstance(value, In):
            shape = (2,) + value.dims
            if value.dtype.startswith("int"):
                return np.random.randint(0, 2, size=shape).astype(value.dtype)
            return np.random.rand(*shape).astype(value.dtype)
        if isinstance(value, list):
            return [data(item) for item in value]
        return value

    try:
        built = layer_class(keras, name)(**{k: symbolic(v) for k, v in kwargs.items()})
        out = built(symbolic(inputs), *map(symbolic, args), **{k: symbolic(v) for k, v in call_kwargs.items()})
    except BUILD_ERRORS:
        return None
    if _complete([inputs, list(args), list(call_kwargs.values())]):
        try:
            built(data(inputs), *map(data, args), **{k: data(v) for k, v in call_kwargs.items()})
        except Exception:  # noqa: BLE001 -- any failure on data is a refusal
            return None
    if isinstance(out, (tuple, list)):
        return tuple(tuple(o.shape[1:]) for o in out)
    return tuple(out.shape[1:])


def ours(value):
    if isinstance(value, In):
        return Tensor(value.dims)
    if isinstance(value, Make):
        model = lookup(qualified(value.name))
        return LayerValue(model, model.bind([], dict(value.kwargs)))
    if isinstance(value, list):
        return ListValue([ours(item) for item in value])
    return value


def run_model(name, kwargs, inputs, args=(), call_kwargs=None):
    model = lookup(qualified(name))
    assert model is not None, f"{name} is not registered"
    cfg = model.bind([], {k: ours(v) for k, v in kwargs.items()})
    assert cfg is not None, f"{name}: required parameter missing"
    ctx = LayerCtx(call_args=[ours(a) for a in args],
                   call_kwargs={k: ours(v) for k, v in (call_kwargs or {}).items()})
    return ctx, model.apply(ctx, cfg, ours(inputs))


def dims_of(out):
    if isinstance(out, Tensor):
        return out.dims
    if isinstance(out, (tuple, list)):
        return tuple(dims_of(item) for item in out)
    return out


def has_opaque(out) -> bool:
    if isinstance(out, Tensor):
        return not out.known
    return isinstance(out, (tuple, list)) and any(has_opaque(item) for item in out)


def check_against_keras(keras, name, kwargs, inputs, args, call_kwargs):
    expected = keras_shapes(keras, name, kwargs, inputs, args, call_kwargs)
    ctx, out = run_model(name, kwargs, inputs, args, call_kwargs)
    for term in ctx.assumptions:
        assert isinstance(term, bool), f"symbolic assumption from a concrete case: {term}"
    accepted = all(ctx.assumptions) and not ctx.opaques
    if expected is None:
        assert not accepted, f"Keras refuses; we give {dims_of(out)}"
        return
    assert not ctx.opaques, f"Keras gives {expected}; we are opaque: {ctx.opaques}"
    assert all(ctx.assumptions), f"Keras gives {expected}; we assume {ctx.assumptions}"
    assert dims_of(out) == expected, f"Keras {expected}, ours {dims_of(out)}"


# ------------------------------------------------------------------ cases

MHA = {"num_heads": 2, "key_dim": 4}

ATTENTION_CASES = [
    call("MultiHeadAttention", MHA, In(5, 8), In(5, 8)),
    call("MultiHeadAttention", MHA, In(5, 8), In(7, 6)),
    call("MultiHeadAttention", MHA, In(5, 8), In(7, 6), key=In(7, 3)),
    call("MultiHeadAttention", MHA, In(5, 8), In(7, 6), In(7, 3)),
    call("MultiHeadAttention", MHA, In(5, 8), In(7, 6), key=In(6, 3)),
    call("MultiHeadAttention", MHA, In(5, 8), In(None, 6), key=In(7, 3)),
    call("MultiHeadAttention", MHA, In(5, 8), In(None, 6), key=In(None, 3)),
    call("MultiHeadAttention", MHA, In(5, None), In(7, 6)),
    call("MultiHeadAttention", MHA, In(5, 8), In(7, None)),
    call("MultiHeadAttention", MHA, In(5, 8), In(7, 6), key=In(7, None)),
    call("MultiHeadAttention", MHA, In(None, 8), In(None, 6)),
    call("MultiHeadAttention", MHA, In(5, 8), value=In(7, 6)),
    call("MultiHeadAttention", MHA, In(5, 8)),
    call("MultiHeadAttention", MHA, In(5, 8), In(5, 8), return_attention_scores=True),
    call("MultiHeadAttention", MHA, In(None, 8), In(None, 8), return_attention_scores=True),
    call("MultiHeadAttention", MHA, In(5, 8), In(5, 8), None, None, None, None, None, True),
    call("MultiHeadAttention", dict(MHA, output_shape=10), In(5, 8), In(7, 6)),
    call("MultiHeadAttention", dict(MHA, output_shape=(2, 3)), In(5, 8), In(7, 6)),
    call("MultiHeadAttention", dict(MHA, output_shape=(None, 3)), In(5, 8), In(7, 6)),
    call("MultiHeadAttention", dict(MHA, output_shape=0), In(5, 8), In(7, 6)),
    call("MultiHeadAttention", dict(MHA, output_shape=(0,)), In(5, 8), In(7, 6)),
    call("MultiHeadAttention", dict(MHA, value_dim=3), In(5, 8), In(7, 6)),
    call("MultiHeadAttention", dict(MHA, value_dim=0), In(5, 8), In(7, 6)),
    call("MultiHeadAttention", {"num_heads": 0, "key_dim": 4}, In(5, 8), In(7, 6)),
    call("MultiHeadAttention", {"num_heads": 2, "key_dim": -1}, In(5, 8), In(7, 6)),
    call("MultiHeadAttention", MHA, In(5, 6, 8), In(5, 6, 8)),
    call("MultiHeadAttention", MHA, In(5, 6, 8), In(3, 4, 2)),
    call("MultiHeadAttention", dict(MHA, attention_axes=(2,)), In(5, 6, 8), In(5, 7, 8)),
    call("MultiHeadAttention", dict(MHA, attention_axes=2), In(5, 6, 8), In(4, 7, 8)),
    call("MultiHeadAttention", dict(MHA, attention_axes=-2), In(5, 6, 8), In(5, 7, 8)),
    call("MultiHeadAttention", dict(MHA, attention_axes=[1]), In(5, 6, 8), In(7, 6, 8)),
    call("MultiHeadAttention", dict(MHA, attention_axes=[1]), In(5, 6, 8), In(7, 4, 8)),
    call("MultiHeadAttention", MHA, In(5, 8), In(5, 6, 8)),
    call("MultiHeadAttention", MHA, In(8), In(8)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(5, 8), In(7, 8)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(5, 8), In(7, 6)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(5, 8), In(7, 8),
         return_attention_scores=True),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(5, 8), In(7, 8),
         key=In(7, 3), return_attention_scores=True),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(5, 8), In(7, 8),
         key=In(6, 3)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(None, 8),
         In(None, 8)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 3}, In(5, 8), In(7, 8)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(3, 5, 8),
         In(3, 7, 8)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(8), In(8)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(5, None),
         In(7, None)),
    call("GroupQueryAttention", {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, In(5, 8), In(7, 8),
         key=In(7, None)),
    call("Attention", {}, [In(5, 8), In(7, 8)]),
    call("Attention", {}, [In(5, 8), In(7, 6)]),
    call("Attention", {}, [In(5, 8), In(7, 6), In(7, 8)], return_attention_scores=True),
    call("Attention", {}, [In(5, 8), In(7, 6), In(9, 8)]),
    call("Attention", {"use_scale": True}, [In(None, 8), In(None, 8)], return_attention_scores=True),
    call("Attention", {}, [In(2, 5, 8), In(2, 7, 8)], return_attention_scores=True),
    call("Attention", {}, [In(2, 5, 8), In(3, 7, 8)]),
    call("Attention", {"score_mode": "concat"}, [In(5, 8), In(7, 8)]),
    call("Attention", {"score_mode": "concat"}, [In(5, 1), In(7, 8)]),
    call("Attention", {"score_mode": "concat"}, [In(5, 3), In(7, 8)]),
    call("Attention", {"score_mode": "cosine"}, [In(5, 8), In(7, 8)]),
    call("Attention", {}, [In(5, 8)]),
    call("Attention", {}, In(5, 8)),
    call("Attention", {}, [In(5, 8), In(7, 8), In(7, 8), In(7, 8)]),
    call("Attention", {}, [In(5, 8), In(7, 6, 8)]),
    call("AdditiveAttention", {}, [In(5, 8), In(7, 8)], return_attention_scores=True),
    call("AdditiveAttention", {}, [In(5, None), In(7, 8)]),
    call("AdditiveAttention", {"use_scale": False}, [In(5, None), In(7, 8)]),
    call("AdditiveAttention", {}, [In(5, 3), In(7, 8)]),
    call("AdditiveAttention", {}, [In(5, 1), In(7, 8)]),
]

EINSUM = "EinsumDense"
EINSUM_CASES = [
    call(EINSUM, {"equation": "ab,bc->ac", "output_shape": 64}, In(8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, 64)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (5, 64)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (6, 64)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (5, 64)}, In(None, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, 64)}, In(None, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, 64)}, In(5, None)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, None)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, 0)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, 64)}, In(5, 6, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, 64)}, In(8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (64,)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": 64}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cde->abde", "output_shape": (None, 4, 16), "bias_axes": "de"}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cde->abde", "output_shape": (None, 4, 16), "bias_axes": "bde"}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cde->abde", "output_shape": (None, 4, 16), "bias_axes": "z"}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cde->abde", "output_shape": (None, 4, 16), "bias_axes": ""}, In(5, 8)),
    call(EINSUM, {"equation": "abcd,cde->abe", "output_shape": (None, 8)}, In(5, 4, 16)),
    call(EINSUM, {"equation": "abcd,cde->abe", "output_shape": (None, 8)}, In(5, 2, 16)),
    call(EINSUM, {"equation": "abc,cd->adb", "output_shape": (64, None)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->adb", "output_shape": (64, 5)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,bcd->ad", "output_shape": (64,)}, In(5, 8)),
    call(EINSUM, {"equation": "...b,bc->...c", "output_shape": 64}, In(8)),
    call(EINSUM, {"equation": "...b,bc->...c", "output_shape": 64}, In(7, 8)),
    call(EINSUM, {"equation": "...b,bc->...c", "output_shape": 64}, In(5, 5, 8)),
    call(EINSUM, {"equation": "...bc,cd->...bd", "output_shape": (5, 64)}, In(3, 5, 8)),
    call(EINSUM, {"equation": "...bc,cd->...bd", "output_shape": (6, 64)}, In(3, 5, 8)),
    call(EINSUM, {"equation": "...bc,cd->...bd", "output_shape": (None, 64)}, In(3, 5, 8)),
    call(EINSUM, {"equation": "ab...,bc->ac...", "output_shape": 64}, In(8, 5, 7)),
    call(EINSUM, {"equation": "ab->ac", "output_shape": 64}, In(8)),
    call(EINSUM, {"equation": "abc,cd->abe", "output_shape": (None, 64)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,ce->abd", "output_shape": (None, 64)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (None, 64), "bias_axes": "d"}, In(None, 8)),
]

RNN_CASES = [
    call(name, dict(units=8, **options), In(*dims))
    for name in ("LSTM", "GRU", "SimpleRNN")
    for options in ({}, {"return_sequences": True}, {"return_state": True},
                    {"return_sequences": True, "return_state": True})
    for dims in ((5, 3), (None, 3))
] + [
    call("LSTM", {"units": 8}, In(5, None)),
    call("GRU", {"units": 8}, In(5)),
    call("SimpleRNN", {"units": 8}, In(5, 3, 2)),
    call("LSTM", {"units": 0}, In(5, 3)),
    call("LSTM", {"units": 8, "go_backwards": True, "return_sequences": True}, In(5, 3)),
    call("LSTM", {"units": 8, "stateful": True}, In(5, 3)),
    call("LSTM", {"units": 8}, In(5, 3), None, None, True),
]

BIDIRECTIONAL_CASES = [
    call("Bidirectional", {"layer": Make(rnn, units=8, **options), **merge}, In(*dims))
    for rnn, options, dims in (
        ("LSTM", {}, (5, 3)),
        ("LSTM", {"return_sequences": True}, (None, 3)),
        ("GRU", {"return_state": True}, (5, 3)),
        ("LSTM", {"return_state": True, "return_sequences": True}, (5, 3)),
        ("SimpleRNN", {"return_sequences": True}, (5, 3)),
    )
    for merge in ({}, {"merge_mode": "sum"}, {"merge_mode": "mul"}, {"merge_mode": "ave"}, {"merge_mode": None})
] + [
    call("Bidirectional", {"layer": Make("LSTM", units=8), "merge_mode": "max"}, In(5, 3)),
    call("Bidirectional", {"layer": Make("LSTM", units=8)}, In(5, None)),
    call("Bidirectional", {"layer": Make("Dense", units=8)}, In(5, 3)),
]

WRAPPER_CASES = [
    call("TimeDistributed", {"layer": Make("Dense", units=8)}, In(5, 3)),
    call("TimeDistributed", {"layer": Make("Dense", units=8)}, In(None, 3)),
    call("TimeDistributed", {"layer": Make("Dense", units=8)}, In(5, 4, 3)),
    call("TimeDistributed", {"layer": Make("Dense", units=8)}, In(5)),
    call("TimeDistributed", {"layer": Make("Conv2D", filters=8, kernel_size=3)}, In(5, 10, 10, 3)),
    call("TimeDistributed", {"layer": Make("Conv2D", filters=8, kernel_size=3)}, In(5, 2, 10, 3)),
    call("TimeDistributed", {"layer": Make("GlobalAveragePooling2D")}, In(5, 10, 10, 3)),
    call("TimeDistributed", {"layer": Make("Flatten")}, In(5, 10, 3)),
]

PREPROCESSING_CASES = [
    call("Resizing", {"height": 32, "width": 16}, In(10, 10, 3)),
    call("Resizing", {"height": 32, "width": 16, "data_format": "channels_first"}, In(3, 10, 10)),
    call("Resizing", {"height": 32, "width": 16}, In(None, None, 3)),
    call("Resizing", {"height": 32, "width": 16, "crop_to_aspect_ratio": True}, In(10, 20, 3)),
    call("Resizing", {"height": 32, "width": 16, "pad_to_aspect_ratio": True}, In(10, 20, 3)),
    call("Resizing", {"height": 0, "width": 16}, In(10, 10, 3)),
    call("CenterCrop", {"height": 4, "width": 6}, In(10, 10, 3)),
    call("CenterCrop", {"height": 40, "width": 6}, In(10, 10, 3)),
    call("CenterCrop", {"height": 4, "width": 6}, In(None, None, 3)),
    call("CenterCrop", {"height": 4, "width": 6, "data_format": "channels_first"}, In(3, 10, 10)),
]

CHECKED_CASES = [
    call("Embedding", {"input_dim": 100, "output_dim": 8}, In(3, 4, dtype="int32")),
    call("Embedding", {"input_dim": 100, "output_dim": 8}, In(None, 4, dtype="int32")),
    call("Embedding", {"input_dim": 100, "output_dim": 8}, In(7, dtype="int32")),
    call("ReversibleEmbedding", {"input_dim": 100, "output_dim": 16}, In(10, dtype="int32")),
    call("ReversibleEmbedding", {"input_dim": 100, "output_dim": 16}, In(10, 16), reverse=True),
    call("ReversibleEmbedding", {"input_dim": 100, "output_dim": 16}, In(10, 8), reverse=True),
    call("ReversibleEmbedding", {"input_dim": 100, "output_dim": 16, "tie_weights": False}, In(None, 16),
         reverse=True),
    call("Dense", {"units": 7}, In(2, 3, 4, 5)),
    call("Dense", {"units": 7}, In(None, None, 5)),
    call("LayerNormalization", {}, In(5, 16)),
    call("LayerNormalization", {"axis": [1, 2]}, In(None, 16)),
    call("LayerNormalization", {"axis": -2}, In(5, 16)),
    call("RMSNormalization", {}, In(None, 16)),
    call("RMSNormalization", {"axis": 3}, In(5, 16)),
    call("UnitNormalization", {"axis": [1, 2]}, In(5, 16)),
    call("GroupNormalization", {"groups": 4}, In(None, 16)),
    call("GroupNormalization", {"groups": 5}, In(None, 16)),
    call("Dropout", {"rate": 0.1}, In(5, 16)),
    call("Dropout", {"rate": 1.5}, In(5, 16)),
    call("Dropout", {"rate": -0.1}, In(5, 16)),
    call("SpatialDropout1D", {"rate": 2}, In(5, 16)),
    call("GaussianDropout", {"rate": 1.2}, In(5, 16)),
    call("GaussianNoise", {"stddev": 0.5}, In(5, 16)),
    call("GaussianNoise", {"stddev": 3}, In(5, 16)),
    call("Softmax", {}, In(None, 16)),
    call("Softmax", {"axis": 1}, In(5, 16)),
    call("Identity", {}, In(None, 16)),
    call("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, In(None, 3)),
    call("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal"}, In(1, 3)),
    call("ZeroPadding1D", {"padding": (2, 0)}, In(None, 3)),
    call("Cropping1D", {"cropping": (2, 1)}, In(6, 3)),
    call("Cropping1D", {"cropping": (4, 3)}, In(6, 3)),
]

HUB_CASES = [
    call("hub.TransformerEncoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, 16)),
    call("hub.TransformerEncoder", {"intermediate_dim": 32, "num_heads": 4, "normalize_first": True}, In(None, 16)),
    call("hub.TransformerEncoder", {"intermediate_dim": 32, "num_heads": 3}, In(10, 16)),
    call("hub.TransformerEncoder", {"intermediate_dim": 32, "num_heads": 32}, In(10, 16)),
    call("hub.TransformerEncoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, None)),
    call("hub.TransformerEncoder", {"intermediate_dim": 32, "num_heads": 4}, In(3, 10, 16)),
    call("hub.TransformerEncoder", {"intermediate_dim": 0, "num_heads": 4}, In(10, 16)),
    call("hub.TransformerDecoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, 16)),
    call("hub.TransformerDecoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, 16), In(7, 8)),
    call("hub.TransformerDecoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, 16), encoder_sequence=In(7, 8)),
    call("hub.TransformerDecoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, 16), In(7, None)),
    call("hub.TransformerDecoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, 16), In(3, 7, 8)),
    call("hub.TransformerDecoder", {"intermediate_dim": 32, "num_heads": 32}, In(10, 16)),
    call("hub.PositionEmbedding", {"sequence_length": 10}, In(10, 16)),
    call("hub.PositionEmbedding", {"sequence_length": 12}, In(10, 16)),
    call("hub.PositionEmbedding", {"sequence_length": 5}, In(10, 16)),
    call("hub.PositionEmbedding", {"sequence_length": 5}, In(None, 16)),
    call("hub.PositionEmbedding", {"sequence_length": 5}, In(4, None)),
    call("hub.PositionEmbedding", {"sequence_length": 5}, In(3, 4, 16)),
    call("hub.PositionEmbedding", {"sequence_length": 10}, In(8, 16), start_index=2),
    call("hub.PositionEmbedding", {"sequence_length": 10}, In(8, 16), start_index=3),
    call("hub.PositionEmbedding", {"sequence_length": None}, In(4, 16)),
    call("hub.TokenAndPositionEmbedding", {"vocabulary_size": 100, "sequence_length": 10, "embedding_dim": 16},
         In(10, dtype="int32")),
    call("hub.TokenAndPositionEmbedding", {"vocabulary_size": 100, "sequence_length": 5, "embedding_dim": 16},
         In(10, dtype="int32")),
    call("hub.TokenAndPositionEmbedding", {"vocabulary_size": 100, "sequence_length": 5, "embedding_dim": 16},
         In(3, 4, dtype="int32")),
    call("hub.TokenAndPositionEmbedding", {"vocabulary_size": 100, "sequence_length": 5, "embedding_dim": 16},
         In(None, dtype="int32")),
    call("hub.TokenAndPositionEmbedding", {"vocabulary_size": 0, "sequence_length": 5, "embedding_dim": 16},
         In(4, dtype="int32")),
    call("hub.ReversibleEmbedding", {"input_dim": 100, "output_dim": 16}, In(10, dtype="int32")),
    call("hub.ReversibleEmbedding", {"input_dim": 100, "output_dim": 16}, In(10, 16), reverse=True),
    call("hub.ReversibleEmbedding", {"input_dim": 100, "output_dim": 16}, In(10, 8), True),
    call("hub.RotaryEmbedding", {}, In(10, 4, 16)),
    call("hub.RotaryEmbedding", {}, In(10, 4, 15)),
    call("hub.RotaryEmbedding", {}, In(None, 4, None)),
    call("hub.RotaryEmbedding", {"sequence_axis": 5}, In(10, 4, 16)),
    call("hub.RotaryEmbedding", {"sequence_axis": -1}, In(10, 16)),
    call("hub.RotaryEmbedding", {"feature_axis": 1, "sequence_axis": 2}, In(16, 10)),
    call("hub.RotaryEmbedding", {"feature_axis": 2, "sequence_axis": 2}, In(10, 4, 16)),
    call("hub.RotaryEmbedding", {"feature_axis": 2, "sequence_axis": 1}, In(16)),
    call("hub.SinePositionEncoding", {}, In(10, 16)),
    call("hub.SinePositionEncoding", {}, In(None, 16)),
]


@pytest.mark.parametrize(
    "name, kwargs, inputs, args, call_kwargs",
    ATTENTION_CASES + EINSUM_CASES + RNN_CASES + BIDIRECTIONAL_CASES + WRAPPER_CASES + PREPROCESSING_CASES +
    CHECKED_CASES + HUB_CASES,
)
def test_sequence_layers_match_keras(keras, name, kwargs, inputs, args, call_kwargs):
    check_against_keras(keras, name, kwargs, inputs, args, call_kwargs)


# Keras accepts these, but its build-time shapes are not the data's (or not modelled):
# the transfer function must say so with an opaque value rather than guess.
OPAQUE_CASES = [
    # scores: Keras's symbolic shape takes the query's length for the key's
    call("MultiHeadAttention", MHA, In(5, 8), In(7, 8), return_attention_scores=True),
    call("MultiHeadAttention", MHA, In(5, 6, 8), In(5, 6, 8), return_attention_scores=True),
    # an ellipsis over several axes: Keras reverses them at build time
    call(EINSUM, {"equation": "...b,bc->...c", "output_shape": 64}, In(5, 7, 8)),
    # more output sizes than letters, or a dropped batch letter: the data's rank differs
    call(EINSUM, {"equation": "abc,cd->abd", "output_shape": (5, 6, 64)}, In(5, 8)),
    call(EINSUM, {"equation": "abc,cd->bd", "output_shape": (64,)}, In(5, 8)),
    call("Bidirectional", {"layer": Make("LSTM", units=8, return_sequences=True),
                           "backward_layer": Make("LSTM", units=4, return_sequences=True, go_backwards=True)},
         In(5, 3)),
    # an unbatched image: its first axis is no batch
    call("Resizing", {"height": 32, "width": 16}, In(10, 3)),
    # the encoder returns a pair on data but one tensor at build time
    call("hub.TransformerEncoder", {"intermediate_dim": 32, "num_heads": 4}, In(10, 16), return_attention_scores=True),
]


@pytest.mark.parametrize("name, kwargs, inputs, args, call_kwargs", OPAQUE_CASES)
def test_unmodelled_forms_are_opaque(keras, name, kwargs, inputs, args, call_kwargs):
    assert keras_shapes(keras, name, kwargs, inputs, args, call_kwargs) is not None
    ctx, out = run_model(name, kwargs, inputs, args, call_kwargs)
    assert ctx.opaques and has_opaque(out)
    assert all(ctx.assumptions)


# ------------------------------------------------------------------ symbolic sizes


def evaluate(term, env):
    if not S.is_sym(term):
        return term
    pairs = [(z3.Int(name), z3.IntVal(value)) for name, value in env.items()]
    value = z3.simplify(z3.substitute(term, *pairs))
    if z3.is_int_value(value):
        return value.as_long()
    return z3.is_true(value)


def substitute(value, env):
    if isinstance(value, In):
        return In(*substitute(value.dims, env), dtype=value.dtype)
    if isinstance(value, (tuple, list)):
        return type(value)(substitute(v, env) for v in value)
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return evaluate(value, env)


T, D, N, L = (z3.Int(name) for name in ("t", "d", "n", "l"))

SYMBOLIC_CASES = [
    ("hub.TransformerEncoder", {"intermediate_dim": 8, "num_heads": N}, [In(4, D)], {},
     {"d": [2, 3, 4, 8], "n": [1, 2, 4, 5]}),
    ("hub.PositionEmbedding", {"sequence_length": L}, [In(T, 4)], {}, {"t": [2, 5, 6], "l": [3, 5]}),
    ("hub.TokenAndPositionEmbedding", {"vocabulary_size": 10, "sequence_length": 4, "embedding_dim": D},
     [In(T, dtype="int32")], {}, {"t": [3, 4, 5], "d": [2]}),
    ("hub.RotaryEmbedding", {}, [In(T, 2, D)], {}, {"t": [3], "d": [4, 5, 6]}),
    ("MultiHeadAttention", {"num_heads": N, "key_dim": 4}, [In(5, D), In(T, 3)], {}, {"n": [1, 2], "d": [4], "t": [2]}),
    ("Attention", {}, [[In(3, D), In(T, 4)]], {}, {"d": [2, 4], "t": [5]}),
    ("ReversibleEmbedding", {"input_dim": 20, "output_dim": 4}, [In(3, D)], {"reverse": True}, {"d": [2, 4]}),
    ("LSTM", {"units": N, "return_sequences": True}, [In(T, 3)], {}, {"n": [1, 3], "t": [2]}),
    ("GroupQueryAttention", {"head_dim": 2, "num_query_heads": N, "num_key_value_heads": 2}, [In(3, D), In(T, 4)],
     {}, {"n": [2, 3, 4], "d": [4, 6], "t": [5]}),
]


def _assignments(domains):
    envs = [{}]
    for name, values in domains.items():
        envs = [dict(env, **{name: value}) for env in envs for value in values]
    return envs


@pytest.mark.parametrize("name, kwargs, inputs, call_kwargs, domains", SYMBOLIC_CASES,
                         ids=[case[0] for case in SYMBOLIC_CASES])
def test_symbolic_sizes_evaluate_like_keras(keras, name, kwargs, inputs, call_kwargs, domains):
    """An assumption over sizes holds exactly where Keras (and its data) accepts them."""
    first, *args = inputs
    ctx, out = run_model(name, kwargs, first, args, call_kwargs)
    assert not ctx.opaques
    assert any(S.is_sym(term) for term in list(ctx.assumptions) + list(out.dims))
    for env in _assignments(domains):
        case = substitute((kwargs, first, args, call_kwargs), env)
        expected = keras_shapes(keras, name, case[0], case[1], case[2], case[3])
        holds = all(evaluate(term, env) for term in ctx.assumptions)
        assert holds == (expected is not None), f"{env}: Keras {expected}, assumptions {ctx.assumptions}"
        if expected is not None:
            assert substitute(out.dims, env) == expected, env


# ------------------------------------------------------------------ inputs of unknown rank


def test_self_attention_on_unknown_rank_keeps_the_query():
    x = Unknown("x", free=True)
    ctx, out = run_model("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, x, [x])
    assert not ctx.opaques and out is x.as_tensor()


def test_attention_output_shape_on_unknown_rank_replaces_the_last_axis():
    x = Unknown("x", free=True)
    ctx, out = run_model("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "output_shape": 6}, x, [x])
    assert not ctx.opaques and out.channels_dim() == 6
    assert out.with_rank(2) and out.dims[-1] == 6 and x.as_tensor().rank == 2


def test_attention_fixes_the_rank_of_an_unknown_value():
    value = Unknown("v", free=True)
    ctx, out = run_model("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, Tensor((5, 8)), [value])
    assert not ctx.opaques and value.as_tensor().rank == 2 and out.dims == (5, 8)


def test_encoder_hidden_size_of_unknown_rank_is_assumed_large_enough():
    x = Unknown("x", free=True)
    ctx, out = run_model("hub.TransformerEncoder", {"intermediate_dim": 8, "num_heads": 4}, x)
    hidden = x.as_tensor().channels_dim()
    solver = z3.Solver()
    solver.add(*[a for a in ctx.assumptions if S.is_sym(a)], hidden < 4)
    assert out is x.as_tensor() and solver.check() == z3.unsat


def test_einsum_projection_on_unknown_rank_fixes_it():
    x = Unknown("x", free=True)
    ctx, out = run_model(EINSUM, {"equation": "abc,cde->abde", "output_shape": (None, 4, 8)}, x)
    assert not ctx.opaques and x.as_tensor().rank == 2 and out.dims == (None, 4, 8)


def test_dense_like_einsum_on_unknown_rank_replaces_the_last_axis():
    x = Unknown("x", free=True)
    ctx, out = run_model(EINSUM, {"equation": "...b,bc->...c", "output_shape": 6}, x)
    assert not ctx.opaques and not out.known and out.channels_dim() == 6


class _DataTimeCtx(LayerCtx):
    real = ("the inputs Keras sees",)


def test_einsum_sizes_left_none_are_the_inputs_once_data_flows():
    model = lookup("keras.layers.EinsumDense")
    cfg = model.bind([], {"equation": "abc,cd->abd", "output_shape": (None, 64)})
    ctx = _DataTimeCtx()
    assert model.apply(ctx, cfg, Tensor((T, 8))).dims == (T, 64)
    assert model.apply(LayerCtx(), cfg, Tensor((T, 8))).dims == (None, 64)


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "written, read",
    [
        ("keras_nlp.layers.TransformerEncoder", "keras_hub.layers.TransformerEncoder"),
        ("keras_hub.src.layers.modeling.transformer_decoder.TransformerDecoder", "keras_hub.layers.TransformerDecoder"),
        ("keras_nlp.src.layers.modeling.rotary_embedding.RotaryEmbedding", "keras_hub.layers.RotaryEmbedding"),
        ("keras_hub.src.layers.modeling", "keras_hub.src.layers.modeling"),
        ("keras.src.layers.attention.grouped_query_attention.GroupedQueryAttention",
         "keras.layers.GroupedQueryAttention"),
    ],
)
def test_keras_hub_spellings_are_one_name(written, read):
    assert normalise(written) == read


def test_every_hub_model_is_a_keras_hub_layer(keras):
    """The registered keras_hub names are the classes keras_hub defines."""
    from keras_shape_lint.layers import REGISTRY

    names = [name for name in REGISTRY if name.startswith("keras_hub.layers.")]
    assert len(names) >= 7
    for name in names:
        short = name.rsplit(".", 1)[1]
        assert layer_class(keras, HUB + short).__name__ == short
