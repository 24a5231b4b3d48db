"""Attribute access: imported modules, tensors, instances, containers."""

from __future__ import annotations

import os

from . import dtypes
from . import symbolic as S
from .classes import base_attribute, bind_method, lookup_class_attribute, never_set
from .frontend import normalise
from .keras_api import KERAS_VERSION, _shape_dims
from .layers.weights import UNDECIDED, weight_attribute
from .state import _copy_value
from .values import (
    BoundMethod,
    BuiltinValue,
    ClassValue,
    DictValue,
    FunctionValue,
    Imported,
    LazyImport,
    InstanceValue,
    LayerValue,
    ListValue,
    RepeatedList,
    ModuleValue,
    ShapeOf,
    SuperProxy,
    Tensor,
    Unknown,
    full_dims,
    opaque,
    opaque_truthy,
)

MISSING = object()  # an attribute Python does not find: AttributeError, and the path ends there

_CONTAINER_METHODS = {
    ListValue: {"append", "extend", "insert", "pop", "copy", "reverse", "index", "count", "sort", "remove", "clear"},
    DictValue: {"get", "items", "keys", "values", "copy", "pop", "update", "setdefault", "clear"},
}


def _add_weight(calls, st, args, kwargs, node):
    """``self.add_weight(shape=...)``: a tensor of that shape, with no batch axis."""
    shape = kwargs.get("shape", args[0] if args else None)
    dims = _shape_dims(shape) if shape is not None else ()
    if dims is None:
        return opaque("add_weight of an unknown shape")
    for size in dims:
        if S.is_sym(size):
            # Keras refuses a negative size and builds an empty weight, but nobody configures
            # one on purpose and TensorFlow then adds it another way (BiasAdd raises, not the
            # merge): a weight has at least one element on every path a finding is shown on
            st.add(size >= 1)
    weight = Tensor(dims)
    weight.batched = False
    return weight


KERAS_LAYER_METHODS = {"add_weight": BuiltinValue("add_weight", _add_weight)}


_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})  # a dict's, and no tensor's


def _submodule(info, name: str):
    """``pkg.layers`` where the package's ``__init__`` did not bind ``layers``: its submodule,
    which ``import pkg.layers`` made an attribute of the package."""
    loader = info.loader
    path = None
    if loader is not None and os.path.basename(str(info.path)) == "__init__.py":
        path = loader.resolve(name, 1)
    if path is None:
        return opaque(f"{name} not found in a project module")
    return LazyImport(loader, path).resolve()


def get_attribute(interp, st, value, name: str):
    if isinstance(value, Imported):
        qualname = normalise(f"{value.qualname}.{name}")
        return KERAS_VERSION if qualname == "keras.__version__" else Imported(qualname)
    if isinstance(value, ModuleValue):
        found = value.info.scope.get(name)
        if isinstance(found, LazyImport):
            return found.resolve()
        return found if found is not None or name in value.info.scope else _submodule(value.info, name)
    if isinstance(value, Unknown) and value.free is False and value.used_as is None:
        return opaque(f"attribute {name} of an unknown value")
    if isinstance(value, Unknown):
        if name in _MAPPING_METHODS and value.free:
            value.used_as_mapping()
        if name == "shape":
            return ShapeOf(value.as_tensor())
        if name == "get_shape":
            return BuiltinValue(name, _get_shape(value.as_tensor()))
        if name == "dtype" and value.input:  # an input of the entry layer's call()
            return dtypes.tensor_dtype(interp.analysis, st, value.as_tensor())
        return opaque(f"attribute {name} of an unknown value")
    if isinstance(value, Tensor):
        if name == "shape":
            return ShapeOf(value)
        if name == "get_shape":
            return BuiltinValue(name, _get_shape(value))
        if name == "dtype":
            return dtypes.tensor_dtype(interp.analysis, st, value)
        if name == "ndim":
            return len(full_dims(value)) if value.known else opaque("rank of a tensor of unknown rank")
        return opaque(f"tensor attribute {name}")
    if isinstance(value, ShapeOf):
        if name in ("as_list",):
            return BoundMethod(value, name)
        if name == "rank":
            return len(full_dims(value.tensor)) if value.tensor.known else opaque("rank")
        return opaque(f"shape attribute {name}")
    if isinstance(value, InstanceValue):
        if name in value.attrs:
            return value.attrs[name]
        found = lookup_class_attribute(value.cls, name)
        if name == "_replace" and found is None and isinstance(lookup_class_attribute(value.cls, "_fields"), tuple):
            return BoundMethod(value, name)  # of a namedtuple (methods.py)
        if isinstance(found, FunctionValue):
            return _method(interp, st, found, value, value.cls)
        if found is not None:
            return found
        inherited = base_attribute(value, name)  # from a catalogue layer the class subclasses
        if inherited is not None:
            return inherited
        if value.cls.keras_base and name in KERAS_LAYER_METHODS:
            return KERAS_LAYER_METHODS[name]
        if value.cls.keras_base and name == "built":
            # False until Keras built the layer on its first call (``if not self.inner.built``)
            return bool(value.attrs.get("__built__"))
        if value.cls.keras_base and name == "name":
            # Keras names every layer (its class's name, numbered, where the caller gives none):
            # ``f"{self.name}_conv" if self.name else None`` takes its first branch
            return opaque_truthy("a layer's name")
        if value.cls.keras_base and name in dtypes.LAYER_DTYPE_ATTRIBUTES + ("dtype_policy",):
            found = dtypes.layer_dtype(interp.analysis, st, value, name)
            if found is not None:
                return found
        if never_set(value, name):
            return MISSING
        return opaque(f"attribute {name} of {value.cls.name}")
    if isinstance(value, SuperProxy):
        found = lookup_class_attribute(value.receiver.cls, name, after=value.owner)
        if isinstance(found, FunctionValue):
            return _method(interp, st, found, value.receiver, value.receiver.cls)
        if found is not None:
            return found
        inherited = base_attribute(value.receiver, name)
        if inherited is not None:
            return inherited
        return BuiltinValue(f"super().{name}", lambda calls, st, args, kwargs, node: None)
    if isinstance(value, ClassValue):
        found = lookup_class_attribute(value, name)
        if isinstance(found, FunctionValue) and found.kind == "class":
            return bind_method(found, value)
        return found if found is not None else opaque(f"class attribute {name}")
    if isinstance(value, dtypes.DTypePolicy):
        found = dtypes.policy_attribute(value, name)
        return found if found is not None else opaque(f"dtype policy attribute {name}")
    if isinstance(value, RepeatedList):
        if name == "append" and not value.spoiled:
            return BoundMethod(value, name)  # an item after the copies (its ``tail``)
        value.spoiled = True  # its items are no longer all known
        return opaque(f"method {name} of a list built by a loop")
    for kind, methods in _CONTAINER_METHODS.items():
        if isinstance(value, kind) and name in methods:
            return BoundMethod(value, name)
    if isinstance(value, str):
        return BoundMethod(value, name)
    if isinstance(value, LayerValue):
        if name in ("add", "build", "compute_output_shape"):
            return BoundMethod(value, name)
        if name == "built":  # ``if not self.proj.built: self.proj.build(shape)``
            return value.built is not None
        weight = weight_attribute(value, name)  # ``self.proj.bias is not None``
        if weight is not UNDECIDED:
            return weight
        return opaque(f"layer attribute {name}")
    return opaque(f"attribute {name}")


def _method(interp, st, method: FunctionValue, receiver, cls):
    """A method looked up on an instance: bound to it, to its class (``@classmethod``),
    unbound (``@staticmethod``), or called at once (``@property``)."""
    if method.kind == "static":
        return method
    if method.kind == "class":
        return bind_method(method, cls)
    if method.kind == "property":
        # tried on a copy of the path first: a getter that forks, or raises on a branch, would
        # leave the path itself inside the call; one that goes on as the one path runs on it
        copies: dict = {}
        probe = st.fork(copies)
        tried = interp.calls.call_user(bind_method(method, _copy_value(receiver, copies)), [], {}, probe, None)
        if len(tried) != 1 or tried[0][0] is not probe:
            return opaque(f"property {method.name} that forks")
        results = interp.calls.call_user(bind_method(method, receiver), [], {}, st, None)
        if len(results) == 1 and results[0][0] is st:
            return results[0][1]
        return opaque(f"property {method.name} that forks")
    return bind_method(method, receiver)


def _get_shape(tensor):
    """``x.get_shape()``: a TensorFlow tensor's method, which a layer's ``call()`` gets on the
    TensorFlow backend; Keras 3's symbolic tensors, those a functional model is built from, have
    none and raise AttributeError.  Outside any ``call()`` nothing after it on the path is
    checked (no witness Keras could build would get past it)."""
    def get_shape(calls, st, args, kwargs, node):
        if node is not None and st.unchecked is None and not any(
                str(entry[0]).endswith((".call", ".__call__")) for entry in st.chain):
            calls.analysis.keras_tensor_methods.add(id(node))
            st.unchecked = (node, st.modules[-1])
        return ShapeOf(tensor)

    return get_shape
