"""``tf.gather`` with ``batch_dims`` and ``tf.gather_nd`` against TensorFlow's traced shapes.

Each case traces the function on placeholders of the given full shapes (``None`` where
TensorFlow knows no size; a first ``None`` is a batch axis to the analysis) and compares
the output shape, or TensorFlow's refusal, with the model's answer: a refusal must show
as an opaque result or an assumption that is plainly false, an accepted call as
assumptions that all hold and the same sizes (the batch position excepted).  Each case
runs again with every known size a symbol; the symbolic answer, evaluated at the sizes,
must agree.
"""

from __future__ import annotations

import os

import pytest
import z3

from keras_shape_lint import ops as catalogue
from keras_shape_lint import symbolic as S
from keras_shape_lint.values import Tensor

from layer_ctx import LayerCtx

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# (function, params' full shape, indices' full shape, keyword arguments)
GATHER = [
    ((None, 3, 4), (5, 2), {"batch_dims": 1}),
    ((5, 3, 4), (None, 2), {"batch_dims": 1}),
    ((5, 3, 4), (6, 2), {"batch_dims": 1}),  # leading sizes are not compared when traced
    ((5, 3, 4), (5, 2, 7), {"batch_dims": 1, "axis": 2}),
    ((None, 3, 4), (None, 2, 7), {"batch_dims": 1, "axis": -1}),
    ((5, 3, 4), (5, 2), {"batch_dims": -1}),
    ((5, 3, 4), (5, 3), {"batch_dims": 2}),
    ((None, 3, 4, 6), (None, 3, 4, 6), {"batch_dims": 3}),
    ((None, 3, 4, 6), (2, 3, 4, 9), {"batch_dims": 3}),
    ((None, 2, None, 6), (None, 2, None, None), {"batch_dims": 3}),
    ((5, 3, 4), (5, 3, 4), {"batch_dims": 3}),  # axis 3 is out of range: refused
    ((None, 8, 4), (3,), {"axis": 1}),
]

# accepted by TensorFlow, left opaque by the model (an axis before ``batch_dims``, which
# TensorFlow's documentation rules out)
NOT_MODELLED = [((5, 3, 4), (5, 2), {"batch_dims": 2, "axis": 1})]

GATHER_ND = [
    ((None, 8, 8, 3), (5, 7, 4), {}),
    ((None, 8, 8, 3), (5, 7, 2), {}),
    ((None, 8, 8, 3), (None, 7, 2), {}),
    ((None, 8, 8, 3), (5, 7, 5), {}),  # more indices than axes: refused
    ((None, 8, 8, 3), (5, 7, None), {}),  # the result's rank is not known
    ((None, 8, 8, 3), (2,), {}),
    ((None, 8, 8, 3), (None, 2, 2, 1, 1, 4), {}),
    ((None, 8, 8, 3), (4, 7, 2), {"batch_dims": 1}),
    ((4, 8, 8, 3), (None, 7, 2), {"batch_dims": 1}),
    ((4, 8, 8, 3), (5, 7, 2), {"batch_dims": 1}),  # batch sizes differ: refused
    ((4, 8, 8, 3), (4, 2), {"batch_dims": 1}),
    ((4, 8, 8, 3), (4, 8, 2), {"batch_dims": 2}),
    ((4, 8, 8, 3), (4, 8, 3), {"batch_dims": 2}),  # refused
    ((None, 8), (None, None, 2), {}),
]


def _traced(tf, function, params, indices, kwargs):
    specs = [tf.TensorSpec(params, tf.float32), tf.TensorSpec(indices, tf.int32)]
    try:
        traced = tf.function(lambda p, i: function(p, i, **kwargs)).get_concrete_function(*specs)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError):
        return "refused"
    shape = traced.structured_outputs.shape
    return None if shape.rank is None else tuple(shape)


def _ours(full_shape, dtype, sizes, concrete_last=False):
    """A tensor of that full shape: a batch when its first size is unknown.  With
    ``concrete_last`` the last size stays a number (a count of indices fixes a rank)."""
    dims = tuple(None if d is None else d if concrete_last and i == len(full_shape) - 1 else sizes(d)
                 for i, d in enumerate(full_shape))
    if dims and dims[0] is None:
        out = Tensor(dims[1:])
    else:
        out = Tensor(dims)
        out.batched = False
    out.dtype = dtype
    return out


def _symbols():
    """A size function that makes each known size a fresh symbol, and the pairs it made."""
    made = []

    def sizes(d):
        made.append((S.free_int(f"gathered{len(made)}"), d))
        return made[-1][0]

    return made, sizes


def _check(name, function, params, indices, kwargs, sizes=lambda d: d, values=None):
    import tensorflow as tf

    expected = _traced(tf, function, params, indices, kwargs)
    ctx = LayerCtx()
    model = catalogue.lookup(name)
    out = model.apply(ctx, [_ours(params, None, sizes), _ours(indices, "int", sizes, name.endswith("_nd"))], dict(kwargs))
    where = (name, params, indices, kwargs, expected, out, ctx.opaques)
    evaluate = (lambda term: term) if values is None else values
    held = [evaluate(term) for term in ctx.assumptions]
    if (params, indices, kwargs) in NOT_MODELLED:
        assert ctx.opaques and not out.known, where
        return
    if expected == "refused":
        assert ctx.opaques or any(h is False for h in held), where
        return
    if expected is None:
        assert ctx.opaques and not out.known, where
        return
    assert not ctx.opaques and all(h is True for h in held), where
    sizes_out = tuple(None if d is None else evaluate(d) for d in out.dims)
    whole = ((None,) if out.batched else ()) + sizes_out
    assert len(whole) == len(expected), where
    if out.batched:
        expected = (None,) + expected[1:]
    assert whole == expected, where


def _cases():
    tf = pytest.importorskip("tensorflow")
    return [("tensorflow.gather", tf.gather, *case) for case in GATHER + NOT_MODELLED] + [
        ("tensorflow.gather_nd", tf.gather_nd, *case) for case in GATHER_ND]


def test_gathers_match_traced_shapes():
    for name, function, params, indices, kwargs in _cases():
        _check(name, function, params, indices, kwargs)


def test_gathers_match_traced_shapes_with_symbolic_sizes():
    for name, function, params, indices, kwargs in _cases():
        made, sizes = _symbols()

        def values(term, made=made):
            if not S.is_sym(term):
                return term
            solver = z3.Solver()
            solver.add(*[symbol == size for symbol, size in made])
            assert solver.check() == z3.sat
            found = solver.model().eval(term, model_completion=True)
            return z3.is_true(found) if z3.is_bool(found) else found.as_long()

        _check(name, function, params, indices, kwargs, sizes, values)


def test_an_unknown_batch_dims_or_rank_is_opaque():
    model = catalogue.lookup("tensorflow.gather")
    ctx = LayerCtx()
    out = model.apply(ctx, [Tensor((3, 4)), Tensor((2,))], {"batch_dims": S.free_int("b")})
    assert ctx.opaques and not out.known
    ctx = LayerCtx()
    out = catalogue.lookup("tensorflow.gather_nd").apply(ctx, [Tensor(None), Tensor((2,))], {})
    assert ctx.opaques and not out.known
