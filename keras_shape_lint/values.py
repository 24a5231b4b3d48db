"""Symbolic values the interpreter computes with.

Plain Python values (int, float, str, bool, None, tuple) stand for
themselves; z3 terms stand for ints and bools that depend on inputs.  The
classes below cover what Python literals cannot: tensors with symbolic
shapes, values whose type is only learnt from their use (free parameters and
opaque results), mutable containers, functions, classes and Keras objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import provenance
from . import symbolic as S


class Tensor:
    """A symbolic tensor.  ``dims`` excludes the batch axis.

    Each dim is a Python int, a z3 int term, or ``None`` (a size Keras itself
    leaves unknown until data flows).  ``dims`` is ``None`` while the rank is
    unknown; :meth:`with_rank` fixes it in place, so every alias of a free
    or opaque tensor sees the same dims.
    """

    __slots__ = ("dims", "label", "free", "channels_last", "_channels", "_source", "shadow", "dtype", "origin",
                 "batched")

    def __init__(self, dims, label: str = "", free: bool = False, channels_last: bool = True):
        self.dims = tuple(dims) if dims is not None else None
        self.label = label
        self.free = free
        self.channels_last = channels_last
        self._channels = None
        self._source = None
        # where Keras knows a size only when data flows (None), the same tensor with
        # those sizes as symbols, so a mismatch that only data reveals can be seen
        self.shadow = None
        # "int" for integer index and mask tensors (positions, shapes, comparisons): arithmetic
        # on them is not a model merge; None when the dtype is a float or not known
        self.dtype = None
        self.origin = None  # for an opaque tensor: the provenance.Origin of what made it
        # False for a layer's weight (``add_weight``): ``dims`` is then its whole shape, with no
        # batch axis in front; it broadcasts against an input's trailing axes
        self.batched = True

    @classmethod
    def last_axis_replaced(cls, source: "Tensor", size) -> "Tensor":
        """``source`` with its last axis resized (Dense), even while its rank is unknown."""
        if source.known:
            return cls(source.dims[:-1] + (size,))
        tensor = cls(None)
        tensor._channels = size
        tensor._source = source
        return tensor

    def __repr__(self) -> str:
        if self.dims is None:
            return f"Tensor(?{self.label})"
        return "Tensor(" + ", ".join(S.show(d) for d in self.dims) + ")"

    @property
    def known(self) -> bool:
        return self.dims is not None

    def _var(self, what: str):
        name = f"{what}({self.label})" if what == "channels" else f"{self.label}.shape[{what}]"
        if self.free:
            return S.free_int(name)
        return S.opaque_int(self.label and f"<{name}>", self.origin)

    def with_rank(self, rank: int) -> bool:
        """Give an unknown-rank tensor ``rank`` dims; False if it has another rank."""
        if self.dims is not None:
            return len(self.dims) == rank
        if rank < 1:
            return False
        if self._source is not None:
            if not self._source.with_rank(rank):
                return False
            self.dims = self._source.dims[:-1] + (self._channels,)
            return True
        channels = self.channels_dim()
        if self.channels_last:
            spatial = [self._var(str(i + 1)) for i in range(rank - 1)]
            self.dims = tuple(spatial) + (channels,)
        else:
            spatial = [self._var(str(i + 2)) for i in range(rank - 1)]
            self.dims = (channels,) + tuple(spatial)
        return True

    def choose_rank(self, rank: int = 2) -> bool:
        """Give a free input whose rank the code never fixed ``rank`` dims (by default a
        sequence of feature vectors, the rank witnesses give such inputs): a choice its
        caller may make, taken when an operation needs a rank.  False for any other tensor."""
        root = self.rank_root()
        if self.known or not root.free or root.known:
            return False
        return root.with_rank(rank) and self.with_rank(rank)

    def rank_root(self) -> "Tensor":
        """The tensor whose rank this one takes once it is known (itself, for most)."""
        tensor = self
        while tensor.dims is None and tensor._source is not None:
            tensor = tensor._source
        return tensor

    def channels_dim(self):
        """The channel size, available even before the rank is known."""
        if self.dims is not None:
            return self.dims[-1] if self.channels_last else self.dims[0]
        if self._channels is None:
            self._channels = self._var("channels")
        return self._channels

    @property
    def rank(self):
        return None if self.dims is None else len(self.dims)


def full_dims(tensor: Tensor):
    """The whole shape of a known tensor as a list: the batch axis (``None``, which Keras
    never knows at build time) and ``dims`` for a batch of activations, ``dims`` alone for a
    weight and what is computed from weights only."""
    if not tensor.known:
        return None
    return list(tensor.dims) if not tensor.batched else [None] + list(tensor.dims)


def from_full_dims(shape, batched: bool, channels_last: bool = True, dtype=None) -> Tensor:
    """The tensor of whole shape ``shape``: a batch of activations when ``batched`` or when
    its first size is one Keras does not know (``ops.tile(token, (ops.shape(x)[0], 1, 1))``:
    a first axis of unknown size is the batch axis as far as any check goes, none compares
    it), else a tensor with no batch axis.  A batched result drops its first size."""
    shape = list(shape)
    out = Tensor(shape[1:] if batched or (shape and shape[0] is None) else shape, channels_last=channels_last)
    out.batched = batched or bool(shape) and shape[0] is None
    out.dtype = dtype
    return out


def batch_first(tensor: Tensor) -> Tensor:
    """A weight handed to a layer: Keras takes its first axis for the batch axis."""
    if tensor.batched or not tensor.known or not tensor.dims:
        return tensor
    out = Tensor(tensor.dims[1:], channels_last=tensor.channels_last)
    out.dtype = tensor.dtype
    return out


def batched_views(tensors: list) -> list:
    """``tensors`` with each weight (``batched`` False) seen as an input-like tensor that
    broadcasts the same way against the first input among them: leading 1s, or, while that
    input's rank is unknown, its rank with the weight's last axis as channels.  A weight
    whose rank cannot be placed stays as it is."""
    like = next((t for t in tensors if t.batched), None)
    if like is None or all(t.batched for t in tensors):
        return tensors
    return [t if t.batched else _batched_view(t, like) for t in tensors]


def _batched_view(weight: Tensor, like: Tensor) -> Tensor:
    if not weight.known or not weight.dims:
        return weight
    if like.known:
        dims = tuple(weight.dims[-like.rank:]) if weight.rank > like.rank else weight.dims
        view = Tensor((1,) * (like.rank - len(dims)) + tuple(dims), channels_last=like.channels_last)
    elif like.channels_last:
        view = Tensor.last_axis_replaced(like.rank_root(), weight.dims[-1])
    else:
        return weight
    view.dtype = weight.dtype
    return view


class Unknown:
    """A value whose Python type is learnt from how it is used.

    ``free`` unknowns are parameters a caller may choose (entry-point
    arguments); the rest are opaque results of code the analyser cannot read.
    Each view (tensor, int, bool) is created once and cached, so aliases agree.
    """

    __slots__ = ("label", "free", "_tensor", "_int", "_bool", "_str", "used_as", "reason", "origin", "_items",
                 "_length", "config", "input")

    def __init__(self, label: str = "", free: bool = False, reason: str = ""):
        self.label = label
        self.free = free
        self.reason = reason
        self.origin = None if free else provenance.here(reason)
        self._str = None
        self._items = None  # used as a sequence: index -> the item, itself free
        self._length = None
        self.config = False  # a layer's constructor argument: a setting, not an input tensor
        self.input = False  # an argument of a layer's call() with no default: an input tensor
        self._tensor = None
        self._int = None
        self._bool = None
        self.used_as = None

    def __repr__(self) -> str:
        return f"Unknown({self.label!r}, free={self.free})"

    def as_tensor(self, channels_last: bool = True) -> Tensor:
        if self._tensor is None:
            self._tensor = Tensor(None, self.label, self.free, channels_last)
            self._tensor.origin = self.origin
            self.used_as = self.used_as or "tensor"
        return self._tensor

    def as_int(self):
        if self._int is None:
            self._int = S.free_int(self.label) if self.free else S.opaque_int(origin=self.origin)
            self.used_as = self.used_as or "int"
        return self._int

    def as_bool(self):
        if self._bool is None:
            self._bool = S.free_bool(self.label) if self.free else S.opaque_bool(origin=self.origin)
            self.used_as = self.used_as or "bool"
        return self._bool

    def as_str(self):
        """A free string (compared with literals); None for an opaque value."""
        if not self.free:
            return None
        if self._str is None:
            self._str = S.free_str(self.label)
            self.used_as = self.used_as or "str"
        return self._str

    def item(self, index: int) -> "Unknown":
        """Item ``index`` of a free sequence (``stackwise_filters[0]``): free too, its type
        learnt from its use."""
        if self._items is None:
            self._items = {}
            self.used_as = self.used_as or "list"
        if index not in self._items:
            self._items[index] = Unknown(f"{self.label}[{index}]", free=True)
        return self._items[index]

    def length(self):
        """``len()`` of a free sequence."""
        if self._length is None:
            self._length = S.free_int(f"len({self.label})")
            self.used_as = self.used_as or "list"
            if self._items is None:
                self._items = {}
        return self._length

    def unread(self) -> None:
        """It went where the analyser cannot follow (an unknown function, an operation on
        unknown values): a caller must pass something real there, of a type nobody learnt."""
        self.used_as = self.used_as or "unread"

    def mark(self, kind: str) -> None:
        self.used_as = self.used_as or kind


def opaque(reason: str = "") -> Unknown:
    return Unknown(reason=reason)


class ListValue:
    """A mutable Python list (copied when a path forks)."""

    __slots__ = ("items",)

    def __init__(self, items=()):
        self.items = list(items)

    def __repr__(self) -> str:
        return f"ListValue({self.items!r})"


class RepeatedList:
    """A list built by a loop whose every later iteration appended an equal item:
    ``items``, then ``count`` (a size, possibly symbolic, >= 0) more copies of ``item``.

    Not a :class:`ListValue`, on purpose: code that needs every element (a
    ``Concatenate`` of the list, ``Sequential``) sees an unknown value, while a
    ``for`` loop, ``len`` and indexing read it (see the loops mixin).  A mutating
    method spoils it (``spoiled``): it is then an unknown list.
    """

    __slots__ = ("items", "item", "count", "spoiled")

    def __init__(self, items, item, count):
        self.items = list(items)
        self.item = item
        self.count = count
        self.spoiled = False

    def __repr__(self) -> str:
        return f"RepeatedList({self.items!r} + [{self.item!r}] * {self.count})"


class DictValue:
    __slots__ = ("items",)

    def __init__(self, items=None):
        self.items = dict(items or {})

    def __repr__(self) -> str:
        return f"DictValue({self.items!r})"


@dataclass(eq=False)
class FunctionValue:
    """A user function or lambda: its libcst node and the scope it closes over."""

    node: Any
    name: str
    closure: Any  # the defining Scope
    defaults: dict = field(default_factory=dict)
    is_lambda: bool = False
    bound_self: Any = None
    qualname: str = ""
    module: Any = None  # the ModuleInfo it was defined in
    kind: str = ""  # "static", "class" or "property" for methods so decorated


@dataclass(eq=False)
class ClassValue:
    node: Any
    name: str
    bases: tuple
    attrs: dict = field(default_factory=dict)
    keras_base: str = ""  # qualified Keras base ("keras.layers.Layer", "keras.Model")


@dataclass(eq=False)
class InstanceValue:
    cls: ClassValue
    attrs: dict = field(default_factory=dict)


@dataclass(eq=False)
class Imported:
    """A name bound by an import, normalised (``keras.layers.Conv2D``, ``numpy.mean``)."""

    qualname: str


@dataclass(eq=False)
class ModuleValue:
    """A module of the user's project, loaded and executed (``from . import blocks``)."""

    info: Any


class LazyImport:
    """An import of the user's project, read and executed on first use of its name.

    Most imports in a large module are never used on the paths analysed, and
    parsing a module costs far more than finding its file.
    """

    __slots__ = ("loader", "path", "member", "_value")

    def __init__(self, loader, path: str, member: str | None = None):
        self.loader, self.path, self.member = loader, path, member
        self._value = None

    def resolve(self):
        if self._value is None:
            info = self.loader.load(self.path)
            if info is None:
                # not kept: a refusal for lack of time belongs to this analysis, not the next
                return opaque(f"unreadable project module {self.path}")
            if self.member is None:
                self._value = ModuleValue(info)
            else:
                self._value = info.scope.get(self.member, opaque(f"{self.member} not found in {self.path}"))
        return self._value


@dataclass(eq=False)
class LayerValue:
    """A constructed Keras layer: its model and bound constructor arguments."""

    model: Any
    config: dict
    call_node: Any = None
    display: str = ""
    # once built: (rank, {axis from the end: size}) of the input axes its weights were sized by
    built: Any = None


@dataclass(eq=False)
class BuiltinValue:
    """A Python builtin or library function the interpreter models."""

    name: str
    fn: Any = None


@dataclass(eq=False)
class SuperProxy:
    """``super()`` in a method of ``owner``, called on ``receiver``."""

    receiver: Any
    owner: Any


@dataclass(eq=False)
class BoundMethod:
    receiver: Any
    name: str


class Slice:
    __slots__ = ("lower", "upper", "step")

    def __init__(self, lower, upper, step):
        self.lower, self.upper, self.step = lower, upper, step


ELLIPSIS = Ellipsis


class ShapeOf:
    """``x.shape`` / ``int_shape(x)``: the batch-inclusive shape of a tensor.

    Kept lazy so ``x.shape[-1]`` works before the rank of ``x`` is known.
    """

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor):
        self.tensor = tensor

    def as_tuple(self):
        if not self.tensor.known:
            return None
        return tuple(full_dims(self.tensor))


class Results(list):
    """Several ``(state, value)`` outcomes of one call (it forked the path)."""


def hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
