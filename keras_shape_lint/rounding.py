"""Integer forms of rounded real terms, so that z3 is asked in integer arithmetic alone.

Channel counts are often worked out through floats: ``int(dim * mlp_ratio)`` with
``mlp_ratio=4.0``, EfficientNet's ``int(filters + divisor / 2) // divisor * divisor``.
Written with z3's ``ToInt`` of a real term, such a question mixes the two arithmetics, where
z3 often neither answers within its step limit nor stops at it (a query per file then costs
the whole time limit).  A real term that is a sum of integer terms times rational numbers,
``(n_1*x_1 + ... + n_0) / d`` with integers ``n_i`` and ``d > 0``, has the floor
``(n_1*x_1 + ... + n_0) div d``: integer division, which z3 decides as the integers it
already reasons about.  Terms of another form (a product of two real unknowns, a real
parameter) keep ``ToInt``.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

import z3


def _rational(term) -> Fraction | None:
    if z3.is_rational_value(term):
        return Fraction(term.numerator_as_long(), term.denominator_as_long())
    if z3.is_int_value(term):
        return Fraction(term.as_long())
    return None


def _scaled(linear, factor: Fraction) -> dict:
    return {atom: (term, coefficient * factor) for atom, (term, coefficient) in linear.items()}


def _add(a: dict, b: dict) -> dict:
    total = dict(a)
    for atom, (term, coefficient) in b.items():
        total[atom] = (term, total[atom][1] + coefficient) if atom in total else (term, coefficient)
    return total


_CONSTANT = 0  # the key of the constant in a linear form (z3's ids are positive)


MAX_NODES = 256  # a term read past this many nodes keeps ToInt (shared subterms are read again)


def _linear(term, budget=None) -> dict | None:
    """``term`` as ``{atom id: (integer term, coefficient)}`` (the constant under 0), or None."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        return None
    constant = _rational(term)
    if constant is not None:
        return {_CONSTANT: (None, constant)}
    if z3.is_to_real(term):
        inner = term.arg(0)
        return {inner.get_id(): (inner, Fraction(1))}
    if z3.is_add(term) or z3.is_sub(term):
        parts = [_linear(child, budget) for child in term.children()]
        if any(part is None for part in parts):
            return None
        total = parts[0]
        for part in parts[1:]:
            total = _add(total, part if z3.is_add(term) else _scaled(part, Fraction(-1)))
        return total
    if z3.is_app_of(term, z3.Z3_OP_UMINUS):
        inner = _linear(term.arg(0), budget)
        return None if inner is None else _scaled(inner, Fraction(-1))
    if z3.is_div(term):
        divisor = _rational(term.arg(1))
        inner = _linear(term.arg(0), budget)
        return None if inner is None or not divisor else _scaled(inner, 1 / divisor)
    if z3.is_mul(term):
        return _product(term.children(), budget)
    return None


def _product(factors, budget) -> dict | None:
    """A product of rational numbers and single converted integer terms (each times a number,
    ``-ToReal(n)``): one atom, the product of those terms."""
    coefficient = Fraction(1)
    atoms = []
    for factor in factors:
        linear = _linear(factor, budget)
        if linear is None or len(linear) != 1:
            return None
        ((atom, (inner, times)),) = linear.items()
        coefficient *= times
        if atom != _CONSTANT:
            atoms.append(inner)
    if not atoms:
        return {_CONSTANT: (None, coefficient)}
    atom = atoms[0] if len(atoms) == 1 else z3.Product(*atoms)
    return {atom.get_id(): (atom, coefficient)}


def scaled_integer(term):
    """``(numerator, denominator)``: an integer term and a positive integer whose quotient
    is the real ``term``, or None when ``term`` is of another form."""
    linear = _linear(term)
    if linear is None:
        return None
    denominator = lcm(*(coefficient.denominator for _, coefficient in linear.values()))
    parts = []
    for atom, (inner, coefficient) in linear.items():
        numerator = int(coefficient * denominator)
        if numerator == 0:
            continue
        parts.append(z3.IntVal(numerator) if atom == _CONSTANT else inner if numerator == 1 else numerator * inner)
    if not parts:
        return z3.IntVal(0), denominator
    return (parts[0] if len(parts) == 1 else z3.Sum(*parts)), denominator


def floor_of(term):
    """The integer floor of the real ``term`` in integer arithmetic, or None."""
    scaled = scaled_integer(term)
    if scaled is None:
        return None
    numerator, denominator = scaled
    return numerator if denominator == 1 else numerator / denominator  # z3's div: the floor for d > 0

