"""Pooling layers: windowed (max, average) and global."""

from __future__ import annotations

from ..values import Tensor
from . import layer
from . import shapes

# Keras 3 makes AveragePooling's pool_size required; its default of 2 is the
# Keras 2 one (the call fails in Keras 3 anyway).
POOL_PARAMS = [("pool_size", 2), ("strides", None), ("padding", "valid"), ("data_format", None)]
GLOBAL_PARAMS = [("data_format", None), ("keepdims", False)]


def _register_pooling(rank):
    names = []
    for kind, short in (("Max", "Max"), ("Average", "Avg")):
        names += [f"{kind}Pooling{rank}D", f"{short}Pool{rank}D"]

    @layer(*names, params=POOL_PARAMS)
    def pooling(ctx, cfg, inputs):
        pool = ctx.ints(cfg.get("pool_size", 2), rank)
        strides = cfg.get("strides")
        strides = pool if strides is None else ctx.ints(strides, rank)
        # Keras 3 compares padding case-sensitively here; Keras 2 lowercased it.
        padding = shapes.padding_mode(cfg.get("padding", "valid"))
        last = shapes.data_format(ctx, cfg.get("data_format"))
        x = ctx.tensor(inputs, rank=rank + 1)
        if any(item is None for item in (pool, strides, padding, last, x)):
            return ctx.opaque("pooling configuration not understood")
        if not shapes.require_positive(ctx, *pool, *strides):
            return ctx.opaque("configuration Keras rejects")
        spatial, channels = shapes.split(x.dims, last)
        out = [shapes.conv_length(ctx, size, k, s, padding) for size, k, s in zip(spatial, pool, strides)]
        return shapes.image(out, channels, last)


def _register_global(rank):
    names = []
    for kind, short in (("Max", "Max"), ("Average", "Avg")):
        names += [f"Global{kind}Pooling{rank}D", f"Global{short}Pool{rank}D"]

    @layer(*names, params=GLOBAL_PARAMS)
    def global_pooling(ctx, cfg, inputs):
        last = shapes.data_format(ctx, cfg.get("data_format"))
        keepdims = cfg.get("keepdims", False)
        x = ctx.tensor(inputs, rank=rank + 1)
        if last is None or x is None or not isinstance(keepdims, (bool, int, type(None))):
            return ctx.opaque("global pooling configuration not understood")
        _, channels = shapes.split(x.dims, last)
        if not keepdims:
            return Tensor((channels,))
        return shapes.image((1,) * rank, channels, last)


for _rank in (1, 2, 3):
    _register_pooling(_rank)
    _register_global(_rank)
