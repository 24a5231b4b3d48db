"""The tensor-function catalogue against Keras itself.

Each case calls a ``keras.ops`` (or ``tf``) function on symbolic tensors
(``keras.KerasTensor``, batch axis ``None``) and compares the output shape, or
Keras's refusal, with what the function's model computes for the same shapes:
a refusal must show as an assumption that is plainly false (or an opaque
result), an accepted call as assumptions that all hold and the same dims (the
batch position excepted: the analysis never tracks it).  The same cases run
again with every known size replaced by a symbol, and the symbolic answer,
evaluated at the sizes, must agree as well.
"""

from __future__ import annotations

import os
import random
import textwrap

import pytest
import z3

from keras_shape_lint import ops as catalogue
from keras_shape_lint import symbolic as S
from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.options import Options
from keras_shape_lint.values import ListValue, ShapeOf, Tensor, full_dims

from layer_ctx import LayerCtx

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KERAS_ERRORS = (ValueError, TypeError, IndexError, StopIteration)  # (1, 1) as axes: StopIteration


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


class T:
    """A tensor argument by its full shape (batch axis first, always None)."""

    def __init__(self, *dims, dtype="float32"):
        self.shape = (None,) + dims
        self.dtype = dtype

    def __repr__(self):
        return f"T{self.shape}"


class W(T):
    """A weight argument (``add_weight``): its whole shape, no batch axis."""

    def __init__(self, *dims, dtype="float32"):
        self.shape = dims
        self.dtype = dtype

    def __repr__(self):
        return f"W{self.shape}"


class Shape:
    """``ops.shape(t)`` of a tensor argument, as a reshape target."""

    def __init__(self, of: T):
        self.of = of

    def __repr__(self):
        return f"shape({self.of!r})"


def to_keras(keras, value):
    if isinstance(value, T):
        return keras.KerasTensor(value.shape, dtype=value.dtype)
    if isinstance(value, Shape):
        return value.of.shape
    if isinstance(value, list):
        return [to_keras(keras, v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_keras(keras, v) for v in value)
    return value


def to_ours(value, sizes):
    """The argument as the analysis sees it; ``sizes`` maps a known size to its stand-in."""
    if isinstance(value, W):
        tensor = Tensor(tuple(sizes(d) for d in value.shape))
        tensor.batched = False
        tensor.dtype = "int" if value.dtype in ("int32", "bool") else None
        return tensor
    if isinstance(value, T):
        tensor = Tensor(tuple(sizes(d) for d in value.shape[1:]))
        tensor.dtype = "int" if value.dtype in ("int32", "bool") else None
        return tensor
    if isinstance(value, Shape):
        return ShapeOf(to_ours(value.of, sizes))
    if isinstance(value, list):
        return ListValue([to_ours(v, sizes) for v in value])
    if isinstance(value, tuple):
        return tuple(to_ours(v, sizes) for v in value)
    return value


def keras_shape(keras, name, args, kwargs):
    """Keras's output shape(s), or None when Keras rejects the call."""
    function = keras.ops
    for part in name.split("."):
        function = getattr(function, part)
    try:
        out = function(*to_keras(keras, args), **to_keras(keras, kwargs))
    except KERAS_ERRORS:
        return None
    if isinstance(out, (list, tuple)):
        return [tuple(o.shape) for o in out]
    return tuple(out.shape)


def run_model(name, args, kwargs, sizes=lambda d: d):
    model = catalogue.lookup(f"keras.ops.{name}")
    assert model is not None, f"keras.ops.{name} is not registered"
    ctx = LayerCtx()
    out = model.apply(ctx, list(to_ours(list(args), sizes).items), dict(to_ours(kwargs, sizes)))
    return ctx, out


def dims_of(out):
    """Our result's dims, batch position dropped: a tuple, a list of tuples, or 'scalar'."""
    if isinstance(out, ListValue):
        return [dims_of(o) for o in out.items]
    if isinstance(out, Tensor):
        return out.dims
    assert S.is_int_like(out) or isinstance(out, (int, float)), f"not a tensor: {out!r}"
    return "scalar"


def drop_batch(shape, out, joined=False):
    """Keras's shape as our result should give it: without its first axis for a batch
    (whose size the analysis never tracks), whole for a tensor with no batch axis.

    ``joined``: a batch joined with a weight whose first size is 1 (``concatenate`` on another
    axis), where Keras's shape takes that 1 for the batch size and ours keeps a batch axis
    (data must then come one at a time, which the analysis does not track)."""
    if isinstance(shape, list):
        items = out.items if isinstance(out, ListValue) else [out] * len(shape)
        return [drop_batch(s, o, joined) for s, o in zip(shape, items)]
    if isinstance(out, Tensor) and not out.batched:
        return shape
    if isinstance(out, Tensor) and shape and shape[0] is not None and not (joined and shape[0] == 1):
        # ours calls its first axis the batch, which Keras never sizes: it is another axis
        return ("first axis taken for the batch", shape)
    return shape[1:] if shape else "scalar"


def _joins_weight_and_batch(args) -> bool:
    """Does a list argument hold a batch and a weight whose first size is 1?"""
    for value in args:
        if isinstance(value, list) and any(type(v) is T for v in value) and any(
                isinstance(v, W) and v.shape[:1] == (1,) for v in value):
            return True
    return False


def merge_fails(ctx) -> bool:
    """Does a merge the model asked to check fail (Keras's rule: sizes equal, unknown, or 1)?"""
    from keras_shape_lint.checks import aligned_pairs

    for kind, tensors, axis in ctx.merges:
        for other in tensors[1:]:
            for _, _, a, b in aligned_pairs(kind, tensors[0], other, axis):
                if a is not None and b is not None and a != b and 1 not in (a, b):
                    return True
    return False


def check(keras, name, args, kwargs=None, symbolic=True):
    kwargs = kwargs or {}
    expected = keras_shape(keras, name, args, kwargs)
    ctx, out = run_model(name, args, kwargs)
    for term in ctx.assumptions:
        assert isinstance(term, bool), f"symbolic assumption from a concrete case: {term}"
    accepted = all(ctx.assumptions) and not ctx.opaques and not merge_fails(ctx)
    if expected is None:
        assert not accepted, f"Keras rejects {name}{args}{kwargs}; we give {out}"
        return
    assert not ctx.opaques, f"{name}{args}{kwargs}: opaque {ctx.opaques}"
    assert all(ctx.assumptions), f"Keras accepts {name}{args}{kwargs}; we assume {ctx.assumptions}"
    assert dims_of(out) == drop_batch(expected, out, _joins_weight_and_batch(args)), \
        f"{name}{args}{kwargs}: Keras {expected}, ours {dims_of(out)}"
    if symbolic:
        check_symbolic(name, args, kwargs, expected)


def check_symbolic(name, args, kwargs, expected):
    """The same case with every size above 1 a symbol: the answer, at the sizes, is Keras's."""
    symbols: dict = {}

    def sizes(d):
        if d is None or d == 1 or d == 0:
            return d
        return symbols.setdefault(d, z3.Int(f"size{d}"))

    ctx, out = run_model(name, args, kwargs, sizes)
    assert not ctx.opaques, f"{name}{args}{kwargs} with symbolic sizes: opaque {ctx.opaques}"
    values = [(symbol, z3.IntVal(size)) for size, symbol in symbols.items()]

    def at(term):
        if not S.is_sym(term):
            return term
        found = z3.simplify(z3.substitute(term, *values)) if values else z3.simplify(term)
        if z3.is_int_value(found):
            return found.as_long()
        if z3.is_true(found) or z3.is_false(found):
            return z3.is_true(found)
        raise AssertionError(f"{term} does not evaluate at {values}")

    for term in ctx.assumptions:
        assert at(term) is True, f"{name}{args}{kwargs}: assumption {term} fails at the sizes"

    def agrees(found, wanted):
        """Equal at the sizes; a size the model leaves unknown (None) is never wrong."""
        if isinstance(found, list):
            return len(found) == len(wanted) and all(agrees(f, w) for f, w in zip(found, wanted))
        if found == "scalar" or wanted == "scalar":
            return found == wanted
        return len(found) == len(wanted) and all(f is None or at(f) == w for f, w in zip(found, wanted))

    assert agrees(dims_of(out), drop_batch(expected, out, _joins_weight_and_batch(args))), f"{name}{args}{kwargs} symbolic: {dims_of(out)}"


# ---------------------------------------------------------------------- cases

_random = random.Random(20261129)


def shapes(rank_low=1, rank_high=4, sizes=(1, 2, 3, 4, 6, None)):
    rank = _random.randint(rank_low, rank_high)
    return tuple(_random.choice(sizes) for _ in range(rank))


CASES = []


def case(name, *args, **kwargs):
    CASES.append(pytest.param(name, args, kwargs, id=f"{name}-{len(CASES)}"))


# Cases the catalogue answers less than Keras, on purpose: each with why.
GIVES_UP = []  # the model's result is opaque
STRICTER = []  # Keras builds it, the data would fail it; the model rejects it
CONCRETE_ONLY = []  # with symbolic sizes the answer depends on whether a size is 1, or on its value


def gives_up(why, name, *args, **kwargs):
    GIVES_UP.append(pytest.param(name, args, kwargs, id=f"{name}-{why}-{len(GIVES_UP)}"))


def stricter(why, name, *args, **kwargs):
    STRICTER.append(pytest.param(name, args, kwargs, id=f"{name}-{why}-{len(STRICTER)}"))


def concrete_only(name, *args, **kwargs):
    CONCRETE_ONLY.append(pytest.param(name, args, kwargs, id=f"{name}-{len(CONCRETE_ONLY)}"))


# element-wise, one tensor
for _name in ("relu", "sigmoid", "gelu", "silu", "tanh", "exp", "sqrt", "rsqrt", "square", "abs", "negative",
              "log", "stop_gradient", "logical_not", "erf", "floor", "sign"):
    case(_name, T(4, None, 3))
    case(_name, T(7))
case("cast", T(3, None), "int32")
case("cast", T(5, 2), dtype="bfloat16")
case("clip", T(3, 5), 0.0, 1.0)
case("softmax", T(3, 5))
case("softmax", T(3, 5), axis=1)
case("softmax", T(3, 5), axis=3)
case("log_softmax", T(None, 6), axis=-1)
case("normalize", T(4, 8))
case("one_hot", T(5, dtype="int32"), 10)
case("one_hot", T(5, None, dtype="int32"), 3, axis=1)
case("cumsum", T(4, 6), axis=1)
case("cumsum", T(4, 6))
case("cumsum", T(4, 6), axis=-1)
case("triu", T(4, 4))
case("image.resize", T(16, 16, 3), (8, 12))
case("image.resize", T(None, None, 3), (8, 8))
case("image.resize", T(3, 16, 16), (8, 12), data_format="channels_first")
case("image.resize", T(16, 3), (8, 8))
case("image.resize", T(16, 16, 16, 3), (8, 8))

# element-wise, two tensors (merges) and broadcasts that are not
for _name in ("add", "subtract", "multiply", "divide", "maximum", "minimum"):
    case(_name, T(4, 8), T(4, 8))
    case(_name, T(4, 8), T(1, 8))
    case(_name, T(4, 8), T(8))
    case(_name, T(4, 8), 2.0)
    case(_name, 3, T(None, 2))
    case(_name, T(4, 8), T(4, 3, 8))
    case(_name, T(None, 8), T(4, 8))
for _name in ("equal", "greater", "less_equal", "logical_and", "power", "mod", "floor_divide"):
    case(_name, T(4, 8), T(4, 8))
    case(_name, T(4, 1), T(1, 5))
    case(_name, T(4, 8), T(3, 8))
    case(_name, T(4, 8), 2)
    case(_name, T(None, 8), T(4, 1))
case("where", T(4, 8, dtype="bool"), T(4, 8), T(4, 8))
case("where", T(4, 1, dtype="bool"), T(1, 8), 0.0)
case("where", T(4, 2, dtype="bool"), T(4, 3), 0.0)
case("where", T(None, 8, dtype="bool"), T(1, 8), T(5, 1))

# reshape
for _target in ((-1, 32), (-1, 4, 8), (-1, 2, 4, 4), (None, 8, 4), (-1, -1, 8), (-1, 3, 8), (2, -1),
                (-1, 0), (-2, 32)):
    case("reshape", T(8, 4), _target)
case("reshape", T(None, 6), (-1, 2, 3))
case("reshape", T(None, 6), [-1, 6])
case("reshape", T(3, 4), Shape(T(4, 3)))
case("reshape", T(12), (-1, 3, 4))

# permutations
for _axes in ((0, 2, 1), (0, 1, 2), (2, 0, 1), (1, 0, 2), (0, 2), (0, 0, 1), (0, 2, 3), (0, -1, 1), None):
    case("transpose", T(3, 5), _axes)
case("transpose", T(None, 4, 5), (0, 2, 1, 3))
case("swapaxes", T(3, 4, 5), 1, 3)
case("swapaxes", T(3, 4, 5), 0, -1)
case("moveaxis", T(3, 4, 5), 1, -1)
case("moveaxis", T(3, 4, 5), (1, 2), (3, 1))
case("moveaxis", T(3, 4, 5), 0, 2)

# adding and removing axes
for _axis in (0, 1, 2, 3, -1, -2, -4, 4, (1, 2), (0, -1), (1, 1)):
    case("expand_dims", T(3, 5), _axis)
for _x, _axis in ((T(1, 5, 1), 1), (T(1, 5, 1), -1), (T(1, 5, 1), (1, 3)), (T(1, 5, 1), 2),
                  (T(3, 1), 0), (T(1, 5, 1), 4), (T(2, 1, 1), (-1, -2))):
    case("squeeze", _x, _axis)
concrete_only("squeeze", T(1, 5, 1), None)
concrete_only("squeeze", T(3, 1), None)
case("squeeze", T(None, 1), 1)  # a traced layer call accepts it: the model gives up
gives_up("axis-0", "take", T(100, 8), T(5, dtype="int32"), axis=0)
gives_up("batch-contraction", "tensordot", T(3, 4), T(4, 5), axes=1)

# joining
case("concatenate", [T(4, 3), T(4, 5)], axis=-1)
case("concatenate", [T(4, 3), T(2, 3)], axis=1)
case("concatenate", [T(4, 3), T(2, 3)], axis=-1)
case("concatenate", [T(4, 3), T(4, 3)])
case("concatenate", [T(4, 3), T(4, 2)])
case("concatenate", [T(None, 3), T(4, 3), T(2, 3)], axis=1)
case("concatenate", [T(4, 3, dtype="int32"), T(4, 5, dtype="int32")], axis=2)
case("concatenate", [T(4, 3, dtype="int32"), T(2, 5, dtype="int32")], axis=2)
case("stack", [T(4, 3), T(4, 3)])
case("stack", [T(4, 3), T(4, 3)], axis=1)
case("stack", [T(4, 3), T(4, 3), T(4, 3)], axis=-1)
case("stack", [T(4, 3), T(4, 2)], axis=1)
case("stack", [T(None, 3), T(4, 3)], axis=2)
case("stack", [T(4, 3), T(4, 3)], axis=4)
case("stack", [2, 3, 5])
case("expand_dims", 3.0, 0)
case("expand_dims", 3.0, (0, 1))
case("greater", T(4, 8), 0.5)

# splitting
case("split", T(6, 4), 2, axis=1)
case("split", T(6, 4), 4, axis=1)
case("split", T(6, 4), 2, axis=-1)
case("split", T(None, 4), 3, axis=1)
case("split", T(6, 4), [1, 4], axis=1)
case("split", T(6, 4), [2], axis=-1)
case("split", T(None, 4), [1, 3], axis=1)
concrete_only("unstack", T(3, 4), axis=1)
concrete_only("unstack", T(3, 4), axis=-1)
case("unstack", T(3, 4), num=4, axis=-1)  # x_c, y_c, w, h = ops.unstack(boxes, num=4, axis=-1)
case("unstack", T(3, None), num=2, axis=-1)
case("unstack", T(None, 3, 4), num=3, axis=2)
stricter("num-differs", "unstack", T(5, 3), num=4, axis=-1)  # Keras builds it; the backend splits 3 in 4 never

# repeating
for _reps in (2, (2,), (1, 3), (2, 1, 3), (1, 1, 1, 2), (3, 0)):
    case("tile", T(4, 5), _reps)
case("tile", T(None, 5), (1, 2, 2))
for _reps, _axis in ((2, 1), (3, -1), ((1, 2, 3), 1), ((1, 2), 1), (2, None), (2, 3)):
    case("repeat", T(3, 4), _reps, axis=_axis)
case("repeat", T(None, 4), 2, axis=1)
case("broadcast_to", T(1, 4), (None, 3, 4))
case("broadcast_to", T(4), (None, 5, 4))
case("broadcast_to", T(3, 4), (None, 2, 4))
gives_up("lower-rank-target", "broadcast_to", T(3, 4), (None, 4))  # Keras builds it; data fails it

# padding and slicing
case("pad", T(3, 4), ((0, 0), (1, 2), (3, 4)))
case("pad", T(3, 4), ((0, 0), (1, 1)))
case("pad", T(None, 4), ((0, 0), (1, 1), (0, 2)))
stricter("negative-padding", "pad", T(3, 4), ((0, 0), (-1, 1), (0, 2)))
case("slice", T(5, 6), (0, 1, 2), (None, 3, 4))
case("slice", T(5, 6), (0, 1, 2), (-1, 3, -1))
case("slice", T(None, 6), (0, 1, 2), (-1, -1, 4))
case("slice", T(5, 6), (0, 1), (-1, 3))

# gathering
case("take", T(5, 6), T(3, dtype="int32"), axis=1)
case("take", T(5, 6), T(3, 2, dtype="int32"), axis=-1)
case("take", T(5, 6), T(3, dtype="int32"))
case("take", T(5, 6), 2, axis=2)
case("take", T(5, 6), [0, 2], axis=1)
case("take", T(5, 6), T(3, dtype="int32"), axis=3)
case("take_along_axis", T(5, 6), T(5, 2, dtype="int32"), axis=2)
case("take_along_axis", T(5, 6), T(1, 6, dtype="int32"), axis=1)
case("take_along_axis", T(5, 6), T(2, dtype="int32"), axis=1)
case("take_along_axis", T(None, 6), T(3, 6, dtype="int32"), axis=-2)

# products
case("einsum", "bij,bjk->bik", T(3, 4), T(4, 5))
case("einsum", "bij,bjk->bik", T(None, 4), T(4, None))
case("einsum", "btnh,bsnh->bnts", T(None, 4, 8), T(None, 4, 8))
case("einsum", "...ij,jk->...ik", T(5, 3, 4), T(4, 8))
case("einsum", "bij,bkj", T(3, 4), T(5, 4))
case("einsum", "bij->bji", T(3, 4))
case("einsum", "bij,bjk->bik", T(3, 4), T(4, 5, 6))
case("einsum", "bi,bj->bij", T(3), T(1))
case("einsum", "abc,cd->abd", T(4, 6), T(6, 2))
case("matmul", T(3, 4), T(4, 5))
case("matmul", T(2, 3, 4), T(2, 4, 5))
case("matmul", T(2, 3, 4), T(1, 4, 5))
case("matmul", T(3, 4), T(5, 6))
case("matmul", T(None, 4), T(4, None))
case("matmul", T(3, 4), T(4))
case("matmul", T(2, 3, 4), T(4, 5))
gives_up("weight-or-batch", "matmul", T(3, 4), T(3, 4, 5))
case("tensordot", T(3, 4), T(3, 4), axes=0)
case("tensordot", T(3, 4), T(4, 5), axes=[[2], [1]])
case("tensordot", T(3, 4), T(4, 5), axes=[[1], [2]])

# reductions
for _name in ("sum", "mean", "max", "min", "prod", "any", "std", "var", "argmax"):
    for _axis, _keep in ((None, False), (1, False), (-1, False), (-1, True), ((1, 2), False), ((1, 2), True),
                         (0, False), (3, False), (None, True)):
        if _name == "argmax" and (isinstance(_axis, tuple) or _keep is True and _axis is None):
            continue
        case(_name, T(4, None), axis=_axis, keepdims=_keep)
case("logsumexp", T(3, 4), axis=-1)
case("top_k", T(3, 8), 2)

# creation
case("arange", 10)
case("arange", 2, 10, 3)
case("zeros", (2, 3, 4))
case("ones", (3, 5))
case("full", (1, 5), 2.0)
case("zeros_like", T(3, None))
case("ones_like", T(4), dtype="int32")
case("full_like", T(4, 2), 7)
case("eye", 3, 4)
case("linspace", 0.0, 1.0, 5)

# weights (no batch axis) alone and with a batch
case("concatenate", [W(1, 1, 8), T(5, 8)], axis=1)
case("concatenate", [W(1, 1, 7), T(5, 8)], axis=1)
case("concatenate", [W(2, 3), W(4, 3)], axis=0)
case("concatenate", [W(2, 3), W(2, 5)], axis=-1)
case("concatenate", [W(2, 3), W(4, 5)], axis=0)
case("take", W(10, 8), T(5, dtype="int32"), axis=0)
case("take", W(1, 10, 8), T(5, dtype="int32"), axis=1)
case("take", W(1, 10, 8), W(4, dtype="int32"), axis=1)
case("reshape", W(1, 6, 8), (1, -1, 4))
case("reshape", W(1, 6, 8), (1, -1, 5))
case("reshape", W(16, 8), (1, 4, 4, 8))
case("reshape", W(16, 8), (4, 4, 4))  # every size given, another total: Keras refuses at build
case("reshape", W(16, 8), (2, 8, 8))
case("matmul", T(5, 8), W(8, 3))
case("matmul", T(5, 8), W(7, 3))
case("matmul", W(2, 8), W(8, 3))
case("outer", W(4), W(3))
case("outer", W(2, 2), W(3))
case("einsum", "btd,dh->bth", T(5, 8), W(8, 3))
stricter("contracted-sizes", "einsum", "btd,dh->bth", T(5, 8), W(7, 3))  # KerasTensors: no check; TF: raises
case("expand_dims", W(8), (0, 1))
case("expand_dims", W(2, 8), -1)
case("broadcast_to", W(1, 1, 8), (None, 1, 8))
case("tile", W(1, 1, 8), (2, 1, 1))
case("repeat", W(1, 3, 8), 2, axis=0)
case("transpose", W(2, 3))
case("add", T(5, 8), W(1, 5, 8))
case("add", T(5, 8), W(5, 8))
case("add", T(5, 8), W(4, 8))
case("add", W(4, 8), W(4, 8))
case("add", W(4, 8), W(3, 8))
case("multiply", W(4, 1), W(1, 8))
case("sum", W(4, 8), axis=0)
case("stack", [W(4, 8), W(4, 8)], axis=0)
case("where", T(5, 1, dtype="bool"), W(1, 8), T(5, 8))
case("arange", 0, 12, 4)
case("zeros", (1, 1, 8))

# random shapes for the most common functions
for _ in range(25):
    _dims = shapes()
    _rank = len(_dims) + 1
    case("expand_dims", T(*_dims), _random.randint(-_rank - 1, _rank))
    case("sum", T(*_dims), axis=_random.randint(-_rank, _rank - 1), keepdims=_random.choice((True, False)))
    _order = list(range(_rank))
    _random.shuffle(_order)
    case("transpose", T(*_dims), tuple(_order))
    case("squeeze", T(*_dims), _random.randint(-_rank, _rank - 1))
    concrete_only("squeeze", T(*_dims))
    case("add", T(*_dims), T(*shapes(1, 3, sizes=(1, 2, 3, None))))


@pytest.mark.parametrize("name, args, kwargs", CASES)
def test_function_matches_keras(keras, name, args, kwargs):
    check(keras, name, args, kwargs)


@pytest.mark.parametrize("name, args, kwargs", CONCRETE_ONLY)
def test_function_matches_keras_on_known_sizes(keras, name, args, kwargs):
    check(keras, name, args, kwargs, symbolic=False)


@pytest.mark.parametrize("name, args, kwargs", GIVES_UP)
def test_function_gives_up_where_it_cannot_be_exact(keras, name, args, kwargs):
    assert keras_shape(keras, name, args, kwargs) is not None  # Keras has an answer ...
    ctx, out = run_model(name, args, kwargs)
    assert ctx.opaques and isinstance(out, Tensor) and not out.known  # ... the model says it cannot know it


@pytest.mark.parametrize("name, args, kwargs", STRICTER)
def test_function_rejects_what_only_data_would_reject(keras, name, args, kwargs):
    assert keras_shape(keras, name, args, kwargs) is not None
    ctx, out = run_model(name, args, kwargs)
    assert ctx.opaques and False in ctx.assumptions


def test_every_case_is_of_a_registered_function():
    names = {param.values[0] for param in CASES + CONCRETE_ONLY + GIVES_UP + STRICTER}
    missing = [name for name in names if catalogue.lookup(f"keras.ops.{name}") is None]
    assert not missing


def test_catalogue_names_exist_in_the_libraries():
    """Every registered name is a real function (no name a user could not write)."""
    import importlib
    import math

    import numpy
    import tensorflow as tf

    keras = pytest.importorskip("keras")
    roots = {"keras": keras, "tensorflow": tf, "numpy": numpy, "math": math}

    def resolve(root, parts):
        for part in parts:
            root = getattr(root, part)
        return root

    missing = []
    for name in sorted(catalogue.OPS):
        head, *parts = name.split(".")
        try:
            resolve(roots[head], parts)
        except AttributeError:
            # keras.ops.core.cast and keras.ops.math.rsqrt are spelled through keras.src
            try:
                importlib.import_module("keras.src." + ".".join(parts[:-1]))
                resolve(importlib.import_module("keras.src"), parts)
            except (ImportError, AttributeError):
                missing.append(name)
    assert not missing


# ------------------------------------------------------- merges and index arithmetic


def test_binary_functions_of_two_tensors_are_merges():
    ctx, out = run_model("add", (T(4, 8), T(4, 8)), {})
    assert [kind for kind, _, _ in ctx.merges] == ["elementwise"]
    ctx, out = run_model("multiply", (T(4, 8), 0.5), {})
    assert ctx.merges == []


def test_index_tensors_combine_without_a_merge():
    ctx, out = run_model("add", (T(4, dtype="int32"), T(1, dtype="int32")), {})
    assert ctx.merges == []
    assert out.dims == (4,) and out.dtype == "int"
    ctx, out = run_model("concatenate", ([T(4, dtype="int32"), T(4, dtype="int32")],), {"axis": 1})
    assert ctx.merges == [] and out.dims == (8,) and out.dtype == "int"


def test_dtypes_follow_the_functions():
    assert run_model("arange", (10,), {})[1].dtype == "int"
    assert run_model("arange", (0.0, 1.0, 0.1), {})[1].dtype is None
    assert run_model("cast", (T(4), "int32"), {})[1].dtype == "int"
    assert run_model("cast", (T(4, dtype="int32"), "float32"), {})[1].dtype is None
    assert run_model("greater", (T(4), T(4)), {})[1].dtype == "int"
    assert run_model("reshape", (T(4, dtype="int32"), (-1, 2, 2)), {})[1].dtype == "int"
    assert run_model("expand_dims", (T(4, dtype="int32"), 0), {})[1].dtype == "int"
    assert run_model("softmax", (T(4, dtype="int32"),), {})[1].dtype is None


def test_a_weight_lookup_is_not_modelled():
    """``ops.take(embeddings, ids, axis=0)``: a weight has no batch axis, an activation has."""
    ctx, out = run_model("take", (T(100, 8), T(5, dtype="int32")), {"axis": 0})
    assert ctx.opaques and not out.known


def test_unknown_rank_keeps_track_of_its_input():
    """``ops.mean(x, axis=-1, keepdims=True)`` on a tensor whose rank is not known yet."""
    x = Tensor(None, label="x", free=True)
    ctx, out = run_model("mean", (x,), {"axis": -1, "keepdims": True})
    assert not ctx.opaques and not out.known
    assert out.with_rank(3) and x.rank == 3
    assert out.dims[:2] == x.dims[:2] and out.dims[2] == 1
    ctx, same = run_model("relu", (x,), {})
    assert same.dims == x.dims


def _statistics(source: str) -> dict:
    _, analysis = analyse_text(source, Options(), "snippet.py")
    return analysis.statistics()


def test_position_arithmetic_is_not_counted_as_a_merge():
    stats = _statistics(
        "import keras\nfrom keras import ops\n\n"
        "def positions(x):\n"
        "    pos = ops.arange(ops.shape(x)[1])\n"
        "    return ops.expand_dims(pos, 0) + ops.expand_dims(pos, 1)\n"
    )
    assert stats["merges"] == 0
    stats = _statistics(
        "import keras\nfrom keras import ops\n\n"
        "def masked(x):\n"
        "    mask = ops.cast(ops.greater(x, 0.0), 'int32')\n"
        "    return mask * mask + x * x\n\n"
        "masked(keras.Input((4, 8)))\n"
    )
    assert stats["merges"] == 2  # x * x, and the mask added to it; not mask * mask


def test_tensorflow_functions_match_traced_shapes():
    """``tf.*`` functions against TensorFlow's own shape inference on placeholders."""
    tf = pytest.importorskip("tensorflow")
    cases = [
        ("tensorflow.reshape", lambda x: tf.reshape(x, [-1, 4, 8]), (None, 8, 4), ((-1, 4, 8),), {}),
        ("tensorflow.transpose", lambda x: tf.transpose(x, perm=[0, 2, 1]), (None, 8, 4), (), {"perm": [0, 2, 1]}),
        ("tensorflow.transpose", lambda x: tf.transpose(x), (None, 8, 4), (), {}),
        ("tensorflow.expand_dims", lambda x: tf.expand_dims(x, -1), (None, 8, 4), (-1,), {}),
        ("tensorflow.squeeze", lambda x: tf.squeeze(x, axis=2), (None, 8, 1), (), {"axis": 2}),
        ("tensorflow.reduce_sum", lambda x: tf.reduce_sum(x, axis=1), (None, 8, 4), (), {"axis": 1}),
        ("tensorflow.reduce_mean", lambda x: tf.reduce_mean(x, axis=-1, keepdims=True), (None, 8, 4), (),
         {"axis": -1, "keepdims": True}),
        ("tensorflow.matmul", lambda x: tf.matmul(x, x, transpose_b=True), (None, 8, 4), (), {"transpose_b": True}),
        ("tensorflow.einsum", lambda x: tf.einsum("bij,bkj->bik", x, x), (None, 8, 4), (), {}),
        ("tensorflow.tile", lambda x: tf.tile(x, [1, 2, 3]), (None, 8, 4), ((1, 2, 3),), {}),
        ("tensorflow.concat", lambda x: tf.concat([x, x], axis=1), (None, 8, 4), (), {"axis": 1}),
        ("tensorflow.gather", lambda x: tf.gather(x, [0, 2, 5], axis=1), (None, 8, 4), ([0, 2, 5],), {"axis": 1}),
        ("tensorflow.gather", lambda x: tf.gather(x, [3], axis=-1), (None, 8, 4), ([3],), {"axis": -1}),
    ]
    for name, function, shape, extra, kwargs in cases:
        traced = tf.function(function, input_signature=[tf.TensorSpec(shape)]).get_concrete_function()
        expected = tuple(traced.structured_outputs.shape)
        x = Tensor(shape[1:])
        model = catalogue.lookup(name)
        ctx = LayerCtx()
        if name == "tensorflow.einsum":
            args = ["bij,bkj->bik", x, x]
        elif name == "tensorflow.matmul":
            args = [x, x]
        elif name == "tensorflow.concat":
            args = [ListValue([x, x])]
        else:
            args = [x, *extra]
        out = model.apply(ctx, args, dict(kwargs))
        assert not ctx.opaques, (name, ctx.opaques)
        # the whole shape: the batch axis first where ours is a batch, else where it went
        whole = (None, *out.dims) if out.batched else tuple(out.dims)
        assert whole == tuple(expected), (name, expected, whole)


def test_a_weight_by_the_batch_size_is_a_batch():
    """``ops.tile(self.class_token, (ops.shape(x)[0], 1, 1))`` and its kin inside a traced layer
    call, against TensorFlow's shapes: the batch size is a size Keras does not know (``None``
    to the analysis), and the result is a batch of the weight, which ``ops.concatenate`` joins
    with ``x``."""
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    ops = keras.ops
    token = tf.zeros((1, 1, 8))
    cases = [
        ("tile", lambda x: ops.tile(token, (ops.shape(x)[0], 1, 1)), (W(1, 1, 8), (None, 1, 1)), {}),
        ("broadcast_to", lambda x: ops.broadcast_to(token, (ops.shape(x)[0], 1, 8)), (W(1, 1, 8), (None, 1, 8)), {}),
        ("repeat", lambda x: ops.repeat(token, ops.shape(x)[0], axis=0), (W(1, 1, 8), None), {"axis": 0}),
        ("zeros", lambda x: ops.zeros((ops.shape(x)[0], 1, 8)), ((None, 1, 8),), {}),
        ("reshape", lambda x: ops.reshape(x, (ops.shape(x)[0], -1, 8)), (T(5, 8), (None, -1, 8)), {}),
    ]
    for name, function, args, kwargs in cases:
        traced = tf.function(function, input_signature=[tf.TensorSpec((None, 5, 8))]).get_concrete_function()
        expected = tuple(traced.structured_outputs.shape)
        ctx, out = run_model(name, args, kwargs)
        assert not ctx.opaques and all(ctx.assumptions), (name, ctx.opaques)
        assert isinstance(out, Tensor) and out.batched and out.dims == expected[1:], (name, expected, out)
        joined = tf.function(lambda x: ops.concatenate([function(x), x], axis=1),
                             input_signature=[tf.TensorSpec((None, 5, 8))]).get_concrete_function()
        ctx, both = run_model("concatenate", ([out, T(5, 8)],), {"axis": 1})
        assert both.batched and both.dims == tuple(joined.structured_outputs.shape)[1:], (name, both)


def test_a_weight_given_to_a_layer_has_its_first_axis_for_the_batch():
    """``self.position_embedding(self.position_ids)`` with ids of shape (1, n): Keras's
    Embedding gives (1, n, hidden), a batch of one sequence of n positions."""
    keras = pytest.importorskip("keras")
    stats = _statistics(
        "import keras\nfrom keras import layers, ops\n\n"
        "class Positions(layers.Layer):\n"
        "    def build(self, input_shape):\n"
        "        self.table = layers.Embedding(17, 32)\n"
        "        self.ids = ops.expand_dims(ops.arange(17), axis=0)\n\n"
        "    def call(self, x):\n"
        "        return x + self.table(self.ids)\n\n"
        "def model():\n"
        "    x = keras.Input((17, 32))\n"
        "    return Positions()(x)\n"
    )
    embedded = keras.layers.Embedding(17, 32)(keras.ops.expand_dims(keras.ops.arange(17), axis=0))
    assert tuple(embedded.shape) == (1, 17, 32)
    assert stats["merges"] == 1 and stats["proven"] == 1


# -------------------------------------------------------------------- slicing


SLICES = ["x[:, :3]", "x[:, -3:]", "x[:, 2:]", "x[..., None]", "x[:, 0]", "x[0]", "x[:, ::2]", "x[:, 1:7:2]",
          "x[:, ::-1]", "x[:, :, 2:5]", "x[:, :, -3:]", "x[:, :, :20]", "x[:, :, 6:2]", "x[:, :, ::3]",
          "x[:, :, -20:]", "x[:, None, :, 1]", "x[..., 1:]", "x[:, 1:-1, :]", "x[:, :, -1]", "x[..., 0, :]"]


@pytest.mark.parametrize("shape", [(None, None, 8), (None, 5, 8), (None, 1, 3)])
@pytest.mark.parametrize("expression", SLICES)
def test_tensor_slicing_matches_keras(keras, shape, expression):
    from keras_shape_lint.subscripts import slice_tensor
    from keras_shape_lint.values import ELLIPSIS, Slice

    expected = tuple(eval(expression, {"x": keras.KerasTensor(shape)}).shape)

    class Keys:
        def __getitem__(self, keys):
            keys = keys if isinstance(keys, tuple) else (keys,)
            return [ELLIPSIS if k is Ellipsis else Slice(k.start, k.stop, k.step) if isinstance(k, slice) else k
                    for k in keys]

    keys = eval(expression.replace("x[", "keys["), {"keys": Keys()})
    out = slice_tensor(Tensor(shape[1:]), keys)
    # the whole shape: a batch axis first where ours is a batch (x[0] of sized rows is none)
    assert isinstance(out, Tensor) and full_dims(out) == list(expected), (expression, expected, out)
    # the same slice with the known sizes as symbols, evaluated at the sizes
    symbols = {d: z3.Int(f"size{d}") for d in shape[1:] if d is not None}
    out = slice_tensor(Tensor(tuple(symbols.get(d, d) for d in shape[1:])), keys)
    values = [(symbol, z3.IntVal(size)) for size, symbol in symbols.items()]
    found = [d if not S.is_sym(d) else z3.simplify(z3.substitute(d, *values)).as_long() for d in full_dims(out)]
    assert found == list(expected), (expression, expected, out)


LAST_AXIS_SLICES = ["x[..., :3]", "x[..., 2:]", "x[..., -3:]", "x[..., ::2]", "x[..., 1::2]", "x[:, ..., :20]",
                    "x[..., 5:1]"]


@pytest.mark.parametrize("shape", [(None, 8), (None, 5, 8), (None, 2, 3, 8), (None, 4, None, 6, 8)])
@pytest.mark.parametrize("expression", LAST_AXIS_SLICES)
def test_last_axis_slice_of_unknown_rank_matches_keras_at_every_rank(keras, shape, expression):
    """``x[..., :half]`` before ``x``'s rank is known: the rank it is given later, whichever,
    yields Keras's shape for that rank (the slice is not a choice of rank)."""
    from keras_shape_lint.subscripts import slice_tensor
    from keras_shape_lint.values import ELLIPSIS, Slice

    expected = tuple(eval(expression, {"x": keras.KerasTensor(shape)}).shape)

    class Keys:
        def __getitem__(self, keys):
            keys = keys if isinstance(keys, tuple) else (keys,)
            return [ELLIPSIS if k is Ellipsis else Slice(k.start, k.stop, k.step) if isinstance(k, slice) else k
                    for k in keys]

    x = Tensor(None, label="x", free=True)
    out = slice_tensor(x, eval(expression.replace("x[", "keys["), {"keys": Keys()}))
    assert isinstance(out, Tensor) and not out.known and not x.known  # no rank chosen
    assert out.with_rank(len(shape) - 1) and x.rank == len(shape) - 1
    assert out.dims[:-1] == x.dims[:-1]
    found = z3.simplify(z3.substitute(out.dims[-1], (x.dims[-1], z3.IntVal(shape[-1]))))
    assert found.as_long() == expected[-1], (expression, shape, expected, found)


def test_other_subscripts_of_unknown_rank_stay_unknown():
    """``x[:, :, ..., :2]`` takes axes from the front: it does not follow every rank (keys after
    the ellipsis do: tests/test_unknown_rank.py)."""
    from keras_shape_lint.subscripts import slice_tensor
    from keras_shape_lint.values import ELLIPSIS, Slice

    whole = Slice(None, None, None)
    for keys in ([whole, whole, ELLIPSIS, Slice(None, 2, None)], [whole, 0, ELLIPSIS]):
        x = Tensor(None, label="x")
        out = slice_tensor(x, keys)
        assert not isinstance(out, Tensor) or not out.known and out.rank_root() is not x, keys
    x = Tensor(None, label="x", channels_last=False)  # its last axis is no channel axis to follow
    assert not isinstance(slice_tensor(x, [ELLIPSIS, Slice(None, 2, None)]), Tensor)


def test_a_slice_gives_its_rank_to_what_follows_a_free_input():
    """``self.proj(x)[:, None, :]`` with ``x`` free: the keys give the rank, as they do to
    ``x`` itself, and the shape is Keras's for that rank; an opaque root chooses nothing; a
    root whose rank is known by now lends it."""
    from keras_shape_lint.subscripts import slice_tensor
    from keras_shape_lint.values import Slice

    keras = pytest.importorskip("keras")
    whole = Slice(None, None, None)
    expected = tuple(keras.KerasTensor((None, 16))[:, None, :].shape)
    x = Tensor(None, label="x", free=True)
    projected = Tensor.last_axis_replaced(x, 16)
    out = slice_tensor(projected, [whole, None, whole])
    assert isinstance(out, Tensor) and x.rank == 1 and out.dims == expected[1:]
    opaque_root = Tensor(None, label="y")
    assert not isinstance(slice_tensor(Tensor.last_axis_replaced(opaque_root, 16), [whole, None, whole]), Tensor)
    assert not opaque_root.known
    known_root = Tensor(None, label="z", free=True)
    follower = Tensor.last_axis_replaced(known_root, 16)
    known_root.with_rank(3)
    out = slice_tensor(follower, [whole, None, whole])
    assert isinstance(out, Tensor) and len(out.dims) == 4 and out.dims[0] == 1 and out.dims[3] == 16
    assert out.dims[2] is known_root.dims[1]
    # the axis ``:`` keeps is the root's first, whole (``max(size, 0)`` of a size)
    assert z3.simplify(z3.substitute(out.dims[1], (known_root.dims[0], z3.IntVal(5)))).as_long() == 5


@pytest.mark.parametrize("shape", [(None, 6), (None, 5, 6), (None, 2, None, 6)])
def test_matmul_by_a_weight_matrix_before_the_rank_is_known(keras, shape):
    """``ops.matmul(x, self.kernel)`` with ``x``'s rank not known yet: its last axis becomes the
    kernel's, whatever rank ``x`` is given later, as Keras computes for that rank; the inner
    sizes must agree (assumed, as Keras requires)."""
    expected = tuple(keras.ops.matmul(keras.KerasTensor(shape), keras.KerasTensor((6, 4))).shape)
    x = Tensor(None, label="x", free=True)
    kernel = Tensor((6, 4))
    kernel.batched = False
    ctx = LayerCtx()
    out = catalogue.lookup("keras.ops.matmul").apply(ctx, [x, kernel], {})
    assert isinstance(out, Tensor) and not out.known and not x.known and not ctx.opaques
    assert len(ctx.assumptions) == 1 and ctx.assumptions[0].eq(S.eq(x.channels_dim(), 6))
    assert out.with_rank(len(shape) - 1) and out.dims[:-1] == x.dims[:-1] and out.dims[-1] == expected[-1]
    # a batch by a batch, or by a weight that is no matrix, still needs the rank
    for other in (Tensor((6, 4)), Tensor((6,))):
        other.batched = other.dims == (6, 4)
        ctx = LayerCtx()
        catalogue.lookup("keras.ops.matmul").apply(ctx, [Tensor(None, label="y", free=True), other], {})
        assert ctx.opaques


@pytest.mark.parametrize("shape", [(None, 8), (None, 5, 8), (None, 2, None, 8)])
def test_split_and_join_on_the_last_axis_before_the_rank_is_known(keras, shape):
    """``x1, x2 = ops.split(x, 2, axis=-1)`` and ``ops.concatenate([x2, x1], axis=-1)`` (rotate
    half) with ``x``'s rank not known yet: pieces and join follow ``x`` whatever rank it is
    given, as Keras computes for that rank; the join is a merge that holds, and nothing
    chooses the rank."""
    split, concatenate = catalogue.lookup("keras.ops.split"), catalogue.lookup("keras.ops.concatenate")
    k1, k2 = keras.ops.split(keras.KerasTensor(shape), 2, axis=-1)
    expected = [tuple(t.shape) for t in (k1, keras.ops.concatenate([k2, k1, k1], axis=-1),
                                         *keras.ops.split(keras.KerasTensor(shape), [1, 5], axis=-1))]
    x = Tensor(None, label="x", free=True)
    ctx = LayerCtx()
    halves = split.apply(ctx, [x, 2], {"axis": -1})
    joined = concatenate.apply(ctx, [ListValue([halves.items[1], halves.items[0], halves.items[0]])], {"axis": -1})
    thirds = split.apply(ctx, [x, [1, 5]], {"axis": -1})
    assert not ctx.opaques and not x.known and [kind for kind, _, _ in ctx.merges] == ["concat"]
    channels = x.channels_dim()
    assert x.with_rank(len(shape) - 1)

    def at(term, size=shape[-1]):
        return z3.simplify(z3.substitute(term, (channels, z3.IntVal(size)))) if S.is_sym(term) else term

    assert all(at(term) is True or z3.is_true(at(term)) for term in ctx.assumptions)
    for ours, theirs in zip([halves.items[0], joined, *thirds.items], expected):
        assert ours.with_rank(len(shape) - 1) and ours.dims[:-1] == x.dims[:-1]
        last = at(ours.dims[-1])
        assert (last if isinstance(last, int) else last.as_long()) == theirs[-1]
    # an odd number of channels does not split in two: Keras refuses it, and so does the model
    assert z3.is_false(at(ctx.assumptions[0], 7))
    with pytest.raises(ValueError):
        keras.ops.split(keras.KerasTensor(shape[:-1] + (7,)), 2, axis=-1)


def test_joins_that_do_not_follow_one_tensor_still_need_the_rank():
    """Tensors of two roots, or a join on another axis: their other axes may differ."""
    concatenate = catalogue.lookup("keras.ops.concatenate")
    x, y = Tensor(None, label="x", free=True), Tensor(None, label="y", free=True)
    for tensors, where in (([x, y], -1), ([x, Tensor.last_axis_replaced(x, 3)], 1)):
        ctx = LayerCtx()
        out = concatenate.apply(ctx, [ListValue(tensors)], {"axis": where})
        assert not (isinstance(out, Tensor) and out.rank_root() is x and not ctx.opaques and ctx.merges), where
    assert not x.known and not y.known


def test_every_registered_function_is_documented():
    """docs/supported.md lists the catalogue: each registered function's name appears in its section."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "supported.md").read_text(encoding="utf-8")
    section = text[text.index("### Tensor functions"):]
    section = section[:section.index("\n### ", 1)]
    import re

    missing = sorted(name for name in catalogue.OPS
                     if not re.search(rf"[`.]{re.escape(name.rsplit('.', 1)[-1])}[`(]", section))
    assert not missing


def test_activations_are_found_by_name():
    from keras_shape_lint.values import Imported

    model = catalogue.lookup("keras.activations.get")
    ctx = LayerCtx()
    assert model.apply(ctx, ["gelu"], {}).qualname == "keras.activations.gelu"
    assert model.apply(ctx, [None], {}).qualname == "keras.activations.linear"
    relu = Imported("keras.activations.relu")
    assert model.apply(ctx, [relu], {}) is relu
    assert not isinstance(model.apply(ctx, ["no_such_activation"], {}), (Tensor, Imported))


def test_counts_given_as_a_symbolic_size():
    """``ops.repeat(key, repeats=self.num_groups, axis=2)`` with the count a parameter."""
    groups = z3.Int("groups")
    ctx, out = run_model("repeat", (T(5, 2, 8),), {"repeats": groups, "axis": 2}, lambda d: d)
    assert not ctx.opaques and out.dims[0] == 5 and out.dims[2] == 8
    assert z3.simplify(out.dims[1] - 2 * groups).eq(z3.IntVal(0))


def test_an_opaque_value_used_as_a_size_stays_a_number():
    """``ops.sqrt(hidden_dim)`` where ``hidden_dim`` already sized a layer: a number, not a tensor."""
    from keras_shape_lint.values import Unknown

    hidden_dim = Unknown("hidden_dim", free=True)
    hidden_dim.as_int()
    ctx, out = run_model("sqrt", (hidden_dim,), {})
    assert not isinstance(out, Tensor) and hidden_dim.used_as == "int"
    inputs = Unknown("inputs", free=True)
    ctx, out = run_model("cast", (inputs, "float32"), {})
    assert isinstance(out, Tensor) and inputs.used_as == "tensor"


def test_tile_by_a_size_keras_does_not_know():
    """``ops.tile(cls_token, (batch_size, 1, 1))`` with ``batch_size = ops.shape(x)[0]``."""
    ctx, out = run_model("tile", (T(1, 8), (None, 3, 1)), {})
    assert not ctx.opaques and out.dims == (3, 8)



def test_a_batch_reshaped_with_a_placeholder_must_divide_on_data():
    """Keras builds reshape of a (None, 8, 4) batch to (-1, 3, 8) without a check, but no batch of such
    examples holds a multiple of 24 values per example: data fails there, so the path goes on
    only where the named sizes divide each example."""
    ctx, _ = run_model("reshape", [T(8, 4), (-1, 3, 8)], {})
    assert ctx.data_assumptions and not all(ctx.data_assumptions), ctx.data_assumptions
    ctx, _ = run_model("reshape", [T(8, 4), (-1, 4, 8)], {})
    assert ctx.data_assumptions and all(ctx.data_assumptions), ctx.data_assumptions


@pytest.mark.parametrize("dims, order", [((3, 5), (1, 0, 2)), ((3, 4, 5), (2, 0, 3, 1)), ((3, 5), (2, 1, 0))])
def test_a_transpose_that_moves_the_batch_axis_gives_no_batch(keras, dims, order):
    """Keras's first axis after such a transpose is a size (3 or 5): ours must not take it for
    the batch (whose size is never known) and drop it."""
    expected = keras_shape(keras, "transpose", (T(*dims), order), {})
    _, out = run_model("transpose", (T(*dims), order), {})
    assert not out.batched and tuple(out.dims) == tuple(expected), (out.dims, expected)


def test_a_split_at_a_size_the_code_computes_gives_both_pieces():
    # ops.split(t, [3 * hidden], axis=-1) of 4 * hidden channels: hidden channels are left for
    # the second piece, whatever hidden is, so the residual on it is proven
    source = """
from keras import layers, ops


class Block(layers.Layer):
    def __init__(self, hidden, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.linear = layers.Dense(4 * hidden)
        self.proj = layers.Dense(hidden)

    def call(self, x):
        qkv, mlp = ops.split(self.linear(x), [3 * self.hidden], axis=-1)
        return layers.Add()([mlp, self.proj(x)])
"""
    findings, analysis = analyse_text(source)
    stats = analysis.statistics()
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1), stats


SUMMED_EXPERTS = (
    "import keras\nfrom keras import layers, ops\n\n"
    "class Experts(layers.Layer):\n"
    "    def __init__(self, width, **kwargs):\n"
    "        super().__init__(**kwargs)\n"
    "        self.experts = [layers.Dense(width), layers.Dense(width)]\n\n"
    "    def call(self, x):\n"
    "        x = ops.reshape(x, (-1, 3, 4))\n"
    "        return x + ops.sum([expert(x) for expert in self.experts], axis=0)\n"
)


def test_a_reduction_of_a_list_of_tensors_in_a_call_stacks_them():
    # in call(), Keras traces backend tensors and ops.sum stacks the list: the sum has an
    # expert's shape, so the add needs x's width to be the experts' (a finding, not unknown)
    keras = pytest.importorskip("keras")
    import numpy as np

    summed = keras.ops.sum([np.ones((2, 3, 6)), np.ones((2, 3, 6))], axis=0)  # backend tensors, as traced
    assert tuple(summed.shape) == (2, 3, 6)
    stats = _statistics(SUMMED_EXPERTS)
    assert (stats["merges"], stats["flagged"]) == (1, 1), stats


SCORES_HANDED_ON = (
    "import keras\nfrom keras import layers, ops\n\n"
    "class Block(layers.Layer):\n"
    "    def __init__(self, with_scores=False, **kwargs):\n"
    "        super().__init__(**kwargs)\n"
    "        self.with_scores = with_scores\n"
    "        self.dense = layers.Dense(16)\n\n"
    "    def call(self, x):\n"
    "        y = self.dense(x)\n"
    "        if self.with_scores:\n"
    "            return y, {scores}\n"
    "        return y\n\n"
    "def head(with_scores=False):\n"
    "    inputs = keras.Input((8, 16))\n"
    "    y = Block(with_scores)(inputs)\n"
    "    z = ops.cast(y, 'float32')\n"
    "    return keras.Model(inputs, layers.Add()([inputs, z]))\n"
)


REFUSED = (*KERAS_ERRORS, AttributeError)  # a tuple has no .shape for Keras's symbolic ops


@pytest.mark.parametrize("scores", ["None", "ops.mean(y, axis=-1)"])
def test_a_tuple_that_is_no_tensor_ends_the_path(scores):
    # with_scores=True hands a tuple on where one tensor goes: Keras cannot make a tensor of
    # (y, None) or of tensors of two ranks, so only the other path reaches the add
    keras = pytest.importorskip("keras")
    import numpy as np

    with pytest.raises(REFUSED):
        keras.ops.cast((keras.Input((8, 16)), None), "float32")
    with pytest.raises(REFUSED):
        keras.ops.cast((keras.Input((8, 16)), keras.Input((8,))), "float32")
    with pytest.raises(REFUSED):  # backend tensors, as call() is traced
        keras.ops.cast((np.ones((2, 8, 16)), np.ones((2, 8))), "float32")
    stats = _statistics(SCORES_HANDED_ON.replace("{scores}", scores))
    assert (stats["merges"], stats["proven"]) == (1, 1), stats


def test_a_merge_past_a_reshape_that_sizes_the_batch_is_not_flagged_on_a_witness_it_refuses():
    # ``(2, 8)`` gives the batch's place a size: Keras builds it, but only a batch of two fits,
    # and the witness (one example) would fail at the reshape, not at the merge
    findings, analysis = analyse_text(textwrap.dedent("""
        from keras import layers, ops


        def block(x, width):
            pair = ops.reshape(x, (2, 8))
            return layers.Add()([pair, layers.Dense(width)(pair)])
    """))
    assert findings == []
    stats = analysis.statistics()
    assert stats["undecided"] == 1, stats
    assert "gives the batch's place a size of its own" in next(iter(stats["undecided_because"]))
