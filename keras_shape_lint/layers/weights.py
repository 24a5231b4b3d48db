"""Which input axes a layer's weights are sized by, so a built layer keeps them.

Keras builds a layer on its first input and sizes its weights from some axes of
it (a ``Dense`` kernel from the last axis, a convolution kernel from the channel
axis).  Applying the same layer object again to an input whose size differs on
those axes raises, so the interpreter remembers the sizes of the first build and
continues a later call only under the assumption that they agree.

:data:`WEIGHT_AXES` maps a layer model's name to ``axes(cfg, rank, channels_last)``:
the positions in the input's dims (batch axis excluded) the weights depend on,
or None when the layer is not understood.  Layers absent here keep nothing.

With ``rank`` None (an input whose rank is not known yet) the positions are counted
from the end (``[-1]``: the last axis alone, as for ``Dense``), or None where the
weights depend on axes that cannot be named before the rank is known.
"""

from __future__ import annotations

from . import shapes
from .einsum_dense import REJECTED, parse

WEIGHT_AXES: dict = {}


def weight_axes(*names):
    def register(fn):
        for name in names:
            WEIGHT_AXES[name] = fn
        return fn

    return register


def _channel_axis(cfg, rank, channels_last):
    data_format = cfg.get("data_format")
    last = data_format != "channels_first" if isinstance(data_format, str) else channels_last
    if rank is None:
        return [-1] if last else None
    return [rank - 1] if last else [0]


def _position(axis, rank):
    """A Keras axis (counted with the batch axis) as a position in the dims, or None."""
    if not isinstance(axis, int) or isinstance(axis, bool):
        return None
    if rank is None:
        return axis if axis < 0 else None
    position = axis - 1 if axis > 0 else rank + axis
    return position if 0 <= position < rank else None


@weight_axes("Dense")
def _last_axis(cfg, rank, channels_last):
    return [-1] if rank is None else [rank - 1]


@weight_axes("EinsumDense")
def _kernel_letters(cfg, rank, channels_last):
    """The input axes whose letters the kernel's spec names (``"...b,bc->...c"``: the last)."""
    equation = cfg.get("equation")
    form = parse(equation) if isinstance(equation, str) else None
    if form is None or form is REJECTED:
        return None
    letters, kernel, _, ellipsis = form
    if ellipsis == "left":  # the letters are the last axes
        back = [index - len(letters) for index, letter in enumerate(letters) if letter in kernel]
        return back if rank is None else [rank + b for b in back]
    if rank is None or letters[0] in kernel:
        return None  # axes counted from the front (the batch letter first), or the batch axis
    return [index - 1 for index, letter in enumerate(letters) if letter in kernel]


for _rank in (1, 2, 3):
    weight_axes(f"Conv{_rank}D", f"Conv{_rank}DTranspose", f"SeparableConv{_rank}D")(_channel_axis)
for _rank in (1, 2):
    weight_axes(f"DepthwiseConv{_rank}D")(_channel_axis)


@weight_axes("BatchNormalization", "LayerNormalization", "RMSNormalization", "GroupNormalization")
def _normalised_axes(cfg, rank, channels_last):
    axis = cfg.get("axis", -1)
    axes = [axis] if isinstance(axis, int) else shapes.sequence(axis)
    if axes is None:
        return None
    positions = [_position(a, rank) for a in axes]
    return None if any(p is None for p in positions) else positions
