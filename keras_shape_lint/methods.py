"""Methods of Python containers, strings and shapes."""

from __future__ import annotations

from . import symbolic as S
from .operators import compare
from .keras_api import batch_shape_dims, build_shape_dims
from .layers.merging import MERGES
from .layers.weights import WEIGHT_AXES
from .values import (DictValue, InstanceValue, LayerValue, ListValue, RepeatedList, ShapeOf, Tensor, Unknown, UnknownText, dict_key,
                     opaque, real_text, text_unknown)

_PURE_STR_METHODS = {
    "format", "join", "upper", "lower", "replace", "startswith", "endswith", "strip",
    "split", "rstrip", "lstrip", "capitalize", "title",
}


def _concrete(value) -> bool:
    if isinstance(value, (ListValue, DictValue, Unknown)) or S.is_sym(value):
        return False
    if isinstance(value, tuple):
        return all(_concrete(v) for v in value)
    return isinstance(value, (int, float, str, bool, type(None)))


def call_method(calls, method, args, kwargs, st, node):
    receiver, name = method.receiver, method.name
    if isinstance(receiver, ListValue):
        return _list_method(calls, receiver, name, args, kwargs)
    if isinstance(receiver, DictValue):
        return _dict_method(receiver, name, args, kwargs)
    if isinstance(receiver, RepeatedList) and name == "append":
        if len(args) == 1 and not kwargs:
            receiver.tail.append(args[0])
        else:
            receiver.spoiled = True  # Python raises: nothing after it is known of the list
        return None
    if isinstance(receiver, str) and name in _PURE_STR_METHODS:
        if all(_concrete(a) for a in args) and all(_concrete(v) for v in kwargs.values()):
            return _str_method(receiver, name, args, kwargs)
        return opaque("str method on unknown values")
    if isinstance(receiver, InstanceValue) and name == "_replace":
        return _namedtuple_replace(receiver, args, kwargs)
    if isinstance(receiver, ShapeOf) and name in ("as_list", "__iter__"):
        return receiver
    if isinstance(receiver, LayerValue) and name == "add" and "layers" in receiver.config and args:
        receiver.config["layers"].append(args[0])
        return None
    if isinstance(receiver, LayerValue) and name == "build":
        shape = args[0] if args else kwargs.get("input_shape")
        dims = build_shape_dims(shape)
        if dims is not None:
            calls.keep_build(receiver, Tensor(dims), st)
        elif isinstance(shape, ShapeOf) and receiver.model.name in WEIGHT_AXES and len(args) + len(kwargs) == 1:
            # the shape of a tensor of unknown rank (what build() received) for a layer of one
            # input: its model gives a free input the rank it needs, and the weights their sizes
            calls.apply_layer_shape(receiver, shape.tensor, st, node)
            calls.keep_build(receiver, shape.tensor, st)
        receiver.mark_built()
        return None
    if isinstance(receiver, LayerValue) and name == "compute_output_shape":
        return _output_shape(calls, receiver, args[0] if args else kwargs.get("input_shape"), st, node)
    return opaque(f"method {name}")


def _output_shape(calls, layer, shape, st, node):
    """``layer.compute_output_shape(shape)``: the layer's transfer function on a tensor of
    that shape, given back as a shape (the batch entry as the caller wrote it)."""
    if isinstance(shape, ShapeOf):  # ``x.shape``, or the shape ``build`` was given for ``x``
        result = calls.apply_layer_shape(layer, shape.tensor, st, node)
        if isinstance(result, Tensor) and result.known:
            return ShapeOf(result)
        return opaque("compute_output_shape the layer does not give")
    if layer.model.name in MERGES:
        # a merge layer's shape for a list of input shapes (``Concatenate().compute_output_shape(
        # [a, b])``): a shape worked out, not a merge of the model's tensors (Concatenate's
        # checks nothing), so it is not checked or counted as one
        shapes = _shape_list(shape)
        if shapes is None:
            return opaque("compute_output_shape of shapes not understood")
        calls.analysis.suppress_checks += 1
        try:
            result = calls.apply_layer_shape(layer, ListValue(shapes), st, node)
        finally:
            calls.analysis.suppress_checks -= 1
        if isinstance(result, Tensor) and result.known:
            return ShapeOf(result)
        return opaque("compute_output_shape the layer does not give")
    dims = batch_shape_dims(shape)
    if dims is None:
        return opaque("compute_output_shape of an unknown shape")
    result = calls.apply_layer_shape(layer, Tensor(dims), st, node)
    if not isinstance(result, Tensor) or not result.known:
        return opaque("compute_output_shape the layer does not give")
    batch = shape[0] if isinstance(shape, tuple) and shape else None
    return (batch, *result.dims)


def _shape_list(shapes):
    """A list (or tuple) of shapes as the tensors they are the shapes of, or None."""
    items = shapes.items if isinstance(shapes, ListValue) else shapes if isinstance(shapes, tuple) else None
    if not items:
        return None
    tensors = []
    for item in items:
        if isinstance(item, ShapeOf):
            tensors.append(item.tensor)
            continue
        if isinstance(item, int) or item is None:
            return None  # a shape itself, not a list of them
        dims = batch_shape_dims(item)
        if dims is None:
            return None
        tensors.append(Tensor(dims))
    return tensors


def _str_method(receiver: str, name: str, args, kwargs):
    """A string method on known arguments.  Where an f-string's placeholder text is among them,
    the method runs on the text Python makes (an opaque result where that is not known); a
    string it gives is placeholder text again, so that names stay alike across a loop."""
    texts = [receiver, *args, *kwargs.values()]
    if not any(isinstance(text, UnknownText) for text in texts):
        return _on_texts(str, receiver, name, args, kwargs)
    known = all(real_text(text) is not None for text in texts if isinstance(text, str))
    real = _on_texts(real_text, receiver, name, args, kwargs) if known else None
    if real is None or isinstance(real, str):
        shown = _on_texts(str, receiver, name, args, kwargs)
        if isinstance(shown, str) and (real is not None or name in _LETTERWISE):
            return UnknownText(shown, real)
    return real if real is not None and not isinstance(real, Unknown) else opaque("str method on unknown text")


_LETTERWISE = {"upper", "lower", "capitalize", "title"}  # their placeholder text is the result's


def _on_texts(convert, receiver: str, name: str, args, kwargs):
    """The method run with each string among its receiver and arguments made ``convert(string)``."""
    def text(value):
        return convert(value) if isinstance(value, str) else value

    try:
        result = getattr(text(receiver), name)(*map(text, args), **{k: text(v) for k, v in kwargs.items()})
    except (TypeError, ValueError, IndexError, KeyError):
        return opaque("str method")
    return tuple(result) if isinstance(result, list) else result


def _list_method(calls, receiver, name, args, kwargs):
    items = receiver.items
    if name == "append" and len(args) == 1:
        items.append(args[0])
        return None
    if name == "extend" and len(args) == 1:
        extra = calls.interp.iterate_concrete(args[0])
        if extra is None:
            return opaque("extend with an unknown sequence")
        items.extend(extra)
        return None
    if name == "insert" and len(args) == 2 and isinstance(args[0], int):
        items.insert(args[0], args[1])
        return None
    if name == "pop":
        index = args[0] if args else -1
        if isinstance(index, int) and items and -len(items) <= index < len(items):
            return items.pop(index)
        return opaque("pop")
    if name == "copy":
        return ListValue(items)
    if name == "reverse":
        items.reverse()
        return None
    if name == "clear":
        items.clear()
        return None
    if name == "sort":
        reverse = kwargs.get("reverse", False)
        if not args and set(kwargs) <= {"reverse"} and isinstance(reverse, bool) and _sortable(items):
            items.sort(reverse=reverse)
        else:
            receiver.forget_items("an item of a list sorted by values nobody can order")
        return None
    if name == "remove" and len(args) == 1:
        verdicts = [compare(calls.interp, "Equal", item, args[0]) for item in items]
        first = next((at for at, verdict in enumerate(verdicts) if verdict is not False), None)
        if first is not None and verdicts[first] is True:
            del items[first]
        elif first is not None:
            # which item goes is not known (Python raises where none is equal): one fewer, each unknown
            del items[first]
            receiver.forget_items("an item of a list an item was removed from")
        return None
    return opaque(f"list.{name}")


def _sortable(items) -> bool:
    """Numbers only, or strings only (an f-string's placeholder text sorts nowhere known)."""
    kinds = {type(item) is str for item in items}
    return len(kinds) <= 1 and all(type(item) in (int, float, bool, str) for item in items)


def _dict_method(receiver, name, args, kwargs):
    items = receiver.items
    if name == "get" and args and text_unknown(args[0]):
        return opaque("dict.get with an unknown key")
    if args:
        args = [dict_key(args[0]), *args[1:]]
    if name == "get" and args:
        if _concrete(args[0]):
            return items.get(args[0], args[1] if len(args) > 1 else None)
        return opaque("dict.get with an unknown key")
    if name == "items":
        return tuple(items.items())
    if name == "keys":
        return tuple(items.keys())
    if name == "values":
        return tuple(items.values())
    if name == "copy":
        return DictValue(items)
    if name == "pop" and args and _concrete(args[0]):
        return items.pop(args[0], args[1] if len(args) > 1 else None)
    if name == "clear" and not args:
        items.clear()
        return None
    if name == "update" and len(args) <= 1 and (not args or isinstance(args[0], DictValue)):
        items.update(args[0].items if args else {})
        items.update(kwargs)  # ``table.update(width=4)``
        return None
    if name == "setdefault" and args and _concrete(args[0]):
        return items.setdefault(args[0], args[1] if len(args) > 1 else None)
    return opaque(f"dict.{name}")


def _namedtuple_replace(receiver: InstanceValue, args, kwargs):
    """``params._replace(width=64)`` of a namedtuple: a new one, those fields changed (Python
    raises for a positional argument or a name that is no field)."""
    fields = receiver.cls.attrs.get("_fields", ())
    if args or any(name not in fields for name in kwargs):
        return opaque("_replace with arguments a namedtuple refuses")
    return InstanceValue(receiver.cls, {**receiver.attrs, **kwargs})
