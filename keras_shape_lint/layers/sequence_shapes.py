"""Helpers of the sequence families (attention, recurrent, keras_hub): call arguments,
and the size comparisons Keras makes when it builds a layer or when data flows.

Keras compares shapes at build time with Python's ``!=`` on tuples, so a
``None`` size equals only ``None`` there; once data flows every size is known,
and an operation such as a matrix product needs the sizes themselves to agree.
A ``None`` size is left to the run on data-time sizes (the layer is run again
on the tensors' data-time shadows, where those sizes are symbols).
"""

from __future__ import annotations

from .. import symbolic as S
from ..values import ListValue
from . import shapes

MISSING = object()


def argument(ctx, position, name, default=None):
    """A call argument after the inputs: ``position`` counts from the second
    positional argument (``mha(q, v)`` -> ``v`` is position 0), else by keyword."""
    args = getattr(ctx, "call_args", ())
    if position is not None and position < len(args):
        return args[position]
    return getattr(ctx, "call_kwargs", {}).get(name, default)


def positional_tensors(apply):
    """Keras refuses a positional call argument after the inputs that is not a tensor
    (or None): ``mha(q, v, None, None, None, None, None, True)`` raises.  Wraps a model."""

    def checked(ctx, cfg, inputs):
        for value in _flattened(getattr(ctx, "call_args", ())):
            if isinstance(value, (bool, int, float, str)) or S.is_sym(value):
                shapes.require(ctx, False)
                return ctx.opaque("configuration Keras rejects")
        return apply(ctx, cfg, inputs)

    checked.__name__ = apply.__name__
    checked.__doc__ = apply.__doc__
    return checked


def _flattened(values):
    for value in values:
        items = value.items if isinstance(value, ListValue) else value if isinstance(value, (tuple, list)) else None
        if items is None:
            yield value
        else:
            yield from _flattened(items)


def flag(value):
    """A concrete truth value (``None`` reads as False), else None when not known."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and not S.is_sym(value):
        return value != 0
    return None


def data_time(ctx) -> bool:
    """Is the layer running on data-time sizes (its inputs' shadows)?"""
    return getattr(ctx, "real", None) is not None


def built_equal(a, b):
    """Keras's build-time ``a == b`` on two sizes (``None`` equals only ``None``)."""
    if a is None or b is None:
        return a is None and b is None
    return S.eq(a, b)


def built_equal_dims(a, b):
    """Keras's build-time tuple comparison ``a == b`` of two shapes."""
    if len(a) != len(b):
        return False
    return S.conj(*[built_equal(x, y) for x, y in zip(a, b)])


def data_equal(a, b):
    """Sizes that must agree when data flows; an unknown size is left to the data-time run."""
    if a is None or b is None:
        return True
    return S.eq(a, b)


def data_broadcastable(a, b):
    """Sizes that must broadcast when data flows (equal, or one of them 1)."""
    if a is None or b is None:
        return True
    return S.disj(S.eq(a, b), S.eq(a, 1), S.eq(b, 1))


def defined(ctx, *dims) -> bool:
    """Keras sizes a weight by these dims: each must be known at build time."""
    return shapes.require(ctx, not shapes.has_none(dims))


def same_rank(ctx, tensors):
    """Give every tensor the rank of the first one of known rank; False on a mismatch,
    None when no rank is known."""
    rank = next((t.rank for t in tensors if t.known), None)
    if rank is None:
        return None
    return all(t.with_rank(rank) for t in tensors)


def other_rank(ctx, layer_name: str):
    """An input of a rank the layer does not take.  Keras refuses it (at build time or on
    the first batch), but a rank is structure, not a size a witness could choose, and a
    tensor of the wrong rank here more often comes from an earlier model that fixed an
    unknown rank too soon: the result is opaque and the path goes on."""
    return ctx.opaque(f"{layer_name} input of a rank it does not take")


def positive_int(ctx, value):
    """``value`` as an int that Keras accepts as a size (>= 1), REJECTED, or None."""
    number = ctx.int(value)
    if number is None:
        return None
    return number if shapes.require_positive(ctx, number) else REJECTED


REJECTED = object()
