"""Keras and TensorFlow functions that are not layers: inputs, models, backend queries."""

from __future__ import annotations

from . import dtypes, layers
from .layers import REQUIRED, LayerModel, bind_params
from .values import DictValue, Imported, LayerValue, ListValue, ShapeOf, Tensor, Unknown, full_dims, opaque

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


def build_shape_dims(shape):
    """What ``layer.build(shape)`` builds a layer's weights for, as dims after a batch axis, or
    None: a shape of one axis (``self.qkv.build([dim])``) is the axis a layer reads its input's
    features from (Keras's layers read ``input_shape[-1]``), not a batch."""
    if isinstance(shape, (ShapeOf, int)):
        return batch_shape_dims(shape)
    dims = _shape_dims(shape)
    return dims if dims is not None and len(dims) == 1 else (dims[1:] if dims else None)


def batch_shape_dims(shape):
    """A shape with its batch axis first (``input_shape`` of ``build``, what
    ``compute_output_shape`` returns) as the dims after it, or None."""
    if isinstance(shape, ShapeOf):
        return shape.tensor.dims if shape.tensor.known else None
    if isinstance(shape, int):
        return None
    dims = _shape_dims(shape)
    return dims[1:] if dims else None


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
    if isinstance(shape, Unknown) and shape.free and shape.used_as in (None, "shape"):
        # ``Input(input_shape)`` of the caller's shape (a U-Net builder's parameter): a free
        # input whose rank the layers choose, written as that shape in a witness
        shape.used_as = "shape"
        return shape.as_tensor(calls.analysis.options.data_format != "channels_first", f"Input({shape.label})")
    dims = _shape_dims(shape)
    if dims is None:
        calls.analysis.note_opaque("Input with an unknown shape")
        return Tensor(None)
    for dim in dims:
        if dim is not None and not isinstance(dim, int):
            st.add(dim >= 0)  # Keras refuses a negative size
    tensor = Tensor(dims)
    if None in dims:
        tensor.shadow = calls.analysis.data_input(st, dims, _input_name(calls, st, node, cfg.get("name")))
    return tensor


def _input_name(calls, st, node, name) -> str | None:
    """What the user calls an Input: its ``name=``, else the variable it is assigned to."""
    if isinstance(name, str) and name.isidentifier():
        return name
    value, bound = calls.interp.naming
    return bound if value is node else None


@api("keras.backend.int_shape")
def int_shape(calls, st, args, kwargs, node):
    """``int_shape(x)``: the shape Keras knows, None for the batch size."""
    return _shape_of(args, dynamic=False)


@api("keras.ops.shape", "tensorflow.shape", "keras.backend.shape")
def run_time_shape(calls, st, args, kwargs, node):
    """``ops.shape(x)``: in a layer's call(), which Keras runs on the backend's tensors as it
    builds the model, the shape the backend holds, sizes Keras does not know (the batch size)
    values nobody knows (a tensor in TensorFlow, a symbolic dimension in JAX); in a constructor
    that builds a functional model, on Keras's symbolic tensors, the static shape, None for them.
    A function analysed on its own (a helper of some call()) is read as a layer's call reads it:
    in a functional model, arithmetic on a None raises."""
    return _shape_of(args, dynamic=_on_backend_tensors(st))


def _on_backend_tensors(st) -> bool:
    """Does the path run where tensors are the backend's: inside a layer's ``call()`` (or a
    function it calls), or outside any constructor (a functional model's ``__init__``)?"""
    methods = [entry[0].rsplit(".", 1)[-1] for entry in st.chain]
    return "call" in methods or "__init__" not in methods


def _shape_of(args, dynamic: bool):
    value = args[0] if args else None
    if isinstance(value, Unknown):
        value = value.as_tensor()
    if isinstance(value, Tensor):
        return ShapeOf(value, dynamic)
    return opaque("shape of a non-tensor")


@api("keras.ops.ndim", "keras.backend.ndim")
def tensor_rank(calls, st, args, kwargs, node):
    """``ops.ndim(x)``: the number of axes, the batch axis among them."""
    value = args[0] if args else kwargs.get("x")
    if isinstance(value, Tensor) and value.known:
        return len(full_dims(value))
    return opaque("ndim of a tensor of unknown rank")


@api("keras.backend.standardize_dtype", "keras.src.backend.standardize_dtype")
def standardize_dtype(calls, st, args, kwargs, node):
    """A dtype by its one name (``standardize_dtype(x.dtype) == "float16"``): see dtypes.py."""
    return dtypes.standardize(args[0] if args else kwargs.get("dtype"))


@api("keras.ops.dtype", "keras.backend.dtype", "keras.ops.core.dtype")
def tensor_dtype(calls, st, args, kwargs, node):
    """``ops.dtype(x)``: the tensor's dtype."""
    value = args[0] if args else kwargs.get("x")
    if isinstance(value, Tensor):
        return dtypes.tensor_dtype(calls.analysis, st, value)
    return dtypes.UNKNOWN


@api("keras.backend.image_data_format", "keras.config.image_data_format")
def image_data_format(calls, st, args, kwargs, node):
    return calls.analysis.options.data_format


@api("keras.config.backend", "keras.backend.backend")
def backend_name(calls, st, args, kwargs, node):
    """The backend the code runs on: TensorFlow, as the oracle builds with it."""
    return "tensorflow"


# the Keras release the layer catalogue is checked against (the oracle's): code that picks an API
# by version (``keras.version().startswith("3.")``) is read as it runs there
KERAS_VERSION = "3.15.0"


@api("keras.version")
def keras_version(calls, st, args, kwargs, node):
    return KERAS_VERSION


@api("keras.backend.get_keras_mask", "keras.utils.get_keras_mask")
def keras_mask(calls, st, args, kwargs, node):
    """The mask Keras carries on a tensor: None, as on every input a witness builds (masks come
    from masking layers, which the analyser does not follow)."""
    return None


@api("keras.layers.VersionAwareLayers")
def version_aware_layers(calls, st, args, kwargs, node):
    """``layers = VersionAwareLayers()``: an object that hands out the Keras layers."""
    return Imported("keras.layers")


_SUBMODULES = ("backend", "layers", "models", "utils")


@api("keras_applications.get_submodules_from_kwargs", "keras.applications.get_submodules_from_kwargs")
def submodules_from_kwargs(calls, st, args, kwargs, node):
    """``backend, layers, models, utils = get_submodules_from_kwargs(kwargs)`` (keras-applications):
    the namespaces passed in, else Keras's own."""
    given = args[0] if args else kwargs.get("kwargs")
    items = given.items if isinstance(given, DictValue) else {}
    return tuple(items.get(name, Imported(f"keras.{name}")) for name in _SUBMODULES)


# helpers that projects define themselves under these names, read as the Keras idiom they implement
BY_NAME = {"get_submodules_from_kwargs": submodules_from_kwargs}


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
    # ``arguments={"scale": scale}`` reach the function as keyword arguments
    arguments = cfg["arguments"]
    if arguments is None:
        named = {}
    elif isinstance(arguments, DictValue) and all(type(key) is str for key in arguments.items):
        named = dict(arguments.items)
    else:
        return ctx.opaque("Lambda arguments not understood")
    result = ctx.call(cfg["function"], [inputs], named)
    if isinstance(result, Unknown):
        return ctx.opaque("Lambda result")
    return result


layers.layer("Lambda", params=[("function", REQUIRED), ("output_shape", None), ("mask", None),
                               ("arguments", None)])(_lambda)


@api("keras.applications.imagenet_utils.obtain_input_shape")
def obtain_input_shape(calls, st, args, kwargs, node):
    """The input shape keras.applications models build with.

    With no ``input_shape``: the default square size when the classifier
    needs it (``require_flatten``), else ``None`` sizes.
    """
    from .values import Results

    cfg = bind_params([("input_shape", REQUIRED), ("default_size", REQUIRED), ("min_size", REQUIRED),
                       ("data_format", REQUIRED), ("require_flatten", REQUIRED), ("weights", None)],
                      args, kwargs)
    if cfg is None:
        return opaque("obtain_input_shape arguments")
    given = cfg["input_shape"]
    if isinstance(given, ListValue):
        given = tuple(given.items)
    if isinstance(given, tuple):
        return given
    if given is not None:
        return opaque("obtain_input_shape of an unknown shape")
    size, data_format = cfg["default_size"], cfg["data_format"]
    first = data_format == "channels_first"
    fixed = (3, size, size) if first else (size, size, 3)
    dynamic = (3, None, None) if first else (None, None, 3)
    interp = calls.interp
    return Results((s, fixed if taken else dynamic)
                   for s, taken in interp.branch(st, interp.truth(cfg["require_flatten"])))


@api("keras.applications.imagenet_utils.correct_pad")
def correct_pad(calls, st, args, kwargs, node):
    """Padding that keras.applications put before a strided 'valid' convolution."""
    from . import symbolic as S

    cfg = bind_params([("inputs", REQUIRED), ("kernel_size", REQUIRED)], args, kwargs)
    tensor = cfg and cfg["inputs"]
    if isinstance(tensor, Unknown):
        tensor = tensor.as_tensor()
    if not isinstance(tensor, Tensor) or not tensor.with_rank(3):
        return opaque("correct_pad of an unknown tensor")
    kernel = cfg["kernel_size"]
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    if not (isinstance(kernel, tuple) and len(kernel) == 2 and all(isinstance(k, int) for k in kernel)):
        return opaque("correct_pad kernel")
    sizes = tensor.dims[:2] if tensor.channels_last else tensor.dims[1:]
    if sizes[0] is None:
        adjust = (1, 1)
    else:
        adjust = tuple(S.sub(1, S.mod(size, 2)) for size in sizes)
    correct = (kernel[0] // 2, kernel[1] // 2)
    return ((S.sub(correct[0], adjust[0]), correct[0]), (S.sub(correct[1], adjust[1]), correct[1]))


@api("keras.applications.imagenet_utils.validate_activation")
def validate_activation(calls, st, args, kwargs, node):
    return None
