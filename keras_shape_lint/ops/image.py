"""Image functions: ``ops.image.resize`` and ``tf.image.resize``."""

from __future__ import annotations

from . import arg
from ._common import full, function, require, result, tensor


def _resize(channels_last_only: bool):
    def apply(ctx, args, kwargs):
        images = tensor(ctx, arg(args, kwargs, 0, "images"))
        size = ctx.ints(arg(args, kwargs, 1, "size"), 2)
        data_format = None if channels_last_only else kwargs.get("data_format")
        if images is None or not images.known or size is None:
            return ctx.opaque("resize arguments not understood")
        if data_format is not None and data_format not in ("channels_last", "channels_first"):
            return ctx.opaque("resize data_format not understood")
        shape = full(images)
        if len(shape) not in (3, 4):
            return ctx.opaque("resize of a tensor that is not an image")
        for length in size:
            if not require(ctx, length >= 1):
                return ctx.opaque("resize to an empty size")
        last = True if channels_last_only else ctx.channels_last(data_format)
        height = -3 if last else -2
        shape[height], shape[height + 1] = size
        out = result(ctx, shape, images, images.dtype)
        out.channels_last = last
        return out

    return apply


function("keras.ops.image.resize")(_resize(channels_last_only=False))
function("tensorflow.image.resize")(_resize(channels_last_only=True))
