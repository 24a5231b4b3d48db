"""Dimension arithmetic shared by the layer families.

A dim is a Python int, a z3 int term, or ``None`` (unknown to Keras until
data flows); every helper propagates ``None`` the way Keras does.
"""

from __future__ import annotations

from .. import symbolic as S
from ..values import ListValue, Tensor


def conv_length(ctx, size, kernel, stride, padding, dilation=1):
    """Output length of a convolution or pooling window along one axis.

    Adds Keras's own requirement (a positive output size) as an assumption.
    """
    if size is None:
        return None
    padding = (padding or "valid").lower() if isinstance(padding, str) else padding
    if padding in ("same", "causal"):
        return S.ceildiv(size, stride)
    if padding != "valid":
        return None
    span = S.add(S.mul(dilation, S.sub(kernel, 1)), 1)
    ctx.assume(S.sub(size, span) >= 0 if S.is_sym(size) or S.is_sym(span) else size >= span)
    if S.is_sym(stride) and S.is_sym(span) and span.eq(stride):
        # (size - k) // k + 1 is size // k (k positive): a patch embedding's output length,
        # in the form z3 compares with other quotients by the same k without nonlinear steps
        return S.floordiv(size, stride)
    return S.add(S.floordiv(S.sub(size, span), stride), 1)


def deconv_length(size, kernel, stride, padding, output_padding=None, dilation=1):
    """Output length of a transposed convolution (Keras's deconv_output_length)."""
    if size is None:
        return None
    kernel = S.add(kernel, S.mul(S.sub(kernel, 1), S.sub(dilation, 1)))
    if output_padding is None:
        if padding == "valid":
            return S.add(S.mul(size, stride), S.maximum(S.sub(kernel, stride), 0))
        if padding == "same":
            return S.mul(size, stride)
        return None
    pad = S.floordiv(kernel, 2) if padding == "same" else 0
    return S.add(S.sub(S.add(S.mul(S.sub(size, 1), stride), kernel), S.mul(2, pad)), output_padding)


def spatial_axes(rank: int, channels_last: bool) -> list[int]:
    """Indices (in non-batch dims) of the spatial axes of a rank-``rank`` tensor."""
    return list(range(rank - 1)) if channels_last else list(range(1, rank))


def channel_axis(rank: int, channels_last: bool) -> int:
    return rank - 1 if channels_last else 0


def replace(dims, index: int, value) -> tuple:
    dims = list(dims)
    dims[index] = value
    return tuple(dims)


def has_none(dims) -> bool:
    """Whether a dim is unknown to Keras (``None in dims`` would compare z3 terms)."""
    return any(dim is None for dim in dims)


def product(dims):
    total = 1
    for dim in dims:
        if dim is None:
            return None
        total = S.mul(total, dim)
    return total


def positive(ctx, *values) -> None:
    """Keras rejects non-positive sizes (filters, units, strides): assume them positive."""
    for value in values:
        if S.is_sym(value):
            ctx.assume(value >= 1)


# ------------------------------------------------------------ layer configs


def require(ctx, term) -> bool:
    """Keras raises unless ``term`` holds: assume it; False when it is plainly false."""
    if term is True:
        return True
    ctx.assume(term)
    return term is not False


def require_positive(ctx, *values) -> bool:
    """Assume every size is >= 1 (kernel sizes, strides, filters...), ints included."""
    return all([require(ctx, value >= 1) for value in values if value is not None])


def require_nonnegative(ctx, *values) -> bool:
    return all([require(ctx, value >= 0) for value in values if value is not None])


def sequence(value) -> list | None:
    """The items of a tuple, list or list value; None for anything else."""
    if isinstance(value, (tuple, list)):
        return list(value)
    if isinstance(value, ListValue):
        return list(value.items)
    return None


def data_format(ctx, value):
    """True for channels_last, False for channels_first, None when not understood."""
    if value is None:
        return ctx.channels_last(None)
    if isinstance(value, str) and value.lower() in ("channels_last", "channels_first"):
        return ctx.channels_last(value.lower())
    return None


def padding_mode(value, allowed=("valid", "same")) -> str | None:
    """The lowercased padding string when it is one of ``allowed``."""
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    return None


def split(dims, channels_last: bool):
    """(spatial dims, channel dim) of a channels-last or channels-first shape."""
    if channels_last:
        return tuple(dims[:-1]), dims[-1]
    return tuple(dims[1:]), dims[0]


def join(spatial, channels, channels_last: bool) -> tuple:
    spatial = tuple(spatial)
    return spatial + (channels,) if channels_last else (channels,) + spatial


def image(spatial, channels, channels_last: bool) -> Tensor:
    """A tensor with these spatial dims and channels, laid out as ``channels_last`` says."""
    return Tensor(join(spatial, channels, channels_last), channels_last=channels_last)


def pairs(ctx, value, n: int):
    """Per-axis (before, after) amounts from an int, ``n`` ints, or ``n`` pairs."""
    single = ctx.int(value)
    if single is not None:
        return ((single, single),) * n
    items = sequence(value)
    if items is None or len(items) != n:
        return None
    out = tuple(ctx.ints(item, 2) for item in items)
    return None if any(pair is None for pair in out) else out


def scale(size, factor):
    return None if size is None else S.mul(size, factor)
