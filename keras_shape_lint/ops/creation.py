"""Functions that create tensors: arange, zeros/ones/full(_like), eye, linspace."""

from __future__ import annotations

from .. import symbolic as S
from ..values import ShapeOf, Tensor, Unknown
from . import arg
from ._common import (INT, NOT_A_SIZE, dtype_kind, function, int_value, is_number, keras_op, result, same_shape,
                      sequence, tensor, written_size)


@keras_op("numpy", "arange", other=("tensorflow.range",))
def arange(ctx, args, kwargs):
    bounds = [arg(args, kwargs, 0, "start"), arg(args, kwargs, 1, "stop", kwargs.get("limit")),
              arg(args, kwargs, 2, "step", kwargs.get("delta"))]
    if any(isinstance(value, Tensor) and value.known for value in bounds):
        return ctx.opaque("arange of tensor bounds")
    if "dtype" in kwargs:
        kind = dtype_kind(kwargs["dtype"])
    else:
        # sizes (ints, and Keras's unknown sizes) give integer positions
        kind = INT if all(v is None or isinstance(v, Unknown) or S.is_int_like(v) for v in bounds) else None
    # a 1-D tensor with no batch axis, of the length of the range where it is known
    return result(ctx, [_range_length(ctx, *bounds)], None, kind)


def _range_length(ctx, start, stop, step):
    """The length of ``arange(start, stop, step)`` for int bounds (a step of 1 where they
    are symbolic); None when it is not known (a bound Keras does not know, floats)."""
    if stop is None:
        start, stop = 0, start
    start = 0 if start is None else start
    step = 1 if step is None else step
    bounds = [ctx.int(value) if isinstance(value, Unknown) else int_value(value) for value in (start, stop, step)]
    if any(value is None for value in bounds) or isinstance(start, float) or isinstance(stop, float):
        return None
    start, stop, step = bounds
    if not S.is_sym(start) and not S.is_sym(stop) and not S.is_sym(step):
        return len(range(start, stop, step)) if step else None
    if isinstance(step, int) and step == 1:
        return S.maximum(S.sub(stop, start), 0)
    return None


def _filled(shape_index: int):
    def apply(ctx, args, kwargs):
        target = arg(args, kwargs, shape_index, "shape", kwargs.get("dims"))
        kind = dtype_kind(kwargs.get("dtype", args[shape_index + 1] if len(args) > shape_index + 1 else None))
        if isinstance(target, ShapeOf):
            if not target.tensor.known:
                return same_shape(ctx, target.tensor, kind)
            return result(ctx, target.as_tuple(), target.tensor, kind)
        items = sequence(target)
        if items is None:
            items = [target]
        sizes = [written_size(item) for item in items]
        if any(size is NOT_A_SIZE for size in sizes):
            return ctx.opaque("shape not understood")
        for size in sizes:
            if size is not None:
                ctx.assume(size >= 0)  # the backend refuses a negative size
        return result(ctx, sizes, None, kind)

    return apply


keras_op("numpy", "zeros", "ones", "empty")(_filled(0))
function("tensorflow.zeros", "tensorflow.ones")(_filled(0))


@keras_op("numpy", "full")
def full_(ctx, args, kwargs):
    value = arg(args, kwargs, 1, "fill_value")
    kind = dtype_kind(kwargs.get("dtype")) if "dtype" in kwargs else (INT if S.is_int_like(value) else None)
    out = _filled(0)(ctx, args[:1], {k: v for k, v in kwargs.items() if k == "shape"})
    if hasattr(out, "dtype"):
        out.dtype = kind
    return out


@function("tensorflow.fill")
def tf_fill(ctx, args, kwargs):
    value = arg(args, kwargs, 1, "value")
    out = _filled(0)(ctx, args[:1], {k: v for k, v in kwargs.items() if k == "dims"})
    if hasattr(out, "dtype"):
        out.dtype = INT if S.is_int_like(value) else None
    return out


def _like(value_index):
    def apply(ctx, args, kwargs):
        x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("input")))
        if x is None:
            return ctx.opaque("*_like of a non-tensor")
        if "dtype" in kwargs:
            kind = dtype_kind(kwargs["dtype"])
        elif value_index is not None and len(args) > value_index:
            kind = x.dtype if S.is_int_like(args[value_index]) else None
        else:
            kind = x.dtype
        return same_shape(ctx, x, kind)

    return apply


keras_op("numpy", "zeros_like", "ones_like", "empty_like")(_like(None))
keras_op("numpy", "full_like")(_like(1))
function("tensorflow.zeros_like", "tensorflow.ones_like")(_like(None))


@keras_op("numpy", "eye")
def eye(ctx, args, kwargs):
    rows, columns = arg(args, kwargs, 0, "N"), arg(args, kwargs, 1, "M")
    rows = int_value(rows) if rows is not None else None
    columns = rows if columns is None else int_value(columns)
    if rows is None or columns is None:
        return ctx.opaque("eye of unknown sizes")
    return result(ctx, [rows, columns], None, dtype_kind(kwargs.get("dtype")))


@keras_op("numpy", "linspace")
def linspace(ctx, args, kwargs):
    bounds = (arg(args, kwargs, 0, "start"), arg(args, kwargs, 1, "stop"))
    if not all(is_number(value) for value in bounds):
        return ctx.opaque("linspace between tensors")
    count = int_value(arg(args, kwargs, 2, "num", 50))
    return result(ctx, [count if isinstance(count, int) and count >= 0 else None], None, None)


def _random(default_int: bool):
    """``keras.random.normal(shape, ...)`` and its kin: a tensor of the shape asked for
    (``randint``'s dtype is int32 unless ``dtype=`` says otherwise)."""

    def apply(ctx, args, kwargs):
        given = {name: kwargs[name] for name in ("shape", "dtype") if name in kwargs}
        if default_int:
            given.setdefault("dtype", "int32")
        return _filled(0)(ctx, args[:1], given)

    return apply


function("keras.random.normal", "keras.random.uniform", "keras.random.truncated_normal")(_random(False))
function("keras.random.randint")(_random(True))
