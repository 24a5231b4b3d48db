"""numpy and math functions of sizes: sqrt, ceil, floor, log2 (exact on ints, else opaque)."""

from __future__ import annotations

import math

import z3

from .. import symbolic as S
from ..values import Unknown, opaque
from . import arg
from ._common import function


def _number(ctx, args, kwargs):
    value = arg(args, kwargs, 0, "x")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Unknown):
        return value.as_int()
    if isinstance(value, (int, float)) or S.is_sym(value):
        return value
    return None


@function("numpy.sqrt", "math.sqrt")
def sqrt(ctx, args, kwargs):
    value = _number(ctx, args, kwargs)
    if isinstance(value, (int, float)) and value >= 0:
        return math.sqrt(value)
    if not S.is_sym(value):
        return opaque("sqrt of a non-number")
    # Python raises below 0; the root is the number's own (a witness whose test reads
    # ``int(math.sqrt(n))`` gives an ``n`` with that root), 0 exactly at 0
    root = z3.Real(f"sqrt({value})")
    ctx.state.add(S.conj(value >= 0, root >= 0, root * root == value, (root == 0) == (value == 0)))
    return root


@function("numpy.ceil")
def ceil(ctx, args, kwargs):
    value = _number(ctx, args, kwargs)
    if value is None:
        return opaque("ceil of a non-number")
    return float(math.ceil(value)) if isinstance(value, (int, float)) else S.ceil(value)


@function("numpy.floor")
def floor(ctx, args, kwargs):
    value = _number(ctx, args, kwargs)
    if value is None:
        return opaque("floor of a non-number")
    if isinstance(value, (int, float)):
        return float(math.floor(value))
    return value if S.is_int_like(value) else S.to_int(value)


@function("numpy.log2", "math.log2")
def log2(ctx, args, kwargs):
    value = _number(ctx, args, kwargs)
    if isinstance(value, (int, float)) and value > 0:
        return math.log2(value)
    return S.opaque_int() if S.is_sym(value) else opaque("log2 of a non-number")
