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


# ------------------------------------------------------------ weight attributes

UNDECIDED = object()  # :func:`weight_attribute`'s answer when the weight's presence is not known

_CONVOLUTIONS = tuple(f"{kind}{rank}D" for rank in (1, 2, 3)
                      for kind in ("Conv", "ConvTranspose", "SeparableConv", "DepthwiseConv"))


def _flag(cfg, name, default=True):
    value = cfg.get(name, default)
    return value if isinstance(value, bool) else None


def _bias_present(model_name, cfg):
    if model_name == "EinsumDense":
        bias_axes = cfg.get("bias_axes")
        return True if isinstance(bias_axes, str) else False if bias_axes is None else None
    return _flag(cfg, "use_bias")


def _gamma_present(model_name, cfg):
    scale = _flag(cfg, "scale")
    if model_name == "LayerNormalization":
        rms = _flag(cfg, "rms_scaling", False)
        return None if scale is None or rms is None else scale or rms
    return scale


def _beta_present(model_name, cfg):
    center = _flag(cfg, "center")
    if model_name == "LayerNormalization":
        rms = _flag(cfg, "rms_scaling", False)
        return None if center is None or rms is None else center and not rms
    return center


def _always(model_name, cfg):
    return True


# the weights a built layer has, each by what decides whether it is there (None when not)
_WEIGHTS = {
    **{name: {"bias": _bias_present} for name in ("Dense", "EinsumDense", *_CONVOLUTIONS)},
    **{name: {"bias": _bias_present, "kernel": _always}
       for name in ("Dense", "EinsumDense", *[c for c in _CONVOLUTIONS if c.startswith("Conv")])},
    "BatchNormalization": {"gamma": _gamma_present, "beta": _beta_present},
    "LayerNormalization": {"gamma": _gamma_present, "beta": _beta_present},
}

# the constructor argument a bias is sized by, for a layer whose bias is one axis
_BIAS_SIZE = {"Dense": "units", **{name: "filters" for name in _CONVOLUTIONS if "Depthwise" not in name}}


def weight_attribute(layer, name: str):
    """``layer.bias`` (``kernel``, ``gamma``, ``beta``) of a built catalogue layer: None where the
    constructor's ``use_bias`` (``bias_axes``, ``scale``, ``center``) leaves the layer
    without it, else the weight (no batch axis; its shape where one size gives it).

    Keras sets these attributes when it builds the layer, so code that reads them runs
    on a built layer (an unbuilt one raises there).  :data:`UNDECIDED` when the
    argument is not a plain value, or when the constructor had positional arguments
    beyond those the catalogue binds (one of them might be the flag).
    """
    from .. import symbolic as S
    from ..values import Tensor

    decide = _WEIGHTS.get(layer.model.name, {}).get(name)
    if decide is None or _unbound_positional(layer):
        return UNDECIDED
    present = decide(layer.model.name, layer.config)
    if present is None:
        return UNDECIDED
    if not present:
        return None
    size = layer.config.get(_BIAS_SIZE.get(layer.model.name, ""), None) if name == "bias" else None
    dims = (size,) if S.is_int_like(size) and not isinstance(size, bool) else None
    if name == "kernel":
        dims = _kernel_shape(layer)
    weight = Tensor(dims)
    weight.batched = False
    return weight


def _kernel_shape(layer):
    """The kernel's sizes of a built ``Dense`` (``(input width, units)``) or ``EinsumDense`` (a
    size for each letter of the kernel's spec: the input's, or ``output_shape``'s), where the
    build and the configuration give them all; else None (``self.proj.kernel`` of a built
    projection, multiplied by hand: ``ops.matmul(x, self.proj.kernel)``)."""
    from .. import symbolic as S
    from ..values import Unknown

    built = layer.built[1] if layer.built is not None else {}
    config = layer.config
    if layer.model.name == "Dense":
        sizes = (built.get(-1), config.get("units"))
    elif layer.model.name == "EinsumDense":
        equation, output_shape = config.get("equation"), shapes.sequence(config.get("output_shape"))
        form = parse(equation) if isinstance(equation, str) else None
        if form is None or form is REJECTED or output_shape is None or form[3] == "right":
            return None
        letters, kernel, output, ellipsis = form
        # the output's own letters, each with its size in output_shape (batch letter aside)
        named = output if ellipsis else output[1:]
        given = dict(zip(named, list(output_shape)[len(output_shape) - len(named):]))
        sizes = tuple(built.get(letters.index(letter) - len(letters)) if letter in letters else given.get(letter)
                      for letter in kernel)
    else:
        return None
    sizes = tuple(size.as_int() if isinstance(size, Unknown) else size for size in sizes)
    if any(size is None or isinstance(size, bool) or not S.is_int_like(size) for size in sizes):
        return None
    return sizes


def _unbound_positional(layer) -> bool:
    import libcst as cst

    node = layer.call_node
    if not isinstance(node, cst.Call):
        return True
    positional = [a for a in node.args if a.keyword is None]
    return any(a.star for a in positional) or len(positional) > len(layer.model.params)
