"""Reshaping layers: padding, cropping, upsampling, Flatten, Reshape, Permute, RepeatVector."""

from __future__ import annotations

from .. import symbolic as S
from ..values import Tensor
from . import REQUIRED, layer
from . import shapes

REJECTED = "configuration Keras rejects"


def _spatial_map(ctx, cfg, inputs, rank, per_axis, fn):
    """Apply ``fn(ctx, size, amount)`` to each spatial axis of a rank-``rank``
    (spatial) input; ``per_axis`` is the tuple of per-axis amounts or None."""
    last = shapes.data_format(ctx, cfg.get("data_format"))
    x = ctx.tensor(inputs, rank=rank + 1)
    if per_axis is None or last is None or x is None:
        return ctx.opaque("reshaping configuration not understood")
    spatial, channels = shapes.split(x.dims, last)
    out = []
    for size, amount in zip(spatial, per_axis):
        new = fn(ctx, size, amount)
        if new is REJECTED:
            return ctx.opaque(REJECTED)
        out.append(new)
    return shapes.image(out, channels, last)


def _pad(ctx, size, pair):
    if not shapes.require_nonnegative(ctx, *pair):
        return REJECTED
    return None if size is None else S.add(size, S.add(*pair))


def _crop(ctx, size, pair):
    if not shapes.require_nonnegative(ctx, *pair):
        return REJECTED
    if size is None:
        return None
    out = S.sub(size, S.add(*pair))
    return out if shapes.require_positive(ctx, out) else REJECTED


def _upsample(ctx, size, factor):
    if not shapes.require_positive(ctx, factor):
        return REJECTED
    return shapes.scale(size, factor)


def _one_pair(ctx, value):
    pair = ctx.ints(value, 2)
    return None if pair is None else (pair,)


@layer("ZeroPadding1D", params=[("padding", 1), ("data_format", None)])
def zero_padding1d(ctx, cfg, inputs):
    return _spatial_map(ctx, cfg, inputs, 1, _one_pair(ctx, cfg.get("padding", 1)), _pad)


@layer("Cropping1D", params=[("cropping", (1, 1))])
def cropping1d(ctx, cfg, inputs):
    # Cropping1D has no data_format: it always crops axis 1.
    cfg = dict(cfg, data_format="channels_last")
    return _spatial_map(ctx, cfg, inputs, 1, _one_pair(ctx, cfg.get("cropping", (1, 1))), _crop)


@layer("UpSampling1D", params=[("size", 2)])
def upsampling1d(ctx, cfg, inputs):
    cfg = dict(cfg, data_format="channels_last")
    factor = ctx.int(cfg.get("size", 2))
    return _spatial_map(ctx, cfg, inputs, 1, None if factor is None else (factor,), _upsample)


def _register_nd(rank):
    ones = ((1, 1),) * rank

    @layer(f"ZeroPadding{rank}D", params=[("padding", ones), ("data_format", None)])
    def zero_padding(ctx, cfg, inputs):
        return _spatial_map(ctx, cfg, inputs, rank, shapes.pairs(ctx, cfg.get("padding", ones), rank), _pad)

    default_crop = ((0, 0),) * rank if rank == 2 else ones

    @layer(f"Cropping{rank}D", params=[("cropping", default_crop), ("data_format", None)])
    def cropping(ctx, cfg, inputs):
        amounts = shapes.pairs(ctx, cfg.get("cropping", default_crop), rank)
        return _spatial_map(ctx, cfg, inputs, rank, amounts, _crop)

    params = [("size", (2,) * rank), ("data_format", None)]
    if rank == 2:
        params.append(("interpolation", "nearest"))

    @layer(f"UpSampling{rank}D", params=params)
    def upsampling(ctx, cfg, inputs):
        return _spatial_map(ctx, cfg, inputs, rank, ctx.ints(cfg.get("size", 2), rank), _upsample)


for _rank in (2, 3):
    _register_nd(_rank)


@layer("Flatten", params=[("data_format", None)])
def flatten(ctx, cfg, inputs):
    x = ctx.tensor(inputs)
    if x is None or not x.known:
        return ctx.opaque("Flatten of an unknown-rank tensor")
    return Tensor((shapes.product(x.dims),))


@layer("Reshape", params=[("target_shape", REQUIRED)])
def reshape(ctx, cfg, inputs):
    items = shapes.sequence(cfg.get("target_shape"))
    x = ctx.tensor(inputs)
    if items is None or x is None:
        return ctx.opaque("Reshape target not understood")
    # Keras reads anything but an int (here: a literal None) as an unknown size.
    target = [None if item is None else ctx.int(item) for item in items]
    if any(dim is None and item is not None for dim, item in zip(target, items)):
        return ctx.opaque("Reshape target not understood")
    inferred = [i for i, dim in enumerate(target) if isinstance(dim, int) and dim == -1]
    valid = len(inferred) <= 1 and all(dim >= -1 for dim in target if isinstance(dim, int))
    # a symbolic size is taken to be a size, never the -1 placeholder
    symbolic = [dim for dim in target if S.is_sym(dim)]
    if not (shapes.require(ctx, valid) and shapes.require_nonnegative(ctx, *symbolic)):
        return ctx.opaque(REJECTED)
    if shapes.has_none(target) or (x.known and shapes.has_none(x.dims)):
        return Tensor(None if i in inferred else dim for i, dim in enumerate(target))
    if not x.known:
        # the input's size is out of reach: the inferred size is an unknown
        return Tensor(S.opaque_int() if i in inferred else dim for i, dim in enumerate(target))
    total = shapes.product(x.dims)
    known = shapes.product(dim for i, dim in enumerate(target) if i not in inferred)
    if not inferred:
        ok = shapes.require(ctx, S.eq(total, known))
        return Tensor(target) if ok else ctx.opaque(REJECTED)
    if not shapes.require(ctx, S.ne(known, 0)):
        return ctx.opaque(REJECTED)
    if not shapes.require(ctx, S.eq(S.mod(total, known), 0)):
        return ctx.opaque(REJECTED)
    target[inferred[0]] = S.floordiv(total, known)
    return Tensor(target)


@layer("Permute", params=[("dims", REQUIRED)])
def permute(ctx, cfg, inputs):
    items = shapes.sequence(cfg.get("dims"))
    if items is None or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        return ctx.opaque("Permute dims not understood")
    if sorted(items) != list(range(1, len(items) + 1)):
        shapes.require(ctx, False)
        return ctx.opaque(REJECTED)
    x = ctx.tensor(inputs, rank=len(items))
    if x is None:
        return ctx.opaque("Permute of a tensor of another rank")
    return Tensor(tuple(x.dims[i - 1] for i in items))


@layer("RepeatVector", params=[("n", REQUIRED)])
def repeat_vector(ctx, cfg, inputs):
    n = ctx.int(cfg.get("n"))
    x = ctx.tensor(inputs, rank=1)
    if n is None or x is None:
        return ctx.opaque("RepeatVector configuration not understood")
    if not shapes.require_positive(ctx, n):
        return ctx.opaque(REJECTED)
    return Tensor((n,) + x.dims)
