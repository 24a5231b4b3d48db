"""Tensors whose rank is not known yet: what is known of their last axes.

A tensor of unknown rank follows a root (a free or opaque input) with the root's axes but
its last few, then a tail of sizes it knows.  Each operation here is checked against Keras's
own output shapes (``keras.ops`` on ``KerasTensor``) at every rank the root may later be
given: the tensor, given that rank, has Keras's shape for it.
"""

from __future__ import annotations

import os
import textwrap

import pytest
import z3

from keras_shape_lint import ops as catalogue
from keras_shape_lint.analysis import analyse_text
from keras_shape_lint import symbolic as S
from keras_shape_lint.subscripts import slice_tensor
from keras_shape_lint.values import ELLIPSIS, ShapeOf, Slice, Tensor, shared_frame

from layer_ctx import LayerCtx

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RANKS = [(None, 3, 8), (None, 5, 3, 8), (None, 2, 4, 3, 8), (None, 2, None, 7, 3, 8)]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _value(term, root, shape):
    """A size of ours with the root's sizes set to ``shape``'s (which has its batch axis)."""
    if not S.is_sym(term):
        return term
    pairs = [(d, z3.IntVal(v)) for d, v in zip(root.dims, shape[1:]) if S.is_sym(d) and v is not None]
    found = z3.simplify(z3.substitute(term, *pairs)) if pairs else term
    return found.as_long() if z3.is_int_value(found) else found


def _same_as_keras(out, root, shape, expected):
    """Give the root the rank of ``shape``: ``out`` must then have Keras's shape ``expected``."""
    assert isinstance(out, Tensor) and not out.known and not root.known  # nothing chose the rank
    assert root.with_rank(len(shape) - 1) and out.known
    assert len(out.dims) == len(expected) - 1
    for ours, theirs, position in zip(out.dims, expected[1:], range(len(expected))):
        if theirs is None:
            # Keras does not know it: ours is the root's own size there, also unknown
            assert ours is None or ours is root.dims[position], (ours, expected)
        else:
            assert _value(ours, root, shape) == theirs, (out.dims, expected)


class _Keys:
    def __getitem__(self, keys):
        keys = keys if isinstance(keys, tuple) else (keys,)
        return [ELLIPSIS if k is Ellipsis else Slice(k.start, k.stop, k.step) if isinstance(k, slice) else k
                for k in keys]


TRAILING = ["x[..., 0]", "x[..., 1]", "x[..., None]", "x[..., 1:, :]", "x[..., 0, :2]", "x[:, ..., None, 1]",
            "x[..., -1, None, ::2]", "x[..., 0, 1]"]


@pytest.mark.parametrize("shape", RANKS)
@pytest.mark.parametrize("expression", TRAILING)
def test_keys_after_an_ellipsis_follow_every_rank(keras, shape, expression):
    """``x[..., 0]`` (the real part of pairs), ``x[..., None]``: the keys after the ellipsis
    take the last axes, so the result keeps x's others whatever rank x is given."""
    expected = tuple(eval(expression, {"x": keras.KerasTensor(shape)}).shape)
    x = Tensor(None, label="x", free=True)
    out = slice_tensor(x, eval(expression.replace("x[", "keys["), {"keys": _Keys()}))
    _same_as_keras(out, x, shape, expected)


EXPANSIONS = [-1, -2, -3, (-1, -2), (-1, -4), (-2, -3)]


@pytest.mark.parametrize("shape", RANKS)
@pytest.mark.parametrize("where", EXPANSIONS)
def test_expand_dims_from_the_end_follows_every_rank(keras, shape, where):
    """``ops.expand_dims(mask, -1)``, ``ops.expand_dims(freqs, -4)``: axes counted from the end."""
    expected = tuple(keras.ops.expand_dims(keras.KerasTensor(shape), where).shape)
    x = Tensor(None, label="x", free=True)
    ctx = LayerCtx()
    out = catalogue.lookup("keras.ops.expand_dims").apply(ctx, [x, where], {})
    assert not ctx.opaques
    _same_as_keras(out, x, shape, expected)


@pytest.mark.parametrize("where", [0, 1, (1, -1)])
def test_expand_dims_from_the_front_still_needs_the_rank(where):
    x = Tensor(None, label="x", free=True)
    ctx = LayerCtx()
    out = catalogue.lookup("keras.ops.expand_dims").apply(ctx, [x, where], {})
    assert not isinstance(out, Tensor) or not out.known and out.rank_root() is not x


@pytest.mark.parametrize("shape", [(None, 3, 1), (None, 5, 3, 1), (None, 2, 4, 1, 1)])
@pytest.mark.parametrize("where", [-1, (-1,)])
def test_squeeze_from_the_end_follows_every_rank(keras, shape, where):
    """``ops.squeeze(x, -1)``: the last axis must be 1 (assumed, as Keras requires), and goes."""
    expected = tuple(keras.ops.squeeze(keras.KerasTensor(shape), where).shape)
    x = Tensor(None, label="x", free=True)
    ctx = LayerCtx()
    out = catalogue.lookup("keras.ops.squeeze").apply(ctx, [x, where], {})
    assert not ctx.opaques and len(ctx.assumptions) == 1
    assert ctx.assumptions[0].eq(S.eq(x.channels_dim(), 1))
    _same_as_keras(out, x, shape, expected)
    with pytest.raises(ValueError):
        keras.ops.squeeze(keras.KerasTensor(shape[:-1] + (4,)), where)


def test_a_size_counted_from_the_end_is_there_at_every_rank(keras):
    """``x.shape[-2]`` of a tensor of unknown rank: the size its axis -2 will have, and x has
    at least two axes besides its batch; the witness gives x its last axes as read."""
    from keras_shape_lint.subscripts import _shape_item

    x = Tensor(None, label="x", free=True)
    second = _shape_item(ShapeOf(x), -2)
    last = _shape_item(ShapeOf(x), -1)
    assert S.is_sym(second) and S.is_sym(last) and not x.known
    assert x.least_dims(16) == (second, last)
    assert x.least_dims(16, rank=3) == (16, second, last)
    x.with_rank(3)
    assert x.dims[1:] == (second, last)
    assert not x.with_rank(1) and Tensor(None, label="y").with_rank(1)


def test_followers_of_one_root_line_up_in_a_merge(keras):
    """``xq[..., 0] * freqs[..., 0]`` where both follow one root with one rank: the axes
    before their tails are the root's in both, so only the tails are compared; a follower of
    another rank, or of another root, does not line up."""
    x = Tensor(None, label="x", free=True)
    real = slice_tensor(x, [ELLIPSIS, 0])
    pairs = Tensor.follow(x, 1, ())
    widened = slice_tensor(x, [ELLIPSIS, None])
    root, drop, tails = shared_frame([real, pairs, x.__class__.follow(x, 2, (x.axis_from_end(2),))])
    assert root is x and drop == 2 and tails[0] == tails[1] == tails[2] == (x.axis_from_end(2),)
    assert shared_frame([real, widened]) is None  # ranks differ
    assert shared_frame([real, slice_tensor(Tensor(None, label="y", free=True), [ELLIPSIS, 0])]) is None
    # the merge of the two is Keras's broadcast at any rank
    multiply = catalogue.lookup("keras.ops.multiply")
    ctx = LayerCtx()
    y = Tensor(None, label="y", free=True)
    out = multiply.apply(ctx, [slice_tensor(y, [ELLIPSIS, 0]), slice_tensor(y, [ELLIPSIS, Slice(None, 1, None), 1])],
                         {})
    shape = (None, 4, 5, 2)
    k = keras.KerasTensor(shape)
    expected = tuple(keras.ops.multiply(k[..., 0], k[..., :1, 1]).shape)
    _same_as_keras(out, y, shape, expected)


@pytest.mark.parametrize("shape", [(None, 8), (None, 5, 8), (None, 2, 5, 8), (None, 2, None, 5, 8)])
@pytest.mark.parametrize("tail", [(-1, 2), (4, 2), (8,), (2, 2, 2)])
def test_reshape_to_a_spread_shape_follows_every_rank(keras, shape, tail):
    """``ops.reshape(x, (*ops.shape(x)[:-1], -1, 2))`` (complex pairs of a rotary embedding):
    x's axes but its last, then the sizes written; a -1 is a size Keras does not know (the
    batch size, unknown, leads the target)."""
    from keras_shape_lint.subscripts import _shape_item
    from keras_shape_lint.values import spread_shape

    k = keras.KerasTensor(shape)
    expected = tuple(keras.ops.reshape(k, (*keras.ops.shape(k)[:-1], *tail)).shape)
    x = Tensor(None, label="x", free=True)
    target = spread_shape(_shape_item(ShapeOf(x), Slice(None, -1, None)), list(tail))
    assert isinstance(target, ShapeOf) and not target.tensor.known
    ctx = LayerCtx()
    out = catalogue.lookup("keras.ops.reshape").apply(ctx, [x, target], {})
    assert not ctx.opaques
    _same_as_keras(out, x, shape, expected)


def test_a_spread_shape_takes_sizes_only():
    from keras_shape_lint.values import spread_shape

    x = Tensor(None, label="x", free=True)
    assert spread_shape(ShapeOf(x), ["a"]) is None and spread_shape(ShapeOf(x), [True]) is None
    ctx = LayerCtx()
    two_placeholders = spread_shape(ShapeOf(x), [-1, -1])
    out = catalogue.lookup("keras.ops.reshape").apply(ctx, [x, two_placeholders], {})
    assert ctx.opaques and False in ctx.assumptions  # Keras refuses two -1s


def test_inputs_of_two_callers_meet_at_one_rank(keras):
    """``sequence * ops.expand_dims(mask, -1)`` with both free and of unknown rank: the caller
    chooses their ranks; the analysis takes one for both, the least each allows, and compares
    every axis (the mask's first axis meets the sequence's)."""
    from keras_shape_lint.values import choose_common_rank

    sequence, mask = Tensor(None, label="s", free=True), Tensor(None, label="m", free=True)
    ctx = LayerCtx()
    expanded = catalogue.lookup("keras.ops.expand_dims").apply(ctx, [mask, -1], {})
    assert choose_common_rank([sequence, expanded])
    assert sequence.rank == expanded.rank == 2 and mask.rank == 1 and expanded.dims[-1] == 1
    expected = tuple(keras.ops.multiply(keras.KerasTensor((None, 10, 32)),
                                        keras.ops.expand_dims(keras.KerasTensor((None, 10)), -1)).shape)
    assert len(expected) - 1 == sequence.rank
    # opaque inputs, or two followers of one input, choose nothing
    opaque = Tensor(None, label="o")
    assert not choose_common_rank([opaque, Tensor(None, label="p", free=True)]) and not opaque.known
    root = Tensor(None, label="r", free=True)
    assert not choose_common_rank([root, Tensor.follow(root, 0, (1,))]) and not root.known


@pytest.mark.parametrize("target", [(None, 6, 4), (None, 5, 6, 4)])
def test_broadcast_to_gives_a_free_input_the_target_rank(keras, target):
    """``ops.broadcast_to(labels[..., None], ops.shape(embeddings))``: a free input of unknown
    rank takes the target's rank (its caller's choice), and each of its sizes must then be 1 or
    the target's, as Keras requires; any other size is refused."""
    expected = tuple(keras.ops.broadcast_to(keras.KerasTensor(target[:-1] + (1,)), target).shape)
    x = Tensor(None, label="x", free=True)
    ctx = LayerCtx()
    out = catalogue.lookup("keras.ops.broadcast_to").apply(ctx, [x, target], {})
    assert x.known and len(x.dims) == len(target) - 1 and not ctx.opaques
    assert tuple(out.dims) == expected[1:]
    # each size is held to 1 or the target's
    for size, allowed in [(3, False), (1, True), (target[1], True)]:
        solver = z3.Solver()
        solver.add(*ctx.assumptions, x.dims[0] == size)
        assert (solver.check() == z3.sat) == allowed, size
    with pytest.raises(ValueError):
        keras.ops.broadcast_to(keras.KerasTensor((None, 3) + target[2:]), target)


def test_every_index_a_function_reads_from_a_shape_sets_the_rank():
    """``batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]``: the rank a
    free input is given is one the highest index allows, chosen at the first read."""
    import libcst as cst

    from keras_shape_lint.subscripts import _scan_indices

    function = cst.parse_module("def f(x):\n    shape = g(x)\n    a, b = shape[1], shape[3]\n    c = x[5]\n").body[0]
    assert _scan_indices(function, cst.Name("shape")) == 3
    assert _scan_indices(function, cst.Name("x")) == 5
    assert _scan_indices(function, cst.Name("y")) == 0


def test_an_index_past_the_rank_given_names_the_index_not_a_merge(monkeypatch):
    # the rank a free input was given by its first read is too small for a later read: the
    # merge after it is undecided, and the reason names that index (it is no merge)
    from keras_shape_lint import frontend
    from keras_shape_lint.analysis import analyse_text

    placed = []
    original = frontend.statement_positions
    monkeypatch.setattr(frontend, "statement_positions", lambda *args: placed.append(args) or original(*args))

    source = (
        "from keras import layers\n\n\n"
        "def width(t):\n    return t.shape[3]\n\n\n"
        "def block(x):\n"
        "    rows = x.shape[1]\n"
        "    y = layers.Dense(8)(x)\n"
        "    return layers.Add()([y, layers.Dense(width(x))(x)])\n"
    )
    findings, analysis = analyse_text(source)
    assert findings == [] and placed == []  # (the reason's line is found only when it is read)
    stats = analysis.statistics()
    assert stats["undecided"] == 1 and len(placed) == 1
    assert list(stats["undecided_because"]) == [
        "an earlier index on its path (t.shape[3] at line 5) is past the rank its input was given, "
        "and another rank was not tried"]


def _outcomes(source: str):
    import textwrap

    from keras_shape_lint.analysis import analyse_text

    findings, analysis = analyse_text(textwrap.dedent(source))
    return findings, sorted(analysis.outcomes.values())


def test_leading_sizes_of_a_shape_of_unknown_rank_start_with_the_batch():
    # ``b, s = ops.shape(x)[:2]`` of a tensor nobody gave a rank: b is the batch size (None to
    # Keras, so a reshape to ``(b, s, ...)`` keeps a batch axis), s a size nobody knows
    from keras_shape_lint.subscripts import _shape_item

    b, s = _shape_item(ShapeOf(Tensor(None)), Slice(None, 2, None))
    assert b is None and S.is_sym(s) and S.is_int_like(s), (b, s)
    free = Tensor(None, "x", free=True)  # a free input gets the rank the slice needs
    assert len(_shape_item(ShapeOf(free), Slice(None, 3, None))) == 3 and free.known


def test_axes_aligned_by_a_list_of_slices_and_ndim():
    # ``tensor[indices]`` with ``indices[i] = slice(None)`` for the kept axes and None for new
    # ones, as rotary embeddings align a table with the query; ndim counts the batch axis
    findings, outcomes = _outcomes("""
        from keras import layers, ops


        def align(tensor, axes, ndim):
            indices = [None] * ndim
            for i in axes:
                indices[i] = slice(None)
            return tensor[indices]


        class Rotary(layers.Layer):
            def call(self, query):
                query = layers.Reshape((4, 5, 8))(query)
                table = ops.mean(query, axis=2)
                aligned = align(table, [0, 1, -1], ops.ndim(query))
                return query * aligned
    """)
    assert findings == [], [f.message for f in findings]
    assert outcomes == ["proven"], outcomes


def test_a_size_read_from_a_tensor_nobody_can_read_is_a_number():
    # ops.shape(x)[1] of a tensor nobody can read is a size nobody knows: a factor times it is
    # arithmetic on numbers, not a merge of tensors (it was an undecided merge)
    _, analysis = analyse_text(textwrap.dedent("""
        from keras import ops


        def scale(layer, inputs, target):
            x = layer.call(inputs)
            height = ops.shape(x)[1]
            factor = ops.sqrt(ops.cast(target, "float32"))
            return factor * ops.cast(height, "float32")
    """))
    assert analysis.outcomes == {}, analysis.outcomes


def test_a_join_whose_last_sizes_keras_does_not_know_has_an_unknown_size():
    # moonshine's rotary halves: a None among the sizes added up once reached z3 as a number
    from keras_shape_lint.ops.shape import _sum

    assert _sum([None, 3]) is None
    assert _sum([2, 3]) == 5


def test_a_projection_concatenated_with_its_input_follows_the_input():
    # the layer joins them as ops.concatenate does: the axes before the projection's last are
    # the input's, the last sizes add up (a later merge reads them: proven here)
    findings, analysis = analyse_text(textwrap.dedent("""
        from keras import layers


        def head(x, units):
            y = layers.Concatenate()([layers.Dense(units)(x), x])
            return layers.Add()([y, layers.Dense(units + x.shape[-1])(x)])
    """))
    stats = analysis.statistics()
    assert findings == [] and (stats["proven"], stats["undecided"]) == (2, 0), analysis.incomplete_merges()
