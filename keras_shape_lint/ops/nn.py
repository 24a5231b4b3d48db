"""Neural-network functions: activations, softmax, normalisation, one_hot, attention."""

from __future__ import annotations

import z3

from .. import symbolic as S
from ..values import FunctionValue, Imported, Unknown, opaque
from . import OPS, arg
from ._common import axes_in_range, full, function, keras_op, result, same_shape, tensor, unary

_ACTIVATIONS = ("relu", "relu6", "sigmoid", "hard_sigmoid", "gelu", "swish", "silu", "hard_swish",
                "hard_silu", "elu", "selu", "celu", "softplus", "softsign", "leaky_relu", "log_sigmoid",
                "sparse_plus", "squareplus", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink",
                "sparse_sigmoid", "threshold")
_KERAS_ACTIVATIONS = ("relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "gelu", "swish", "silu",
                      "hard_swish", "hard_silu", "elu", "selu", "celu", "softplus", "softsign",
                      "leaky_relu", "exponential", "linear", "mish", "log_sigmoid")
_TENSORFLOW_ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "gelu", "swish", "silu", "elu", "selu",
                           "softplus", "softsign", "leaky_relu")

_activation = unary(keep_dtype=False)
for _name in _ACTIVATIONS:
    keras_op("nn", _name)(_activation)
function(*(f"keras.activations.{name}" for name in _KERAS_ACTIVATIONS))(_activation)
function(*(f"tensorflow.nn.{name}" for name in _TENSORFLOW_ACTIVATIONS),
         *(f"tensorflow.math.{name}" for name in ("sigmoid", "softplus", "log_sigmoid")))(_activation)


def _along_axes(default_axis, axis_name="axis"):
    """A function of one tensor, of its shape, that works along ``axis`` (Keras checks the axis)."""

    def apply(ctx, args, kwargs):
        x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("logits")))
        where = kwargs.get(axis_name, args[1] if len(args) > 1 else default_axis)
        if x is None:
            return ctx.opaque("function of a non-tensor")
        if x.known and where is not None and not axes_in_range(ctx, where, len(full(x))):
            return ctx.opaque("axis Keras rejects")
        return same_shape(ctx, x)

    return apply


keras_op("nn", "softmax", "log_softmax")(_along_axes(-1))
function("keras.activations.softmax", "keras.activations.log_softmax", "tensorflow.nn.softmax",
         "tensorflow.math.softmax", "tensorflow.nn.log_softmax")(_along_axes(-1))
keras_op("nn", "normalize")(_along_axes(-1))
function("tensorflow.math.l2_normalize", "tensorflow.nn.l2_normalize")(_along_axes(None))
keras_op("nn", "rms_normalization", "layer_normalization")(_along_axes(-1))


@keras_op("nn", "one_hot", other=("tensorflow.one_hot",))
def one_hot(ctx, args, kwargs):
    x = tensor(ctx, arg(args, kwargs, 0, "x", kwargs.get("indices")))
    classes = arg(args, kwargs, 1, "num_classes", kwargs.get("depth"))
    where = kwargs.get("axis", -1)
    if x is None or not x.known:
        return ctx.opaque("one_hot of a tensor of unknown rank")
    classes = ctx.int(classes)
    if classes is None or not isinstance(where, int):
        return ctx.opaque("one_hot arguments not understood")
    shape = full(x)
    if where == -1:
        shape.append(classes)
    elif 0 <= where < len(shape):
        shape.insert(where, classes)
    else:
        return ctx.opaque("one_hot axis Keras rejects")
    return result(ctx, shape, x)


@keras_op("nn", "dot_product_attention")
def dot_product_attention(ctx, args, kwargs):
    query = tensor(ctx, arg(args, kwargs, 0, "query"))
    return ctx.opaque("attention of a non-tensor query") if query is None else same_shape(ctx, query)


@function("keras.activations.get", accepts_none=True)
def activation_get(ctx, args, kwargs):
    """``keras.activations.get("gelu")``: the activation function of that name."""
    identifier = arg(args, kwargs, 0, "identifier")
    if identifier is None:
        return Imported("keras.activations.linear")
    if isinstance(identifier, str) and f"keras.activations.{identifier}" in OPS:
        return Imported(f"keras.activations.{identifier}")
    if isinstance(identifier, (FunctionValue, Imported)):
        return identifier
    if isinstance(identifier, Unknown) and identifier.free and identifier.used_as in (None, "activation"):
        # the caller's choice of activation: every one Keras names keeps the shape (a witness
        # passes one by the parameter's name, or None, which is ``linear``)
        identifier.mark("activation")
        return Imported("keras.activations.linear")
    if isinstance(identifier, Unknown) and identifier.free and identifier.used_as == "str":
        # a name already compared with others (``if name == "gelu_approximate": ...``): on this
        # path it is one of the names Keras knows, which a witness then spells out
        text = identifier.as_str()
        ctx.state.add(S.disj(*[text == z3.StringVal(name) for name in _activation_names()]))
        return Imported("keras.activations.linear")
    return opaque("activation not understood")  # a function, not a tensor


def _activation_names() -> list:
    prefix = "keras.activations."
    return sorted(name[len(prefix):] for name in OPS if name.startswith(prefix) and name != prefix + "get")
