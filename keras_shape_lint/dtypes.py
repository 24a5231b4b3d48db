"""Dtypes as values: ``x.dtype``, ``self.compute_dtype``, ``keras.backend.standardize_dtype``.

A dtype never changes a shape, but model code branches on it (``if x.dtype == "float16":
x = ops.clip(x, ...)``).  The layer class analysed as an entry point takes its dtype
policy from its caller (``dtype=`` of its constructor), so its compute dtype is a free
value: a string from :data:`FLOAT_DTYPES`, and each branch on it is explored for the
dtypes that take it.  A witness that needs a dtype other than float32 names it as the
constructor's ``dtype=`` argument.  Keras casts a layer's floating inputs to its compute
dtype before ``call()`` runs, so the dtype of an input of the entry's ``call()`` is that
same value (a witness's inputs are floating).

Every other dtype is known only where the code says it (``"int32"``), is some integer
dtype (positions, masks), or is unknown: a comparison with it is undecided, as before.
"""

from __future__ import annotations

import z3

from . import symbolic as S
from .classes import lookup_class_attribute
from .values import FunctionValue, Tensor, Unknown

# the dtypes a layer's policy may compute in (a policy's name for a plain dtype)
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
DEFAULT_DTYPE = "float32"
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool")
# attributes of a Keras layer that name its compute dtype (policies of plain dtypes only)
LAYER_DTYPE_ATTRIBUTES = ("compute_dtype", "variable_dtype", "dtype")
_POLICY_DTYPE_ATTRIBUTES = ("compute_dtype", "variable_dtype", "name")


class DType:
    """A dtype: ``name`` a dtype string, a z3 string (the entry's free dtype), ``"int"``
    for some integer or boolean dtype, or None when nothing is known."""

    __slots__ = ("name", "domain")

    INT = "int"

    def __init__(self, name, domain=None):
        self.name = name
        self.domain = domain  # the path condition that keeps a free dtype among FLOAT_DTYPES

    def __repr__(self) -> str:
        return f"DType({self.name!r})"


class DTypePolicy:
    """``self.dtype_policy`` of a layer: its dtypes are the layer's dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: DType):
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"DTypePolicy({self.dtype!r})"


UNKNOWN = DType(None)


def _entry_class(analysis):
    return getattr(analysis, "entry_class", None)


def _takes_dtype(cls) -> bool:
    """Does the class's constructor pass a ``dtype=`` keyword on to Keras (``**kwargs``
    and no ``dtype`` parameter of its own; or Keras's own constructor)?"""
    init = lookup_class_attribute(cls, "__init__")
    if not isinstance(init, FunctionValue):
        return True
    params = init.node.params
    if params.star_kwarg is None:
        return False
    named = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    return all(p.name.value != "dtype" for p in named)


def entry_dtype(analysis, st) -> DType:
    """The compute dtype of the layer analysed as the entry point: free (its constructor's
    ``dtype=``), recorded as a free argument for witnesses; unknown when the entry is no
    layer class or its constructor does not take ``dtype=``."""
    from .analysis import FreeParam  # the entry's free arguments

    cls = _entry_class(analysis)
    if cls is None or not _takes_dtype(cls):
        return UNKNOWN
    found = getattr(analysis, "_entry_dtype", None)
    if found is None or found[0] is not analysis.free_params:
        value = Unknown("dtype", free=True)
        value.config = True
        term = value.as_str()
        domain = S.disj(*[term == z3.StringVal(name) for name in FLOAT_DTYPES])
        analysis.free_params.append(FreeParam("dtype", value, DEFAULT_DTYPE, "init", keyword_only=True))
        found = analysis._entry_dtype = (analysis.free_params, DType(term, domain))
    dtype = found[1]
    if not any(condition.term is dtype.domain for condition in st.pc):
        st.add(dtype.domain)
    return dtype


def _entry_input(analysis, tensor: Tensor) -> bool:
    """Is ``tensor`` an input of the entry layer's ``call()``?"""
    for param in analysis.free_params:
        if param.group != "call":
            continue
        values = param.value if isinstance(param.value, tuple) else (param.value,)
        if any(isinstance(v, Unknown) and v._tensor is tensor for v in values):
            return True
    return False


def tensor_dtype(analysis, st, tensor: Tensor) -> DType:
    """``x.dtype``."""
    from .ops._common import INT

    if tensor.dtype == INT:
        return DType(DType.INT)
    if tensor.free and _entry_class(analysis) is not None and _entry_input(analysis, tensor):
        return entry_dtype(analysis, st)
    return UNKNOWN


def layer_dtype(analysis, st, instance, name: str):
    """``self.compute_dtype`` (and ``dtype``, ``variable_dtype``) or ``self.dtype_policy``
    of an instance of the entry's layer class; None for an attribute of another layer."""
    cls = _entry_class(analysis)
    if cls is None or instance.cls is not cls:
        return None
    dtype = entry_dtype(analysis, st)
    return DTypePolicy(dtype) if name == "dtype_policy" else dtype


def policy_attribute(policy: DTypePolicy, name: str):
    return policy.dtype if name in _POLICY_DTYPE_ATTRIBUTES else None


def standardize(value):
    """``keras.backend.standardize_dtype(value)``: a dtype stays itself; a string is a
    dtype by its name (``"float"`` is float32)."""
    if isinstance(value, DType):
        return value
    if isinstance(value, DTypePolicy):
        return value.dtype
    if isinstance(value, str):
        return DType({"float": "float32", "int": "int64"}.get(value, value))
    if value is None:
        return DType(DEFAULT_DTYPE)  # Keras's default float type
    return UNKNOWN


def compare(op: str, a, b):
    """``==`` and ``!=`` between a dtype and a dtype or a dtype's name: a bool, a z3 bool,
    or None when unknown."""
    if op not in ("Equal", "NotEqual"):
        return None
    left, right = (_name(a), _name(b))
    if left is None or right is None:
        return None
    same = _same(left, right)
    if same is None:
        return None
    return same if op == "Equal" else S.neg(same)


def _name(value):
    if isinstance(value, DType):
        return value.name
    if isinstance(value, DTypePolicy):
        return value.dtype.name
    if isinstance(value, str):
        return standardize(value).name
    return None


def _same(left, right):
    if isinstance(left, str) and isinstance(right, str):
        if DType.INT in (left, right):
            other = right if left == DType.INT else left
            if other in FLOAT_DTYPES:
                return False
            return None if other in INT_DTYPES or other == DType.INT else False
        return left == right
    if S.is_sym(left) and S.is_sym(right):
        return True if left.eq(right) else None
    term, text = (left, right) if S.is_sym(left) else (right, left)
    if text not in FLOAT_DTYPES:
        return False  # the free dtype is one of the float dtypes
    return term == z3.StringVal(text)
