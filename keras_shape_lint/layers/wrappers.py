"""TimeDistributed: a layer applied to every step of the second axis."""

from __future__ import annotations

from ..values import LayerValue, Tensor
from . import REQUIRED, layer
from .sequence_shapes import other_rank, positional_tensors


@layer("TimeDistributed", params=[("layer", REQUIRED)])
@positional_tensors
def time_distributed(ctx, cfg, inputs):
    inner = cfg.get("layer")
    x = ctx.tensor(inputs)
    if not isinstance(inner, LayerValue) or x is None:
        return ctx.opaque("TimeDistributed of a layer or input not understood")
    if not x.known:
        return ctx.opaque("TimeDistributed over an input of unknown rank")
    if x.rank < 2:
        return other_rank(ctx, "TimeDistributed")  # (batch, time, ...) at least
    step = Tensor(x.dims[1:], channels_last=x.channels_last)
    out = inner.model.apply(ctx, inner.config, step)
    if not isinstance(out, Tensor) or not out.known:
        return ctx.opaque("TimeDistributed of a layer whose output is not a tensor of known rank")
    return Tensor((x.dims[0],) + out.dims, channels_last=out.channels_last)
