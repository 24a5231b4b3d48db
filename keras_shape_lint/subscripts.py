"""Subscripts: sequences, dicts, shapes, and tensor slicing."""

from __future__ import annotations

from . import symbolic as S
from .values import ELLIPSIS, DictValue, ListValue, ShapeOf, Slice, Tensor, Unknown, opaque


def subscript(interp, st, value, keys):
    if isinstance(value, Unknown) and any(isinstance(k, Slice) or k is ELLIPSIS or k is None for k in keys):
        value = value.as_tensor()
    if isinstance(value, Tensor):
        result = slice_tensor(value, keys)
        if value.shadow is not None and isinstance(result, Tensor):
            shadow = slice_tensor(value.shadow, keys)
            result.shadow = shadow if isinstance(shadow, Tensor) and shadow.known else None
        return result
    if len(keys) != 1:
        return opaque("multi-dimensional subscript")
    key = keys[0]
    if isinstance(value, ShapeOf):
        return _shape_item(value, key)
    if isinstance(value, DictValue):
        if S.is_sym(key) or isinstance(key, (Unknown, ListValue, DictValue)):
            return opaque("dict lookup with an unknown key")
        try:
            return value.items.get(key, opaque("missing dict key"))
        except TypeError:
            return opaque("unhashable key")
    if isinstance(value, ListValue):
        value = tuple(value.items)
        if isinstance(key, Slice):
            result = _slice_sequence(value, key)
            return ListValue(result) if isinstance(result, tuple) else result
    if isinstance(value, (tuple, str)):
        if isinstance(key, Slice):
            return _slice_sequence(value, key)
        if isinstance(key, int) and not isinstance(key, bool) and -len(value) <= key < len(value):
            return value[key]
        return opaque("index of a sequence")
    if isinstance(value, Unknown) and value.free and isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        # a sequence the caller passes (``stackwise_num_filters[0]``): at least that long
        st.add(value.length() > key)
        return value.item(key)
    return opaque("subscript of an unknown value")


def _slice_sequence(value, key: Slice):
    bounds = (key.lower, key.upper, key.step)
    if all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds):
        return value[key.lower:key.upper:key.step]
    return opaque("slice with unknown bounds")


def _shape_item(shape: ShapeOf, key):
    full = shape.as_tuple()
    if full is not None:
        if isinstance(key, Slice):
            return _slice_sequence(full, key)
        if isinstance(key, int) and -len(full) <= key < len(full):
            return full[key]
        return opaque("shape index")
    tensor = shape.tensor
    if key == -1 and tensor.channels_last or key == 1 and not tensor.channels_last:
        return tensor.channels_dim()
    return opaque("shape index on a tensor of unknown rank")


def slice_tensor(tensor: Tensor, keys):
    """``x[:, :, :, a:b]`` and friends; keys include the batch axis."""
    plain = [k for k in keys if k is not None and k is not ELLIPSIS]
    if not tensor.known:
        if ELLIPSIS in keys or not plain:
            return opaque("slice of a tensor of unknown rank")
        if not tensor.with_rank(len(plain) - 1):
            return opaque("slice of a tensor of another rank")
    dims = (None,) + tuple(tensor.dims)
    if ELLIPSIS in keys:
        at = keys.index(ELLIPSIS)
        fill = len(dims) - len(plain)
        if fill < 0:
            return opaque("too many indices")
        keys = keys[:at] + [Slice(None, None, None)] * fill + keys[at + 1:]
    out = []
    position = 0
    for key in keys:
        if key is None:
            out.append(1)
            continue
        if position >= len(dims):
            return opaque("too many indices")
        size = dims[position]
        position += 1
        if isinstance(key, Slice):
            out.append(_slice_length(size, key))
        elif isinstance(key, int) or S.is_sym(key):
            continue  # an index drops the axis
        else:
            return opaque("tensor index of unknown kind")
    out.extend(dims[position:])
    if not out:
        return opaque("scalar from a tensor")
    return Tensor(out[1:], channels_last=tensor.channels_last) if keys and _keeps_batch(keys) else opaque("batch axis indexed")


def _keeps_batch(keys) -> bool:
    first = keys[0]
    return isinstance(first, Slice) and first.lower is None and first.upper is None


def _slice_length(size, key: Slice):
    if key.step not in (None, 1):
        return None if size is None else opaque_dim()
    lower, upper = key.lower, key.upper
    if isinstance(lower, Unknown):
        lower = lower.as_int()
    if isinstance(upper, Unknown):
        upper = upper.as_int()
    if lower is None:
        lower = 0
    if not S.is_int_like(lower) or (upper is not None and not S.is_int_like(upper)):
        return None if size is None else opaque_dim()  # Keras would reject it; nothing to say here
    if isinstance(lower, int) and lower < 0:
        if size is None:
            return None
        lower = S.add(size, lower)
    if upper is None:
        return None if size is None else S.sub(size, lower)
    if isinstance(upper, int) and upper < 0:
        if size is None:
            return None
        upper = S.add(size, upper)
    if size is None:
        return S.sub(upper, lower)
    end = S.minimum(upper, size)
    return S.maximum(S.sub(end, lower), 0) if not (S.is_sym(end) or S.is_sym(lower)) else S.sub(end, lower)


def opaque_dim():
    return S.opaque_int()
