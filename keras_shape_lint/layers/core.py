"""Core layers: Dense, Embedding, and the layers that keep their input's shape."""

from __future__ import annotations

from ..values import Tensor
from . import REQUIRED, layer
from . import shapes


def same_shape(ctx, cfg, inputs):
    """The output has the input's shape (the very tensor, so aliases stay aliases)."""
    x = ctx.tensor(inputs)
    return x if x is not None else ctx.opaque("shape-preserving layer on a non-tensor")


def same_shape_of_rank(rank):
    """Shape-preserving layers whose InputSpec fixes the (non-batch) rank."""

    def apply(ctx, cfg, inputs):
        x = ctx.tensor(inputs, rank=rank)
        return x if x is not None else ctx.opaque(f"input of rank other than {rank}")

    return apply


SHAPE_PRESERVING = {
    "Activation": [("activation", REQUIRED)],
    "ReLU": [("max_value", None), ("negative_slope", 0.0), ("threshold", 0.0)],
    "LeakyReLU": [("negative_slope", 0.3)],
    "ELU": [("alpha", 1.0)],
    "Softmax": [("axis", -1)],
    "Dropout": [("rate", REQUIRED), ("noise_shape", None), ("seed", None)],
    "AlphaDropout": [("rate", REQUIRED), ("noise_shape", None), ("seed", None)],
    "GaussianNoise": [("stddev", REQUIRED), ("seed", None)],
    "GaussianDropout": [("rate", REQUIRED), ("seed", None)],
    "ActivityRegularization": [("l1", 0.0), ("l2", 0.0)],
    "Identity": [],
    "Masking": [("mask_value", 0.0)],
    "Rescaling": [("scale", REQUIRED), ("offset", 0.0)],
    "Normalization": [("axis", -1), ("mean", None), ("variance", None), ("invert", False)],
}


def fraction_checked(apply, name):
    """Keras refuses a ``name`` argument (a dropout rate, a noise stddev) outside [0, 1]."""

    def checked(ctx, cfg, inputs):
        value = cfg.get(name)
        if isinstance(value, (int, float)) and not shapes.require(ctx, 0 <= value <= 1):
            return ctx.opaque("configuration Keras rejects")
        return apply(ctx, cfg, inputs)

    return checked


FRACTIONS = {"Dropout": "rate", "AlphaDropout": "rate", "GaussianDropout": "rate", "GaussianNoise": "stddev"}

for _name, _params in SHAPE_PRESERVING.items():
    layer(_name, params=_params)(fraction_checked(same_shape, FRACTIONS[_name]) if _name in FRACTIONS else same_shape)

layer("SpatialDropout1D", params=[("rate", REQUIRED), ("seed", None)])(
    fraction_checked(same_shape_of_rank(2), "rate")
)
for _rank in (2, 3):
    layer(f"SpatialDropout{_rank}D", params=[("rate", REQUIRED), ("data_format", None), ("seed", None)])(
        fraction_checked(same_shape_of_rank(_rank + 1), "rate")
    )


@layer(
    "PReLU",
    params=[
        ("alpha_initializer", "Zeros"),
        ("alpha_regularizer", None),
        ("alpha_constraint", None),
        ("shared_axes", None),
    ],
)
def prelu(ctx, cfg, inputs):
    """Shape-preserving, but its weights span every unshared axis, which must be defined."""
    shared = cfg.get("shared_axes")
    shared = [] if shared is None else shapes.sequence(shared) or [shared]
    x = ctx.tensor(inputs)
    if x is None or not all(isinstance(axis, int) and not isinstance(axis, bool) for axis in shared):
        return ctx.opaque("PReLU configuration not understood")
    if not x.known:
        return x
    if not all(1 <= axis <= x.rank for axis in shared):
        return ctx.opaque("PReLU shared_axes out of range")
    unshared = [dim for index, dim in enumerate(x.dims, 1) if index not in shared]
    if not shapes.require(ctx, not shapes.has_none(unshared)):
        return ctx.opaque("configuration Keras rejects")
    return x


# constructor arguments Keras refuses, when the layer is made, unless they are positive ints
POSITIVE_INT_ARGUMENTS = {"Dense": ("units",), "Embedding": ("input_dim", "output_dim")}


@layer("Dense", params=[("units", REQUIRED), ("activation", None)], not_none=("units",))
def dense(ctx, cfg, inputs):
    units = ctx.int(cfg.get("units"))
    x = ctx.tensor(inputs)
    if units is None or x is None:
        return ctx.opaque("Dense configuration or input not understood")
    ok = shapes.require_positive(ctx, units)
    if not x.known:
        # the rank is learnt later (or never): only the last axis changes
        return Tensor.last_axis_replaced(x, units) if ok else ctx.opaque("configuration Keras rejects")
    # Keras builds the kernel from the last axis: it must exist, and be defined unless the
    # layer was built before (``self.dense.build(shape)`` in a layer's build())
    ok = shapes.require(ctx, x.rank >= 1 and (ctx.built or x.dims[-1] is not None)) and ok
    if not ok:
        return ctx.opaque("configuration Keras rejects")
    return Tensor(x.dims[:-1] + (units,))


@layer("Embedding", params=[("input_dim", REQUIRED), ("output_dim", REQUIRED)], not_none=("input_dim", "output_dim"))
def embedding(ctx, cfg, inputs):
    input_dim, output_dim = ctx.int(cfg.get("input_dim")), ctx.int(cfg.get("output_dim"))
    x = ctx.tensor(inputs)
    if input_dim is None or output_dim is None or x is None or not x.known:
        return ctx.opaque("Embedding configuration or input not understood")
    if not shapes.require_positive(ctx, input_dim, output_dim):
        return ctx.opaque("configuration Keras rejects")
    return Tensor(x.dims + (output_dim,))
