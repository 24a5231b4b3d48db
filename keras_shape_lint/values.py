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

    __slots__ = ("dims", "label", "free", "channels_last", "_channels", "_source", "_drop", "_tail", "shadow",
                 "dtype", "origin", "batched")

    def __init__(self, dims, label: str = "", free: bool = False, channels_last: bool = True):
        self.dims = tuple(dims) if dims is not None else None
        self.label = label
        self.free = free
        self.channels_last = channels_last
        self._channels = None
        # while the rank is unknown: the tensor whose leading axes this one shares (a root, whose
        # own ``_source`` is None), how many of that root's last axes it leaves out (``_drop``),
        # and the sizes that follow them (``_tail``).  A root's ``_tail`` holds the last axes
        # read so far (fresh sizes); it has at least that many.
        self._source = None
        self._drop = 0
        self._tail = ()
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
        out = cls.follow(source, 1, (size,))
        if out is None and source.known:
            return cls((size,))  # (a tensor with no axis but its batch: a vector of one size)
        return out

    @classmethod
    def follow(cls, source: "Tensor", drop: int, tail=()):
        """``source`` without its last ``drop`` axes, followed by the sizes ``tail``, even
        while its rank is unknown (then the result's rank follows it).  None where that
        cannot be said: a channels-first tensor of unknown rank, or fewer axes than ``drop``."""
        tail = tuple(tail)
        if source.known:
            if len(source.dims) < drop:
                return None
            return cls(source.dims[:len(source.dims) - drop] + tail)
        if not source.channels_last:
            if (drop, len(tail)) != (1, 1):
                return None
            tensor = cls(None, channels_last=False)
            tensor._channels, tensor._source, tensor._drop = tail[0], source, 1
            return tensor
        root = source.rank_root()
        if root is source:
            base_drop, base_tail = 0, ()
        else:
            base_drop, base_tail = source._drop, source._tail
        if drop <= len(base_tail):
            new_drop, new_tail = base_drop, base_tail[:len(base_tail) - drop] + tail
        else:
            new_drop, new_tail = base_drop + drop - len(base_tail), tail
        if root.known:
            return cls.follow(root, new_drop, new_tail)
        if new_drop and root.axis_from_end(new_drop) is None:
            return None
        tensor = cls(None)
        tensor._source, tensor._drop, tensor._tail = root, new_drop, new_tail
        tensor._channels = new_tail[-1] if new_tail else None
        return tensor

    def axis_from_end(self, k: int):
        """The size of axis ``-k`` (``k >= 1``) of ``dims``, even while the rank is unknown: a
        tensor of unknown rank then has at least ``k`` axes besides its batch axis, the least
        rank any later use must give it.  None where that cannot be said."""
        if k < 1:
            return None
        if self.known:
            return self.dims[-k] if k <= len(self.dims) else None
        if not self.channels_last:
            return self.channels_dim() if k == 1 and self._source is None else None
        if self._source is not None:
            if k <= len(self._tail):
                return self._tail[len(self._tail) - k]
            return self._source.axis_from_end(k - len(self._tail) + self._drop)
        while len(self._tail) < k:
            at = len(self._tail) + 1
            size = self._var("channels") if at == 1 else self._var(str(-at))
            self._tail = (size,) + self._tail
        self._channels = self._tail[-1]
        return self._tail[len(self._tail) - k]

    def least_dims(self, fill, rank: int = 2):
        """A root's dims at the least rank its uses allow, and at least ``rank``: its last
        axes as read so far, after sizes ``fill``.  None for any other tensor of unknown rank."""
        if self.known:
            return self.dims
        if self._source is not None or not self.channels_last:
            return None
        self.channels_dim()
        return (fill,) * max(0, rank - len(self._tail)) + self._tail

    def frame(self):
        """``(root, drop, tail)`` of a tensor of unknown rank (channels last): the root's axes but
        its last ``drop``, then ``tail``.  None for any other tensor."""
        if self.known or not self.channels_last:
            return None
        if self._source is None:
            return self, 0, ()
        return self._source, self._drop, self._tail

    def axis_tail(self) -> tuple:
        """A root's last axes read so far (sizes, the last its channels)."""
        return self._tail

    def rank_offset(self):
        """This tensor's rank less its root's, while both are unknown (0 for a root)."""
        if self.known or self._source is None:
            return 0
        return len(self._tail) - self._drop

    def __repr__(self) -> str:
        if self.dims is None:
            return f"Tensor(?{self.label})"
        return "Tensor(" + ", ".join(S.show(d) for d in self.dims) + ")"

    @property
    def known(self) -> bool:
        if self.dims is None and self._source is not None and self._source.known:
            self.with_rank(self._source.rank - self._drop + len(self._tail) if self.channels_last else self._source.rank)
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
        if rank < (0 if self._source is not None else 1):  # (x[..., 0] of a batch of vectors has no axis left)
            return False
        if self._source is not None:
            if not self.channels_last:
                if not self._source.with_rank(rank):
                    return False
                self.dims = (self._channels,) + self._source.dims[1:]
                return True
            if not self._source.with_rank(rank + self._drop - len(self._tail)):
                return False
            source = self._source.dims
            self.dims = source[:len(source) - self._drop] + self._tail
            return True
        if self.channels_last:
            self.channels_dim()
            if rank < len(self._tail):
                return False
            spatial = [self._var(str(i + 1)) for i in range(rank - len(self._tail))]
            self.dims = tuple(spatial) + self._tail
        else:
            spatial = [self._var(str(i + 2)) for i in range(rank - 1)]
            self.dims = (self.channels_dim(),) + tuple(spatial)
        return True

    def choose_rank(self, rank: int = 2) -> bool:
        """Give a free input whose rank the code never fixed ``rank`` dims (by default a
        sequence of feature vectors, the rank witnesses give such inputs): a choice its
        caller may make, taken when an operation needs a rank.  False for any other tensor."""
        root = self.rank_root()
        if self.known or not root.free or root.known:
            return False
        return root.with_rank(rank - self.rank_offset()) and self.known

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
        if self.channels_last:
            return self.axis_from_end(1)
        if self._channels is None:
            self._channels = self._var("channels")
        return self._channels

    @property
    def rank(self):
        return len(self.dims) if self.known else None


def choose_common_rank(tensors) -> bool:
    """Tensors that follow free inputs of unknown rank, one input each, meeting in a merge:
    their caller's choice of ranks, taken as one rank for all, the least each input allows
    and at least 2 (a sequence of vectors, the rank witnesses give such inputs).  False
    (nothing chosen) for any other tensors."""
    roots = [t.rank_root() for t in tensors]
    if any(t.known or not t.channels_last or not r.free or r.known for t, r in zip(tensors, roots)):
        return False
    if len({id(r) for r in roots}) != len(roots):
        return False
    rank = max([2] + [max(1, len(r.axis_tail())) + t.rank_offset() for t, r in zip(tensors, roots)])
    return all(t.choose_rank(rank) for t in tensors)


def shared_frame(tensors):
    """Tensors of unknown rank (channels last) that follow one root and have one rank:
    ``(root, drop, tails)``, where each tensor is the root's axes but its last ``drop``
    followed by its own tail, all tails of one length.  The axes before the tails are the
    root's own in every tensor, so only the tails may differ.  None otherwise."""
    if not tensors or any(t.known or not t.channels_last for t in tensors):
        return None
    root = tensors[0].rank_root()
    if any(t.rank_root() is not root for t in tensors) or len({t.rank_offset() for t in tensors}) != 1:
        return None
    own = [(t._drop, t._tail) if t is not root else (0, ()) for t in tensors]
    drop = max(d for d, _ in own)
    tails = []
    for d, tail in own:
        lead = tuple(root.axis_from_end(k) for k in range(drop, d, -1))
        tails.append(lead + tuple(tail))
    return root, drop, tails


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
    if tensor.shadow is not None:
        out.shadow = batch_first(tensor.shadow)  # its sizes on data go with it
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
        view = Tensor.last_axis_replaced(like, weight.dims[-1])
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
                 "_length", "config", "input", "_sequence", "_derived", "_none")

    def __init__(self, label: str = "", free: bool = False, reason: str = ""):
        self.label = label
        self.free = free
        self.reason = reason
        self.origin = None if free else provenance.here(reason)
        self._str = None
        self._sequence = None  # whether the caller passes a list (``isinstance(x, list)``)
        self._items = None  # used as a sequence: index -> the item, itself free
        self._length = None
        self.config = False  # a layer's constructor argument: a setting, not an input tensor
        self.input = False  # an argument of a layer's call() with no default: an input tensor
        self._tensor = None
        self._int = None
        self._bool = None
        self.used_as = None
        self._derived = None  # how its int view follows from others' (set by :meth:`derive_int`)
        self._none = None  # an opaque value's ``is None``, once asked

    def __repr__(self) -> str:
        return f"Unknown({self.label!r}, free={self.free})"

    def as_tensor(self, channels_last: bool = True, label: str | None = None) -> Tensor:
        if self._tensor is None:
            self._tensor = Tensor(None, self.label if label is None else label, self.free, channels_last)
            self._tensor.origin = self.origin
            self.used_as = self.used_as or "tensor"
        return self._tensor

    def as_int(self):
        if self._int is None and self._derived is not None:
            self._int = self._derived()
        if self._int is None:
            self._int = S.free_int(self.label) if self.free else S.opaque_int(origin=self.origin)
        if self.used_as in (None, "unread"):
            # an int now, though it went somewhere unread before (``heads * head_size`` of two
            # unknowns, then ``head_size // 2``): a witness writes it down as one
            self.used_as = "int"
        return self._int

    def derive_int(self, make) -> None:
        """Its int view, should it be used as one, is ``make()`` (``length1 + length2`` of two
        values of unknown type: used as a size, both were ints and the sum is theirs)."""
        self._derived = make

    def as_bool(self):
        if self._bool is None:
            self._bool = S.free_bool(self.label) if self.free else S.opaque_bool(origin=self.origin)
            self.used_as = self.used_as or "bool"
        return self._bool

    def is_none(self):
        """``self is None``: False for a free parameter without a default (a caller passes a
        real argument); for an opaque value a condition nothing decides, one per value, so
        that a second test of it on the same path agrees with the first."""
        if self.free:
            return False
        if self._none is None:
            self._none = S.opaque_bool(origin=self.origin)
        return self._none

    def as_str(self):
        """A free string (compared with literals); None for an opaque value."""
        if not self.free:
            return None
        if self._str is None:
            self._str = S.free_str(self.label)
            self.used_as = self.used_as or "str"
        return self._str

    def is_sequence(self):
        """``isinstance(x, (list, tuple))`` of a free value: the caller chooses (a witness
        passes a list exactly where it is true)."""
        if self._sequence is None:
            self._sequence = S.free_bool(f"isinstance({self.label}, list)")
        return self._sequence

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

    def used_as_mapping(self) -> None:
        """``inputs.get("points")``, ``inputs.values()``: the caller passes a dict, which no
        view taken before (a tensor, say) stands for, and a witness cannot write down."""
        self.used_as = "unread"

    def mark(self, kind: str) -> None:
        self.used_as = self.used_as or kind


def opaque(reason: str = "") -> Unknown:
    return Unknown(reason=reason)


_SET_ON_SOME_PATHS = "an attribute that paths joined here did not all set"


class Guarded:
    """What an instance attribute (or a local) holds after two paths that left it different
    were joined (:func:`state.guarded_join`): ``(guard, texts, value)`` triples, each guard a
    tuple of the terms of the conditions under which it holds that value, ``texts`` the
    decisions that took those paths (as messages give them), and the value ``ABSENT`` where
    those paths never set it.  Reading it takes the path apart again, one path for each guard
    its conditions allow; nothing is lost."""

    __slots__ = ("alternatives",)

    def __init__(self, alternatives):
        self.alternatives = alternatives


ABSENT = type("Absent", (), {"__repr__": lambda self: "ABSENT", "__slots__": ()})()


def set_on_some_paths() -> Unknown:
    """What an attribute holds after paths that did not all set it were joined: reading it
    raises on some of them, which is not known here."""
    return Unknown(reason=_SET_ON_SOME_PATHS)


def is_set_on_some_paths(value) -> bool:
    return isinstance(value, Unknown) and value.reason == _SET_ON_SOME_PATHS


def opaque_truthy(reason: str = "") -> Unknown:
    """A value nobody knows that is neither None nor false (a layer's name)."""
    return opaque_of_truth(True, reason)


def opaque_of_truth(truth: bool, reason: str = "") -> Unknown:
    """A value nobody knows whose truth is ``truth`` (a true one is not None either)."""
    value = Unknown(reason=reason)
    value._bool = truth
    if truth:
        value._none = False
    return value


UNKNOWN_PART = "\u2026"  # how UnknownText writes a part nobody knows


class UnknownText(str):
    """The text of an f-string with a part nobody knows, the unknown parts written ``…``.

    A name or a message (``f"{prefix}_conv"``) stays a string, so that ``name is None`` and
    ``name + "_bn"`` are decided; code that reads a string's letters as instructions (an
    einsum equation) must not read this one's.  Joined with more text it stays unknown.

    ``real`` is the text Python makes, where each part is known after all (a number:
    ``f"P{level}"`` with ``level`` 3).  The placeholder text keeps the layers a loop makes
    alike whatever their names; comparisons and dict keys read the real text (:func:`dict_key`)."""

    def __new__(cls, text: str, real: str | None = None):
        made = super().__new__(cls, text)
        made.real = real
        return made

    def __add__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        return UnknownText(str.__add__(self, other), _joined(self, other))

    def __radd__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        return UnknownText(str.__add__(other, self), _joined(other, self))


def real_text(text: str) -> str | None:
    """The text Python makes of ``text``: itself, or an UnknownText's ``real`` (None where unknown)."""
    return text.real if isinstance(text, UnknownText) else str(text)


def _joined(left: str, right: str) -> str | None:
    a, b = real_text(left), real_text(right)
    return None if a is None or b is None else a + b


def text_unknown(key) -> bool:
    """Is ``key`` text some part of which nobody knows (``f"P{level}"`` of an unknown level)?
    As a dict key it may be any of the keys stored, or none: a lookup of it reads nothing."""
    return isinstance(key, UnknownText) and key.real is None


def dict_key(key):
    """The key Python stores ``key`` under: an f-string's real text where it is known."""
    if isinstance(key, UnknownText) and key.real is not None:
        return key.real
    return key


class ListValue:
    """A mutable Python list (copied when a path forks)."""

    __slots__ = ("items",)

    def __init__(self, items=()):
        self.items = list(items)

    def __repr__(self) -> str:
        return f"ListValue({self.items!r})"

    def forget_items(self, reason: str) -> None:
        """The list keeps its length, but which item is where is no longer known."""
        self.items = [opaque(reason) for _ in self.items]


class RepeatedList:
    """A list built by a loop whose every later iteration appended an equal item:
    ``items``, then ``count`` (a size, possibly symbolic, >= 0) more copies of ``item``,
    then ``tail``, what was appended after the loop (the branch of a pyramid pooled apart).

    Not a :class:`ListValue`, on purpose: code that needs every element (a
    ``Concatenate`` of the list, ``Sequential``) sees an unknown value, while a
    ``for`` loop, ``len`` and indexing read it (see the loops mixin).  A mutating
    method spoils it (``spoiled``): it is then an unknown list.
    """

    __slots__ = ("items", "item", "count", "spoiled", "tail")

    def __init__(self, items, item, count, tail=()):
        self.items = list(items)
        self.item = item
        self.count = count
        self.spoiled = False
        self.tail = list(tail)

    def __repr__(self) -> str:
        return f"RepeatedList({self.items!r} + [{self.item!r}] * {self.count} + {self.tail!r})"


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

    __slots__ = ("loader", "path", "member", "_value", "_key")

    def __init__(self, loader, path: str, member: str | None = None):
        self.loader, self.path, self.member = loader, path, member
        self._value = self._key = None

    def resolve(self):
        if self._value is not None and not self.loader.charge(self._key):
            return opaque(f"unreadable project module {self.path}")  # the step budget is spent
        if self._value is None:
            info = self.loader.load(self.path)
            if info is None:
                # not kept: a refusal for lack of time belongs to this analysis, not the next
                return opaque(f"unreadable project module {self.path}")
            self._key = self.loader.loaded_key
            if self.member is None:
                self._value = ModuleValue(info)
            else:
                self._value = info.scope.get(self.member, opaque(f"{self.member} not found in {self.path}"))
        if isinstance(self._value, LazyImport):
            # a package's ``__init__`` that passes on a name of its own submodule
            # (``from ._batch_normalization import BatchNormalization``)
            return self._value.resolve()
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

    def mark_built(self) -> None:
        """Built (by a first call or ``build()``), where nothing sized weights this analysis follows."""
        if self.built is None:
            self.built = (None, {})


@dataclass(eq=False)
class BuiltinValue:
    """A Python builtin or library function the interpreter models."""

    name: str
    fn: Any = None


@dataclass(eq=False)
class Partial:
    """``functools.partial(func, *args, **kwargs)``: calling it calls ``func`` with those
    arguments before the call's own (its keywords overridden by the call's)."""

    func: Any
    args: tuple
    kwargs: dict


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
    """``a:b:c``; ``data_time``: a bound written in the code is None when the model is built
    (``x[:, :ops.shape(y)[1]]`` with y's length unknown), so Keras slices the whole axis then,
    and only the data fixes where it ends."""

    __slots__ = ("lower", "upper", "step", "data_time")

    def __init__(self, lower, upper, step, data_time=False):
        self.lower, self.upper, self.step = lower, upper, step
        self.data_time = data_time


ELLIPSIS = Ellipsis


class ShapeOf:
    """``x.shape`` / ``int_shape(x)``: the batch-inclusive shape of a tensor.

    Kept lazy so ``x.shape[-1]`` works before the rank of ``x`` is known.  ``dynamic``: read by
    ``ops.shape(x)`` (or ``tf.shape``) in a layer's call(), whose sizes Keras does not know are
    values (:func:`symbolic.batch_size`, :func:`symbolic.run_time_size`) where ``x.shape`` and
    ``int_shape(x)`` give None.
    """

    __slots__ = ("tensor", "dynamic")

    def __init__(self, tensor: Tensor, dynamic: bool = False):
        self.tensor = tensor
        self.dynamic = dynamic

    def as_tuple(self):
        """The whole shape, None for the sizes Keras does not know (as a shape Keras reads)."""
        if not self.tensor.known:
            return None
        return tuple(full_dims(self.tensor))

    def sizes(self):
        """The sizes code reads one by one (indexed, unpacked): where the shape was read at run
        time, those Keras does not know are values (the batch size, a sequence's length)."""
        found = self.as_tuple()
        if found and self.dynamic and any(size is None for size in found):
            found = tuple(size if size is not None else S.batch_size() if at == 0 and self.tensor.batched
                          else S.run_time_size() for at, size in enumerate(found))
        return found


def spread_shape(shape: "ShapeOf", rest: list):
    """``(*ops.shape(x)[:-1], n)``: the shape of a tensor of unknown rank spread first in a
    tuple, more sizes after it, is the shape of a tensor that follows that one with those
    sizes last (a -1 among them stays, for ``reshape`` to read).  None where an item is no size."""
    sizes = []
    for item in rest:
        if isinstance(item, Unknown):
            item = item.as_int()
        if item is not None and (isinstance(item, bool) or not S.is_int_like(item)):
            return None
        sizes.append(item)
    follower = Tensor.follow(shape.tensor, 0, sizes)
    return None if follower is None else ShapeOf(follower, shape.dynamic)


class Results(list):
    """Several ``(state, value)`` outcomes of one call (it forked the path)."""


def hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
