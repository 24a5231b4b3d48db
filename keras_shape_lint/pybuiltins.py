"""Python builtins and standard-library functions, modelled over symbolic values."""

from __future__ import annotations

import libcst as cst

from . import symbolic as S
from .attributes import MISSING, get_attribute
from .classes import has_foreign_base, lookup_class_attribute, mro, never_set
from .dtypes import DType, DTypePolicy
from .frontend import normalise
from .keras_layer_attributes import KERAS_LAYER_ATTRIBUTES
from .state import _copy_value
from .values import (
    BuiltinValue,
    ClassValue,
    DictValue,
    FunctionValue,
    Guarded,
    Imported,
    InstanceValue,
    LayerValue,
    ListValue,
    Partial,
    RepeatedList,
    Results,
    ShapeOf,
    Slice,
    SuperProxy,
    Tensor,
    Unknown,
    UnknownText,
    is_set_on_some_paths,
    opaque,
)


class SymbolicRange:
    """``range(start, stop, step)`` with a symbolic bound."""

    __slots__ = ("start", "stop", "step")

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step

    def concrete_items(self, limit):
        if any(S.is_sym(v) for v in (self.start, self.stop, self.step)):
            return None
        values = range(self.start, self.stop, self.step)
        return list(values) if len(values) <= limit else None


class Enumerated:
    """``enumerate(sequence, start)`` of a sequence a caller passes (its length free): a
    ``for`` over it runs as over the sequence, each item paired with its number."""

    __slots__ = ("sequence", "start")

    def __init__(self, sequence, start):
        self.sequence, self.start = sequence, start


BUILTINS: dict = {}
LIBRARY: dict = {}


def builtin(*names, table=BUILTINS):
    def register(fn):
        for name in names:
            table[name] = BuiltinValue(name, fn) if table is BUILTINS else fn
        return fn

    return register


def _int_arg(value):
    if isinstance(value, Unknown):
        return value.as_int()
    if isinstance(value, bool):
        return int(value)
    if S.is_int_like(value):
        return value
    return None


@builtin("range")
def _range(calls, st, args, kwargs, node):
    bounds = [_int_arg(a) for a in args]
    if not bounds or any(b is None for b in bounds) or len(bounds) > 3:
        return opaque("range of unknown bounds")
    start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (bounds + [1])[:3]
    if not any(S.is_sym(b) for b in (start, stop, step)):
        if step == 0:
            return opaque("range step 0")
        return range(start, stop, step)
    return SymbolicRange(start, stop, step)


@builtin("slice")
def _slice(calls, st, args, kwargs, node):
    """``slice(stop)``, ``slice(start, stop[, step])``: the key ``start:stop:step`` is."""
    if not 1 <= len(args) <= 3 or kwargs:
        return opaque("slice of unknown bounds")
    bounds = [None, args[0], None] if len(args) == 1 else (list(args) + [None])[:3]
    if not all(b is None or (type(b) is int) or S.is_int_like(b) and S.is_sym(b) for b in bounds):
        return opaque("slice of unknown bounds")
    return Slice(*bounds)


@builtin("len")
def _len(calls, st, args, kwargs, node):
    value = args[0] if args else None
    items = calls.interp.iterate_concrete(value)
    if items is not None:
        return len(items)
    if isinstance(value, ShapeOf) and not value.tensor.known:
        return opaque("len of a shape of unknown rank")
    if isinstance(value, range):
        return len(value)
    if isinstance(value, RepeatedList) and not value.spoiled:
        return S.add(len(value.items) + len(value.tail), value.count)
    if isinstance(value, Unknown) and value.free and value.used_as in (None, "list"):
        length = value.length()
        st.add(length >= 0)
        return length
    return opaque("len of an unknown sequence")


@builtin("int")
def _int(calls, st, args, kwargs, node):
    if not args:
        return 0
    value = args[0]
    if isinstance(value, Unknown):
        return value.as_int()
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return opaque("int of a string")
    if isinstance(value, (int, float)) or S.is_sym(value):
        try:
            return S.truncate(value)
        except (OverflowError, ValueError):
            return opaque("int overflow")
    if value is None:
        return opaque("int(None)")
    return opaque("int of a non-number")


@builtin("float")
def _float(calls, st, args, kwargs, node):
    value = args[0] if args else 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if S.is_sym(value):
        return S.to_real(value)
    return opaque("float")


@builtin("bool")
def _bool(calls, st, args, kwargs, node):
    truth = calls.interp.truth(args[0]) if args else False
    return truth if truth is not None else opaque("bool")


@builtin("abs")
def _abs(calls, st, args, kwargs, node):
    value = _int_arg(args[0]) if args else None
    if value is None:
        return abs(args[0]) if args and isinstance(args[0], float) else opaque("abs")
    return S.ite(value >= 0, value, -value) if S.is_sym(value) else abs(value)


def _extremum(pick):
    def fn(calls, st, args, kwargs, node):
        items = args
        if len(args) == 1:
            items = calls.interp.iterate_concrete(args[0])
            if not items:
                return opaque("max/min of an unknown sequence")
        numbers = []
        for item in items:
            if isinstance(item, Unknown):
                item = item.as_int()
            if not (isinstance(item, (int, float)) or S.is_sym(item)):
                return opaque("max/min of non-numbers")
            numbers.append(item)
        if not numbers:
            return opaque("max/min of nothing")
        result = numbers[0]
        for item in numbers[1:]:
            result = pick(result, item)
        return result

    return fn


BUILTINS["max"] = BuiltinValue("max", _extremum(S.maximum))
BUILTINS["min"] = BuiltinValue("min", _extremum(S.minimum))


@builtin("ord")
def _ord(calls, st, args, kwargs, node):
    # a character's code point (tokenizers build byte tables from ``ord("!")``)
    value = args[0] if len(args) == 1 and not kwargs else None
    return ord(value) if isinstance(value, str) and len(value) == 1 else opaque("ord")


@builtin("chr")
def _chr(calls, st, args, kwargs, node):
    value = args[0] if len(args) == 1 and not kwargs else None
    if type(value) is int and 0 <= value <= 0x10FFFF:
        return chr(value)
    return opaque("chr")


@builtin("round")
def _round(calls, st, args, kwargs, node):
    value = args[0] if args else None
    if isinstance(value, (int, float)) and len(args) == 1:
        return round(value)
    if S.is_sym(value) and len(args) == 1:
        return S.round_half_even(value) if not S.is_int_like(value) else value
    return opaque("round")


@builtin("list")
def _list(calls, st, args, kwargs, node):
    if not args:
        return ListValue()
    items = calls.interp.iterate_concrete(args[0])
    return ListValue(items) if items is not None else opaque("list of an unknown sequence")


@builtin("tuple")
def _tuple(calls, st, args, kwargs, node):
    if not args:
        return ()
    items = calls.interp.iterate_concrete(args[0])
    return tuple(items) if items is not None else opaque("tuple of an unknown sequence")


@builtin("dict")
def _dict(calls, st, args, kwargs, node):
    if not args:
        return DictValue(kwargs)
    if isinstance(args[0], DictValue):
        return DictValue({**args[0].items, **kwargs})
    return opaque("dict")


@builtin("enumerate")
def _enumerate(calls, st, args, kwargs, node):
    items = calls.interp.iterate_concrete(args[0]) if args else None
    start = args[1] if len(args) > 1 else kwargs.get("start", 0)
    if items is None and isinstance(start, int) and args and isinstance(args[0], Unknown) \
            and args[0].free and (args[0].used_as in (None, "list") or args[0]._sequence is not None):
        return Enumerated(args[0], start)  # (a list where ``isinstance`` says the caller passes one)
    if items is None and isinstance(start, int) and args and isinstance(args[0], RepeatedList) \
            and not args[0].spoiled:
        return Enumerated(args[0], start)  # (a list a loop built: its items, then as many more as it ran)
    if items is None or not isinstance(start, int):
        return opaque("enumerate of an unknown sequence")
    return tuple((start + i, item) for i, item in enumerate(items))


@builtin("zip")
def _zip(calls, st, args, kwargs, node):
    sequences = [calls.interp.iterate_concrete(a) for a in args]
    if any(s is None for s in sequences):
        zipped = _zip_repeated(calls, st, args) if args and not kwargs else None
        return zipped if zipped is not None else opaque("zip of an unknown sequence")
    return tuple(zip(*sequences))


def _zip_repeated(calls, st, lists):
    """``zip`` of lists of one length that loops or ``[x] * n`` built (an MLP's
    ``zip([input_dim] + h, h + [output_dim])``, ``h = [hidden_dim] * (num_layers - 1)``): a
    list of the same kind, its first and last pairs given one by one.  On a path where the
    length is too short for that, the pairs, each length a path of its own.  None when a list
    is not of that kind, or their lengths may differ (``zip`` stops at the shortest)."""
    if not all(isinstance(r, RepeatedList) and not r.spoiled for r in lists):
        return None
    lengths = [S.add(len(r.items) + len(r.tail), r.count) for r in lists]
    if not all(calls.analysis.solver.refutes(st.pc, [S.ne(length, lengths[0])]) for length in lengths[1:]):
        return None
    length, head, tail = lengths[0], max(len(r.items) for r in lists), max(len(r.tail) for r in lists)

    def pair(position, from_end=False):
        return tuple(_nth(r, position, from_end) for r in lists)

    cases = [(length >= head + tail, RepeatedList(
        [pair(j) for j in range(head)], tuple(r.item for r in lists), S.sub(length, head + tail),
        [pair(tail - j, from_end=True) for j in range(tail)]))]
    for short in range(head + tail):
        if all(len(r.items) + len(r.tail) <= short for r in lists):
            whole = [r.items + [r.item] * (short - len(r.items) - len(r.tail)) + r.tail for r in lists]
            cases.append((S.eq(length, short), tuple(zip(*whole))))
    out = Results()
    for condition, value in cases:
        if not calls.interp.feasible(st, condition):
            continue
        if not out:
            out.append((st, value))  # the first path found goes on in ``st`` itself
            first = condition
            continue
        memo: dict = {}
        other = st.fork(memo)
        other.add(condition)
        out.append((other, _copy_value(value, memo)))
    if len(out) > 1:
        out[0][0].add(first)
    return out if len(out) != 1 else out[0][1]


def _nth(repeated: RepeatedList, position: int, from_end: bool = False):
    """The item at ``position`` (counted from 1 at the end, ``from_end``) of a list that holds at
    least its given items and enough copies of its repeated one to reach there."""
    if from_end:
        return repeated.tail[-position] if position <= len(repeated.tail) else repeated.item
    return repeated.items[position] if position < len(repeated.items) else repeated.item


@builtin("reversed")
def _reversed(calls, st, args, kwargs, node):
    items = calls.interp.iterate_concrete(args[0]) if args else None
    return tuple(reversed(items)) if items is not None else opaque("reversed")


@builtin("sum")
def _sum(calls, st, args, kwargs, node):
    items = calls.interp.iterate_concrete(args[0]) if args else None
    repeated = args[0] if args and isinstance(args[0], RepeatedList) and not args[0].spoiled else None
    if repeated is not None and repeated.tail:
        repeated = None  # (the items after the copies: not summed here)
    if repeated is not None:
        items = repeated.items + [repeated.item]  # the last one stands for ``count`` copies
    if items is None:
        return opaque("sum of an unknown sequence")
    total = args[1] if len(args) > 1 else 0
    for at, item in enumerate(items):
        item = _int_arg(item) if not isinstance(item, float) else item
        if item is None:
            return opaque("sum of non-numbers")
        if repeated is not None and at == len(items) - 1:
            item = S.mul(repeated.count, item)
        total = S.add(total, item)
    return total


@builtin("isinstance")
def _isinstance(calls, st, args, kwargs, node):
    if len(args) != 2:
        return opaque("isinstance")
    value, kinds = args
    verdicts = [_instance_of(value, kind) for kind in (kinds if isinstance(kinds, tuple) else (kinds,))]
    if any(v is True for v in verdicts):
        return True
    unknown = next((v for v in verdicts if isinstance(v, Unknown)), None)
    if unknown is not None:
        return unknown
    if any(S.is_sym(v) for v in verdicts):
        return S.disj(*verdicts)
    return False


def _python_type(value):
    """The builtin type's name of a value the analyser holds (``Tensor`` for a tensor, a
    Keras layer for a layer), or None while it is not known."""
    found = {
        bool: "bool", int: "int", float: "float", str: "str", tuple: "tuple", type(None): "NoneType",
    }.get(type(value))
    if found is not None:
        return found
    if isinstance(value, ListValue):
        return "list"
    if isinstance(value, DictValue):
        return "dict"
    if isinstance(value, (Tensor, LayerValue, InstanceValue, FunctionValue, ClassValue, DType, DTypePolicy)):
        return "object"  # none of the builtin types
    if S.is_sym(value):
        return "bool" if S.is_bool_like(value) else "int" if S.is_int_like(value) else None
    return None


def _instance_of(value, kind):
    """``isinstance(value, kind)`` for one kind: a bool, a z3 bool, or an opaque value."""
    if isinstance(kind, BuiltinValue):
        if isinstance(value, Unknown) and value.free and kind.name in ("list", "tuple") \
                and value.used_as in (None, "list"):
            return value.is_sequence()  # the caller passes a list or not
        if isinstance(value, ShapeOf) and kind.name != "tuple":
            # Keras 3 gives a tuple (``x.shape``, the shape ``build`` gets), tf.keras a TensorShape
            # and ``tf.shape`` a tensor: never a dict, a list or a number, always an object
            # (``if isinstance(input_shape, dict):`` in a build that also takes a dict of shapes)
            return kind.name == "object"
        python_type = _python_type(value)
        if python_type is None:
            return opaque("isinstance of a symbolic value")
        return (python_type == "bool" and kind.name == "int") or python_type == kind.name
    if isinstance(kind, ClassValue):
        # a class of the analysed code: only its own instances, and those of its subclasses
        if isinstance(value, InstanceValue):
            return any(c is kind or c.node is kind.node for c in mro(value.cls))
        if isinstance(value, ClassValue) or _python_type(value) is not None:
            return False
        return opaque("isinstance of an unknown value")
    return opaque("isinstance of a non-builtin type")


@builtin("str", "repr", "format")
def _str(calls, st, args, kwargs, node):
    value = args[0] if args else ""
    if isinstance(value, UnknownText):
        return value
    if isinstance(value, (int, float, str)) and not S.is_sym(value):
        return str(value)
    return opaque("str")


@builtin("print", "setattr")
def _ignored(calls, st, args, kwargs, node):
    if node is not None and len(args) == 3 and isinstance(args[0], (InstanceValue, ClassValue)):
        if isinstance(args[1], str):
            args[0].attrs[args[1]] = args[2]
    return None


@builtin("getattr")
def _getattr(calls, st, args, kwargs, node):
    if len(args) >= 2 and isinstance(args[1], str):
        value = get_attribute(calls.interp, st, args[0], args[1])
        if value is MISSING:
            return args[2] if len(args) == 3 else opaque("getattr of a missing attribute")
        if isinstance(value, Guarded):
            return opaque("getattr of an attribute set one way or another")
        if isinstance(value, Unknown) and len(args) == 3:
            return args[2]
        return value
    return opaque("getattr")


@builtin("hasattr")
def _hasattr(calls, st, args, kwargs, node):
    if len(args) != 2 or not isinstance(args[1], str):
        return opaque("hasattr")
    value, name = args
    if isinstance(value, InstanceValue):
        if name in value.attrs and (is_set_on_some_paths(value.attrs[name]) or isinstance(value.attrs[name], Guarded)):
            return opaque("hasattr of an attribute some paths set")
        if name in value.attrs or lookup_class_attribute(value.cls, name) is not None:
            return True
        if value.cls.keras_base and name in KERAS_LAYER_ATTRIBUTES:
            return True  # every Keras layer has them (a user layer inherits them)
        if not name.startswith("__") and not value.cls.keras_base and not has_foreign_base(value.cls):
            return False  # a plain class of the analysed code: only what it sets or defines
        if never_set(value, name):
            return False  # a name only the class's own code sets, which this path did not
        return opaque("hasattr")
    if isinstance(value, LayerValue):
        return True if name in KERAS_LAYER_ATTRIBUTES else opaque("hasattr of a layer")
    if isinstance(value, Imported):
        from .definitions import is_modelled  # the catalogue, read once the interpreter is whole

        # ``hasattr(keras, "version")``: a name the analyser models is one Keras has
        return True if is_modelled(normalise(f"{value.qualname}.{name}")) else opaque("hasattr of a module")
    if isinstance(value, (FunctionValue, BuiltinValue)):
        return name in _FUNCTION_ATTRIBUTES  # ``lambda x: x`` in place of a layer: no ``build``
    python = {int: int, float: float, str: str, tuple: tuple, type(None): type(None), bool: bool}.get(type(value))
    if python is None:
        python = list if isinstance(value, ListValue) else dict if isinstance(value, DictValue) else None
    if python is not None:
        return hasattr(python, name)
    return opaque("hasattr")


# what every Python function has (``callable``'s attributes): nothing a layer adds
_FUNCTION_ATTRIBUTES = frozenset(dir(lambda: None))


def _defining_class(receiver, method):
    """The class of ``receiver``'s MRO whose body defines the method ``method`` (the node of the
    ``def`` running): where ``super()`` inside it starts.  Read from the classes themselves, so
    that a class of a module read for an earlier file answers as it would in a fresh process."""
    for cls in mro(receiver.cls):
        for value in cls.attrs.values():
            if isinstance(value, FunctionValue) and value.node is method:
                return cls
    return None


@builtin("super")
def _super(calls, st, args, kwargs, node):
    if len(args) == 2:  # super(Owner, self)
        owner, receiver = args
    else:
        receiver = st.locals.get("self")
        method = st.chain[-1][2] if st.chain else None
        owner = _defining_class(receiver, method) if isinstance(receiver, InstanceValue) else None
    if not isinstance(receiver, InstanceValue):
        return opaque("super()")
    return SuperProxy(receiver, owner if isinstance(owner, ClassValue) else receiver.cls)


@builtin("callable")
def _callable(calls, st, args, kwargs, node):
    return isinstance(args[0], (FunctionValue, BuiltinValue, ClassValue)) if args else False


for _name in ("ValueError", "TypeError", "KeyError", "NotImplementedError", "RuntimeError",
              "AssertionError", "Exception", "IndexError", "object", "type", "set", "sorted",
              "map", "filter", "any", "all", "open", "exec", "eval", "iter", "next", "id", "hash",
              "vars", "globals", "locals", "input", "exit", "quit", "__import__", "compile"):
    if _name not in BUILTINS:
        BUILTINS[_name] = BuiltinValue(_name, lambda calls, st, args, kwargs, node: opaque("builtin"))


# ------------------------------------------------------------ standard library


@builtin("math.ceil", table=LIBRARY)
def _ceil(calls, st, args, kwargs, node):
    return S.ceil(args[0]) if args and (isinstance(args[0], (int, float)) or S.is_sym(args[0])) else opaque("ceil")


@builtin("math.floor", table=LIBRARY)
def _floor(calls, st, args, kwargs, node):
    if args and (isinstance(args[0], (int, float)) or S.is_sym(args[0])):
        return S.to_int(args[0]) if S.is_sym(args[0]) else int(args[0] // 1)
    return opaque("floor")


@builtin("copy.deepcopy", "copy.copy", table=LIBRARY)
def _copy(calls, st, args, kwargs, node):
    return _copy_value(args[0], {}) if args else opaque("copy")


@builtin("functools.partial", table=LIBRARY)
def _partial(calls, st, args, kwargs, node):
    if not args:
        return opaque("partial of nothing")
    return Partial(args[0], tuple(args[1:]), dict(kwargs))


@builtin("collections.namedtuple", table=LIBRARY)
def _namedtuple(calls, st, args, kwargs, node):
    """``ModelParams = namedtuple("ModelParams", ["name", "repetitions", "block"])``: a class whose
    instances hold their fields as attributes (``params.block``), made as a dataclass of those
    fields is; ``defaults=`` give the last fields theirs; ``_fields`` names them and
    ``params._replace(width=...)`` is a copy with those fields changed (methods.py)."""
    typename = args[0] if args else kwargs.get("typename")
    names = args[1] if len(args) > 1 else kwargs.get("field_names")
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    elif isinstance(names, ListValue):
        names = names.items
    if not isinstance(typename, str) or not isinstance(names, (list, tuple)) \
            or not all(isinstance(name, str) and name.isidentifier() for name in names):
        return opaque("namedtuple of fields nobody knows")
    defaults = kwargs.get("defaults", ())
    defaults = defaults.items if isinstance(defaults, ListValue) else defaults
    if not isinstance(defaults, (list, tuple)) or len(defaults) > len(names):
        return opaque("namedtuple with defaults nobody knows")
    fields = "".join(f"    {name}: object\n" for name in names) or "    pass\n"
    definition = cst.parse_statement(f"@dataclass\nclass {typename}:\n{fields}")
    attrs = dict(zip(names[len(names) - len(defaults):], defaults))
    attrs["_fields"] = tuple(names)
    return ClassValue(definition, typename, (), attrs)


@builtin("numpy.prod", "math.prod", table=LIBRARY)
def _prod(calls, st, args, kwargs, node):
    items = calls.interp.iterate_concrete(args[0]) if args else None
    if items is None:
        return opaque("prod")
    total = 1
    for item in items:
        if item is None or not (isinstance(item, int) or S.is_sym(item)):
            return opaque("prod of unknown sizes")
        total = S.mul(total, item)
    return total


@builtin("numpy.linspace", table=LIBRARY)
def _linspace(calls, st, args, kwargs, node):
    """Evenly spaced floats (drop-path schedules); concrete arguments only."""
    start, stop = (args + [None, None])[:2]
    count = args[2] if len(args) > 2 else kwargs.get("num", 50)
    numbers = (start, stop)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return opaque("linspace of unknown bounds")
    if isinstance(count, Unknown) or not isinstance(count, int) or not 0 <= count <= 4096:
        return opaque("linspace of unknown length")
    if count == 1:
        return (float(start),)
    step = (stop - start) / (count - 1)
    return tuple(float(start + i * step) for i in range(count))


# Python 2 compatibility names for the builtins (``from six.moves import xrange``)
for _name in ("range", "zip", "map", "filter"):
    if _name in BUILTINS:
        LIBRARY[f"six.moves.{_name}"] = BUILTINS[_name].fn
LIBRARY["six.moves.xrange"] = BUILTINS["range"].fn
