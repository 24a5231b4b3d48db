"""A valid convolution or pooling whose window and stride are the same size (a patch
embedding: ``Conv2D(dim, patch, strides=patch)``) has ``size // patch`` outputs: the form
z3 compares with other quotients by the same size, where ``(size - patch) // patch + 1``
asked it nonlinear questions it could give up on."""

from __future__ import annotations

import z3

from keras_shape_lint import symbolic as S
from keras_shape_lint.layers.shapes import conv_length


class _Assumptions:
    def __init__(self):
        self.terms = []

    def assume(self, term):
        self.terms.append(term)


def test_a_window_as_long_as_its_stride_gives_the_quotient():
    size, patch = z3.Ints("size patch")
    ctx = _Assumptions()
    out = conv_length(ctx, size, patch, patch, "valid")
    assert S.is_sym(out) and out.eq(S.floordiv(size, patch)), out
    # the same number as Keras's (size - span) // stride + 1 wherever Keras builds the layer
    solver = z3.Solver()
    solver.add(patch >= 1, *ctx.terms, out != (size - patch) / patch + 1)
    assert solver.check() == z3.unsat


def test_other_windows_keep_keras_formula():
    size, kernel, stride = z3.Ints("size kernel stride")
    ctx = _Assumptions()
    out = conv_length(ctx, size, kernel, stride, "valid")
    assert not out.eq(S.floordiv(size, stride))
    assert conv_length(_Assumptions(), 9, 3, 3, "valid") == 3
    assert conv_length(_Assumptions(), 10, 3, 3, "valid") == 3
