"""Keras and TensorFlow functions that are not layers: inputs, models, backend queries."""

from __future__ import annotations

from . import layers
from .layers import REQUIRED, LayerModel, bind_params
from .values import LayerValue, ListValue, ShapeOf, Tensor, Unknown, opaque

FUNCTIONS: dict = {}


def api(*names):
    def register(fn):
        for name in names:
            FUNCTIONS[name] = fn
        return fn

    return register


def _shape_dims(value):
    """A user-written shape (tuple/list of ints and None) as dims, or None."""
    if isinstance(value, ListValue):
        value = tuple(value.items)
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, tuple):
        return None
    dims = []
    for item in value:
        if isinstance(item, Unknown):
            item = item.as_int()
        if item is None or isinstance(item, int) and not isinstance(item, bool):
            dims.append(item)
        elif hasattr(item, "sort") and item.is_int():
            dims.append(item)
        else:
            return None
    return tuple(dims)


@api("keras.Input", "keras.layers.Input", "keras.layers.InputLayer")
def keras_input(calls, st, args, kwargs, node):
    cfg = bind_params([("shape", None), ("batch_size", None), ("dtype", None)], args, kwargs)
    shape = cfg.get("shape")
    if shape is None and cfg.get("batch_shape") is not None:
        dims = _shape_dims(cfg["batch_shape"])
        if dims is not None and len(dims) >= 1:
            return Tensor(dims[1:])
    if shape is None and cfg.get("input_shape") is not None:
        shape = cfg["input_shape"]
    tensor = cfg.get("tensor")
    if isinstance(tensor, Tensor):
        return tensor
    dims = _shape_dims(shape)
    if dims is None:
        calls.analysis.note_opaque("Input with an unknown shape")
        return Tensor(None)
    return Tensor(dims)


@api("keras.backend.int_shape", "keras.ops.shape", "tensorflow.shape", "keras.backend.shape")
def int_shape(calls, st, args, kwargs, node):
    value = args[0] if args else None
    if isinstance(value, Unknown):
        value = value.as_tensor()
    if isinstance(value, Tensor):
        return ShapeOf(value)
    return opaque("shape of a non-tensor")


@api("keras.backend.image_data_format", "keras.config.image_data_format")
def image_data_format(calls, st, args, kwargs, node):
    return calls.analysis.options.data_format


@api("keras.Model", "keras.models.Model", "keras.Model.__init__", "keras.models.Functional")
def functional_model(calls, st, args, kwargs, node):
    return opaque("keras.Model")


def _apply_sequence(ctx, cfg, inputs):
    value = inputs
    for item in cfg["layers"]:
        value = ctx.apply_layer(item, value) if isinstance(item, LayerValue) else ctx.call(item, [value])
    return value


_SEQUENTIAL = LayerModel("Sequential", [], _apply_sequence)


@api("keras.Sequential", "keras.models.Sequential")
def sequential(calls, st, args, kwargs, node):
    items = args[0] if args else kwargs.get("layers")
    if items is None:
        items = ListValue()
    if isinstance(items, ListValue):
        items = items.items
    if not isinstance(items, (list, tuple)):
        return opaque("Sequential of unknown layers")
    return LayerValue(_SEQUENTIAL, {"layers": list(items)}, node)


def _lambda(ctx, cfg, inputs):
    result = ctx.call(cfg["function"], [inputs])
    if isinstance(result, Unknown):
        return ctx.opaque("Lambda result")
    return result


layers.layer("Lambda", params=[("function", REQUIRED), ("output_shape", None)])(_lambda)
