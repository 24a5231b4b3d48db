"""Rounded real terms in integer arithmetic (rounding.py): the same numbers as z3's ToInt
forms of Python's int(), round(), math.floor and math.ceil, without a real term left."""

from __future__ import annotations

import pytest
import z3

from keras_shape_lint import rounding
from keras_shape_lint import symbolic as S

n, m, k = z3.Ints("n m k")
TERMS = [
    z3.ToReal(n) * 4,
    z3.ToReal(n * m) + z3.ToReal(k) / 2,
    z3.ToReal(n) * z3.RealVal("0.75") - 3,
    z3.ToReal(n) / 3 + z3.ToReal(m) / 2,
    -z3.ToReal(n) * z3.RealVal("2.5"),
    z3.ToReal(n) * z3.ToReal(m) / 7,
]


def _floor(x):
    return z3.ToInt(x)


def _reference(kind, x):
    if kind == "floor":
        return _floor(x)
    if kind == "ceil":
        return -_floor(-x)
    if kind == "truncate":
        return z3.If(x >= 0, _floor(x), -_floor(-x))
    nearest = _floor(x + z3.RealVal("0.5"))
    return z3.If(z3.And(z3.ToReal(nearest) == x + z3.RealVal("0.5"), nearest % 2 == 1), nearest - 1, nearest)


OURS = {"floor": S.to_int, "ceil": S.ceil, "truncate": S.truncate, "round": S.round_half_even}


def _has_real(term) -> bool:
    return z3.is_arith(term) and not term.is_int() or any(_has_real(child) for child in term.children())


@pytest.mark.parametrize("kind", sorted(OURS))
@pytest.mark.parametrize("index", range(len(TERMS)))
def test_a_rounded_linear_real_is_the_same_integer_without_reals(kind, index):
    term = TERMS[index]
    ours = OURS[kind](term)
    solver = z3.Solver()
    solver.add(ours != _reference(kind, term))
    assert solver.check() == z3.unsat, solver.model()
    assert not _has_real(ours), ours


def test_a_real_of_another_form_keeps_to_int():
    x = z3.Real("x")
    assert rounding.floor_of(x * z3.ToReal(n)) is None
    assert z3.is_to_int(S.to_int(x))


@pytest.mark.parametrize("a, b", [(z3.ToReal(n), z3.RealVal("0.9") * z3.ToReal(m)), (z3.ToReal(n) / 2, 3),
                                  (z3.ToReal(n * m) / 8 + 1, z3.ToReal(k) * z3.RealVal("1.5"))])
def test_an_ordering_of_reals_is_the_sign_of_an_integer(a, b):
    difference = S.integer_difference(a, b)
    assert not _has_real(difference)
    for relation in (lambda x, y: x < y, lambda x, y: x >= y, lambda x, y: x == y):
        solver = z3.Solver()
        solver.add(relation(difference, 0) != relation(a, b))
        assert solver.check() == z3.unsat
