"""Convolution layers: plain, grouped, depthwise, separable and transposed.

Keras's own checks become assumptions: positive sizes, group divisibility,
no ``strides > 1`` together with ``dilation_rate > 1``, a defined channel
axis, and (through :func:`shapes.conv_length`) a positive 'valid' output.
"""

from __future__ import annotations

from .. import symbolic as S
from . import REQUIRED, layer
from . import shapes

REJECTED = object()  # out_channels: Keras rejects the configuration


def _window(ctx, cfg, rank, paddings=("valid", "same")):
    """(kernel, strides, dilation, padding, channels_last), or None when not understood."""
    found = (
        ctx.ints(cfg.get("kernel_size"), rank),
        ctx.ints(cfg.get("strides", 1), rank),
        ctx.ints(cfg.get("dilation_rate", 1), rank),
        shapes.padding_mode(cfg.get("padding", "valid"), paddings),
        shapes.data_format(ctx, cfg.get("data_format")),
    )
    return None if any(item is None for item in found) else found


def _not_strided_and_dilated(strides, dilation):
    """Keras rejects ``strides > 1`` together with ``dilation_rate > 1``."""
    unit_strides = S.conj(*[S.eq(s, 1) for s in strides])
    unit_dilation = S.conj(*[S.eq(d, 1) for d in dilation])
    return S.disj(unit_strides, unit_dilation)


def _convolve(ctx, cfg, inputs, rank, out_channels, paddings=("valid", "same"), checks=()):
    """Shared body of the convolutions.

    ``out_channels(ctx, cfg, in_channels)`` returns the output channel count
    after its own checks, None when the configuration is not understood, or
    REJECTED when Keras rejects it.
    """
    window = _window(ctx, cfg, rank, paddings)
    x = ctx.tensor(inputs, rank=rank + 1)
    if window is None or x is None:
        return ctx.opaque("convolution configuration not understood")
    kernel, strides, dilation, padding, last = window
    spatial, channels = shapes.split(x.dims, last)
    ok = shapes.require_positive(ctx, *kernel, *strides, *dilation)
    for check in checks:
        ok = shapes.require(ctx, check(strides, dilation)) and ok
    # Keras builds the kernel from the channel count: it must be defined.
    ok = shapes.require(ctx, channels is not None) and ok
    filters = out_channels(ctx, cfg, channels) if ok else REJECTED
    if filters is None:
        return ctx.opaque("convolution configuration not understood")
    if filters is REJECTED:
        return ctx.opaque("configuration Keras rejects")
    out = [
        shapes.conv_length(ctx, size, k, s, padding, d)
        for size, k, s, d in zip(spatial, kernel, strides, dilation)
    ]
    return shapes.image(out, filters, last)


def _grouped_filters(ctx, cfg, channels):
    filters, groups = ctx.int(cfg.get("filters")), ctx.int(cfg.get("groups", 1))
    if filters is None or groups is None:
        return None
    if not shapes.require_positive(ctx, filters, groups):
        return REJECTED
    ok = shapes.require(ctx, S.eq(S.mod(filters, groups), 0))
    ok = shapes.require(ctx, S.eq(S.mod(channels, groups), 0)) and ok
    return filters if ok else REJECTED


def _multiplied_channels(ctx, cfg, channels):
    multiplier = ctx.int(cfg.get("depth_multiplier", 1))
    if multiplier is None:
        return None
    return S.mul(multiplier, channels) if shapes.require_positive(ctx, multiplier) else REJECTED


def _separable_filters(ctx, cfg, channels):
    filters, multiplier = ctx.int(cfg.get("filters")), ctx.int(cfg.get("depth_multiplier", 1))
    if filters is None or multiplier is None:
        return None
    return filters if shapes.require_positive(ctx, filters, multiplier) else REJECTED


def _conv_params(*head):
    return [(name, REQUIRED) for name in head]


CONV_TAIL = [
    ("strides", 1),
    ("padding", "valid"),
    ("data_format", None),
    ("dilation_rate", 1),
    ("groups", 1),
    ("activation", None),
]


def _register_conv(rank):
    names = (f"Conv{rank}D", f"Convolution{rank}D")
    paddings = ("valid", "same", "causal") if rank == 1 else ("valid", "same")

    @layer(*names, params=_conv_params("filters", "kernel_size") + CONV_TAIL)
    def conv(ctx, cfg, inputs):
        return _convolve(
            ctx, cfg, inputs, rank, _grouped_filters, paddings, checks=(_not_strided_and_dilated,)
        )


DEPTHWISE_PARAMS = [
    ("kernel_size", REQUIRED),
    ("strides", 1),
    ("padding", "valid"),
    ("depth_multiplier", 1),
    ("data_format", None),
    ("dilation_rate", 1),
    ("activation", None),
]


def _register_depthwise(rank):
    @layer(f"DepthwiseConv{rank}D", params=DEPTHWISE_PARAMS)
    def depthwise(ctx, cfg, inputs):
        return _convolve(ctx, cfg, inputs, rank, _multiplied_channels)


SEPARABLE_PARAMS = _conv_params("filters", "kernel_size") + [
    ("strides", 1),
    ("padding", "valid"),
    ("data_format", None),
    ("dilation_rate", 1),
    ("depth_multiplier", 1),
    ("activation", None),
]


def _register_separable(rank):
    names = (f"SeparableConv{rank}D", f"SeparableConvolution{rank}D")

    @layer(*names, params=SEPARABLE_PARAMS)
    def separable(ctx, cfg, inputs):
        return _convolve(ctx, cfg, inputs, rank, _separable_filters)


def _transpose_params(rank):
    # Conv3DTranspose takes data_format before output_padding (Keras 3).
    middle = ["output_padding", "data_format"] if rank < 3 else ["data_format", "output_padding"]
    return (
        _conv_params("filters", "kernel_size")
        + [("strides", 1), ("padding", "valid")]
        + [(name, None) for name in middle]
        + [("dilation_rate", 1), ("activation", None)]
    )


def _register_transpose(rank):
    names = (f"Conv{rank}DTranspose", f"Convolution{rank}DTranspose")

    @layer(*names, params=_transpose_params(rank))
    def transpose(ctx, cfg, inputs):
        window = _window(ctx, cfg, rank)
        x = ctx.tensor(inputs, rank=rank + 1)
        filters = ctx.int(cfg.get("filters"))
        extra = cfg.get("output_padding")
        output_padding = (None,) * rank if extra is None else ctx.ints(extra, rank)
        if window is None or x is None or filters is None or output_padding is None:
            return ctx.opaque("transposed convolution configuration not understood")
        kernel, strides, dilation, padding, last = window
        spatial, channels = shapes.split(x.dims, last)
        ok = shapes.require_positive(ctx, filters, *kernel, *strides, *dilation)
        ok = shapes.require(ctx, _not_strided_and_dilated(strides, dilation)) and ok
        for extra, stride in zip(output_padding, strides):
            if extra is not None:
                ok = shapes.require(ctx, S.conj(extra >= 0, extra < stride)) and ok
        ok = shapes.require(ctx, channels is not None) and ok
        if not ok:
            return ctx.opaque("configuration Keras rejects")
        out = [
            shapes.deconv_length(size, k, s, padding, extra, d)
            for size, k, s, extra, d in zip(spatial, kernel, strides, output_padding, dilation)
        ]
        return shapes.image(out, filters, last)


for _rank in (1, 2, 3):
    _register_conv(_rank)
    _register_transpose(_rank)
for _rank in (1, 2):
    _register_depthwise(_rank)
    _register_separable(_rank)
