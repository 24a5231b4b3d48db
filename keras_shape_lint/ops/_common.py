"""Shape arithmetic shared by the tensor-function families.

Tensor functions see the batch axis: ``axis=0`` of ``ops.sum`` is the batch, and
``ops.reshape(x, (-1, 8))`` may fold it into another axis.  A :class:`Tensor`'s
``dims`` leave it out, so each function works on the *full* shape, ``[None] + dims``
(Keras knows no batch size when a model is built), and the result drops its first
axis again.  Whatever ends up first is the batch position: its size is never
tracked, which loses sizes (``ops.arange(n)`` is a 1-D tensor whose length is not
kept) but never states a wrong one.

Dims are Python ints, z3 int terms (sizes Keras knows but the analysis holds as
symbols) and ``None`` (unknown to Keras until data flows).

A weight made by ``add_weight`` has no batch axis (``Tensor.batched`` is False): its
full shape is its ``dims``, and so is that of what is computed from weights and sizes
alone (``ops.arange(n)``, ``ops.expand_dims(self.class_token, 0)``).  A result is a
batch when one of its tensor arguments is, or when its first size is one Keras does
not know: ``ops.tile(self.class_token, (ops.shape(x)[0], 1, 1))``, whose first size
is the batch size (``None``), is a batch of class tokens.

A call Keras refuses for a reason that does not depend on a tensor's rank (a
negative padding) ends the path (``require``); one that depends on the rank (an
axis out of range) gives an opaque result only.

An axis that is a free int (``def f(x, axis=1): ops.expand_dims(x, axis)``) of a tensor
whose rank is known takes one of finitely many values: :func:`axes` raises
:class:`AxisChoice`, and the call's dispatch runs the function once for each value
Keras accepts that the path allows (:func:`split_on_axis`), on a path that says
``axis == value``; no path is left for a value Keras rejects.  A function whose shape
does not depend on the axis (``softmax``) only requires it in range
(:func:`axes_in_range`).  An opaque axis is not split.
"""

from __future__ import annotations

from .. import symbolic as S
from ..values import ListValue, Tensor, Unknown, from_full_dims, full_dims
from . import OPS, OpModel

INT = "int"  # Tensor.dtype of integer and boolean tensors (positions, shapes, masks)

_INT_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


def keras_op(family: str, *names: str, other=()):
    """Register ``keras.ops.name`` and ``keras.ops.<family>.name`` for each name, and each
    fully qualified name in ``other`` (``tensorflow.reshape``).

    The display name (``add()`` in messages) is the first name.
    """

    def register(apply):
        model = OpModel(names[0], apply)
        for name in names:
            OPS[f"keras.ops.{name}"] = model
            OPS[f"keras.ops.{family}.{name}"] = model
        for qualname in other:
            OPS[qualname] = model
        return apply

    return register


def function(*qualnames: str, accepts_none: bool = False):
    """Register a function that is not in ``keras.ops`` under fully qualified names
    (``accepts_none``: one whose first argument may be None, which a tensor's may not)."""

    def register(apply):
        model = OpModel(qualnames[0].rsplit(".", 1)[-1], apply, accepts_none)
        for name in qualnames:
            OPS[name] = model
        return apply

    return register


# ------------------------------------------------------------------ arguments


def tensor(ctx, value) -> Tensor | None:
    """The value as a tensor (an opaque value is taken to be one), else None."""
    if isinstance(value, Unknown):
        value = value.as_tensor(ctx.channels_last(None))
    if isinstance(value, Tensor):
        return value
    _refuse_ragged(ctx, value)
    return None


def _refuse_ragged(ctx, value) -> None:
    """A tuple or list holding tensors of different ranks, or a tensor and ``None``, where one
    tensor goes (a layer's ``(outputs, scores)`` handed on as its output): Keras cannot make
    one tensor of it and raises, so the path ends there."""
    items = sequence(value)
    if not items or not any(isinstance(item, Tensor) for item in items):
        return
    if any(item is None for item in items):
        ctx.assume(False)
        return
    ranks = {len(item.dims) if isinstance(item, Tensor) and item.dims is not None else None for item in items}
    if None not in ranks and len(ranks) > 1:
        ctx.assume(False)


def operand(ctx, value):
    """An argument that may be a tensor or a number: the tensor, the number, or None.

    An opaque value already used as a number (``hidden_dim`` that sized a layer)
    stays one (``ops.sqrt(hidden_dim)``); any other opaque value is taken to be
    a tensor, as a merge's operand is.
    """
    if isinstance(value, Unknown):
        if value.used_as in ("int", "bool"):
            return value.as_int()
        return value.as_tensor(ctx.channels_last(None))
    if isinstance(value, bool):
        return int(value)
    if is_number(value) or isinstance(value, Tensor):
        return value
    _refuse_ragged(ctx, value)
    return None


def is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or S.is_sym(value)


def int_value(value):
    """A Python int or z3 int term, else None (a bool is not a size)."""
    if isinstance(value, bool):
        return None
    if S.is_int_like(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


NOT_A_SIZE = object()


def written_size(value):
    """One size a user wrote in a shape: an int, a z3 term, ``None``, or an opaque int (None for
    a size worked out from one ``ops.shape(x)`` read at run time, the batch size or another
    Keras does not know); ``NOT_A_SIZE`` for anything else."""
    if value is None or S.from_run_time(value):
        return None
    if isinstance(value, Unknown):
        return value.as_int()
    found = int_value(value)
    return found if found is not None else NOT_A_SIZE


def plain_int(value):
    """A concrete Python int (axes must be), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def sequence(value):
    """The items of a tuple, list or list value, else None."""
    if isinstance(value, ListValue):
        return list(value.items)
    if isinstance(value, (tuple, list)):
        return list(value)
    return None


MAX_SPLIT_RANK = 8  # a free axis of a tensor of at most this rank splits the path (16 values)


class AxisChoice(Exception):
    """An axis that is a free int (a caller's choice) where the rank is known.

    Raised by :func:`axes` and :func:`given_axis`; the call's dispatch
    (:func:`split_on_axis`) runs the function again once for each value in ``values``
    the path condition allows, with that value in place of ``term`` and ``term == value``
    on the path.  A value Keras rejects has no path: Keras raises there.
    """

    def __init__(self, term, values):
        super().__init__(f"free axis {S.show(term)}")
        self.term = term
        self.values = values


def _free_int(value) -> bool:
    """A z3 int term a caller chooses: none of its variables is opaque or dynamic."""
    if not S.is_sym(value) or not S.is_int_like(value):
        return False
    return not any(S.is_opaque_name(name) or name.startswith(S.DYNAMIC_PREFIX) for name in S.variables(value))


def _choose(items, rank: int) -> None:
    """Raise :class:`AxisChoice` for the free int among ``items`` (axes of a full shape of
    ``rank`` axes, legal from ``-rank`` to ``rank - 1``).  Several free ints in one list of
    axes (``axis=(a, b)``) would multiply the paths: they are not split."""
    if rank > MAX_SPLIT_RANK:
        return
    free = [item for item in items if _free_int(item)]
    if len(free) == 1:
        raise AxisChoice(free[0], range(-rank, rank))


def given_axis(value, rank: int | None):
    """``value`` as a concrete int (an axis as the call gave it), else None; a free int
    when ``rank`` (the number of legal positions from the front) is known splits the path."""
    if rank is not None:
        _choose([value], rank)
    return plain_int(value)


def axes_in_range(ctx, value, rank: int) -> bool:
    """Does Keras accept ``value`` as axes of a full shape of ``rank`` axes, for a function
    whose result's shape does not depend on which axis it is (``softmax``)?  A free int is
    required to be in range (the path goes on where it is) rather than split."""
    items = sequence(value)
    items = [value] if items is None else items
    free = [item for item in items if _free_int(item)]
    rest = [item for item in items if not _free_int(item)]
    if rest and axes(rest, rank) is None:
        return False
    for item in free:
        if not require(ctx, S.conj(item >= -rank, item < rank)):
            return False
    return True


def split_on_axis(choice: AxisChoice, args, kwargs, st, interp, rerun) -> list | None:
    """The paths of a call whose axis is free: ``rerun(state, args, kwargs)`` for each value
    of ``choice.term`` the path condition allows, on a path of its own that says so, with the
    value in place of the term among the arguments.  A parameter's default goes first (the
    first path to fail at a merge gives the finding its witness).

    Returns the reruns' [(state, value)]: none when no legal value is feasible (Keras raises
    on every path); None when the term is not among the arguments (nothing to replace).
    """
    def replaced(v):
        return [_substituted(a, choice.term, v) for a in args], {k: _substituted(a, choice.term, v)
                                                                 for k, a in kwargs.items()}

    probe_args, probe_kwargs = replaced(0)
    if all(a is b for a, b in zip(probe_args, args)) and all(probe_kwargs[k] is kwargs[k] for k in kwargs):
        return None
    defaults = [p.default for p in interp.analysis.free_params
                if S.is_sym(p.value) and p.value.eq(choice.term) and plain_int(p.default) is not None]
    # the default, then positions from the front, then from the back (-1 first)
    order = sorted(choice.values, key=lambda v: (v not in defaults, v < 0, abs(v)))
    values = [v for v in order if interp.feasible(st, S.eq(choice.term, v))]
    out = []
    for i, v in enumerate(values):
        path = st if i == len(values) - 1 else st.fork()
        decision = f"{S.show(choice.term)}={v}"
        path.add(S.eq(choice.term, v), None if decision in path.decisions else decision, branch=True)
        out.extend(rerun(path, *replaced(v)))
    return out


def _substituted(value, term, replacement):
    """``value`` with ``term`` replaced by ``replacement`` in tuples, lists and list values
    (copies; nothing given is changed).  ``value`` itself when nothing is."""
    if S.is_sym(value):
        return replacement if value.eq(term) else value
    if isinstance(value, ListValue):
        items = [_substituted(v, term, replacement) for v in value.items]
        if all(a is b for a, b in zip(items, value.items)):
            return value
        return ListValue(items)
    if isinstance(value, (tuple, list)):
        items = [_substituted(v, term, replacement) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return type(value)(items)
    return value


def axes(value, rank: int):
    """``axis`` as a tuple of non-negative positions in a full shape of ``rank`` axes.

    None when it is not concrete ints, or out of range (Keras raises).  A free int among
    them splits the path (:class:`AxisChoice`).
    """
    items = sequence(value)
    if items is None:
        items = [value]
    _choose(items, rank)
    out = []
    for item in items:
        item = plain_int(item)
        if item is None or not -rank <= item < rank:
            return None
        out.append(item % rank)
    if len(set(out)) != len(out):
        return None
    return tuple(out)


def axis(value, rank: int):
    """One axis of a full shape of ``rank`` axes, non-negative; None when not understood."""
    found = axes(value, rank)
    return None if found is None or len(found) != 1 or sequence(value) is not None else found[0]


def dtype_kind(value):
    """``INT`` for integer and boolean dtypes, None for floats or a dtype not known."""
    if isinstance(value, str):
        return INT if value in _INT_DTYPES else None
    name = getattr(value, "qualname", None)  # numpy.int32, tensorflow.bool ...
    if isinstance(name, str) and name.rsplit(".", 1)[-1] in _INT_DTYPES:
        return INT
    return None


# -------------------------------------------------------------------- results


def full(x: Tensor) -> list:
    """The whole shape: the batch axis (which Keras never knows at build time) first, for a
    batch; a weight's shape as it is."""
    return full_dims(x)


def batched(*tensors) -> bool:
    """Is one of these (tensors or other arguments) a batch?"""
    return any(isinstance(t, Tensor) and t.batched for t in tensors)


def result(ctx, shape, like: Tensor | None = None, dtype=None, batch=None):
    """A tensor with full shape ``shape``, laid out like ``like``: a batch when ``batch``
    (by default: when ``like`` is one) or when its first size is unknown, else a tensor
    with no batch axis."""
    shape = list(shape)
    if not shape:
        return scalar()
    if batch is None:
        batch = like is not None and like.batched
    # Keras never sizes the batch axis: a first axis of known size is another axis (expand_dims
    # at 0, stack, a reduction over the batch, a reshape to a leading size)
    batch = batch and shape[0] is None
    channels_last = like.channels_last if like is not None else ctx.channels_last(None)
    return from_full_dims(shape, batch, channels_last, dtype)


def same_shape(ctx, x: Tensor, dtype=None):
    """A new tensor of ``x``'s shape (while ``x``'s rank is unknown, one that follows it)."""
    if x.known:
        out = Tensor(x.dims, channels_last=x.channels_last)
        out.batched = x.batched
    elif x.channels_last:
        out = Tensor.last_axis_replaced(x, x.channels_dim())
    else:
        return unknown_rank(ctx, "channels-first function", dtype)
    out.dtype = dtype
    return out


def scalar():
    """A rank-0 tensor: a number nothing determines (it broadcasts as a number does)."""
    return S.opaque_int()


def unary(keep_dtype: bool):
    """A function of one tensor whose result has its shape (and, with ``keep_dtype``, its dtype)."""
    from . import arg

    def apply(ctx, args, kwargs):
        x = operand(ctx, arg(args, kwargs, 0, "x"))
        if x is None:
            return ctx.opaque("element-wise function of a non-tensor")
        if not isinstance(x, Tensor):
            return x if keep_dtype else scalar()
        return same_shape(ctx, x, x.dtype if keep_dtype else None)

    return apply


def unknown_rank(ctx, name: str, dtype=None):
    out = ctx.opaque(f"{name} of a tensor of unknown rank")
    out.dtype = dtype
    return out


# --------------------------------------------------------------- broadcasting


def broadcast_dim(ctx, a, b):
    """Keras's broadcast of two sizes, assuming it succeeds (Keras raises otherwise).

    ``None`` against a size that may be 1 stays ``None``: Keras keeps ``None`` then.
    """
    if _is_one(a):
        return b
    if _is_one(b):
        return a
    if a is None:
        return b if b is None or ctx.proves(S.ne(b, 1)) else None
    if b is None:
        return a if ctx.proves(S.ne(a, 1)) else None
    if a is b or not S.is_sym(a) and not S.is_sym(b):
        return a
    if ctx.proves(S.eq(a, b)):
        return a
    return S.ite(S.eq(a, 1), b, a)


def broadcast_ok(a, b):
    """The condition under which Keras broadcasts two sizes (True when one is unknown)."""
    if a is None or b is None:
        return True
    if not S.is_sym(a) and not S.is_sym(b):
        return a == b or a == 1 or b == 1
    return S.disj(S.eq(a, b), S.eq(a, 1), S.eq(b, 1))


def broadcast(ctx, shapes, checked=False):
    """The broadcast of full shapes, with Keras's requirement assumed; None if Keras raises.

    ``checked``: a merge check has already made the path assume what Keras requires.
    """
    rank = max(len(s) for s in shapes)
    padded = [[1] * (rank - len(s)) + list(s) for s in shapes]
    out = padded[0]
    for shape in padded[1:]:
        if not checked:
            for a, b in zip(out, shape):
                if not require(ctx, broadcast_ok(a, b)):
                    return None
        out = [broadcast_dim(ctx, a, b) for a, b in zip(out, shape)]
    return out


def _is_one(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == 1


# ---------------------------------------------------------------- requirements


def require(ctx, term) -> bool:
    """Keras raises unless ``term`` holds: assume it; False when it is plainly false."""
    if term is True:
        return True
    ctx.assume(term)
    return term is not False


def total(dims):
    """The product of sizes; None if one is unknown."""
    out = 1
    for dim in dims:
        if dim is None:
            return None
        out = S.mul(out, dim)
    return out


def is_one(value) -> bool:
    return _is_one(value)


def index_broadcast(a: Tensor, b: Tensor) -> Tensor:
    """The broadcast of two integer tensors, with no merge check and no assumption.

    A size is kept where both sides agree on it or one side is 1; elsewhere it is
    ``None`` (unknown), which never produces a finding.
    """
    out = Tensor(None, channels_last=a.channels_last)
    out.dtype = INT
    if not a.known or not b.known:
        return out
    left, right = full(a), full(b)  # numpy aligns full shapes: a batch axis may meet another axis
    rank = max(len(left), len(right))
    left = [1] * (rank - len(left)) + left
    right = [1] * (rank - len(right)) + right
    dims = []
    for x, y in zip(left, right):
        if _is_one(x):
            dims.append(y)
        elif _is_one(y) or x is y or _same_number(x, y):
            dims.append(x)
        else:
            dims.append(None)
    out.batched = a.batched or b.batched or bool(dims) and dims[0] is None
    out.dims = tuple(dims[1:] if out.batched else dims)
    return out


def _same_number(x, y) -> bool:
    return x is not None and y is not None and not S.is_sym(x) and not S.is_sym(y) and x == y
