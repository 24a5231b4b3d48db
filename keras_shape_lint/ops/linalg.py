"""Products of tensors: einsum, matmul, tensordot.

Weights (``add_weight``) have no batch axis: their whole shape takes part (``ops.matmul(x,
self.kernel)``, ``ops.einsum("btd,dh->bth", x, self.kernel)``), and the product is a
batch when one of its operands is.  Two batches of different ranks, or a product over a
batch's axis 0, give an opaque result: a batch axis would meet another axis.
"""

from __future__ import annotations

from .. import symbolic as S
from ..values import Tensor, UnknownText
from . import arg
from ._common import (
    batched,
    broadcast,
    broadcast_dim,
    broadcast_ok,
    full,
    function,
    keras_op,
    plain_int,
    require,
    result,
    sequence,
    tensor,
    total,
)

# ------------------------------------------------------------------ einsum


def _parse(equation: str, count: int):
    """(input specs, output spec or None) of an einsum equation, or None when not understood."""
    equation = equation.replace(" ", "")
    if equation.count("->") > 1:
        return None
    inputs, _, output = equation.partition("->")
    specs = inputs.split(",")
    if len(specs) != count:
        return None
    for spec in specs + ([output] if "->" in equation else []):
        letters = spec.replace("...", "", 1)
        if not letters.isalpha() and letters or "." in letters:
            return None
    return specs, (output if "->" in equation else None)


@keras_op("numpy", "einsum", other=("tensorflow.einsum", "tensorflow.linalg.einsum"))
def einsum(ctx, args, kwargs):
    equation = arg(args, kwargs, 0, "subscripts", kwargs.get("equation"))
    values = list(args[1:]) or sequence(kwargs.get("operands")) or []
    if not isinstance(equation, str) or isinstance(equation, UnknownText) or not values:
        return ctx.opaque("einsum arguments not understood")
    parsed = _parse(equation, len(values))
    operands = [tensor(ctx, v) for v in values]
    if parsed is None or any(t is None for t in operands):
        return ctx.opaque("einsum equation not understood")
    specs, output = parsed
    sizes: dict = {}  # letter -> sizes it has in the operands
    ellipses = []
    for operand, spec in zip(operands, specs):
        letters = spec.replace("...", "")
        if len(set(letters)) != len(letters):
            return ctx.opaque("einsum with a repeated index in one operand")
        if "..." not in spec:
            if not operand.known and not operand.with_rank(len(letters) - 1):
                return ctx.opaque("einsum operand of another rank")
            if len(full(operand)) != len(letters):
                return ctx.opaque("einsum operand of another rank")
            shape, rest = full(operand), []
        else:
            if not operand.known:
                return ctx.opaque("einsum operand of unknown rank")
            shape = full(operand)
            before, after = spec.split("...")
            if len(shape) < len(letters):
                return ctx.opaque("einsum operand of another rank")
            rest = shape[len(before):len(shape) - len(after)]
            shape = shape[:len(before)] + shape[len(shape) - len(after):]
        ellipses.append(rest)
        for letter, size in zip(letters, shape):
            sizes.setdefault(letter, []).append(size)
    if output is None:
        once = sorted(letter for letter in sizes if "".join(specs).count(letter) == 1)
        output = "..." + "".join(once)
    if any(letter not in sizes for letter in output.replace("...", "")):
        require(ctx, False)
        return ctx.opaque("einsum output index not in the inputs")
    for letter, found in sizes.items():
        if letter in output:
            continue
        # a summed index: every operand must agree on its size
        known = [size for size in found if size is not None]
        for size in known[1:]:
            if not require(ctx, S.eq(known[0], size)):
                return ctx.opaque("einsum sizes Keras rejects")
    shared = broadcast(ctx, [rest for rest in ellipses]) if any(ellipses) else []
    if shared is None:
        return ctx.opaque("einsum sizes Keras rejects")
    shape = []
    for letter in output.replace("...", "."):
        if letter == ".":
            shape.extend(shared)
            continue
        found = sizes[letter]
        size = found[0]
        for other in found[1:]:
            if not require(ctx, broadcast_ok(size, other)):
                return ctx.opaque("einsum sizes Keras rejects")
            size = broadcast_dim(ctx, size, other)
        shape.append(size)
    return result(ctx, shape, operands[0], batch=batched(*operands))


# ------------------------------------------------------------------ matmul


def _matmul(ctx, x1, x2, name):
    if not x1.known and x1.batched and x1.channels_last and x2.known and not x2.batched and len(x2.dims) == 2:
        # a batch by a weight matrix, (..., k) @ (k, n): whatever the batch's rank, only its
        # last axis changes, to n (a batch has two axes at least: its batch axis and a last)
        inner, outer = x2.dims
        if inner is not None and not require(ctx, S.eq(x1.channels_dim(), inner)):
            return ctx.opaque(f"{name} of sizes Keras rejects")
        out = Tensor.last_axis_replaced(x1, outer)
        out.dtype = x1.dtype if x1.dtype == x2.dtype else None
        return out
    if not x1.known or not x2.known:
        return ctx.opaque(f"{name} of a tensor of unknown rank")
    if x1.batched and x2.batched and x1.rank < x2.rank:
        return ctx.opaque(f"{name} of a tensor by one of higher rank")
    shape1, shape2 = full(x1), full(x2)
    vector1, vector2 = len(shape1) == 1, len(shape2) == 1
    if vector1:
        shape1 = [1] + shape1
    if vector2:
        shape2 = shape2 + [1]
    inner1, inner2 = shape1[-1], shape2[-2]
    if inner1 is not None and inner2 is not None and not require(ctx, S.eq(inner1, inner2)):
        return ctx.opaque(f"{name} of sizes Keras rejects")
    leading = broadcast(ctx, [shape1[:-2], shape2[:-2]]) if shape1[:-2] or shape2[:-2] else []
    if leading is None:
        return ctx.opaque(f"{name} of sizes Keras rejects")
    shape = leading + [shape1[-2], shape2[-1]]
    if vector1:
        del shape[-2]
    if vector2:
        del shape[-1]
    return result(ctx, shape, x1, batch=batched(x1, x2))


@keras_op("numpy", "matmul")
def matmul(ctx, args, kwargs):
    x1, x2 = tensor(ctx, arg(args, kwargs, 0, "x1")), tensor(ctx, arg(args, kwargs, 1, "x2"))
    if x1 is None or x2 is None:
        return ctx.opaque("matmul of a non-tensor")
    return _matmul(ctx, x1, x2, "matmul")


@function("tensorflow.matmul", "tensorflow.linalg.matmul")
def tf_matmul(ctx, args, kwargs):
    a, b = tensor(ctx, arg(args, kwargs, 0, "a")), tensor(ctx, arg(args, kwargs, 1, "b"))
    if a is None or b is None or not a.known or not b.known:
        return ctx.opaque("matmul of a tensor of unknown rank")
    if len(full(a)) < 2 or len(full(b)) < 2:
        return ctx.opaque("matmul of a vector")
    flips = []
    for index, tensor_name in ((2, "a"), (3, "b")):
        flip = arg(args, kwargs, index, f"transpose_{tensor_name}", False)
        adjoint = kwargs.get(f"adjoint_{tensor_name}", False)
        if not isinstance(flip, bool) or not isinstance(adjoint, bool):
            return ctx.opaque("matmul transposition not understood")
        flips.append(flip or adjoint)
    a, b = (_swapped(ctx, t) if flip else t for t, flip in zip((a, b), flips))
    return _matmul(ctx, a, b, "matmul")


def _swapped(ctx, x):
    shape = full(x)
    shape[-1], shape[-2] = shape[-2], shape[-1]
    return result(ctx, shape, x)


@keras_op("numpy", "tensordot", other=("tensorflow.tensordot", "tensorflow.linalg.tensordot"))
def tensordot(ctx, args, kwargs):
    x1 = tensor(ctx, arg(args, kwargs, 0, "x1", kwargs.get("a")))
    x2 = tensor(ctx, arg(args, kwargs, 1, "x2", kwargs.get("b")))
    spec = arg(args, kwargs, 2, "axes", 2)
    if x1 is None or x2 is None or not x1.known or not x2.known:
        return ctx.opaque("tensordot of a tensor of unknown rank")
    shape1, shape2 = full(x1), full(x2)
    count = plain_int(spec)
    if count is not None:
        if not 0 <= count <= min(len(shape1), len(shape2)):
            return ctx.opaque("tensordot axes Keras rejects")
        first = list(range(len(shape1) - count, len(shape1)))
        second = list(range(count))
    else:
        pair = sequence(spec)
        if pair is None or len(pair) != 2:
            return ctx.opaque("tensordot axes not understood")
        first, second = (sequence(p) if sequence(p) is not None else [p] for p in pair)
        if any(plain_int(a) is None for a in first + second) or len(first) != len(second):
            return ctx.opaque("tensordot axes not understood")
        first = [a % len(shape1) if -len(shape1) <= a < len(shape1) else None for a in first]
        second = [a % len(shape2) if -len(shape2) <= a < len(shape2) else None for a in second]
        if None in first or None in second:
            return ctx.opaque("tensordot axes Keras rejects")
    if 0 in first and x1.batched or 0 in second and x2.batched:
        # a product over a batch's batch axis
        return ctx.opaque("tensordot over axis 0")
    for a, b in zip(first, second):
        if shape1[a] is not None and shape2[b] is not None and not require(ctx, S.eq(shape1[a], shape2[b])):
            return ctx.opaque("tensordot of sizes Keras rejects")
    shape = [s for i, s in enumerate(shape1) if i not in first] + [s for i, s in enumerate(shape2) if i not in second]
    return result(ctx, shape, x1, batch=batched(x1, x2))


@keras_op("numpy", "outer")
def outer(ctx, args, kwargs):
    """Both tensors flattened: (size of x1, size of x2)."""
    x1, x2 = tensor(ctx, arg(args, kwargs, 0, "x1")), tensor(ctx, arg(args, kwargs, 1, "x2"))
    if x1 is None or x2 is None:
        return ctx.opaque("outer of a non-tensor")
    sizes = [None if t.batched or not t.known else total(t.dims) for t in (x1, x2)]
    return result(ctx, sizes, x1, batch=False)
