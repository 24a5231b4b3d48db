"""Image preprocessing layers that set the spatial size: Resizing and CenterCrop.

Both take batched images (rank 4 with the batch axis) and give
``(height, width)`` spatial sizes whatever the input's; CenterCrop resizes
instead of cropping an image smaller than the target, so no input is refused.
"""

from __future__ import annotations

from . import REQUIRED, layer
from . import shapes
from .sequence_shapes import positional_tensors


@positional_tensors
def _resized(ctx, cfg, inputs):
    height, width = ctx.int(cfg.get("height")), ctx.int(cfg.get("width"))
    last = shapes.data_format(ctx, cfg.get("data_format"))
    x = ctx.tensor(inputs, rank=3)
    if height is None or width is None or last is None or x is None:
        # an unbatched image (rank 3 with the batch axis) is left out: its first axis is no batch
        return ctx.opaque("image resizing configuration or input not understood")
    if not shapes.require_positive(ctx, height, width):
        return ctx.opaque("configuration Keras rejects")
    _, channels = shapes.split(x.dims, last)
    return shapes.image((height, width), channels, last)


layer(
    "Resizing",
    params=[("height", REQUIRED), ("width", REQUIRED), ("interpolation", "bilinear"),
            ("crop_to_aspect_ratio", False), ("pad_to_aspect_ratio", False), ("fill_mode", "constant"),
            ("fill_value", 0.0), ("antialias", False), ("data_format", None)],
)(_resized)
layer("CenterCrop", params=[("height", REQUIRED), ("width", REQUIRED), ("data_format", None)])(_resized)
