"""Python operators over concrete, symbolic and tensor values."""

from __future__ import annotations

import operator

import z3

from . import dtypes
from . import symbolic as S
from .ops._common import INT, index_broadcast
from .values import UNKNOWN_PART, ListValue, RepeatedList, Tensor, Unknown, UnknownText, opaque, real_text

_CONCRETE = {
    "Add": operator.add,
    "Subtract": operator.sub,
    "Multiply": operator.mul,
    "Divide": operator.truediv,
    "FloorDivide": operator.floordiv,
    "Modulo": operator.mod,
    "LeftShift": operator.lshift,
    "RightShift": operator.rshift,
    "BitOr": operator.or_,
    "BitAnd": operator.and_,
    "BitXor": operator.xor,
}

_SYMBOLIC = {
    "Add": S.add,
    "Subtract": S.sub,
    "Multiply": S.mul,
    "Divide": S.truediv,
    "FloorDivide": S.floordiv,
    "Modulo": S.mod,
}

_DIVISIONS = ("Divide", "FloorDivide", "Modulo")

# element-wise tensor operators and the merge they perform
TENSOR_MERGES = {"Add": "+", "Subtract": "-", "Multiply": "*", "Divide": "/"}

_MAX_CONCRETE = 10**12


_DTYPES = (dtypes.DType, dtypes.DTypePolicy)
_PLAIN = frozenset({int, float, bool, str, bytes, type(None)})  # values compared as Python compares them


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) or S.is_sym(value)


# operators no string, list or tuple takes, and model code hardly applies to tensors
_NUMERIC_ONLY = {"FloorDivide", "Power"}


def _both_ints(op, left: Unknown, right: Unknown) -> bool:
    """Do two values of unknown type combine as integers: ``img_size // patch_size``, a
    difference of two constructor arguments, or one of them already used as an int?"""
    if op not in _CONCRETE and op != "Power" or "tensor" in (left.used_as, right.used_as):
        return False
    if op in _NUMERIC_ONLY or "int" in (left.used_as, right.used_as):
        return True
    return op == "Subtract" and bool(left.config and right.config)


def _count_argument(value) -> bool:
    """A parameter the caller passes, untyped so far or used as an int, that a list is
    multiplied by: the number of copies (another type raises, or is no parameter's)."""
    return isinstance(value, Unknown) and value.free and not value.input and value.used_as in (None, "int")


def _input_tensor(value) -> bool:
    """A layer's call() input nothing has typed yet: a tensor, whatever it meets."""
    return isinstance(value, Unknown) and value.input and value.used_as in (None, "tensor")


def _compared_as_ints(op, a: Unknown, b: Unknown) -> bool:
    """Two values of unknown type compared where one is already used as an int
    (``self.input_filters == self.output_filters`` after ``Conv2D(output_filters)``)."""
    if not (a.free and b.free) or "tensor" in (a.used_as, b.used_as):
        return False
    return op in ("Equal", "NotEqual", "LessThan", "LessThanEqual", "GreaterThan", "GreaterThanEqual") \
        and "int" in (a.used_as, b.used_as)


def binary_operation(interp, op, left, right, st, node) -> list:
    if (left is None or right is None) and op in _CONCRETE:
        return []  # Python raises TypeError: the path ends here
    if isinstance(left, Tensor) or isinstance(right, Tensor):
        return [(st, _tensor_operation(interp, op, left, right, st, node))]
    if _is_number(right) and _input_tensor(left):
        left = left.as_tensor()  # ``x * scale`` in a layer's call(): x is the input tensor
    elif _is_number(left) and _input_tensor(right):
        right = right.as_tensor()
    elif _input_tensor(left) and _input_tensor(right) and (op in TENSOR_MERGES or op == "MatrixMultiply"):
        # ``queries + query_pos_embedding`` of two call() inputs: two tensors
        left, right = left.as_tensor(), right.as_tensor()
    if isinstance(left, Tensor) or isinstance(right, Tensor):
        return [(st, _tensor_operation(interp, op, left, right, st, node))]
    if isinstance(left, Unknown) and isinstance(right, Unknown) and _both_ints(op, left, right):
        left, right = left.as_int(), right.as_int()
    if op == "Multiply" and isinstance(left, ListValue) and _count_argument(right):
        right = right.as_int()  # ``[width] * num_layers``: Python repeats a list only an int number of times
    elif op == "Multiply" and isinstance(right, ListValue) and _count_argument(left):
        left = left.as_int()
    if isinstance(left, Unknown) and _is_number(right):
        left = left.as_int()
    if isinstance(right, Unknown) and _is_number(left):
        right = right.as_int()
    if _is_number(left) and _is_number(right):
        if op in _DIVISIONS and (S.is_sym(left) or S.is_sym(right)) and not isinstance(right, bool):
            # Python raises ZeroDivisionError: the path goes on only where the divisor is not 0
            if not S.is_sym(right) and right == 0:
                return []
            if S.is_sym(right):
                st.add(S.ne(right, 0))
        return [(st, _numeric(op, left, right))]
    if op == "Add":
        if isinstance(left, str) and isinstance(right, str):
            return [(st, left + right)]
        if isinstance(left, tuple) and isinstance(right, tuple):
            return [(st, left + right)]
        if isinstance(left, ListValue) and isinstance(right, ListValue):
            return [(st, ListValue(left.items + right.items))]
        if isinstance(left, ListValue) and isinstance(right, tuple):
            return [(st, ListValue(left.items + list(right)))]
        joined = _joined_repeated(left, right)
        if joined is not None:
            return [(st, joined)]
    if op == "Multiply":
        repeated = _repeated(left, right) or _repeated(right, left)
        if repeated is not None:
            return [(st, repeated)]
        seq, count = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= 1000:
            if isinstance(seq, UnknownText):
                return [(st, UnknownText(str(seq) * count, None if seq.real is None else seq.real * count))]
            if isinstance(seq, (str, tuple)):
                return [(st, seq * count)]
            if isinstance(seq, ListValue):
                return [(st, ListValue(seq.items * count))]
    if op == "Modulo" and isinstance(left, str):
        return [(st, opaque("formatted string"))]
    if isinstance(left, Unknown) and isinstance(right, (Unknown,)):
        left.unread()
        right.unread()
        result = opaque("operation on unknown values")
        if op in ("Add", "Subtract", "Multiply"):
            # tensors or numbers, nobody knows yet; once the result is used as a size (an
            # arange's stop, a shape) both were ints, and the size is their sum or product
            result.derive_int(lambda: _numeric(op, left.as_int(), right.as_int()))
        return [(st, result)]
    return [(st, opaque(f"operator {op}"))]


def _numeric(op, left, right):
    if isinstance(left, bool):
        left = int(left)
    if isinstance(right, bool):
        right = int(right)
    if not S.is_sym(left) and not S.is_sym(right):
        if op == "Power":
            if isinstance(right, int) and abs(right) > 64 or abs(left) > _MAX_CONCRETE:
                return opaque("large power")
            return left**right
        fn = _CONCRETE.get(op)
        if fn is None:
            return opaque(f"operator {op}")
        try:
            result = fn(left, right)
        except (ZeroDivisionError, OverflowError, ValueError):
            return opaque("arithmetic error")
        if isinstance(result, int) and abs(result) > _MAX_CONCRETE:
            return opaque("huge integer")
        return result
    if S.is_bool_like(left):
        left = S.to_int(left)
    if S.is_bool_like(right):
        right = S.to_int(right)
    if op == "Power":
        if isinstance(right, int) and 0 <= right <= 4:
            result = 1
            for _ in range(right):
                result = S.mul(result, left)
            return result
        # a number all the same (a scale such as hidden_dim ** 0.5), whose value is not modelled
        return S.to_real(S.opaque_int("**"))
    fn = _SYMBOLIC.get(op)
    if fn is None:
        return opaque(f"symbolic operator {op}")
    if op in ("FloorDivide", "Modulo") and (_is_real(left) or _is_real(right)):
        return opaque("real floor division")
    return fn(left, right)


def _is_real(value) -> bool:
    return isinstance(value, float) or (S.is_sym(value) and not S.is_int_like(value) and not S.is_bool_like(value))


_INDEX_OPERATORS = ("Add", "Subtract", "Multiply", "FloorDivide", "Modulo", "Power", "BitAnd", "BitOr", "BitXor")


def _tensor_operation(interp, op, left, right, st, node):
    if op == "MatrixMultiply":
        # ``x @ w`` is ops.matmul(x, w)
        results = interp.calls.call_imported("keras.ops.matmul", [left, right], {}, st, node)
        return results[0][1] if len(results) == 1 and results[0][0] is st else opaque("matmul that forks")
    if isinstance(left, Tensor) and isinstance(right, Tensor):
        if left.dtype == INT and right.dtype == INT and op in _INDEX_OPERATORS:
            # index arithmetic (positions, masks) is not a model merge
            return index_broadcast(left, right)
        symbol = TENSOR_MERGES.get(op)
        if symbol is None:
            return opaque(f"tensor operator {op}")
        return interp.calls.merge_operator(symbol, [left, right], st, node)
    tensor = left if isinstance(left, Tensor) else right
    other = right if tensor is left else left
    if isinstance(other, Unknown) and other.used_as in ("int", "bool"):
        other = other.as_int()  # a value already used as a number (a size) stays one
    elif isinstance(other, Unknown) and other.config and other.used_as is None:
        other = 1.0  # a layer's setting (an epsilon, a scale) combined with a tensor: a number
    if isinstance(other, Unknown):
        if tensor.dtype == INT and op in _INDEX_OPERATORS:
            # an offset or another index tensor of any shape: not a model merge
            result = Tensor(None, channels_last=tensor.channels_last)
            result.dtype = INT
            return result
        symbol = TENSOR_MERGES.get(op)
        if symbol is None:
            return opaque(f"tensor operator {op}")
        return interp.calls.merge_operator(symbol, [left if left is tensor else other.as_tensor(), right if right is tensor else other.as_tensor()], st, node)
    if _is_number(other) and op in ("Add", "Subtract", "Multiply", "Divide", "Power", "FloorDivide", "Modulo"):
        stays_int = tensor.dtype == INT and op != "Divide" and S.is_int_like(other)
        if not tensor.known:
            if stays_int or tensor.dtype != INT:
                return tensor
            result = Tensor.last_axis_replaced(tensor, tensor.channels_dim())
            return result if tensor.channels_last else opaque("float arithmetic on an index tensor")
        result = Tensor(tensor.dims, channels_last=tensor.channels_last)
        result.batched = tensor.batched
        result.shadow = tensor.shadow
        result.dtype = INT if stays_int else None
        return result
    return opaque(f"tensor operator {op}")


def _joined_repeated(left, right):
    """A list given item by item joined to one of copies (``[input_dim] + [hidden] * (n - 1)``,
    or the other way round), as a list of copies with more given items; None for anything else."""
    if isinstance(left, ListValue) and isinstance(right, RepeatedList) and not right.spoiled:
        return RepeatedList(left.items + right.items, right.item, right.count, right.tail)
    if isinstance(left, RepeatedList) and not left.spoiled and isinstance(right, ListValue):
        return RepeatedList(left.items, left.item, left.count, left.tail + right.items)
    return None


def _repeated(seq, count):
    """``[width] * (num_layers - 1)`` with a count nobody knows: that many copies of the item
    (none for a count below 1), as a list a loop built; None for anything else."""
    if not (isinstance(seq, ListValue) and len(seq.items) == 1 and S.is_sym(count) and S.is_int_like(count)
            and not S.is_bool_like(count)):
        return None
    return RepeatedList([], seq.items[0], S.maximum(0, count))


def _contains_text(a, b: str):
    """``a in b`` for a string ``b``; None when text nobody knows could decide it (a part of an
    f-string written ``…`` may hold ``a``, and ``a`` itself may be such text)."""
    if not isinstance(a, str):
        return None
    real_a, real_b = real_text(a), real_text(b)
    if real_a is not None and real_b is not None:
        return real_a in real_b
    if isinstance(a, UnknownText):
        return None
    if a in b:
        return True
    return None if isinstance(b, UnknownText) else False


def _compare_text(op, a, b):
    """A comparison with text some of which nobody knows (``f"block_{i}"``): two texts whose known
    beginnings or ends disagree differ; anything else is not known."""
    if op not in ("Equal", "NotEqual"):
        return None
    if not (isinstance(a, str) and isinstance(b, str)):
        return op == "NotEqual" if a is None or b is None or _is_number(a) or _is_number(b) else None
    real_a, real_b = real_text(a), real_text(b)
    if real_a is not None and real_b is not None:
        return (real_a == real_b) == (op == "Equal")
    (head_a, tail_a), (head_b, tail_b) = _known_ends(a), _known_ends(b)
    if (head_a.startswith(head_b) or head_b.startswith(head_a)) and (tail_a.endswith(tail_b)
                                                                     or tail_b.endswith(tail_a)):
        return None
    return op == "NotEqual"


def _known_ends(text: str):
    """The text before the first part nobody knows and after the last (all of it for plain text)."""
    if isinstance(text, UnknownText) and UNKNOWN_PART in text:
        return text.split(UNKNOWN_PART, 1)[0], text.rsplit(UNKNOWN_PART, 1)[1]
    return str(text), str(text)


def compare(interp, op, a, b):
    """A comparison's truth: bool, z3 bool term, or None when unknowable."""
    if op in ("Is", "IsNot"):
        same = _identical(a, b)
        if same is None:
            return None
        return same if op == "Is" else S.neg(same)
    if op in ("In", "NotIn"):
        if isinstance(b, str):
            # a substring, not one of its letters (``"convnext_tiny" in name``)
            found = _contains_text(a, b)
            return found if found is None or op == "In" else not found
        items = interp.iterate_concrete(b)
        if items is None:
            return None
        if type(a) in _PLAIN and all(type(item) in _PLAIN for item in items):
            # plain Python values throughout: Python's own answer (a byte table built with
            # `if b not in bs` over 256 ints would otherwise compare item by item, each time)
            found = a in items
            return found if op == "In" else not found
        verdicts = [compare(interp, "Equal", a, item) for item in items]
        if any(v is None for v in verdicts):
            return None
        found = S.disj(*verdicts)
        return found if op == "In" else S.neg(found)
    if isinstance(a, _DTYPES) or isinstance(b, _DTYPES):
        return dtypes.compare(op, a, b)
    if isinstance(a, Unknown) and isinstance(b, Unknown) and _compared_as_ints(op, a, b):
        a, b = a.as_int(), b.as_int()
    if isinstance(a, Unknown) and _is_number(b):
        a = a.as_int()
    if isinstance(b, Unknown) and _is_number(a):
        b = b.as_int()
    if isinstance(a, Unknown) and isinstance(b, str) or isinstance(b, Unknown) and isinstance(a, str):
        unknown, text = (a, b) if isinstance(a, Unknown) else (b, a)
        chosen = unknown.as_str() if unknown.used_as in (None, "str") else None
        if chosen is None or op not in ("Equal", "NotEqual"):
            return None
        same = chosen == z3.StringVal(text)
        return same if op == "Equal" else S.neg(same)
    if _is_number(a) and _is_number(b):
        if S.is_bool_like(a) and not S.is_bool_like(b):
            a = S.to_int(a)
        if S.is_bool_like(b) and not S.is_bool_like(a):
            b = S.to_int(b)
        if (S.is_real(a) or S.is_real(b)) and not (S.is_bool_like(a) or S.is_bool_like(b)):
            # sizes compared with a share of them (new_filters < 0.9 * filters): the sign of
            # their difference in integers, where z3 is not asked to mix the two arithmetics
            difference = S.integer_difference(a, b)
            if difference is not None:
                a, b = difference, 0
        if op == "Equal":
            return S.eq(a, b)
        if op == "NotEqual":
            return S.ne(a, b)
        if S.is_bool_like(a):
            a = S.to_int(a)
        if S.is_bool_like(b):
            b = S.to_int(b)
        fn = {"LessThan": operator.lt, "LessThanEqual": operator.le,
              "GreaterThan": operator.gt, "GreaterThanEqual": operator.ge}.get(op)
        return None if fn is None else fn(a, b)
    if isinstance(a, UnknownText) or isinstance(b, UnknownText):
        return _compare_text(op, a, b)
    if isinstance(a, (str, type(None))) or isinstance(b, (str, type(None))):
        if (_is_number(a) or _is_number(b)) and op in ("Equal", "NotEqual"):
            # a number against a string or None: values of different types are never equal
            return op == "NotEqual"
        if isinstance(a, (Unknown, Tensor)) or isinstance(b, (Unknown, Tensor)):
            if op in ("Equal", "NotEqual") and (a is None or b is None):
                other = b if a is None else a
                if isinstance(other, Tensor) or (isinstance(other, Unknown) and other.free):
                    return op == "NotEqual"
            return None
        if op == "Equal":
            return a == b
        if op == "NotEqual":
            return a != b
        if S.is_sym(a) or S.is_sym(b):
            return None  # a number ordered against a string or None: Python raises; z3 cannot say
        try:
            return {"LessThan": operator.lt, "LessThanEqual": operator.le,
                    "GreaterThan": operator.gt, "GreaterThanEqual": operator.ge}[op](a, b)
        except (TypeError, KeyError):
            return None
    if isinstance(a, ListValue) and isinstance(b, ListValue):
        a, b = tuple(a.items), tuple(b.items)
    if isinstance(a, tuple) and isinstance(b, tuple) and op in ("Equal", "NotEqual"):
        if len(a) != len(b):
            return op == "NotEqual"
        verdicts = [compare(interp, "Equal", x, y) for x, y in zip(a, b)]
        if any(v is None for v in verdicts):
            return None
        same = S.conj(*verdicts)
        return same if op == "Equal" else S.neg(same)
    return None


def _identical(a, b):
    if a is None or b is None:
        other = b if a is None else a
        if other is None:
            return True
        if isinstance(other, Unknown):
            # a free parameter without a default is a real argument; an opaque value may be None
            return other.is_none()
        return False
    if isinstance(a, bool) and isinstance(b, bool):
        return a is b
    if S.is_sym(a) or S.is_sym(b):
        return None
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return None
    return a is b
