"""A product divided by one of its own factors is the product of the others: ``(h * w * c) // c``
is ``h * w`` and ``(h * w * c) % c`` is 0.  Gated units (``Dense(2 * hidden)`` split in two)
and reshapes of flattened patches ask exactly that; said in words it reads ``hidden_dim``, not
``2*hidden_dim//2``, and the solver is not asked nonlinear questions whose answer is known."""

from __future__ import annotations

import os
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import z3  # noqa: E402

from keras_shape_lint import symbolic as S  # noqa: E402
from keras_shape_lint.analysis import analyse_text  # noqa: E402

from oracle import check_finding, write_module  # noqa: E402

H, W, C = z3.Ints("h w c")


def test_a_product_divided_by_its_factors_leaves_the_others():
    assert S.floordiv(H * W * C, C).eq(H * W)
    assert S.floordiv((H * W) * (2 * C), C * W).eq(2 * H)
    assert S.floordiv(6 * H, 3).eq(2 * H)
    assert S.floordiv(H * C, H * C) == 1
    assert S.mod(H * W * C, W) == 0 and S.mod(4 * H, 2) == 0
    assert S.eq(S.mod(H * W * C, C), 0) is True  # a question never sent to the solver


def test_what_does_not_divide_stays_a_division():
    for a, b in ((H * W, C), (4 * H, 8), (H + C, C), (3 * H, 2)):
        assert z3.is_app_of(S.floordiv(a, b), z3.Z3_OP_IDIV), (a, b)
        assert z3.is_app_of(S.mod(a, b), z3.Z3_OP_MOD), (a, b)
    # a factor twice in the divisor must be there twice in the product
    assert z3.is_app_of(S.floordiv(H * C, C * C), z3.Z3_OP_IDIV)


def test_exact_division_agrees_with_python():
    for a, b, expected in ((H * W * C, C, H * W), (-6 * H * C, 3 * C, -2 * H), (H * C, -C, -H)):
        assert not z3.is_app_of(S.floordiv(a, b), z3.Z3_OP_IDIV) and S.mod(a, b) == 0, (a, b)
        same = z3.Solver()
        same.add(S.floordiv(a, b) != expected)
        assert same.check() == z3.unsat, (S.floordiv(a, b), expected)
        # Python's ``//`` and ``%`` agree on numbers of either sign (a divisor of 0 raises)
        for h, w, c in ((3, 5, 7), (-2, 4, 6), (1, -3, -5), (-4, -1, 3), (0, 2, -2)):
            pairs = [(z3.Int("h"), z3.IntVal(h)), (z3.Int("w"), z3.IntVal(w)), (z3.Int("c"), z3.IntVal(c))]
            top, bottom, quotient = (z3.simplify(z3.substitute(t, *pairs)).as_long()
                                     for t in (a, b, S.floordiv(a, b)))
            assert (top // bottom, top % bottom) == (quotient, 0), (a, b, (h, w, c))


GATE = textwrap.dedent('''
    import keras
    from keras import layers, ops


    class Gate(keras.layers.Layer):
        def __init__(self, hidden_dim, **kwargs):
            super().__init__(**kwargs)
            self.hidden_dim = hidden_dim
            self.gate = layers.Dense(2 * hidden_dim)

        def call(self, x):
            first, second = ops.split(self.gate(x), 2, axis=-1)
            return first * x + second
    ''')


def test_a_gate_split_in_two_is_named_by_its_width(tmp_path):
    path = write_module(tmp_path, "gate.py", GATE)
    findings, _ = analyse_text(GATE, None, str(path))
    assert [(f.code, f.line) for f in findings] == [("KSL102", 14)], findings
    record = findings[0].to_json()
    assert "//" not in record["message"] and "hidden_dim and channels(x)" in record["message"], record["message"]
    check_finding(path, record)  # Keras fails at the product with the witness
