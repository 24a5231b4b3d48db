"""Functions that rearrange a tensor: reshape, transpose, expand_dims, squeeze, concatenate,
stack, split, tile, repeat, broadcast_to, pad, take, take_along_axis, slice.

Each works on full shapes (batch axis first, see :mod:`._common`), as Keras's own
``compute_output_spec`` does.
"""

from __future__ import annotations

from .. import layers
from ..layers.merging import joined_on_the_last_axis
from .. import symbolic as S
from ..values import LayerValue, ListValue, RepeatedList, ShapeOf, Tensor, Unknown, batch_first
from . import arg
from ._common import (
    INT,
    axes,
    axis,
    broadcast,
    batched,
    full,
    function,
    given_axis,
    axes_in_range,
    int_value,
    is_one,
    keras_op,
    NOT_A_SIZE,
    operand,
    plain_int,
    require,
    result,
    same_shape,
    sequence,
    tensor,
    total,
    unknown_rank,
    written_size,
)


def _count(ctx, value):
    """One count (``ops.tile(x, n)``): an int or a term, None for one Keras does not know (worked
    out from a size ``ops.shape(x)`` read at run time); ``NOT_A_SIZE`` for no single count."""
    single = ctx.int(value)
    if single is None:
        return NOT_A_SIZE
    return None if S.from_run_time(single) else single


def _shape(ctx, value):
    """A user-written full shape (tuple, list, int, or ``ops.shape(y)``) as a list, else None."""
    if isinstance(value, ShapeOf):
        found = value.as_tuple()
        return None if found is None else list(found)
    items = sequence(value)
    if items is None:
        items = [value] if int_value(value) is not None else None
    if items is None:
        return None
    sizes = [written_size(item) for item in items]
    return None if any(size is NOT_A_SIZE for size in sizes) else sizes


# ------------------------------------------------------------------ reshape


@keras_op("numpy", "reshape", other=("tensorflow.reshape",))
def reshape(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("tensor")))
    target = arg(args, kwargs, 1, "newshape", kwargs.get("shape"))
    if x is None:
        return ctx.opaque("reshape of a non-tensor")
    if isinstance(target, ShapeOf) and not target.tensor.known:
        # the shape of a tensor of unknown rank: that tensor's shape, where it may end in sizes
        # the code gives, a -1 among them (``(*ops.shape(x)[:-1], -1, 2)``)
        return _reshaped_like(ctx, target.tensor, x.dtype)
    shape = _shape(ctx, target)
    if shape is None:
        return ctx.opaque("reshape target not understood")
    placeholders = [i for i, size in enumerate(shape) if isinstance(size, int) and size == -1]
    valid = len(placeholders) <= 1 and all(size >= -1 for size in shape if isinstance(size, int))
    if not require(ctx, valid):
        return ctx.opaque("reshape target Keras rejects")
    for size in shape:
        if S.is_sym(size):
            # a symbolic size is a size, never the -1 placeholder, and at least 1: no model has
            # an empty axis (TensorFlow builds one, JAX cannot infer a -1 beside it)
            ctx.assume(size >= 1)
    # Keras never knows the batch size, so it cannot infer the -1 size of a batch either
    out = [None if i in placeholders else size for i, size in enumerate(shape)]
    if placeholders and not x.batched and x.known:
        # a weight's -1 is what its other sizes leave over, which must divide exactly
        whole = total(x.dims)
        rest = total([size for i, size in enumerate(out) if i not in placeholders])
        if whole is not None and rest is not None:
            if not require(ctx, rest >= 1) or not require(ctx, S.eq(S.mod(whole, rest), 0)):
                return ctx.opaque("reshape of a weight to sizes that do not divide it")
            out[placeholders[0]] = S.floordiv(whole, rest)
    elif placeholders and x.batched and x.known and all(size is not None for size in x.dims):
        _divides_on_data(ctx, x, shape, placeholders[0])
    elif not placeholders and not _same_total(ctx, x, shape):
        return ctx.opaque("reshape to another total size")
    return result(ctx, out, x, x.dtype)


def _same_total(ctx, x, shape) -> bool:
    """A reshape to sizes that are all given keeps the total size.  Keras checks it at build
    time where it knows every size of ``x`` (a weight).  Of a batch, whose size it never knows,
    it checks nothing: a target that gives the batch's place a size of its own (``(1, n, 1, d)``)
    fits only some batches, and data of another size fails here, before any merge after it."""
    if x.batched:
        if shape and shape[0] is not None:
            ctx.analysis.unfit_reshapes.add(id(ctx.node))
            ctx.state.unchecked = ctx.state.unchecked or (ctx.node, ctx.state.modules[-1])
        return True
    if not x.known:
        return True
    whole, named = total(x.dims), total(shape)
    return whole is None or named is None or require(ctx, S.eq(whole, named))


def _reshaped_like(ctx, target: Tensor, dtype):
    """A reshape to the shape of ``target``, a tensor of unknown rank whose last sizes the code
    wrote: the batch size leads it, which Keras never knows, so a -1 is a size it does not know."""
    frame = target.frame()
    if frame is None:
        return same_shape(ctx, target, dtype)
    root, drop, tail = frame
    placeholders = [size for size in tail if isinstance(size, int) and size < 0]
    if not require(ctx, len(placeholders) <= 1 and all(size == -1 for size in placeholders)):
        return ctx.opaque("reshape target Keras rejects")
    for size in tail:
        if S.is_sym(size):
            ctx.assume(size >= 0)
    out = Tensor.follow(root, drop, [None if isinstance(size, int) and size == -1 else size for size in tail])
    if out is None:
        return unknown_rank(ctx, "reshape", dtype)
    out.dtype = dtype
    return out


def _divides_on_data(ctx, x, shape, placeholder) -> None:
    """A batch reshaped with a -1 (in the batch's place, or beside a batch size Keras does not
    know): Keras cannot check it at build time, but on data the sizes the target names must
    divide each example's, whatever the batch size.  The path goes on where they do."""
    if placeholder != 0 and shape[0] is not None:
        return  # a batch position given as a number: not a batch of any size
    named = [size for i, size in enumerate(shape) if i != placeholder and i != 0]
    whole, rest = total(x.dims), total(named)
    if whole is None or rest is None or not S.is_sym(rest) and rest < 1:
        return
    ctx.assume_on_data(rest >= 1)
    ctx.assume_on_data(S.eq(S.mod(whole, rest), 0))


# ---------------------------------------------------------------- permutations


def _permuted(ctx, x, order, name):
    """``x`` with its axes in ``order``: still a batch only where the batch axis stays first
    (moved elsewhere, it is an axis of unknown size, and the first one is no batch)."""
    shape = full(x)
    return result(ctx, [shape[i] for i in order], x, x.dtype, batch=x.batched and order[0] == 0)


@keras_op("numpy", "transpose", other=("tensorflow.transpose",))
def transpose(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("a")))
    order = arg(args, kwargs, 1, "axes", kwargs.get("perm"))
    if x is None:
        return ctx.opaque("transpose of a non-tensor")
    items = sequence(order)
    if order is not None and items is None:
        return ctx.opaque("transpose axes not understood")
    if items is not None and not x.known and not x.with_rank(len(items) - 1):
        return ctx.opaque("transpose axes of another rank")
    if not x.known:
        return unknown_rank(ctx, "transpose", x.dtype)
    rank = len(full(x))
    if items is None:
        return _permuted(ctx, x, list(range(rank))[::-1], "transpose")
    found = axes(items, rank)
    if found is None or len(found) != rank:
        return ctx.opaque("transpose axes Keras rejects")
    return _permuted(ctx, x, found, "transpose")


@keras_op("numpy", "swapaxes")
def swapaxes(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    if x is None or not x.known:
        return ctx.opaque("swapaxes of a tensor of unknown rank")
    rank = len(full(x))
    first, second = axis(arg(args, kwargs, 1, "axis1"), rank), axis(arg(args, kwargs, 2, "axis2"), rank)
    if first is None or second is None:
        return ctx.opaque("swapaxes axes not understood")
    order = list(range(rank))
    order[first], order[second] = order[second], order[first]
    return _permuted(ctx, x, order, "swapaxes")


@keras_op("numpy", "moveaxis")
def moveaxis(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    if x is None or not x.known:
        return ctx.opaque("moveaxis of a tensor of unknown rank")
    rank = len(full(x))
    source, destination = axes(arg(args, kwargs, 1, "source"), rank), axes(arg(args, kwargs, 2, "destination"), rank)
    if source is None or destination is None or len(source) != len(destination):
        return ctx.opaque("moveaxis axes not understood")
    rest = [i for i in range(rank) if i not in source]
    order = [None] * rank
    for src, dst in sorted(zip(source, destination), key=lambda pair: pair[1]):
        order[dst] = src
    fill = iter(rest)
    order = [next(fill) if i is None else i for i in order]
    return _permuted(ctx, x, order, "moveaxis")


# ------------------------------------------------------------ adding and removing axes


@keras_op("numpy", "expand_dims", other=("tensorflow.expand_dims",))
def expand_dims(ctx, args, kwargs):
    x = operand(ctx, arg(args, kwargs, 0, "x", kwargs.get("input")))
    where = arg(args, kwargs, 1, "axis")
    if x is None:
        return ctx.opaque("expand_dims of a non-tensor")
    items = sequence(where)
    positions = items if items is not None else [where]
    if isinstance(x, Tensor) and not x.known:
        return _expanded_from_the_end(ctx, x, positions)
    shape = full(x) if isinstance(x, Tensor) else []  # a number is a tensor of rank 0
    rank = len(shape) + len(positions)
    found = axes(positions, rank)
    if found is None:
        return ctx.opaque("expand_dims axis Keras rejects")
    sizes = iter(shape)
    like = x if isinstance(x, Tensor) else None
    return result(ctx, [1 if i in found else next(sizes) for i in range(rank)], like, like and like.dtype)


def _expanded_from_the_end(ctx, x, positions):
    """``ops.expand_dims(mask, -1)`` of a tensor whose rank is not known: axes counted from the
    end are placed whatever that rank (the new axes and the last axes of ``x`` after the first
    of them make the result's tail).  Axes counted from the front are not."""
    found = [plain_int(p) for p in positions]
    if not x.channels_last or not found or any(p is None or p >= 0 for p in found) or len(set(found)) != len(found):
        return unknown_rank(ctx, "expand_dims", x.dtype)
    span = -min(found)  # the result's axes from the first new one to the end
    kept = span - len(found)  # the last axes of x among them
    sizes = iter([x.axis_from_end(k) for k in range(kept, 0, -1)])
    out = Tensor.follow(x, kept, [1 if -k in found else next(sizes) for k in range(span, 0, -1)])
    if out is None:
        return unknown_rank(ctx, "expand_dims", x.dtype)
    out.dtype = x.dtype
    return out


def _squeezed_from_the_end(ctx, x, where):
    """``ops.squeeze(x, -1)`` of a tensor whose rank is not known: the axes counted from the end
    must be 1, and go."""
    found = [plain_int(p) for p in (sequence(where) if sequence(where) is not None else [where])]
    if not x.channels_last or not found or any(p is None or p >= 0 for p in found) or len(set(found)) != len(found):
        return unknown_rank(ctx, "squeeze", x.dtype)
    span = -min(found)
    kept = []
    for k in range(span, 0, -1):
        size = x.axis_from_end(k)
        if -k not in found:
            kept.append(size)
        elif size is None:
            return ctx.opaque("squeeze of an axis of unknown size")
        elif not require(ctx, S.eq(size, 1)):
            return ctx.opaque("squeeze of an axis that is not 1")
    out = Tensor.follow(x, span, kept)
    if out is None:
        return unknown_rank(ctx, "squeeze", x.dtype)
    out.dtype = x.dtype
    return out


@keras_op("numpy", "squeeze", other=("tensorflow.squeeze",))
def squeeze(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("input")))
    where = arg(args, kwargs, 1, "axis")
    if x is None:
        return ctx.opaque("squeeze of a non-tensor")
    if not x.known:
        return _squeezed_from_the_end(ctx, x, where) if where is not None else unknown_rank(ctx, "squeeze", x.dtype)
    shape = full(x)
    if where is None:
        kept = []
        for size in shape:
            if is_one(size):
                continue
            if size is not None and not ctx.proves(S.ne(size, 1)):
                return ctx.opaque("squeeze of a size that may be 1")
            kept.append(size)
        return result(ctx, kept, x, x.dtype)
    found = axes(where, len(shape))
    if found is None:
        return ctx.opaque("squeeze axis Keras rejects")
    for position in found:
        if shape[position] is None:
            # Keras's functional shapes refuse it, a traced layer call does not: no answer
            return ctx.opaque("squeeze of an axis of unknown size")
        if not require(ctx, S.eq(shape[position], 1)):
            return ctx.opaque("squeeze of an axis that is not 1")
    return result(ctx, [size for i, size in enumerate(shape) if i not in found], x, x.dtype)


# ------------------------------------------------------------- joining tensors


def _tensors(ctx, value):
    items = sequence(value)
    if not items:
        return None
    found = [tensor(ctx, item) for item in items]
    return None if any(t is None for t in found) else found


def _numbers(value):
    """A list of numbers (``ops.stack([height, width])``), else None."""
    items = sequence(value)
    if not items or not all(isinstance(v, Unknown) and v.used_as in ("int", "bool") or int_value(v) is not None
                            or isinstance(v, float) or S.is_sym(v) for v in items):
        return None
    return items


def _same_rank(tensors) -> bool:
    rank = next((t.rank for t in tensors if t.known), None)
    return rank is not None and all(t.with_rank(rank) for t in tensors)


def _as_batches(tensors):
    """Tensors joined with a batch, each weight among them seen as a batch: its first axis
    faces the batch axis, whose size Keras does not know when it builds (a class token
    concatenated untiled builds, and fails on data of more than one example).  None when a
    weight's rank is not the batch's; the tensors as they are when none is a batch."""
    if not batched(*tensors):
        return tensors
    rank = next((len(full(t)) for t in tensors if t.batched and t.known), None)
    views = []
    for t in tensors:
        if not t.batched:
            if not t.known or not t.dims or rank is not None and len(full(t)) != rank:
                return None
            t = batch_first(t)
        views.append(t)
    return views


def _concatenate(default_axis):
    def apply(ctx, args, kwargs):
        values = arg(args, kwargs, 0, "xs", kwargs.get("values"))
        where = arg(args, kwargs, 1, "axis", default_axis)
        tensors = _tensors(ctx, values)
        if tensors is not None and where is not None and plain_int(where) is None:
            views = _as_batches(tensors)
            ranks = {len(full(t)) for t in views or () if t.known}
            if views and all(t.known for t in views) and len(ranks) == 1:
                given_axis(where, ranks.pop())  # a free axis splits the path here
        if tensors is None or plain_int(where) is None:
            ctx.unread_merge(values)
            return ctx.opaque("concatenate arguments not understood")
        tensors = _as_batches(tensors)
        if tensors is None:
            ctx.unread_merge(values)
            return ctx.opaque("concatenate of a weight and a batch of another rank")
        dtype = INT if all(t.dtype == INT for t in tensors) else None
        joined = joined_on_the_last_axis(ctx, tensors, plain_int(where)) if dtype is None else None
        if joined is not None:
            return joined
        if dtype == INT or where == 0 and tensors[0].batched:
            return _joined(ctx, tensors, where, dtype)
        if not tensors[0].batched:
            return _joined_weights(ctx, tensors, where)
        # the Concatenate layer's model: the same checks (KSL104) and data-time shadows
        model = layers.lookup("keras.layers.Concatenate")
        out = ctx.apply_layer(LayerValue(model, {"axis": where}, ctx.node), ListValue(tensors))
        return out

    return apply


def _join_position(ctx, tensors, where, dtype):
    """The axis of a concatenation as a position in the whole shape, or the tensor to give
    when there is none (ranks that differ or are unknown, an axis Keras rejects)."""
    if not _same_rank(tensors):
        return unknown_rank(ctx, "concatenate", dtype)
    position = axis(where, len(full(tensors[0])))
    return ctx.opaque("concatenate axis Keras rejects") if position is None else position


def _joined_weights(ctx, tensors, where):
    """Weights (no batch axis) concatenated: checked as the Concatenate layer checks a batch
    of them, each seen with a batch axis in front, the axis one further on."""
    position = _join_position(ctx, tensors, where, None)
    if not isinstance(position, int):
        return position  # no position: why, as a tensor
    phantoms = []
    for t in tensors:
        phantom = Tensor(t.dims, channels_last=t.channels_last)
        phantom.dtype = t.dtype
        phantoms.append(phantom)
    model = layers.lookup("keras.layers.Concatenate")
    out = ctx.apply_layer(LayerValue(model, {"axis": position + 1}, ctx.node), ListValue(phantoms))
    if isinstance(out, Tensor) and out.known:
        out.batched = False
        return out
    return ctx.opaque("concatenate of weights not understood")


def _last_axis_replaced(x: Tensor, size) -> Tensor:
    out = Tensor.last_axis_replaced(x, size)
    out.dtype = x.dtype
    return out


def _joined(ctx, tensors, where, dtype):
    """Concatenation along the batch axis (checked as a merge), or of index tensors (not)."""
    position = _join_position(ctx, tensors, where, dtype)
    if not isinstance(position, int):
        return position
    if dtype != INT:
        ctx.check_merge("concat", tensors, axis=None)
    else:
        for t in tensors[1:]:
            for i, (a, b) in enumerate(zip(full(tensors[0]), full(t))):
                if i != position and a is not None and b is not None:
                    require(ctx, S.eq(a, b))
    shape = full(tensors[0])
    sizes = [full(t)[position] for t in tensors]
    shape[position] = _sum(sizes)
    return result(ctx, shape, tensors[0], dtype)


def _sum(sizes):
    """The sizes added up; None where one is None (Keras does not know it when it builds)."""
    if any(size is None for size in sizes):
        return None
    out = 0
    for size in sizes:
        out = S.add(out, size)
    return out


keras_op("numpy", "concatenate")(_concatenate(0))
function("tensorflow.concat")(_concatenate(None))


@keras_op("numpy", "stack", other=("tensorflow.stack",))
def stack(ctx, args, kwargs):
    values = arg(args, kwargs, 0, "x", kwargs.get("values"))
    where = arg(args, kwargs, 1, "axis", 0)
    numbers = _numbers(values)
    if numbers is not None:
        # numbers stacked: a 1-D tensor, its one axis in the batch position
        if sequence(where) is not None or not axes_in_range(ctx, where, 1):
            return ctx.opaque("stack axis Keras rejects")
        kind = INT if all(isinstance(v, Unknown) or S.is_int_like(v) for v in numbers) else None
        return result(ctx, [len(numbers)], None, kind)
    tensors = _tensors(ctx, values)
    if tensors is None:
        return ctx.opaque("stack of unknown values")
    tensors = _as_batches(tensors)
    if tensors is None:
        return ctx.opaque("stack of a weight and a batch of another rank")
    if not _same_rank(tensors):
        return unknown_rank(ctx, "stack", None)
    shape = full(tensors[0])
    position = axis(where, len(shape) + 1)
    if position is None:
        return ctx.opaque("stack axis Keras rejects")
    for t in tensors[1:]:
        for a, b in zip(shape, full(t)):
            if a is not None and b is not None and not require(ctx, S.eq(a, b)):
                return ctx.opaque("stack of tensors of different shapes")
    shape.insert(position, len(tensors))
    dtype = INT if all(t.dtype == INT for t in tensors) else None
    return result(ctx, shape, tensors[0], dtype)


# ------------------------------------------------------------- splitting


def _pieces(ctx, x, shape, position, lengths):
    if shape is None:
        return ListValue([_last_axis_replaced(x, length) for length in lengths])
    out = []
    for length in lengths:
        piece = list(shape)
        piece[position] = length
        out.append(result(ctx, piece, x, x.dtype))
    return ListValue(out)


@keras_op("numpy", "split")
def split(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    sections = arg(args, kwargs, 1, "indices_or_sections")
    where = arg(args, kwargs, 2, "axis", 0)
    if x is None or not x.known and not (plain_int(where) == -1 and x.channels_last):
        return ctx.opaque("split of a tensor of unknown rank")
    if x.known:
        shape = full(x)
        position = axis(where, len(shape))
        if position is None:
            return ctx.opaque("split axis not understood")
        size = shape[position]
    else:
        # along the last axis, whatever the rank: pieces that follow x (ops.split(x, 2, axis=-1))
        shape, position, size = None, None, x.channels_dim()
    count = plain_int(sections)
    if count is not None:
        if count < 1:
            require(ctx, False)
            return ctx.opaque("split into no parts")
        if size is None:
            return _pieces(ctx, x, shape, position, [None] * count)
        if not require(ctx, S.eq(S.mod(size, count), 0)):
            return ctx.opaque("split of a size that does not divide")
        return _pieces(ctx, x, shape, position, [S.floordiv(size, count)] * count)
    if S.is_sym(sections) and S.is_int_like(sections):
        # as many equal parts as a size says (``ops.split(x, c // (e // 2))``): one piece,
        # repeated; unpacking the parts into names fixes their number
        if not require(ctx, sections >= 1 if size is None else S.conj(sections >= 1, S.eq(S.mod(size, sections), 0))):
            return ctx.opaque("split of a size that does not divide")
        length = None if size is None else S.floordiv(size, sections)
        return RepeatedList([], _pieces(ctx, x, shape, position, [length]).items[0], sections)
    indices = sequence(sections)
    if indices is not None and len(indices) == 1 and S.is_sym(indices[0]) and S.is_int_like(indices[0]) \
            and ctx.proves(indices[0] >= 0):
        # one cut at a size the code computes (``ops.split(t, [3 * hidden_size], axis=-1)``)
        cut = indices[0]
        if size is not None and not require(ctx, cut <= size):
            return ctx.opaque("split index past the end")
        return _pieces(ctx, x, shape, position, [cut, None if size is None else S.sub(size, cut)])
    if indices is None or not all(plain_int(i) is not None and i >= 0 for i in indices):
        return ctx.opaque("split indices not understood")
    if indices != sorted(indices):
        return ctx.opaque("split indices out of order")
    if size is not None and indices and not require(ctx, S.conj(*(i <= size for i in indices))):
        return ctx.opaque("split index past the end")
    bounds = [0] + list(indices) + [size]
    lengths = [None if end is None else S.sub(end, start) for start, end in zip(bounds, bounds[1:])]
    return _pieces(ctx, x, shape, position, lengths)


@keras_op("core", "unstack", other=("tensorflow.unstack",))
def unstack(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("value")))
    where = arg(args, kwargs, 2, "axis", 0)
    if x is None or not x.known:
        return ctx.opaque("unstack of a tensor of unknown rank")
    shape = full(x)
    position = axis(where, len(shape))
    if position is None:
        return ctx.opaque("unstack axis Keras rejects")
    count, size = plain_int(arg(args, kwargs, 1, "num")), shape[position]
    if count is not None and count >= 0:
        # Keras takes ``num`` as given; the backend splits the data only if the axis has that size
        if size is not None and not require(ctx, S.eq(size, count)):
            return ctx.opaque("unstack into another number of pieces than the axis holds")
    elif plain_int(size) is not None:
        count = size
    else:
        return ctx.opaque("unstack of an axis of unknown size")
    rest = shape[:position] + shape[position + 1:]
    return ListValue([result(ctx, rest, x, x.dtype) for _ in range(count)])


# ------------------------------------------------------------ repeating


@keras_op("numpy", "tile", other=("tensorflow.tile",))
def tile(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("input")))
    repeats = arg(args, kwargs, 1, "repeats", kwargs.get("multiples"))
    if x is None or not x.known:
        return ctx.opaque("tile of a tensor of unknown rank")
    single = _count(ctx, repeats)
    counts = [single] if single is not NOT_A_SIZE else _shape(ctx, repeats)
    if counts is None:
        return ctx.opaque("tile repeats not understood")
    shape = full(x)
    if len(shape) > len(counts):
        counts = [1] * (len(shape) - len(counts)) + counts
    else:
        shape = [1] * (len(counts) - len(shape)) + shape
    for count in counts:
        if count is not None and not require(ctx, count >= 0):
            return ctx.opaque("tile by a negative count")
    # a count Keras does not know (``ops.shape(x)[0]``) gives a size it does not know
    return result(ctx, [None if size is None or count is None else S.mul(size, count)
                        for size, count in zip(shape, counts)], x, x.dtype)


@keras_op("numpy", "repeat", other=("tensorflow.repeat",))
def repeat(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("input")))
    repeats = arg(args, kwargs, 1, "repeats")
    where = arg(args, kwargs, 2, "axis")
    if x is None or not x.known:
        return ctx.opaque("repeat of a tensor of unknown rank")
    single = _count(ctx, repeats)
    if repeats is None:
        counts = [None]
    else:
        counts = [single] if single is not NOT_A_SIZE else _shape(ctx, repeats)
    if counts is None or len(counts) != 1 and any(c is None for c in counts):
        # one count Keras does not know (``ops.repeat(token, ops.shape(x)[0], axis=0)``) is
        # a size it does not know
        return ctx.opaque("repeat counts not understood")
    shape = full(x)
    if where is None:
        return result(ctx, [None], x, x.dtype)  # flattened, the batch included
    position = axis(where, len(shape))
    if position is None:
        return ctx.opaque("repeat axis Keras rejects")
    size = shape[position]
    if size is None:
        return result(ctx, shape, x, x.dtype)
    if len(counts) == 1:
        shape[position] = None if counts[0] is None else S.mul(size, counts[0])
    else:
        if not require(ctx, S.eq(size, len(counts))):
            return ctx.opaque("repeat counts of another length")
        shape[position] = _sum(counts)
    return result(ctx, shape, x, x.dtype)


@keras_op("numpy", "broadcast_to", other=("tensorflow.broadcast_to",))
def broadcast_to(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("input")))
    target = _shape(ctx, arg(args, kwargs, 1, "shape"))
    if x is None or target is None:
        return ctx.opaque("broadcast_to arguments not understood")
    if not x.known and not x.choose_rank(len(target) - 1):
        # (a free input is given the target's rank, so its sizes are held to the target's)
        return result(ctx, target, x, x.dtype)
    shape = full(x)
    if len(shape) > len(target):
        return ctx.opaque("broadcast_to a lower rank")
    if broadcast(ctx, [shape, target]) is None:
        return ctx.opaque("broadcast_to a shape Keras rejects")
    # each size must become the target's (a broadcast may only stretch ones)
    for size, wanted in zip(shape[::-1], target[::-1]):
        if size is not None and wanted is not None and not require(ctx, S.disj(S.eq(size, 1), S.eq(size, wanted))):
            return ctx.opaque("broadcast_to a shape Keras rejects")
    return result(ctx, target, x, x.dtype)


# ------------------------------------------------------------------- padding


def _pad_widths(ctx, value, rank):
    single = int_value(value)
    if single is not None:
        return [(single, single)] * rank
    items = sequence(value)
    if not items:
        return None
    if int_value(items[0]) is not None:
        pair = [int_value(item) for item in items]
        if len(pair) not in (1, 2) or any(p is None for p in pair):
            return None
        return [(pair[0], pair[-1])] * rank
    pairs = []
    for item in items:
        pair = sequence(item)
        if pair is None or len(pair) not in (1, 2) or any(int_value(p) is None for p in pair):
            return None
        pairs.append((int_value(pair[0]), int_value(pair[-1])))
    if len(pairs) == 1:
        return pairs * rank
    return pairs if len(pairs) == rank else None


@keras_op("numpy", "pad", other=("tensorflow.pad",))
def pad(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("tensor")))
    widths = arg(args, kwargs, 1, "pad_width", kwargs.get("paddings"))
    if x is None or not x.known:
        return ctx.opaque("pad of a tensor of unknown rank")
    shape = full(x)
    pairs = _pad_widths(ctx, widths, len(shape))
    if pairs is None:
        return ctx.opaque("pad widths not understood")
    for before, after in pairs:
        if not (require(ctx, before >= 0) and require(ctx, after >= 0)):
            return ctx.opaque("negative padding")
    return result(ctx, [None if size is None else S.add(size, S.add(before, after))
                        for size, (before, after) in zip(shape, pairs)], x, x.dtype)


# ------------------------------------------------------------------ gathering


def _index_shape(ctx, value):
    """The full shape of an index argument: a tensor, an int, or a list of ints."""
    if isinstance(value, Tensor):
        return full(value) if value.known else None
    if int_value(value) is not None:
        return []
    items = sequence(value)
    if items is not None and all(int_value(i) is not None for i in items):
        return [len(items)]
    return None


@keras_op("numpy", "take")
def take(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    given = arg(args, kwargs, 1, "indices")
    indices = _index_shape(ctx, given)
    where = arg(args, kwargs, 2, "axis")
    if x is None or indices is None:
        return ctx.opaque("take arguments not understood")
    if where is None:
        return result(ctx, indices, x, x.dtype, batched(given))
    if not x.known:
        return unknown_rank(ctx, "take", x.dtype)
    shape = full(x)
    position = axis(where, len(shape))
    if position is None:
        return ctx.opaque("take axis Keras rejects")
    if position == 0 and x.batched:
        # a lookup in a weight is one in a tensor with no batch axis (``ops.take(embeddings,
        # ids, axis=0)``); one in a batch would be along its batch axis
        return ctx.opaque("take along axis 0")
    return result(ctx, shape[:position] + indices + shape[position + 1:], x, x.dtype, batched(x, given))


@keras_op("numpy", "take_along_axis")
def take_along_axis(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    indices = tensor(ctx, arg(args, kwargs, 1, "indices"))
    where = arg(args, kwargs, 2, "axis")
    if x is None or indices is None or not x.known or not indices.known:
        return ctx.opaque("take_along_axis of a tensor of unknown rank")
    shape, index_shape = full(x), full(indices)
    if where is None:
        shape = [None]
        position = 0
    else:
        position = axis(where, len(shape))
    if position is None or len(shape) != len(index_shape):
        return ctx.opaque("take_along_axis arguments Keras rejects")
    shape[position] = index_shape[position]
    out = broadcast(ctx, [shape, index_shape])
    if out is None:
        return ctx.opaque("take_along_axis shapes Keras rejects")
    return result(ctx, out, x, x.dtype, batched(x, indices))


@keras_op("core", "slice")
def slice_(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "inputs"))
    starts = arg(args, kwargs, 1, "start_indices")
    sizes = _shape(ctx, arg(args, kwargs, 2, "shape"))
    if x is None or sizes is None:
        return ctx.opaque("slice arguments not understood")
    if not x.known and not x.with_rank(len(sizes) - 1):
        return ctx.opaque("slice of a tensor of another rank")
    shape = full(x)
    if len(shape) != len(sizes):
        return ctx.opaque("slice of a tensor of another rank")
    begin = sequence(starts)
    out = []
    for i, (size, wanted) in enumerate(zip(shape, sizes)):
        if not (isinstance(wanted, int) and wanted == -1):
            out.append(wanted)
        elif size is None or begin is None or int_value(begin[i]) is None:
            out.append(None)
        else:
            out.append(S.sub(size, int_value(begin[i])))
    return result(ctx, out, x, x.dtype)


@keras_op("core", "slice_update", "scatter_update")
def slice_update(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "inputs"))
    return ctx.opaque("update of a non-tensor") if x is None else same_shape(ctx, x, x.dtype)


@keras_op("numpy", "ravel")
def ravel(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x"))
    if x is None:
        return ctx.opaque("ravel of a non-tensor")
    return result(ctx, [None if x.batched or not x.known else total(x.dims)], x, x.dtype)
