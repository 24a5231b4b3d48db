"""``Concatenate(axis=channel_axis)`` with an axis the code does not fix (the caller passes it).

Inputs that agree on every axis join on any axis: the merge is proven, and the output is
their shape with the joined axis, whichever it is, as large as all of them together (checked
against Keras for every axis of a rank-4 input).  A later merge that holds for one axis and
not another is undecided, never flagged on an axis the caller would not pass; inputs that may
differ somewhere leave the concatenation itself undecided, with that reason.
"""

from __future__ import annotations

import os
import textwrap

import pytest
import z3

from keras_shape_lint import symbolic as S
from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.layers import lookup
from keras_shape_lint.values import Tensor

from layer_ctx import LayerCtx

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _incomplete(source: str) -> dict:
    findings, analysis = analyse_text(textwrap.dedent(source))
    assert findings == [], [f.message for f in findings]
    lines = {analysis.main.start(node).line: outcome for node, outcome in analysis.outcomes.items()}
    reasons = {analysis.main.start(node).line: reason for node, _, reason in analysis.incomplete_merges()}
    return lines, reasons


def test_inputs_alike_join_on_any_axis_and_a_later_merge_that_needs_the_channel_axis_is_undecided():
    lines, reasons = _incomplete("""
        from keras import layers


        class Stem(layers.Layer):
            def __init__(self, filters, channel_axis=-1, **kwargs):
                super().__init__(**kwargs)
                self.left = layers.Conv2D(filters, 3, padding="same")
                self.right = layers.Conv2D(filters, 3, padding="same")
                self.join = layers.Concatenate(axis=channel_axis)
                self.fuse = layers.Conv2D(filters, 1)

            def call(self, x):
                y = self.join([self.left(x), self.right(x)])
                return layers.Add()([self.fuse(y), self.left(x)])
    """)
    assert lines == {14: "proven", 15: "undecided"}, lines
    # joined on the rows (channel_axis=1) the fused map is twice as tall: not every axis builds
    assert "the axis a Concatenate joins on, which the code does not fix" in reasons[15]


def test_a_later_merge_that_holds_for_every_axis_is_proven():
    lines, _ = _incomplete("""
        from keras import layers


        def stem(x, filters, channel_axis):
            y = layers.Concatenate(axis=channel_axis)([layers.Conv2D(filters, 1)(x), layers.Conv2D(filters, 1)(x)])
            return layers.Concatenate(axis=channel_axis)([y, y])
    """)
    assert lines == {6: "proven", 7: "proven"}, lines


def test_inputs_that_may_differ_leave_the_join_undecided_with_the_reason():
    lines, reasons = _incomplete("""
        from keras import layers


        def stem(x, filters, channel_axis):
            left = layers.Conv2D(filters, 3, padding="same")(x)
            right = layers.Conv2D(filters, 3, strides=2, padding="same")(x)
            return layers.Concatenate(axis=channel_axis)([left, right])
    """)
    assert lines == {8: "undecided"}
    assert reasons[8] == "the axis it joins on is not fixed by the code, and its inputs may differ on some axis"


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("axis", range(-6, 6))
def test_the_output_for_each_axis_is_the_shape_keras_gives(keras, axis):
    dims = (5, 6, 7)
    ctx = LayerCtx()
    chosen = z3.Int("channel_axis")
    model = lookup("keras.layers.Concatenate")
    out = model.apply(ctx, {"axis": chosen}, (Tensor(list(dims)), Tensor(list(dims))))
    assert ctx.merges and ctx.merges[0][0] == "concat"  # checked (every axis agrees): proven
    solver = z3.Solver()
    solver.add(*[a for a in ctx.assumptions if S.is_sym(a)], chosen == axis)
    try:
        expected = keras.layers.Concatenate(axis=axis)([keras.Input(dims), keras.Input(dims)]).shape[1:]
    except (ValueError, IndexError):
        assert solver.check() == z3.unsat  # Keras refuses the axis: no path goes on with it
        return
    assert solver.check() == z3.sat
    model_found = solver.model()
    got = tuple(model_found.eval(d, model_completion=True).as_long() for d in out.dims)
    assert got == tuple(expected), (axis, got, expected)
