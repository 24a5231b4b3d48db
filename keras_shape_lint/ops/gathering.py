"""TensorFlow's gathers: ``tf.gather`` (with ``batch_dims``) and ``tf.gather_nd``.

Shapes as TensorFlow's shape functions give them when a layer's call is traced:

- ``tf.gather(params, indices, axis=a, batch_dims=b)``: ``params.shape[:a] +
  indices.shape[b:] + params.shape[a + 1:]``.  ``axis`` defaults to ``batch_dims`` as
  given (``-1``: the last axis of ``params``); a negative ``batch_dims`` counts from the
  end of ``indices``'s axes.  The leading ``b``
  sizes are those of ``params``: TensorFlow does not compare them with ``indices``'s
  when it traces (a mismatch fails only on data).  With ``b`` 0 it is ``take`` along
  ``axis`` (:func:`keras_shape_lint.ops.shape.take`).
- ``tf.gather_nd(params, indices, batch_dims=b)``: the last axis of ``indices`` (``q``
  entries) indexes the ``q`` axes of ``params`` after its first ``b``; the result is
  ``indices.shape[:-1] + params.shape[b + q:]``.  Its first ``b`` sizes must agree
  between the two (TensorFlow raises when both are known and differ; where one is
  unknown the other's is kept), and ``q`` may not exceed ``params``'s rank less ``b``.
  A free ``params`` whose rank nothing fixed is given the rank the indices address
  (``b + q`` axes), as a caller may give it.

An index count, axis or ``batch_dims`` that is not a concrete int, or a tensor whose
rank is not known, gives an opaque result (the result's rank would not be known).
"""

from __future__ import annotations

from .. import symbolic as S
from . import arg
from ._common import full, function, given_axis, plain_int, require, result, tensor
from .shape import take


@function("tensorflow.gather", "tensorflow.compat.v1.gather")
def tf_gather(ctx, args, kwargs):
    """``tf.gather(params, indices, validate_indices, axis, batch_dims)``."""
    params, indices = arg(args, kwargs, 0, "params"), arg(args, kwargs, 1, "indices")
    where = arg(args, kwargs, 3, "axis")
    batch_dims = arg(args, kwargs, 4, "batch_dims", 0)
    if isinstance(batch_dims, int) and not isinstance(batch_dims, bool) and batch_dims == 0:
        return take(ctx, [params, indices], {"axis": 0 if where is None else where})
    return _gather_batched(ctx, tensor(ctx, params), tensor(ctx, indices), where, plain_int(batch_dims))


def _gather_batched(ctx, params, indices, where, batch_dims):
    if batch_dims is None:
        return ctx.opaque("tf.gather with batch_dims that are not a number")
    if params is None or indices is None or not params.known or not indices.known:
        return ctx.opaque("tf.gather with batch_dims of a tensor of unknown rank")
    shape, index_shape = full(params), full(indices)
    position = batch_dims if where is None else given_axis(where, len(shape))  # before batch_dims is counted
    if batch_dims < 0:
        batch_dims += len(index_shape)
    if position is not None and position < 0:
        position += len(shape)
    ranks_fit = 0 <= batch_dims <= len(index_shape) and position is not None and batch_dims <= position < len(shape)
    if not ranks_fit:
        return ctx.opaque("tf.gather axis and batch_dims TensorFlow rejects")
    out = shape[:position] + index_shape[batch_dims:] + shape[position + 1:]
    return result(ctx, out, params, params.dtype, params.batched)


@function("tensorflow.gather_nd", "tensorflow.compat.v1.gather_nd")
def tf_gather_nd(ctx, args, kwargs):
    """``tf.gather_nd(params, indices, batch_dims=0)``."""
    params = tensor(ctx, arg(args, kwargs, 0, "params"))
    indices = tensor(ctx, arg(args, kwargs, 1, "indices"))
    batch_dims = plain_int(arg(args, kwargs, 2, "batch_dims", 0))
    if params is None or indices is None or not indices.known or batch_dims is None or batch_dims < 0:
        return ctx.opaque("tf.gather_nd arguments not understood")
    index_shape = full(indices)
    count = plain_int(index_shape[-1]) if index_shape else None
    if not params.known and count is not None:
        # a free input whose rank nothing fixed: the rank the indices address
        params.choose_rank(batch_dims + count - (1 if params.batched else 0))
    if not params.known:
        return ctx.opaque("tf.gather_nd of a tensor of unknown rank")
    shape = full(params)
    if count is None:
        return ctx.opaque("tf.gather_nd with an index count that is not known")
    if batch_dims >= len(index_shape) or batch_dims + count > len(shape):
        return ctx.opaque("tf.gather_nd index count TensorFlow rejects")
    leading = []
    for size, index_size in zip(shape[:batch_dims], index_shape[:batch_dims]):
        if size is not None and index_size is not None and not require(ctx, S.eq(size, index_size)):
            return ctx.opaque("tf.gather_nd batch sizes TensorFlow rejects")
        leading.append(index_size if size is None else size)
    out = leading + index_shape[batch_dims:-1] + shape[batch_dims + count:]
    if batch_dims:
        batch = params.batched or indices.batched
    elif len(index_shape) > 1:
        batch = indices.batched
    else:
        batch = params.batched and count == 0
    return result(ctx, out, params, params.dtype, batch)
