"""Attention layers: MultiHeadAttention, GroupQueryAttention, Attention, AdditiveAttention.

The output has the query's shape with its last axis replaced: by
``output_shape`` (MultiHeadAttention; the query's own last axis by default)
or by the value's last axis (Attention).  What Keras checks when it builds
these layers (value and key agree on every axis but the last, the last axes
that size kernels are defined) and what fails on the first batch of data
(ranks that differ, dot products whose sizes do not match) become assumptions,
so a witness never relies on an attention layer that fails.

``return_attention_scores=True`` gives the pair ``(output, scores)``.
Keras's symbolic scores of MultiHeadAttention take the query's length for
both the query and the key axis; they are modelled only where that is also
their shape once data flows (self-attention over rank-3 inputs).
"""

from __future__ import annotations

from .. import symbolic as S
from ..values import ListValue, Tensor
from . import REQUIRED, layer
from . import shapes
from .sequence_shapes import (
    MISSING,
    REJECTED,
    argument,
    built_equal,
    built_equal_dims,
    data_broadcastable,
    data_equal,
    defined,
    flag,
    other_rank,
    positional_tensors,
    positive_int,
    same_rank,
)

REJECTS = "configuration Keras rejects"

# the call's arguments after the query, in Keras's order (flags are keywords: see positional_tensors)
VALUE, KEY = 0, 1


def _rejected(ctx):
    shapes.require(ctx, False)
    return ctx.opaque(REJECTS)


def _output_shape(ctx, value):
    """MultiHeadAttention's ``output_shape`` as a tuple of sizes (empty for the
    default, the query's last axis), or None when not understood."""
    if value is None:
        return ()
    size = ctx.int(value)
    if size is not None:
        # Keras tests ``if output_shape:``: 0 means the default
        return () if not S.is_sym(size) and size == 0 else (size,)
    items = shapes.sequence(value)
    if items is None:
        return None
    sizes = tuple(None if item is None else ctx.int(item) for item in items)
    if any(size is None and item is not None for size, item in zip(sizes, items)):
        return None
    return sizes


def _attention_axes(value, rank):
    """The attention axes as batch-inclusive indices of the query, or None when not modelled.

    Keras's default is every axis between the batch axis and the last one; it
    counts a negative axis from the projected rank, one more than the input's.
    """
    full = rank + 1
    if value is None:
        return tuple(range(1, full - 1))
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    items = shapes.sequence(value)
    if not items or not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        return None
    axes = tuple(a if a >= 0 else full + a for a in items)
    if len(set(axes)) != len(axes) or not all(1 <= a <= full - 2 for a in axes):
        return None
    return axes


def _mha_inputs(ctx, inputs):
    """(query, value, key) tensors of a MultiHeadAttention-style call, REJECTED, or None."""
    value = argument(ctx, VALUE, "value", MISSING)
    if value is MISSING:
        return REJECTED  # Keras requires ``value``
    key = argument(ctx, KEY, "key", None)
    tensors = (ctx.tensor(inputs), ctx.tensor(value), ctx.tensor(value if key is None else key))
    return None if any(t is None for t in tensors) else tensors


MHA_PARAMS = [
    ("num_heads", REQUIRED),
    ("key_dim", REQUIRED),
    ("value_dim", None),
    ("dropout", 0.0),
    ("use_bias", True),
    ("output_shape", None),
    ("attention_axes", None),
]


@layer("MultiHeadAttention", params=MHA_PARAMS)
@positional_tensors
def multi_head_attention(ctx, cfg, inputs):
    heads = positive_int(ctx, cfg.get("num_heads"))
    key_dim = positive_int(ctx, cfg.get("key_dim"))
    value_dim = 1 if cfg.get("value_dim") is None else positive_int(ctx, cfg.get("value_dim"))
    out = _output_shape(ctx, cfg.get("output_shape"))
    scores = flag(argument(ctx, None, "return_attention_scores", False))
    tensors = _mha_inputs(ctx, inputs)
    if any(item is None for item in (heads, key_dim, value_dim, out, scores, tensors)):
        return ctx.opaque("MultiHeadAttention configuration or inputs not understood")
    if any(item is REJECTED for item in (heads, key_dim, value_dim, tensors)):
        return _rejected(ctx)
    # every size of output_shape sizes the output kernel
    if not (defined(ctx, *out) and shapes.require_nonnegative(ctx, *out)):
        return ctx.opaque(REJECTS)
    query, value, key = tensors
    matched = same_rank(ctx, tensors)
    if matched is False:
        return other_rank(ctx, "MultiHeadAttention")  # the projected ranks differ: the first batch fails
    if matched is None:
        output = _unknown_rank_output(ctx, query, out)
        return (output, ctx.opaque("attention scores of unknown rank")) if scores else output
    rank = query.rank
    if rank < 2:
        return other_rank(ctx, "MultiHeadAttention")  # its softmax over the scores fails on the first batch
    axes = _attention_axes(cfg.get("attention_axes"), rank)
    if axes is None:
        return ctx.opaque("MultiHeadAttention attention_axes not understood")
    if not _mha_shapes_accepted(ctx, query, value, key, axes):
        return ctx.opaque(REJECTS)
    output = Tensor(query.dims[:-1] + (out or (query.dims[-1],)))
    if not scores:
        return output
    return output, _mha_scores(ctx, heads, query, key)


def _mha_shapes_accepted(ctx, query, value, key, axes) -> bool:
    ok = defined(ctx, query.dims[-1], value.dims[-1], key.dims[-1])
    ok = shapes.require(ctx, built_equal_dims(value.dims[:-1], key.dims[:-1])) and ok
    # axes that are not attended over pair the query with the key one to one
    for axis in range(1, query.rank):
        if axis not in axes:
            ok = shapes.require(ctx, data_equal(query.dims[axis - 1], key.dims[axis - 1])) and ok
    return ok


def _unknown_rank_output(ctx, query, out):
    if not out:
        return query  # the very shape of the query
    if len(out) == 1:
        return Tensor.last_axis_replaced(query, out[0])
    return ctx.opaque("MultiHeadAttention output_shape on a query of unknown rank")


def _mha_scores(ctx, heads, query, key):
    if query.rank != 2:
        return ctx.opaque("attention scores of a rank other than 3")
    length, key_length = query.dims[0], key.dims[0]
    if length is None or (key_length is not None and ctx.proves(S.eq(length, key_length))):
        return Tensor((heads, length, length))
    return ctx.opaque("attention scores of a key of another length")


GQA_PARAMS = [
    ("head_dim", REQUIRED),
    ("num_query_heads", REQUIRED),
    ("num_key_value_heads", REQUIRED),
    ("dropout", 0.0),
    ("use_bias", True),
]


# Keras exports the class GroupedQueryAttention as keras.layers.GroupQueryAttention
@layer("GroupQueryAttention", "GroupedQueryAttention", params=GQA_PARAMS)
@positional_tensors
def group_query_attention(ctx, cfg, inputs):
    sizes = [positive_int(ctx, cfg.get(name)) for name in ("head_dim", "num_query_heads", "num_key_value_heads")]
    scores = flag(argument(ctx, None, "return_attention_scores", False))
    tensors = _mha_inputs(ctx, inputs)
    if any(item is None for item in sizes + [scores, tensors]):
        return ctx.opaque("GroupQueryAttention configuration or inputs not understood")
    if any(item is REJECTED for item in sizes + [tensors]):
        return _rejected(ctx)
    _, query_heads, kv_heads = sizes
    if not shapes.require(ctx, S.eq(S.mod(query_heads, kv_heads), 0)):
        return ctx.opaque(REJECTS)
    query, value, key = tensors
    # its projections are written for (batch, length, features) tensors
    if not all(t.with_rank(2) for t in tensors):
        return other_rank(ctx, "GroupQueryAttention")
    ok = defined(ctx, query.dims[-1], value.dims[-1], key.dims[-1])
    ok = shapes.require(ctx, built_equal(query.dims[-1], value.dims[-1])) and ok
    ok = shapes.require(ctx, built_equal(value.dims[0], key.dims[0])) and ok
    if not ok:
        return ctx.opaque(REJECTS)
    output = Tensor(query.dims)
    if not scores:
        return output
    return output, Tensor((query_heads, query.dims[0], key.dims[0]))


def _dot_product_attention(additive: bool):
    """Attention (dot or concat scores) and AdditiveAttention: called on ``[query, value(, key)]``."""

    @positional_tensors
    def apply(ctx, cfg, inputs):
        mode = "concat" if additive else cfg.get("score_mode", "dot")
        scale = flag(cfg.get("use_scale", additive))
        scores = flag(argument(ctx, None, "return_attention_scores", False))
        if not isinstance(mode, str) or scale is None or scores is None:
            return ctx.opaque("Attention configuration not understood")
        if mode not in ("dot", "concat"):
            return _rejected(ctx)
        if not isinstance(inputs, ListValue):
            # Keras takes a list only (a tuple or a tensor is refused)
            return _rejected(ctx) if isinstance(inputs, (tuple, Tensor)) else ctx.opaque("Attention inputs")
        if not 2 <= len(inputs.items) <= 3:
            return _rejected(ctx)
        tensors = [ctx.tensor(item) for item in inputs.items]
        if any(t is None for t in tensors):
            return ctx.opaque("Attention inputs not understood")
        query, value = tensors[:2]
        key = tensors[2] if len(tensors) == 3 else value
        matched = same_rank(ctx, [query, value, key])
        if matched is False:
            return other_rank(ctx, "Attention")
        if matched is None or query.rank < 2:
            if value is query and key is query and not scores:
                return query  # self-attention keeps the query's shape
            return ctx.opaque("Attention over tensors of unknown rank or rank 2")
        ok = _attention_shapes_accepted(ctx, query, value, key, mode, additive and scale)
        if not ok:
            return ctx.opaque(REJECTS)
        output = Tensor(query.dims[:-1] + value.dims[-1:])
        if not scores:
            return output
        return output, Tensor(query.dims[:-1] + key.dims[-2:-1])

    return apply


def _attention_shapes_accepted(ctx, query, value, key, mode, scaled_by_features) -> bool:
    ok = True
    if scaled_by_features:
        ok = defined(ctx, query.dims[-1])  # AdditiveAttention's scale has the query's features
    # the leading axes pair up one to one
    for q, k, v in zip(query.dims[:-2], key.dims[:-2], value.dims[:-2]):
        ok = shapes.require(ctx, S.conj(data_equal(q, k), data_equal(k, v))) and ok
    if mode == "dot":
        ok = shapes.require(ctx, data_equal(query.dims[-1], key.dims[-1])) and ok
    else:
        ok = shapes.require(ctx, data_broadcastable(query.dims[-1], key.dims[-1])) and ok
    return shapes.require(ctx, data_equal(key.dims[-2], value.dims[-2])) and ok


layer("Attention", params=[("use_scale", False), ("score_mode", "dot"), ("dropout", 0.0), ("seed", None)])(
    _dot_product_attention(additive=False)
)
layer("AdditiveAttention", params=[("use_scale", True), ("dropout", 0.0)])(_dot_product_attention(additive=True))
