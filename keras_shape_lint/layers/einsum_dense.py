"""EinsumDense: a projection written as an einsum equation (``"abc,cd->abd"``).

The output is Keras's own: the batch axis, then ``output_shape``, with the
axes an ellipsis stands for put where the ellipsis is.  A size that
``output_shape`` leaves ``None`` stays ``None`` for Keras at build time, even
where the input gives it; once data flows it is the input's size along the
same letter.  Keras's checks become assumptions: a size of ``output_shape``
that contradicts the input along a shared letter, a letter with no source,
bias axes outside the output, kernel and bias sizes that are not defined.
"""

from __future__ import annotations

import re

from .. import symbolic as S
from ..values import Tensor, UnknownText
from . import REQUIRED, layer
from . import shapes
from .sequence_shapes import data_time, other_rank, positional_tensors

REJECTS = "configuration Keras rejects"
REJECTED = object()

# Keras's three forms, with "..." written as "0": none, on the left, on the right
_FORMS = (
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), ""),
    (re.compile(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)"), "left"),
    (re.compile(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0"), "right"),
)


def parse(equation: str):
    """(input, weight, output, ellipsis) letters, REJECTED, or None when not modelled."""
    text = equation.replace("...", "0")
    for pattern, ellipsis in _FORMS:
        found = pattern.match(text)
        if found is None:
            continue
        if found.end() != len(text):
            return None  # Keras reads a prefix; the data-time einsum reads it all
        specs = found.groups()
        if any(len(set(spec)) != len(spec) for spec in specs):
            return None  # a repeated letter takes a diagonal
        return specs + (ellipsis,)
    return REJECTED


def _partial_shape(ctx, value):
    """``output_shape`` as a list of sizes and ``None``s, or None when not understood."""
    size = ctx.int(value)
    if size is not None:
        return [size]
    items = shapes.sequence(value)
    if items is None:
        return None
    sizes = [None if item is None else ctx.int(item) for item in items]
    if any(size is None and item is not None for size, item in zip(sizes, items)):
        return None
    return sizes


@layer(
    "EinsumDense",
    params=[("equation", REQUIRED), ("output_shape", REQUIRED), ("activation", None), ("bias_axes", None)],
)
@positional_tensors
def einsum_dense(ctx, cfg, inputs):
    equation, bias_axes = cfg.get("equation"), cfg.get("bias_axes")
    if not isinstance(bias_axes, (str, type(None))):
        # a choice the code leaves open (``"d" if use_bias else None``): a bias never changes
        # the output's shape, and the letters Keras refuses are not checked then
        bias_axes = None
    partial = _partial_shape(ctx, cfg.get("output_shape"))
    x = ctx.tensor(inputs)
    if not isinstance(equation, str) or isinstance(equation, UnknownText) or partial is None or x is None:
        return ctx.opaque("EinsumDense configuration not understood")
    form = parse(equation)
    if form is REJECTED:
        shapes.require(ctx, False)
        return ctx.opaque(REJECTS)
    if form is None:
        return ctx.opaque("EinsumDense equation not modelled")
    input_spec, weight_spec, output_spec, ellipsis = form
    if not x.known:
        if not ellipsis:
            if not x.with_rank(len(input_spec) - 1):
                return ctx.opaque("EinsumDense equation without the batch axis")
        elif ellipsis == "left" and len(input_spec) == 1 and len(output_spec) == 1 and len(partial) == 1:
            return _dense_like(ctx, input_spec, weight_spec, output_spec, bias_axes, partial[0], x)
        else:
            return ctx.opaque("EinsumDense with an ellipsis on an input of unknown rank")
    return _project(ctx, form, partial, bias_axes, x)


def _dense_like(ctx, input_spec, weight_spec, output_spec, bias_axes, size, x):
    """``...b,bc->...c``: the last axis replaced, whatever the rank."""
    if weight_spec != input_spec + output_spec or (bias_axes or output_spec) != output_spec:
        return ctx.opaque("EinsumDense with an ellipsis on an input of unknown rank")
    if not shapes.require(ctx, size is not None) or not shapes.require_nonnegative(ctx, size):
        return ctx.opaque(REJECTS)
    return Tensor.last_axis_replaced(x, size)


def _project(ctx, form, partial, bias_axes, x):
    """Keras's ``_analyze_split_string`` on a known shape, its refusals as assumptions."""
    input_spec, weight_spec, output_spec, ellipsis = form
    full = (None,) + tuple(x.dims)
    elided = len(full) - len(input_spec)
    if elided < 0 or (not ellipsis and elided != 0):
        return other_rank(ctx, "EinsumDense")  # Keras or the first batch fails
    out = [None] + list(partial)
    if ellipsis == "left":
        spanned = full[1:elided]
        if len(spanned) > 1 and not all(dim is spanned[0] or _same_int(dim, spanned[0]) for dim in spanned):
            # Keras inserts these axes in reverse order: its build-time shape is not the data's
            return ctx.opaque("EinsumDense ellipsis over several axes")
        out[1:1] = spanned
        input_at = {letter: i + elided for i, letter in enumerate(input_spec)}
        output_at = {letter: i + elided for i, letter in enumerate(output_spec)}
    else:
        out += full[len(full) - elided:] if elided else []
        input_at = {letter: i for i, letter in enumerate(input_spec)}
        output_at = {letter: i for i, letter in enumerate(output_spec)}
    kernel = _kernel(ctx, input_spec, weight_spec, output_spec, input_at, output_at, full, out)
    if kernel is REJECTED:
        return ctx.opaque(REJECTS)
    bias = _bias(bias_axes, output_spec, out, elided if ellipsis == "left" else 0)
    if bias is REJECTED:
        shapes.require(ctx, False)
        return ctx.opaque(REJECTS)
    weights = kernel + bias
    if not (shapes.require(ctx, not shapes.has_none(weights)) and shapes.require_nonnegative(ctx, *weights)):
        return ctx.opaque(REJECTS)
    if len(out) != len(output_spec) + elided or (ellipsis != "left" and output_spec[0] != input_spec[0]):
        # Keras builds it, but the data's output has another rank or another batch axis
        return ctx.opaque("EinsumDense output_shape that data does not keep")
    if data_time(ctx):
        for letter, index in output_at.items():
            if out[index] is None and letter in input_at:
                out[index] = full[input_at[letter]]
    return Tensor(out[1:])


def _same_int(a, b) -> bool:
    return not S.is_sym(a) and not S.is_sym(b) and a is not None and a == b


def _kernel(ctx, input_spec, weight_spec, output_spec, input_at, output_at, full, out):
    """The kernel's sizes, after Keras's checks of the letters; REJECTED when it refuses."""
    for letter in input_spec:
        if letter in output_at:
            if output_at[letter] >= len(out):
                return _refuse(ctx)  # an IndexError in Keras
            given, size = out[output_at[letter]], full[input_at[letter]]
            if given is not None and not shapes.require(ctx, size is not None and S.eq(given, size)):
                return REJECTED
    for letter in output_spec:
        if letter not in input_spec and letter not in weight_spec:
            return _refuse(ctx)
    kernel = []
    for letter in weight_spec:
        if letter in output_at:
            if output_at[letter] >= len(out):
                return _refuse(ctx)
            kernel.append(out[output_at[letter]])
        elif letter in input_at:
            kernel.append(full[input_at[letter]])
        else:
            return _refuse(ctx)
    return kernel


def _refuse(ctx):
    shapes.require(ctx, False)
    return REJECTED


def _bias(bias_axes, output_spec, out, left_elided):
    """The bias's sizes along ``bias_axes`` (the others are broadcast), or REJECTED."""
    if bias_axes is None:
        return []
    if len(output_spec) + left_elided > len(out):
        return REJECTED  # Keras maps every output letter to a size first
    if not bias_axes or any(letter not in output_spec for letter in bias_axes):
        return REJECTED
    return [out[i + left_elided] for i, letter in enumerate(output_spec) if letter in bias_axes]
