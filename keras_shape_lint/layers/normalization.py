"""Normalization layers: all keep their input's shape.

Keras checks that each normalised axis exists, and sizes the layer's weights
by those axes, which must then be defined; GroupNormalization also needs the
channel count to be a multiple of ``groups``.
"""

from __future__ import annotations

from .. import symbolic as S
from . import layer
from . import shapes


def _axes(value):
    """The normalised axes (counted with the batch axis) as a list of ints, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    items = shapes.sequence(value)
    if items is None or not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        return None
    return items


def _axis_dims(dims, axes):
    """The sizes along ``axes`` (batch axis included, as None), or None when out of bounds."""
    full = (None,) + tuple(dims)
    if not all(-len(full) <= axis < len(full) for axis in axes):
        return None
    return [full[axis] for axis in axes]


def _symbolic_axis(ctx, x, axis, weighted: bool):
    """One axis nobody fixed (``axis=self.channel_axis``, a parameter): the output is the input
    whatever it is, and Keras accepts it only where it names an axis (counted with the batch
    axis) whose size is known when the layer has weights; the path goes on under that."""
    full = (None,) + tuple(x.dims)
    allowed = [S.eq(axis, index) for position, size in enumerate(full)
               for index in (position, position - len(full)) if not (weighted and size is None)]
    if not allowed:
        return ctx.opaque("configuration Keras rejects")
    return x if shapes.require(ctx, S.disj(*allowed)) else ctx.opaque("configuration Keras rejects")


def _normalization(has_weights):
    def apply(ctx, cfg, inputs):
        x = ctx.tensor(inputs)
        axes = _axes(cfg.get("axis", -1))
        if axes is None and x is not None and x.known and not isinstance(cfg.get("axis"), bool):
            axis = ctx.int(cfg.get("axis"))
            if axis is not None and S.is_sym(axis):
                return _symbolic_axis(ctx, x, axis, has_weights(cfg))
        if x is None or axes is None:
            return ctx.opaque("normalization configuration not understood")
        if not x.known:
            return x
        dims = _axis_dims(x.dims, axes)
        ok = dims is not None and not (has_weights(cfg) and shapes.has_none(dims))
        return x if shapes.require(ctx, ok) else ctx.opaque("configuration Keras rejects")

    return apply


def _always(cfg):
    return True


def _scaled_or_centered(cfg):
    return bool(cfg.get("scale", True) or cfg.get("center", True))


layer("BatchNormalization", params=[("axis", -1), ("momentum", 0.99), ("epsilon", 1e-3)], not_none=("axis",))(
    _normalization(_always)
)
layer("LayerNormalization", params=[("axis", -1), ("epsilon", 1e-3), ("center", True), ("scale", True)],
      not_none=("axis",))(
    _normalization(_scaled_or_centered)
)
layer("RMSNormalization", params=[("axis", -1), ("epsilon", 1e-6)])(_normalization(_always))
layer("UnitNormalization", params=[("axis", -1)])(_normalization(lambda cfg: False))


@layer("GroupNormalization", params=[("groups", 32), ("axis", -1), ("epsilon", 1e-3)])
def group_normalization(ctx, cfg, inputs):
    groups, axis = ctx.int(cfg.get("groups", 32)), cfg.get("axis", -1)
    x = ctx.tensor(inputs)
    if groups is None or x is None or not isinstance(axis, int) or isinstance(axis, bool):
        return ctx.opaque("GroupNormalization configuration not understood")
    if x.known:
        dims = _axis_dims(x.dims, [axis])
        if not shapes.require(ctx, dims is not None and dims[0] is not None):
            return ctx.opaque("configuration Keras rejects")
        channels = dims[0]
    elif axis == -1 and x.channels_last:
        channels = x.channels_dim()
    else:
        return x
    if not isinstance(groups, int) or groups != -1:  # -1: one group per channel
        ok = shapes.require_positive(ctx, groups)
        ok = ok and shapes.require(ctx, S.conj(channels >= groups, S.eq(S.mod(channels, groups), 0)))
        if not ok:
            return ctx.opaque("configuration Keras rejects")
    return x
