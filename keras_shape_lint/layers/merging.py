"""Merging layers: element-wise merges and concatenation."""

from __future__ import annotations

from .. import symbolic as S
from ..values import ListValue, Tensor, batched_views, shared_frame
from . import layer

ELEMENTWISE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
# merges whose silent size-1 broadcast of channels is almost always a bug
# (a squeeze-and-excitation Multiply broadcasts on purpose)
ADDITIVE = ("Add", "Subtract", "Average")
# the models whose every application is a merge the analysis accounts for
MERGES = frozenset(ELEMENTWISE + ("Concatenate", "<operator>"))


def merge_inputs(ctx, inputs):
    """The list of tensors a merge layer is called on, or None.  Keras refuses an empty list
    (the path ends there: nothing was merged, so nothing is left to check)."""
    if isinstance(inputs, ListValue):
        items = inputs.items
    elif isinstance(inputs, tuple):
        items = list(inputs)
    else:
        return None
    if not items:
        ctx.assume(False)
        return None
    tensors = [ctx.tensor(item) for item in items]
    if not tensors or any(t is None for t in tensors):
        return None
    return batched_views(tensors)


def elementwise_shape(ctx, tensors):
    """Broadcast output shape after the merge (assuming it succeeded), Keras-style."""
    known = [t for t in tensors if t.known]
    if len(known) != len(tensors):
        # give unknown-rank operands the rank of a known one, so dims line up
        rank = known[0].rank if known else None
        for t in tensors:
            if rank is None or not t.with_rank(rank):
                return None
    rank = max(t.rank for t in tensors)
    out = []
    for position in range(rank):
        dim = 1
        for t in tensors:
            offset = rank - t.rank
            if position < offset:
                continue
            other = t.dims[position - offset]
            dim = _broadcast(ctx, dim, other)
        out.append(dim)
    return tuple(out)


def same_rank_merge(ctx, tensors):
    """The merge of tensors whose rank is unknown but shared (a Dense on ``x`` merged with
    ``x``): only their channels can differ, and they broadcast.  None otherwise."""
    frame = shared_frame(tensors)
    if frame is None:
        return _channels_first_merge(ctx, tensors)
    root, drop, tails = frame
    out = []
    for sizes in zip(*tails):
        size = 1
        for other in sizes:
            size = _broadcast(ctx, size, other)
        out.append(size)
    return Tensor.follow(root, drop, out)


def _channels_first_merge(ctx, tensors):
    if any(t.known or t.channels_last for t in tensors) or len({id(t.rank_root()) for t in tensors}) != 1:
        return None
    channels = 1
    for t in tensors:
        channels = _broadcast(ctx, channels, t.channels_dim())
    return None if channels is None else Tensor.last_axis_replaced(tensors[0].rank_root(), channels)


def _broadcast(ctx, a, b):
    if a is None or b is None:
        return None
    if isinstance(a, int) and a == 1:
        return b
    if isinstance(b, int) and b == 1:
        return a
    if a is b or (not S.is_sym(a) and not S.is_sym(b)):
        return a
    if ctx.proves(S.eq(a, b)):
        return a  # the usual case, and a much shorter term than the one below
    return S.ite(S.eq(a, 1), b, a)


def elementwise(kind: str):
    def apply(ctx, cfg, inputs):
        tensors = merge_inputs(ctx, inputs)
        if tensors is None or len(tensors) < 1:
            return ctx.opaque("merge of non-list")
        ctx.check_merge(kind, tensors)
        dims = elementwise_shape(ctx, tensors)
        if dims is None:
            return same_rank_merge(ctx, tensors) or ctx.opaque("merge of unknown-rank tensors")
        out = Tensor(dims)
        out.batched = any(t.batched for t in tensors)  # weights alone make no batch
        return out

    return apply


for _name in ELEMENTWISE:
    _kind = "additive" if _name in ADDITIVE else "elementwise"
    layer(_name, params=[], functional=(_name.lower(),))(elementwise(_kind))

# ``x + y``, ``x - y``, ``x * y`` on tensors: the same checks, no broadcast warning
layer("<operator>", params=[], module="python")(elementwise("elementwise"))


@layer("Concatenate", params=[("axis", -1)], functional=("concatenate",), not_none_on_call=("axis",))
def concatenate(ctx, cfg, inputs):
    tensors = merge_inputs(ctx, inputs)
    axis = cfg.get("axis", -1)
    if tensors is not None and len(tensors) == 1:
        ctx.check_merge("concat", tensors)  # one tensor: it comes out as it went in
        return tensors[0]
    if tensors is not None and not isinstance(axis, int):
        return _concatenate_on_an_axis_not_known(ctx, tensors, axis)
    if tensors is None:
        return ctx.opaque("concatenate")
    if not any(t.known for t in tensors):
        # tensors that follow one input of a rank nobody knows (``[dense(x), x]``); others wait
        # for the rank (no rank is chosen for them here)
        return joined_on_the_last_axis(ctx, tensors, axis) or \
            ctx.opaque("concatenate of unknown-rank tensors")
    rank = next((t.rank for t in tensors if t.known), None)
    if rank is None or not all(t.with_rank(rank) for t in tensors):
        return ctx.opaque("concatenate of unknown-rank tensors")
    position = axis - 1 if axis > 0 else rank + axis
    if not 0 <= position < rank:
        return ctx.opaque("concatenate axis out of range")
    ctx.check_merge("concat", tensors, axis=position)
    out = list(tensors[0].dims)
    total = 0
    for t in tensors:
        total = None if total is None or t.dims[position] is None else S.add(total, t.dims[position])
    out[position] = total
    for index in range(rank):
        if index != position and out[index] is None:
            out[index] = next((t.dims[index] for t in tensors if t.dims[index] is not None), None)
    return Tensor(out)


def _concatenate_on_an_axis_not_known(ctx, tensors, axis):
    """``Concatenate(axis=channel_axis)`` with an axis the code does not fix (the caller
    passes it).  Where the inputs agree on every axis (each the same size), they join
    whichever axis it is: the merge is proven, and the output is their shape with the joined
    axis, whichever it is, as long as all of them together.  A later merge that holds for
    one axis and not another is undecided (the axis is never chosen for a finding).  Where
    the inputs may differ on some axis, which of them must agree depends on the axis: the
    merge is undecided, with that reason."""
    axis = ctx.int(axis)
    if not S.is_sym(axis):
        ctx.why_unchecked = "the axis it joins on is not known"
        return ctx.opaque("concatenate on an axis not known")
    rank = tensors[0].rank if tensors[0].known else None
    if rank is None or not all(t.known and t.rank == rank for t in tensors):
        return ctx.opaque("concatenate of unknown-rank tensors")
    first = tensors[0].dims
    if not all(_agree(ctx, a, b) for t in tensors[1:] for a, b in zip(first, t.dims)):
        ctx.why_unchecked = "the axis it joins on is not fixed by the code, and its inputs may differ on some axis"
        return ctx.opaque("concatenate on an axis the code does not fix")
    ctx.check_merge("concat", tensors)  # (every axis compared: each agrees)
    # Keras refuses an axis past the rank; its axis counts the batch (0): 1..rank and
    # -rank..-1 name the same axes.  Which one is joined the code does not fix: a later merge
    # that holds for one axis and not another is left undecided, never flagged
    ctx.assume(S.conj(axis >= -(rank + 1), axis <= rank))
    position = ctx.opaque_int("the axis a Concatenate joins on, which the code does not fix")
    ctx.assume(position == S.ite(axis > 0, S.sub(axis, 1), S.ite(axis == 0, -1, S.add(axis, rank))))
    count = len(tensors)
    return Tensor([d if d is None else S.ite(position == index, S.mul(count, d), d) for index, d in enumerate(first)])


def _agree(ctx, a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return ctx.proves(S.eq(a, b)) if S.is_sym(a) or S.is_sym(b) else a == b


def joined_on_the_last_axis(ctx, tensors, axis):
    """Tensors that follow one tensor whose rank is not known (``x[..., :h]``, ``-x[..., h:]``,
    ``[dense(x), x]``) joined on their last axis: whatever that rank, the axes before their
    own tails are that tensor's in each, so only the tails are compared (a merge, checked)
    and their last sizes add up.  None for any other join."""
    frame = shared_frame(tensors) if axis == -1 else None
    if frame is None:
        return None
    root, drop, tails = frame
    if not tails[0]:
        return None  # (the last axis is the root's own in each: not told apart here)
    ctx.check_merge("concat", tensors, axis=-1)
    total = 0
    for tail in tails:
        total = None if total is None or tail[-1] is None else S.add(total, tail[-1])
    return Tensor.follow(root, drop, tuple(tails[0][:-1]) + (total,))
