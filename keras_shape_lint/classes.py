"""The Python class model: method resolution over user classes and binding methods to receivers."""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from .frontend import binding_targets, walk
from .keras_layer_attributes import KERAS_LAYER_ATTRIBUTES
from .values import BuiltinValue, ClassValue, FunctionValue, InstanceValue, opaque


def bind_method(fn: FunctionValue, receiver) -> FunctionValue:
    return replace(fn, bound_self=receiver)


def mro(cls: ClassValue) -> list:
    """The user classes a lookup on ``cls`` visits, in order (breadth-first, left to right:
    Python's C3 order for the hierarchies models are written with)."""
    order, seen, queue = [], set(), [cls]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        order.append(current)
        queue.extend(b for b in current.bases if isinstance(b, ClassValue))
    return order


def lookup_class_attribute(cls: ClassValue, name: str, skip_self: bool = False, after: ClassValue | None = None):
    """Method resolution over user classes; ``after``: only the classes that follow it
    (``super()`` inside a method of ``after``); ``skip_self``: after ``cls`` itself."""
    classes = mro(cls)
    if skip_self and after is None:
        after = cls
    if after is not None:
        # the same class statement, even if its module was executed again (and its class rebuilt)
        position = next((i for i, c in enumerate(classes) if c is after or c.node is after.node), 0)
        classes = classes[position + 1:]
    for current in classes:
        if name in current.attrs:
            return current.attrs[name]
    return None


# ------------------------------------------------- catalogue layers as base classes
#
# A user class that subclasses a catalogue layer (``class Cached(MultiHeadAttention)``)
# inherits what that layer's class sets up: the attributes ``__init__`` stores, the
# sublayers ``build`` creates, private methods.  Those facts live in the layer catalogue
# (:mod:`keras_shape_lint.layers.bases`); here they are bound to an instance.

BASE_LAYER = "__base_layer__"  # instance attribute: the catalogue layer the instance is, once initialised
_FAILURES = (ArithmeticError, TypeError, ValueError, AttributeError, IndexError, KeyError)


def catalogue_base(cls: ClassValue):
    """(layer model, base-class facts) of the catalogue layer ``cls`` subclasses, or None."""
    from . import layers
    from .layers.bases import lookup_base

    if not cls.keras_base:
        return None
    model = layers.lookup(cls.keras_base)
    return None if model is None else (model, lookup_base(model.name))


def base_declares_output(cls: ClassValue) -> bool:
    """Does the catalogue layer ``cls`` subclasses declare its output (see
    :func:`keras_shape_lint.layers.bases.declares_output`)?"""
    from .layers.bases import declares_output

    found = catalogue_base(cls)
    return found is not None and declares_output(cls.keras_base, found[0].name)


def inherited_call(instance: InstanceValue):
    """The catalogue layer whose own ``call`` runs for ``instance``, or None: the class
    overrides neither ``call`` nor ``build`` nor a method the base class's facts name
    (``_compute_attention``), and the base's ``__init__`` was read."""
    from .values import LayerValue

    layer = instance.attrs.get(BASE_LAYER)
    found = catalogue_base(instance.cls)
    if not isinstance(layer, LayerValue) or found is None:
        return None
    overridable = ("call", "build", "compute_output_shape", *found[1].methods)
    if any(lookup_class_attribute(instance.cls, name) is not None for name in overridable):
        return None
    return layer


def base_attribute(instance: InstanceValue, name: str):
    """What ``instance.name`` is when only the catalogue base class defines it: a
    callable for ``__init__``, ``build`` and the base's methods; None otherwise."""
    found = catalogue_base(instance.cls)
    if found is None:
        return None
    model, base = found
    if name == "__init__":
        return BuiltinValue(f"{model.name}.__init__", lambda calls, st, args, kwargs, node: init_base(
            calls, st, instance, args, kwargs, node))
    if name == "build" and base.build is not None:
        return BuiltinValue(f"{model.name}.build", lambda calls, st, args, kwargs, node: _run(
            calls, st, instance, f"{model.name}.build", node,
            lambda ctx: base.build(ctx, instance.attrs, _bound_shapes(base.build_params, args, kwargs))))
    method = base.methods.get(name)
    if method is None and name == "call":
        # ``super().call(inputs, training=False)`` in a subclass that overrides call(): the
        # catalogue layer its __init__ configured, applied as Keras's own call would
        return BuiltinValue(f"{model.name}.call", lambda calls, st, args, kwargs, node: _base_call(
            calls, st, instance, args, kwargs, node))
    if method is None:
        return None

    def run(calls, st, args, kwargs, node):
        bound = method.bind(args, kwargs)
        if bound is None:
            return opaque(f"{model.name}.{name} with unexpected arguments")
        bound = {key: _shape_tensor(value) if key.endswith("_shape") else value for key, value in bound.items()}
        return _run(calls, st, instance, f"{model.name}.{name}", node, lambda ctx: method.apply(ctx, instance.attrs, bound))

    return BuiltinValue(f"{model.name}.{name}", run)


def _base_call(calls, st, instance: InstanceValue, args, kwargs, node):
    from .values import LayerValue

    layer = instance.attrs.get(BASE_LAYER)
    inputs = args[0] if args else kwargs.get("inputs")
    if not isinstance(layer, LayerValue) or inputs is None:
        return opaque(f"{instance.cls.name}: the base layer's call on what its __init__ left unread")
    rest = {key: value for key, value in kwargs.items() if key != "inputs"}
    return calls.apply_layer(layer, inputs, st, node, rest, list(args[1:]))


def init_base(calls, st, instance: InstanceValue, args, kwargs, node):
    """The catalogue base's ``__init__``: its arguments bound to the layer's parameters."""
    from .values import LayerValue

    model, base = catalogue_base(instance.cls)
    cfg = model.bind(list(args), dict(kwargs))
    if cfg is None:
        return None  # arguments not understood: the attributes stay unknown
    instance.attrs[BASE_LAYER] = LayerValue(model, cfg, node)
    return _run(calls, st, instance, f"{model.name}.__init__", node, lambda ctx: base.init(ctx, cfg))


def build_base_on_call(calls, st, instance: InstanceValue, call: FunctionValue, args, kwargs, node) -> bool:
    """Keras's build on the first call: the base's ``build`` with each input's shape,
    matched by name (``query`` -> ``query_shape``).  False where Keras's build raises: a
    ``call(self, *args, **kwargs)`` takes its inputs in a catch-all, whose shapes Keras does
    not pass on, and the base's build reads ``None`` for its input's shape."""
    from .layers.weights import WEIGHT_AXES

    model, base = catalogue_base(instance.cls)
    params = call.node.params
    names = [p.name.value for p in list(params.posonly_params) + list(params.params)][1:]
    if not names and isinstance(params.star_arg, cst.Param) and model.name in WEIGHT_AXES:
        return False  # weights sized by the input (BatchNormalization): its build indexes None
    if base.build is None:
        return True
    instance.attrs["__built__"] = True
    given = dict(zip(names, args))
    given.update(kwargs)
    if len(base.build_params) == 1 and names:
        # a build of one parameter gets the first input's shape, whatever the call names it
        given = {base.build_params[0][: -len("_shape")]: given.get(names[0])}
    shapes = {name: _shape_tensor(given.get(name[: -len("_shape")]), shape=False) for name in base.build_params}
    _run(calls, st, instance, f"{model.name}.build", node, lambda ctx: base.build(ctx, instance.attrs, shapes))
    return True


def _bound_shapes(params, args, kwargs) -> dict:
    given = dict(zip(params, args))
    given.update(kwargs)
    return {name: _shape_tensor(given.get(name)) for name in params}


def _shape_tensor(value, shape: bool = True):
    """The tensor a shape stands for (``query_shape``: a ``ShapeOf`` or a tuple with the batch
    axis first), or the tensor itself when ``shape`` is False; None when there is none."""
    from .keras_api import batch_shape_dims
    from .values import ShapeOf, Tensor, Unknown

    if isinstance(value, Unknown) and not shape:
        value = value.as_tensor()
    if isinstance(value, Tensor):
        return value
    if value is None or not shape:
        return None
    if isinstance(value, ShapeOf):
        return value.tensor
    dims = batch_shape_dims(value)
    return Tensor(dims) if dims is not None else None


def _run(calls, st, instance: InstanceValue, display: str, node, step):
    """Run one base-class step; its attributes go on the instance, its sublayers are built."""
    from .layer_context import LayerContext

    ctx = LayerContext(calls, st, node, display)
    try:
        built = step(ctx)
    except _FAILURES as error:
        calls.analysis.note_internal(f"{display}: {type(error).__name__}: {error}")
        return ctx.opaque(f"{display} failed")
    instance.attrs.update(built.attrs)
    for layer, x in built.builds:
        calls.keep_build(layer, x, st)
    return built.result


def rank_build_inputs(instance: InstanceValue, shapes) -> None:
    """Before a subclass's own ``build`` runs on these shapes: a free input of unknown rank
    takes the rank the catalogue base gives such inputs (its build reads ``len(shape)``)."""
    from .values import ShapeOf

    found = catalogue_base(instance.cls)
    rank = found[1].input_rank if found is not None else None
    if rank is None:
        return
    tensors = [s.tensor for s in shapes if isinstance(s, ShapeOf)]
    known = next((t.rank for t in tensors if t.known), rank)
    for tensor in tensors:
        if not tensor.known:
            tensor.choose_rank(known)


def has_foreign_base(cls, allowed=lambda base: base is None) -> bool:
    """Does a class build on one the analyser does not read (from another package), other
    than those ``allowed`` admits?"""
    return any(not isinstance(base, ClassValue) and not allowed(base) for c in mro(cls) for base in c.bases)


def never_set(instance: InstanceValue, name: str) -> bool:
    """Does Python raise AttributeError reading ``instance.name``?  True for a name that only
    the code of the instance's classes sets (``self.name = ...`` in one of their methods), and
    that no path so far set on this instance (``if dropout > 0: self.dropout_layer = ...``,
    then ``if dropout: self.dropout_layer(x)`` with a negative rate).  Not said of names a
    Keras layer has itself, private names, or classes built on ones the analyser does not read."""
    cls = instance.cls
    if name in instance.attrs or name.startswith("_") or name in KERAS_LAYER_ATTRIBUTES:
        return False
    if has_foreign_base(cls, _plain_keras_base):
        return False  # a class the analyser does not read, or a catalogue layer's own attributes
    classes = mro(cls)
    if any(_sets_names_dynamically(c.node) for c in classes):
        return False  # setattr(self, computed, ...), self.__dict__, or a class __getattr__
    return any(name in _set_on_self(c.node) for c in classes)


# the Keras bases whose instances have no attributes but Keras's layer attributes
_PLAIN_KERAS_BASES = frozenset(("keras.layers.Layer", "keras.Layer", "keras.Model", "keras.models.Model"))


def _plain_keras_base(base) -> bool:
    from .frontend import normalise
    from .values import Imported

    return isinstance(base, Imported) and normalise(base.qualname) in _PLAIN_KERAS_BASES


_SET_ON_SELF: dict = {}  # id of a class statement -> (the statement, the names its methods set on self)
_DYNAMIC: dict = {}  # id of a class statement -> (the statement, whether it sets or finds names at run time)

# what lets an instance have attributes no ``self.name = ...`` statement names
_DYNAMIC_HOOKS = frozenset(("__getattr__", "__getattribute__", "__setattr__", "__dict__"))
_DYNAMIC_CALLS = frozenset(("setattr", "vars"))


def _sets_names_dynamically(node) -> bool:
    """Does the class statement ``node`` define ``__getattr__`` (or ``__getattribute__``,
    ``__setattr__``), touch ``__dict__``, or call ``setattr``/``vars``?  Then which names an
    instance has is not read from its ``self.x = ...`` statements."""
    return _per_class(_DYNAMIC, node, _has_dynamic_hook)


def _has_dynamic_hook(node) -> bool:
    for current in walk(node):
        kind = type(current)
        if ((kind is cst.FunctionDef and current.name.value in _DYNAMIC_HOOKS)
                or (kind is cst.Attribute and current.attr.value in _DYNAMIC_HOOKS)
                or (kind is cst.Call and type(current.func) is cst.Name and current.func.value in _DYNAMIC_CALLS)):
            return True
    return False


def _set_on_self(node) -> frozenset:
    """The attributes the methods of the class statement ``node`` set on ``self``."""
    return _per_class(_SET_ON_SELF, node, lambda statement: frozenset(
        target.attr.value for target in binding_targets(statement)
        if type(target) is cst.Attribute and type(target.value) is cst.Name and target.value.value == "self"))


def _per_class(table: dict, node, compute):
    """``compute(node)`` of a class statement, kept in ``table`` while that very statement
    is the one its id names (a later file's class may reuse the id)."""
    found = table.get(id(node))
    if found is None or found[0] is not node:
        found = table[id(node)] = (node, compute(node))
    return found[1]


def dataclass_fields(cls: ClassValue) -> list | None:
    """The fields of a class made with ``@dataclass`` (or ``@dataclasses.dataclass(...)``), in
    the order its ``__init__`` takes them (those of base dataclasses first): their names;
    None for any other class."""
    if not _is_dataclass(cls.node):
        return None
    fields: list = []
    for current in reversed(mro(cls)):
        if not isinstance(current.node, cst.ClassDef) or not _is_dataclass(current.node):
            continue
        for stmt in current.node.body.body:
            for small in getattr(stmt, "body", ()) if type(stmt) is cst.SimpleStatementLine else ():
                if type(small) is cst.AnnAssign and type(small.target) is cst.Name \
                        and not _class_variable(small.annotation.annotation):
                    if small.target.value not in fields:
                        fields.append(small.target.value)
    return fields


def init_dataclass(instance: InstanceValue, fields: list, args, kwargs) -> None:
    """What the ``__init__`` a dataclass is given sets: each field from its argument, by position
    or name, else from its default (a ``field(...)`` default is a value nobody knows)."""
    for position, name in enumerate(fields):
        if position < len(args):
            value = args[position]
        elif name in kwargs:
            value = kwargs[name]
        else:
            value = lookup_class_attribute(instance.cls, name)
            if value is None and not any(name in current.attrs for current in mro(instance.cls)):
                value = opaque(f"field {name} of a dataclass")  # (a default of None is None)
        instance.attrs[name] = value


def _is_dataclass(node) -> bool:
    for decorator in getattr(node, "decorators", ()):
        target = decorator.decorator
        if type(target) is cst.Call:
            target = target.func
        name = target.attr.value if type(target) is cst.Attribute else getattr(target, "value", None)
        if name == "dataclass":
            return True
    return False


def _class_variable(annotation) -> bool:
    if type(annotation) is cst.Subscript:
        annotation = annotation.value
    name = annotation.attr.value if type(annotation) is cst.Attribute else getattr(annotation, "value", None)
    return name == "ClassVar"
