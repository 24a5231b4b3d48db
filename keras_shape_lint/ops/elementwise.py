"""Element-wise functions: one tensor in, its shape out; two tensors broadcast.

``ops.add(x, y)``, ``ops.multiply`` ... on two tensors are merges, checked as ``x + y``
is (KSL101-103, KSL106); on two integer tensors (positions, masks) they are index
arithmetic, not a model merge, and are not checked.  Comparisons and logical
functions broadcast without a merge check and give integer (mask) tensors.
"""

from __future__ import annotations

import operator

from .. import symbolic as S
from ..values import Tensor, batched_views
from . import arg
from ._common import (
    INT,
    batched,
    broadcast,
    dtype_kind,
    full,
    function,
    is_number,
    keras_op,
    operand,
    result,
    same_shape,
    scalar,
    tensor,
    unary,
    unknown_rank,
)

# functions of one tensor whose result has its shape and a float dtype (activations: nn.py)
_FLOAT_UNARY = {
    "numpy": ("exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan",
              "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
              "reciprocal", "floor", "ceil", "round", "trunc", "cbrt", "deg2rad", "rad2deg", "sinc"),
    "math": ("rsqrt", "erf", "erfinv"),
}
# functions of one tensor whose result has its shape and dtype
_KEEP_DTYPE = {
    "numpy": ("abs", "absolute", "negative", "square", "sign", "copy", "clip", "fabs", "flip", "fliplr",
              "flipud", "roll", "tril", "triu", "nan_to_num", "conj", "conjugate", "real"),
    "core": ("stop_gradient", "convert_to_tensor"),
}
_TENSORFLOW_FLOAT = (
    "tensorflow.exp", "tensorflow.sqrt", "tensorflow.floor", "tensorflow.round", "tensorflow.sin",
    "tensorflow.cos", "tensorflow.tanh", "tensorflow.sigmoid",
    *(f"tensorflow.math.{name}" for name in ("exp", "log", "log1p", "sqrt", "rsqrt", "floor", "ceil", "round",
                                             "sin", "cos", "erf", "reciprocal", "tanh", "sigmoid")),
)
_TENSORFLOW_KEEP = (
    "tensorflow.identity", "tensorflow.stop_gradient", "tensorflow.clip_by_value", "tensorflow.convert_to_tensor",
    *(f"{module}.{name}" for name in ("abs", "negative", "square", "sign")
      for module in ("tensorflow", "tensorflow.math")),
)

_float_unary = unary(keep_dtype=False)
_keep_dtype = unary(keep_dtype=True)
for _family, _names in _FLOAT_UNARY.items():
    for _name in _names:
        keras_op(_family, _name)(_float_unary)
for _family, _names in _KEEP_DTYPE.items():
    for _name in _names:
        keras_op(_family, _name)(_keep_dtype)
function(*_TENSORFLOW_FLOAT)(_float_unary)
function(*_TENSORFLOW_KEEP)(_keep_dtype)


@keras_op("core", "cast", other=("tensorflow.cast",))
def cast(ctx, args, kwargs):
    x = operand(ctx, arg(args, kwargs, 0, "x"))
    kind = dtype_kind(arg(args, kwargs, 1, "dtype"))
    if x is None:
        return ctx.opaque("cast of a non-tensor")
    if not isinstance(x, Tensor):
        return x if kind is None or S.is_int_like(x) else S.to_int(x)
    return same_shape(ctx, x, kind)


@keras_op("numpy", "logical_not", other=("tensorflow.logical_not", "tensorflow.math.logical_not"))
def logical_not(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    if x is None:
        return scalar()
    return same_shape(ctx, x, INT)


# ------------------------------------------------------------ two tensors

_NUMBERS = {"add": S.add, "subtract": S.sub, "multiply": S.mul, "maximum": S.maximum, "minimum": S.minimum}


def _operands(args, kwargs):
    names = ("x1", "x2") if "x1" in kwargs or "x2" in kwargs else ("x", "y")
    values = list(args[:2])
    for name in names[len(values):]:
        if name in kwargs:
            values.append(kwargs[name])
    return values if len(values) == 2 else None


def _merge(name: str):
    """A broadcasting function of two tensors that Keras checks as a merge."""
    number = _NUMBERS.get(name)

    def apply(ctx, args, kwargs):
        operands = _operands(args, kwargs)
        if operands is None:
            return ctx.opaque("element-wise function arguments")
        values = [operand(ctx, v) for v in operands]
        if all(is_number(v) for v in values):
            if number is None or not all(S.is_int_like(v) or isinstance(v, float) for v in values):
                return scalar()
            return number(*values)
        values = batched_views(values) if all(isinstance(v, Tensor) for v in values) else values
        tensors = [v for v in values if isinstance(v, Tensor)]
        if len(tensors) == 1:
            # a tensor and a number: the tensor's shape
            other = values[1] if values[0] is tensors[0] else values[0]
            if not is_number(other):
                return ctx.opaque("element-wise function of a non-tensor")
            keep = tensors[0].dtype if S.is_int_like(other) and name not in ("divide", "true_divide") else None
            return same_shape(ctx, tensors[0], keep)
        if not tensors:
            return ctx.opaque("element-wise function of non-tensors")
        if all(t.dtype == INT for t in tensors):
            return index_arithmetic(ctx, tensors, name, None if name in ("divide", "true_divide") else INT)
        ctx.check_merge("elementwise", tensors)
        if not all(t.known for t in tensors):
            # the merge check gave an unknown-rank operand the other's rank where it could
            from ..layers.merging import same_rank_merge

            return same_rank_merge(ctx, tensors) or ctx.opaque(f"{name}() of tensors of unknown rank")
        # the operands broadcast as numpy's do, the batch axis included
        return result(ctx, broadcast(ctx, [full(t) for t in tensors], checked=True), tensors[0])

    return apply


def index_arithmetic(ctx, tensors, name, dtype=INT):
    """Two integer tensors (positions, masks) combined: no model merge, only their broadcast."""
    if not all(t.known for t in tensors):
        return unknown_rank(ctx, name, dtype)
    shape = broadcast(ctx, [full(t) for t in tensors])
    if shape is None:
        return ctx.opaque(f"{name}: shapes Keras rejects")
    return result(ctx, shape, tensors[0], dtype, batched(*tensors))


for _name, _tf in (
    ("add", ("tensorflow.add", "tensorflow.math.add")),
    ("subtract", ("tensorflow.subtract", "tensorflow.math.subtract")),
    ("multiply", ("tensorflow.multiply", "tensorflow.math.multiply")),
    ("divide", ("tensorflow.divide", "tensorflow.math.divide", "tensorflow.truediv", "tensorflow.math.truediv")),
    ("true_divide", ()),
    ("maximum", ("tensorflow.maximum", "tensorflow.math.maximum")),
    ("minimum", ("tensorflow.minimum", "tensorflow.math.minimum")),
):
    keras_op("numpy", _name, other=_tf)(_merge(_name))


# ---------------------------------------------- broadcasts that are not merges

_PYTHON = {"power": operator.pow, "floor_divide": operator.floordiv, "mod": operator.mod}


def _broadcasting(name: str, dtype=None, keep_int=False):
    """A function of tensors and numbers that broadcasts them (Keras raises unless it can).

    The result's dtype is ``dtype``, or with ``keep_int`` ``INT`` when every tensor
    operand is an integer one.
    """

    def apply(ctx, args, kwargs):
        operands = _operands(args, kwargs)
        if operands is None:
            return ctx.opaque(f"{name} arguments")
        return broadcast_values(ctx, name, operands, dtype, keep_int)

    return apply


def broadcast_values(ctx, name, values, dtype=None, keep_int=False):
    found = [operand(ctx, value) for value in values]
    if any(value is None for value in found):
        return unknown_rank(ctx, name, dtype)
    tensors = [value for value in found if isinstance(value, Tensor)]
    if not tensors:
        return scalar()
    if keep_int and all(t.dtype == INT for t in tensors):
        dtype = INT
    if len(tensors) == 1:
        return same_shape(ctx, tensors[0], dtype)  # with numbers: the tensor's shape
    if not all(t.known for t in tensors):
        return unknown_rank(ctx, name, dtype)
    shape = broadcast(ctx, [full(value) if isinstance(value, Tensor) else [] for value in found])
    if shape is None:
        return ctx.opaque(f"{name}: shapes Keras rejects")
    return result(ctx, shape, tensors[0], dtype, batched(*tensors))


_COMPARISONS = ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and",
                "logical_or")
for _name in _COMPARISONS:
    keras_op("numpy", _name, other=(f"tensorflow.{_name}", f"tensorflow.math.{_name}"))(_broadcasting(_name, INT))
keras_op("numpy", "logical_xor", other=("tensorflow.math.logical_xor",))(_broadcasting("logical_xor", INT))
keras_op("numpy", "isclose")(_broadcasting("isclose", INT))
for _name in ("power", "floor_divide", "mod"):
    keras_op("numpy", _name)(_broadcasting(_name, keep_int=True))
for _name in ("fmod", "arctan2", "hypot", "logaddexp"):
    keras_op("numpy", _name)(_broadcasting(_name))
keras_op("numpy", "divide_no_nan", other=("tensorflow.math.divide_no_nan",))(_broadcasting("divide_no_nan"))
function("tensorflow.pow", "tensorflow.math.pow", "tensorflow.math.floordiv",
         "tensorflow.math.floormod")(_broadcasting("power", keep_int=True))


@keras_op("numpy", "where", other=("tensorflow.where",))
def where(ctx, args, kwargs):
    condition = arg(args, kwargs, 0, "condition")
    x1, x2 = arg(args, kwargs, 1, "x1", kwargs.get("x")), arg(args, kwargs, 2, "x2", kwargs.get("y"))
    if x1 is None and x2 is None:
        return ctx.opaque("where without values: a data-dependent size")
    dtype = INT if all(isinstance(v, Tensor) and v.dtype == INT for v in (x1, x2)) else None
    return broadcast_values(ctx, "where", [condition, x1, x2], dtype)


@function("tensorflow.math.scalar_mul")
def scalar_mul(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 1, "x"))
    return ctx.opaque("scalar_mul of a non-tensor") if x is None else same_shape(ctx, x)
