"""Subscripts: sequences, dicts, shapes, and tensor slicing."""

from __future__ import annotations

import libcst as cst

from . import symbolic as S
from .frontend import walk
from .state import _copy_value, _same
from .values import (ELLIPSIS, DictValue, ListValue, RepeatedList, ShapeOf, Slice, Tensor, Unknown, UnknownText,
                     dict_key, opaque, text_unknown)
from .values import from_full_dims, full_dims


RAISES = object()  # a subscript Python refuses (an index out of range): the path ends there


def subscript(interp, st, value, keys, node=None):
    if isinstance(value, (Tensor, Unknown)) and len(keys) == 1 and _key_sequence(keys[0]) is not None:
        keys = _key_sequence(keys[0])  # ``x[tuple(indices)]`` (or a list of them) of slices and None
    if isinstance(value, Unknown) and any(isinstance(k, Slice) or k is ELLIPSIS or k is None for k in keys):
        value = value.as_tensor()
    if isinstance(value, Tensor):
        proves = _prover(interp, st)
        result = slice_tensor(value, keys, proves)
        if isinstance(result, Tensor):
            result.dtype = value.dtype
            if value.shadow is not None:
                shadow = slice_tensor(value.shadow, keys, proves)
                result.shadow = shadow if isinstance(shadow, Tensor) and shadow.known else None
            elif result.known and any(isinstance(k, Slice) and k.data_time for k in keys):
                # sliced where only the data says: on data its sizes are not the ones it was
                # built with (``positions[:, :ops.shape(x)[1]]``), and nothing here knows them
                result.shadow = _sizes_known_on_data_only(result)
        return result
    if value is None:
        # Python raises TypeError here.  Often a parameter left at its None default is why
        # (``mask[:, None, :]`` with ``mask=None``): one no caller can keep (see
        # Analysis._run_entry); else a value the analyser holds as None where the code has
        # another.  Either way nothing after this on the path is checked: a witness that
        # leaves the default would fail here first
        if node is not None:
            if type(node.value) is cst.Name and hasattr(interp, "rejected"):
                interp.rejected.add(node.value.value)
                interp.subscripted_none.add(node.value.value)
            analysis = getattr(interp, "analysis", None)
            if analysis is not None:
                analysis.none_subscripts.add(id(node))
            if st.unchecked is None:
                st.unchecked = (node, st.modules[-1])
        return opaque("subscript of None")
    if len(keys) != 1:
        return opaque("multi-dimensional subscript")
    key = keys[0]
    if isinstance(value, ShapeOf):
        first = key.lower if isinstance(key, Slice) else key
        if first is None or type(first) is int and first == 0:  # the batch size, alone or leading
            interp.analysis.batch_read = True
        full = value.as_tuple()  # (its length: the item itself is _shape_item's)
        if full is None and plain_index(key) and key > 0 and node is not None:
            # ``shape[1]`` ... ``shape[3]``: the rank a free input is given is one every index the
            # function reads from the same shape allows, not just the first read
            value.tensor.choose_rank(max(2, _highest_index(st, node)))
            full = value.as_tuple()
        if full is not None and plain_index(key) and not -len(full) <= key < len(full) and st.unchecked is None:
            # Python raises here; for a rank a free input was given by choice, another rank
            # would have gone on: nothing after this on the path is checked against that rank
            st.unchecked = (node, st.modules[-1]) if node is not None else st.unchecked
        return _shape_item(value, key)
    if isinstance(value, DictValue):
        if S.is_sym(key) or isinstance(key, (Unknown, ListValue, DictValue)):
            return opaque("dict lookup with an unknown key")
        try:
            if text_unknown(key):
                return opaque("dict lookup with a key nobody knows")
            return value.items.get(dict_key(key), opaque("missing dict key"))
        except TypeError:
            return opaque("unhashable key")
    if isinstance(value, RepeatedList) and not value.spoiled and not isinstance(key, Slice):
        return _repeated_item(interp, st, value, key)
    if isinstance(value, ListValue) and S.is_int_like(key) and S.is_sym(key):
        return _uniform_item(interp, st, value.items, key)
    if isinstance(value, ListValue):
        value = tuple(value.items)
        if isinstance(key, Slice):
            result = _slice_sequence(value, key)
            return ListValue(result) if isinstance(result, tuple) else result
    if isinstance(value, UnknownText):  # an f-string's letters: those of the text Python makes
        value = value.real
        if value is None:
            return opaque("letters of a text nobody knows")
    if isinstance(value, (tuple, str)):
        if isinstance(key, Slice):
            return _slice_sequence(value, key)
        if isinstance(key, int) and not isinstance(key, bool) and -len(value) <= key < len(value):
            return value[key]
        if plain_index(key):
            # ``valid_inputs[0]`` of an empty list: Python raises IndexError.  The defaults of the
            # running function's parameters (``points=None``) may be why: a caller passes others
            _blame_defaults(interp, st)
            return RAISES
        return opaque("index of a sequence")
    if isinstance(value, Unknown) and value.free and isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        # a sequence the caller passes (``stackwise_num_filters[0]``): at least that long
        st.add(value.length() > key)
        return value.item(key)
    if isinstance(value, Unknown) and value.free and S.is_sym(key) and S.is_int_like(key):
        return _unknown_item(interp, value, key)
    for part in (value, key):
        if isinstance(part, Unknown) and part.free:
            part.unread()  # nobody learnt what it must be: a witness cannot write it down
    return opaque("subscript of an unknown value")


def _blame_defaults(interp, st) -> None:
    function = st.chain[-1][2] if st.chain else None
    if function is not None and hasattr(interp, "rejected"):
        params = function.params
        interp.rejected.update(p.name.value for p in [*params.posonly_params, *params.params, *params.kwonly_params]
                               if p.default is not None)


def plain_index(key) -> bool:
    """A concrete Python int (not a bool)."""
    return isinstance(key, int) and not isinstance(key, bool)


_HIGHEST: dict = {}  # id of a subscript node -> (the function, the node, the highest index)


def _highest_index(st, node) -> int:
    """The highest constant index the running function applies to the expression ``node``
    subscripts (``shape`` in ``shape[0], shape[1], shape[2], shape[3]``): 0 where unknown."""
    function = st.chain[-1][2] if st.chain else None
    if function is None:
        return 0
    found = _HIGHEST.get(id(node))
    if found is None or found[0] is not function or found[1] is not node:
        if len(_HIGHEST) > 4096:
            _HIGHEST.clear()
        found = _HIGHEST[id(node)] = (function, node, _scan_indices(function, node.value))
    return found[2]


def _scan_indices(function, target) -> int:
    highest = 0
    for found in _subscripts(function):
        if len(found.slice) != 1 or not isinstance(found.slice[0].slice, cst.Index):
            continue
        index = found.slice[0].slice.value
        if isinstance(index, cst.Integer) and found.value.deep_equals(target):
            highest = max(highest, int(index.evaluated_value))
    return highest


def _subscripts(function) -> list:
    return [found for found in walk(function) if type(found) is cst.Subscript]


def _unknown_item(interp, value: Unknown, key) -> Unknown:
    """``stackwise_filters[i]`` for a symbolic ``i`` (a loop's index for any iteration): a
    value nobody knows, the same one each time the same index reads it."""
    cache = interp.__dict__.setdefault("_symbolic_items", {})
    found = cache.get((id(value), key.get_id()))
    if found is None:
        # what the sequence must hold is not learnt: a witness cannot write it down
        value.unread()
        found = (opaque(f"an item of {value.label} for an index that is not known"), value, key)
        cache[(id(value), key.get_id())] = found
    return found[0]


MAX_UNIFORM_ITEMS = 32  # a list indexed by a symbolic size: how many of its items are compared


def _repeated_item(interp, st, value: RepeatedList, key):
    """``blocks[i]`` of a list a loop built: a copy of its repeated item (as a loop over
    it gives) where the path proves ``i`` falls among the copies, or among leading items
    all equal to it; an item of the leading ones for a concrete ``i`` before them."""
    if isinstance(key, bool) or not S.is_int_like(key):
        return opaque("index of a list built by a loop")
    proves = _prover(interp, st)
    lead = len(value.items)
    if isinstance(key, int) and 0 <= key < lead:
        return value.items[key]
    if value.tail:
        # what was appended after the loop: the last items; an index that may fall among them
        # and the copies alike is no index of one item
        if isinstance(key, int) and -len(value.tail) <= key < 0:
            return value.tail[key]
        if isinstance(key, int) and key < 0:
            key += len(value.tail)
        elif not proves(key < S.add(lead, value.count)):
            return opaque("index of a list built by a loop, maybe among the items after its copies")
    if isinstance(key, int) and key < 0 and proves(value.count >= -key):
        return _copy_value(value.item, {})  # among the last copies
    if not proves(S.conj(key >= 0, key < S.add(lead, value.count))):
        return opaque("index of a list built by a loop, maybe out of its range")
    if proves(key >= lead) or all(_same(item, value.item, {}) for item in value.items):
        return _copy_value(value.item, {})
    return _uniform_item(interp, st, value.items, key, value.item)


def _uniform_item(interp, st, items: list, key, rest=None):
    """``items[k]`` for a symbolic ``k`` (``rest``, if given, stands for the items after
    ``items``): a copy of the one item every position the path allows holds, else opaque."""
    proves = _prover(interp, st)
    end = len(items) if rest is None else None
    if end is not None and not proves(S.conj(key >= 0, key < end)):
        return opaque("index of a sequence, maybe out of its range")
    if len(items) > MAX_UNIFORM_ITEMS:
        return opaque("index of a long sequence")
    allowed = [item for position, item in enumerate(items) if not proves(S.ne(key, position))]
    if rest is not None and not proves(key < len(items)):
        allowed.append(rest)
    if not allowed or not all(_same(item, allowed[0], {}) for item in allowed[1:]):
        return opaque("index of a sequence whose items differ")
    return _copy_value(allowed[0], {})


def _slice_sequence(value, key: Slice):
    bounds = (key.lower, key.upper, key.step)
    if all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds):
        return value[key.lower:key.upper:key.step]
    return opaque("slice with unknown bounds")


def _prover(interp, st):
    """``proves(term)``: does ``term`` hold on every input that reaches this point?"""

    def proves(term) -> bool:
        if not S.is_sym(term):
            return bool(term)
        return interp.analysis.solver.refutes(st.pc, [S.neg(term)])

    return proves


def _sizes_known_on_data_only(tensor: Tensor) -> Tensor:
    shadow = Tensor(tuple(d if d is None else S.opaque_int("a size known only on data") for d in tensor.dims),
                    channels_last=tensor.channels_last)
    shadow.batched, shadow.dtype = tensor.batched, tensor.dtype
    return shadow


def _key_sequence(key):
    """The keys a tuple or list of slices, None and ``...`` (and ints, with a slice among them)
    stands for, as one subscript's keys; None for any other key."""
    items = tuple(key.items) if isinstance(key, ListValue) else key if isinstance(key, tuple) else None
    if not items or not any(isinstance(k, Slice) or k is None or k is ELLIPSIS for k in items):
        return None
    if not all(isinstance(k, Slice) or k is None or k is ELLIPSIS or (type(k) is int) for k in items):
        return None
    return list(items)


def leading_sizes(count: int, dynamic: bool = False) -> tuple:
    """The first ``count`` sizes of a tensor of unknown rank: its batch size, which Keras never
    knows (None; the backend's value, read by ``ops.shape``: ``dynamic``), then sizes nobody
    here knows."""
    batch = S.batch_size() if dynamic else None
    return tuple(batch if i == 0 else S.opaque_int(f"<axis {i} of a tensor of unknown rank>") for i in range(count))


def _shape_item(shape: ShapeOf, key):
    full = shape.sizes()
    if full is not None:
        if isinstance(key, Slice):
            return _slice_sequence(full, key)
        if isinstance(key, int) and -len(full) <= key < len(full):
            return full[key]
        return opaque("shape index")
    tensor = shape.tensor
    if isinstance(key, Slice) and key.lower is None and key.step is None and tensor.channels_last:
        # ``ops.shape(x)[:-1]``: the shape of x without its last axes, whatever its rank
        drop = key.upper
        if drop is None:
            return shape
        if isinstance(drop, int) and not isinstance(drop, bool) and drop < 0:
            follower = Tensor.follow(tensor, -drop, ())
            if follower is not None:
                return ShapeOf(follower, shape.dynamic)
        if isinstance(drop, int) and not isinstance(drop, bool) and drop > 0:
            # ``b, s = ops.shape(x)[:2]``: a free input gets at least that rank; any other
            # tensor's first sizes are its batch size (which Keras never knows) and sizes
            # nobody here knows
            if tensor.choose_rank(max(2, drop - 1)):
                return _shape_item(shape, key)
            return leading_sizes(drop, shape.dynamic)
    if isinstance(key, int) and not isinstance(key, bool) and key == 0:
        # the batch size, which Keras never knows when it builds (the backend's value, at run time)
        return S.batch_size() if shape.dynamic else None
    if key == -1 and tensor.channels_last or key == 1 and not tensor.channels_last:
        return tensor.channels_dim()
    if isinstance(key, int) and not isinstance(key, bool) and key < 0 and tensor.channels_last:
        # ``x.shape[-2]``: whatever its rank, x has that axis (its caller gives it one)
        return tensor.axis_from_end(-key)
    if isinstance(key, int) and not isinstance(key, bool) and tensor.choose_rank(max(2, key if key > 0 else -key - 1)):
        return _shape_item(shape, key)  # a free input: the rank its caller gives it
    if isinstance(key, int) and not isinstance(key, bool) and key > 0:
        # a size nobody here knows, but a size: where the tensor has no such axis Python raises
        # and the path ends (``factor * ops.cast(ops.shape(x)[1], "float32")`` is arithmetic)
        return leading_sizes(key + 1)[key]
    return opaque("shape index on a tensor of unknown rank")


def slice_tensor(tensor: Tensor, keys, proves=None):
    """``x[:, 0, :]``, ``x[..., None]``, ``x[:, :n]``: keys include the batch axis.

    Sizes follow Python's slicing rules (bounds clamped to the axis, negative
    bounds counted from its end); a size Keras does not know (None) stays unknown
    whatever the slice, as it does in Keras.  Whatever ends up first is the batch
    position (an index into the batch, ``x[0]``, moves the next axis there).
    """
    proves = proves or _concrete_only
    # a symbolic index drops its axis as any index does; below keys are compared by value,
    # which a z3 term turns into a term of its own
    keys = [(0 if S.is_int_like(k) else _UNKNOWN_KEY) if S.is_sym(k) else k for k in keys]
    plain = [k for k in keys if k is not None and k is not ELLIPSIS]
    if keys.count(ELLIPSIS) > 1:
        return opaque("two ellipses in a subscript")
    if not tensor.known:  # (a tensor that follows one whose rank is known by now is known)
        last = _trailing_slice(tensor, keys, proves)
        if last is not None:
            return last
        root = tensor.rank_root()
        # ``x[:, 0]`` leaves any further axes in place: the keys tell the rank only as a
        # choice, which a free input (the caller's to pick) allows, and so what follows its
        # rank (``self.proj(x)[:, None, :]``); an opaque one does not
        if ELLIPSIS in keys or not plain or not root.free:
            return opaque("slice of a tensor of unknown rank")
        elif not tensor.with_rank(len(plain) - 1):
            return opaque("slice of a tensor of another rank")
    dims = tuple(full_dims(tensor))  # a weight's own shape: it has no batch axis
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
            out.append(_slice_length(size, key, proves))
        elif (isinstance(key, int) and not isinstance(key, bool)) or S.is_int_like(key):
            continue  # an index drops the axis
        else:
            return opaque("tensor index of unknown kind")
    out.extend(dims[position:])
    if not out:
        return opaque("scalar from a tensor")
    # a first axis of known size is no batch axis, which Keras never sizes (``x[None]``)
    return from_full_dims(out, tensor.batched and out[0] is None, tensor.channels_last)


def _trailing_slice(tensor: Tensor, keys, proves):
    """``x[..., a:b]``, ``x[..., 0]``, ``x[..., None]``, ``x[:, ..., 1:, :]`` of a tensor whose
    rank is not known yet: the keys after the ellipsis take its last axes, so whatever rank it
    has, the result keeps the axes before them (the halves of a rotary embedding,
    ``x[..., :half]``; the real part ``x[..., 0]``).  None for any other subscript."""
    if not tensor.channels_last or keys.count(ELLIPSIS) != 1:
        return None
    at = keys.index(ELLIPSIS)
    before, after = keys[:at], keys[at + 1:]
    if len(before) > 1 or not after:
        return None
    # a leading ``:`` takes the batch axis, which every tensor of unknown rank has before its last
    if any(not isinstance(k, Slice) or (k.lower, k.upper, k.step) != (None, None, None) for k in before):
        return None
    taken = [k for k in after if k is not None]
    if any(not isinstance(k, Slice) and not (S.is_int_like(k) and not isinstance(k, bool)) for k in taken):
        return None
    sizes = [tensor.axis_from_end(k) for k in range(len(taken), 0, -1)]  # channels last: each is there
    tail = []
    for key in after:
        if key is None:
            tail.append(1)
            continue
        size = sizes.pop(0)
        if isinstance(key, Slice):
            tail.append(_slice_length(size, key, proves))
        # an index drops its axis
    return Tensor.follow(tensor, len(taken), tail)


_UNKNOWN_KEY = object()  # a symbolic key that is not an index (a condition)


def _concrete_only(term) -> bool:
    return bool(term) if not S.is_sym(term) else False


def _slice_length(size, key: Slice, proves):
    """The length Python gives ``range(size)[key]``, or None when Keras would not know it."""
    bounds = []
    for bound in (key.lower, key.upper, key.step):
        if isinstance(bound, Unknown):
            bound = bound.as_int()
        if bound is not None and not S.is_int_like(bound):
            return None if size is None else opaque_dim()  # Keras would reject it; nothing to say here
        bounds.append(bound)
    lower, upper, step = bounds
    if size is None:
        return None
    if step is None or isinstance(step, int) and step == 1:
        start = 0 if lower is None else _position(size, lower, proves)
        end = size if upper is None else _position(size, upper, proves)
        return _at_least_zero(S.sub(end, start), proves)
    if S.is_sym(step) or step == 0:
        return opaque_dim()
    if step < 0:
        if lower is not None or upper is not None:
            return opaque_dim()
        return S.ceildiv(size, -step)  # the whole axis, backwards
    start = 0 if lower is None else _position(size, lower, proves)
    end = size if upper is None else _position(size, upper, proves)
    return S.ceildiv(_at_least_zero(S.sub(end, start), proves), step)


def _position(size, bound, proves):
    """A slice bound as a position in ``[0, size]``: negative bounds count from the end."""
    if proves(bound >= 0):
        return bound if proves(bound <= size) else S.minimum(bound, size)
    from_end = S.add(size, bound)
    if proves(bound < 0):
        return from_end if proves(from_end >= 0) else S.maximum(from_end, 0)
    return S.ite(bound >= 0, S.minimum(bound, size), S.maximum(from_end, 0))


def _at_least_zero(length, proves):
    return length if proves(length >= 0) else S.maximum(length, 0)


def opaque_dim():
    return S.opaque_int()
