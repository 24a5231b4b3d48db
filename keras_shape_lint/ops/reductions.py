"""Reductions along axes (``axis``, ``keepdims``), arg-reductions, cumulative sums, top_k."""

from __future__ import annotations

from ..values import ListValue, Tensor
from . import arg
from ._common import (INT, axes, axes_in_range, full, function, keras_op, require, result, same_shape, scalar,
                      sequence, tensor)


def reduce(ctx, x, where, keepdims, dtype=None):
    """Keras's reduced shape of ``x`` over ``where`` (None: every axis, the batch included)."""
    if where is None:
        if not keepdims:
            return scalar()
        if not x.known:
            return ctx.opaque("reduction of a tensor of unknown rank")
        return result(ctx, [1] * len(full(x)), x, dtype)
    if not x.known:
        if keepdims and _last_axis(where) and x.channels_last:
            # ``ops.mean(x, axis=-1, keepdims=True)``: x's shape with a last axis of 1,
            # whatever x's rank turns out to be
            out = Tensor.last_axis_replaced(x, 1)
            out.dtype = dtype
            return out
        return ctx.opaque("reduction of a tensor of unknown rank")
    shape = full(x)
    found = axes(where, len(shape))
    if found is None:
        return ctx.opaque("reduction axis Keras rejects")
    if keepdims:
        return result(ctx, [1 if i in found else size for i, size in enumerate(shape)], x, dtype)
    return result(ctx, [size for i, size in enumerate(shape) if i not in found], x, dtype)


def _last_axis(where) -> bool:
    if isinstance(where, (tuple, list)) and len(where) == 1:
        where = where[0]
    return isinstance(where, int) and not isinstance(where, bool) and where == -1


def _traced(ctx) -> bool:
    """Does the function run inside a layer's ``call()`` (which Keras traces with backend
    tensors), on this path?"""
    state = getattr(ctx, "state", None)
    return state is not None and any(entry[0].endswith(".call") for entry in state.chain)


def _reduction(keep_int: bool, dtype=None, keepdims_name="keepdims", axis_name="axis"):
    def apply(ctx, args, kwargs):
        given = arg(args, kwargs, 0, "x", kwargs.get("input_tensor"))
        x = tensor(ctx, given)
        where = arg(args, kwargs, 1, axis_name, kwargs.get("axis"))
        keepdims = arg(args, kwargs, 2, keepdims_name, False)
        if x is None and sequence(given) and _traced(ctx):
            # ``ops.sum(outputs, axis=0)`` of a list of tensors in a layer's call(): the backend
            # stacks them first (on Keras inputs, outside a layer, it gives no tensor at all)
            from .shape import stack

            stacked = stack(ctx, [given], {})
            x = stacked if isinstance(stacked, Tensor) and stacked.known else None
        if x is None:
            return ctx.opaque("reduction of a non-tensor")
        if not isinstance(keepdims, bool):
            return ctx.opaque("reduction with an unknown keepdims")
        return reduce(ctx, x, where, keepdims, x.dtype if keep_int else dtype)

    return apply


for _name in ("sum", "max", "min", "prod", "amax", "amin"):
    keras_op("numpy", _name)(_reduction(keep_int=True))
for _name in ("mean", "std", "var", "median", "nanmean", "nansum"):
    keras_op("numpy", _name)(_reduction(keep_int=False))
for _name in ("any", "all", "count_nonzero"):
    keras_op("numpy", _name)(_reduction(keep_int=False, dtype=INT))
keras_op("math", "logsumexp")(_reduction(keep_int=False))
for _name in ("sum", "max", "min", "prod"):
    function(f"tensorflow.reduce_{_name}", f"tensorflow.math.reduce_{_name}")(_reduction(keep_int=True))
function("tensorflow.reduce_mean", "tensorflow.reduce_logsumexp",
         *(f"tensorflow.math.reduce_{name}" for name in ("mean", "std", "variance", "logsumexp", "euclidean_norm")))(
    _reduction(keep_int=False))
for _name in ("any", "all"):
    function(f"tensorflow.reduce_{_name}", f"tensorflow.math.reduce_{_name}")(_reduction(False, INT))


@keras_op("numpy", "argmax", "argmin")
def argmax(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    keepdims = kwargs.get("keepdims", False)
    if x is None or not isinstance(keepdims, bool):
        return ctx.opaque("argmax arguments not understood")
    return reduce(ctx, x, arg(args, kwargs, 1, "axis"), keepdims, INT)


@function("tensorflow.argmax", "tensorflow.math.argmax", "tensorflow.argmin", "tensorflow.math.argmin")
def tf_argmax(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "input"))
    if x is None:
        return ctx.opaque("argmax of a non-tensor")
    return reduce(ctx, x, arg(args, kwargs, 1, "axis", 0), False, INT)  # TensorFlow's axis defaults to 0


def _cumulative(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    where = arg(args, kwargs, 1, "axis")
    if x is None:
        return ctx.opaque("cumulative sum of a non-tensor")
    if where is None:
        return result(ctx, [None], x, x.dtype)  # flattened, the batch included
    if x.known and (sequence(where) is not None or not axes_in_range(ctx, where, len(full(x)))):
        return ctx.opaque("cumulative axis Keras rejects")
    return same_shape(ctx, x, x.dtype)


keras_op("numpy", "cumsum", "cumprod")(_cumulative)


@function("tensorflow.cumsum", "tensorflow.math.cumsum", "tensorflow.math.cumprod")
def tf_cumsum(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    return ctx.opaque("cumulative sum of a non-tensor") if x is None else same_shape(ctx, x, x.dtype)


@keras_op("math", "top_k", other=("tensorflow.math.top_k", "tensorflow.nn.top_k"))
def top_k(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("input")))
    k = ctx.int(arg(args, kwargs, 1, "k", 1))
    if x is None or not x.known or k is None:
        return ctx.opaque("top_k of a tensor of unknown rank")
    shape = full(x)
    if not require(ctx, k >= 0):
        return ctx.opaque("top_k of a negative k")
    shape[-1] = k
    return ListValue([result(ctx, shape, x, x.dtype), result(ctx, shape, x, INT)])
