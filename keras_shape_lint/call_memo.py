"""Calls run once: a user function's result handed out again to a later call that would do
the same.

A call is kept when it changes nothing but its own names (:func:`changes_only_its_own`), went
on as one path that took no branch and assumed nothing but of its arguments' sizes
(:func:`assumed`, assumed again where the call is not run), and gave a value that can be handed
out again (:func:`storable`).  Its key
says everything the body could read that differs from call to call:

* arguments that are all concrete: the call does the same on every path and in every entry
  point (:func:`concrete_key`);
* arguments with symbolic sizes (a tensor of ``hidden_dim`` channels, a size ``n``): the call
  does the same where the sizes are the same terms and the path knows the same about them, so
  the key holds the terms and the path's conditions that share a variable with them
  (:func:`symbolic_key`), with what else a merge in the body reads of the path (an earlier
  step left unchecked, whether Keras runs the body only on data), and only within one run of an
  entry point (a run notes what its calls read, a batch size or a default that raised).  A value it gives may name
  only the arguments' variables: a size the body made up (a value nobody knows) is each
  call's own, and two calls must not share it.
"""

from __future__ import annotations

import libcst as cst

from . import symbolic as S
from .frontend import MUTATING_METHODS, binding_targets, target_names, walk
from .values import FunctionValue, Imported, ListValue, Tensor, Unknown


def fingerprint(value):
    """A hashable summary of a fully concrete value, or None if it has anything symbolic."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    if isinstance(value, tuple):
        parts = tuple(fingerprint(v) for v in value)
        return None if any(p is None for p in parts) else ("tuple",) + parts
    if isinstance(value, Tensor):
        if value.free or not value.known or not all(d is None or type(d) is int for d in value.dims):
            return None
        shadow = None
        if value.shadow is not None:
            # data-time sizes depend only on the data, whatever the path: same terms, same result
            shadow = tuple(Term(d) if S.is_sym(d) else d for d in value.shadow.dims or ())
        return ("tensor", value.dims, value.channels_last, shadow)
    if isinstance(value, FunctionValue) and not value.closure and value.bound_self is None:
        return ("function", id(value.node))
    if isinstance(value, Imported):
        return ("imported", value.qualname)
    return None


def changes_only_its_own(node) -> bool:
    """Does a function's body change nothing but its own names and what they alone hold?  No
    ``global``/``nonlocal``, no ``del``, no item or attribute assigned, and containers changed
    in place only through names it binds itself (``outputs = []; outputs.append(y)``), so that
    a call with the same arguments gives the same result and changes nothing a later call reads."""
    own = set()
    for target in binding_targets(node.body):
        own |= target_names(target) or set()
    params = node.params
    parameters = {p.name.value for p in list(params.posonly_params) + list(params.params) + list(params.kwonly_params)}
    for current in walk(node.body):
        kind = type(current)
        if kind in (cst.Global, cst.Nonlocal, cst.Del):
            return False
        if kind in (cst.AssignTarget, cst.AugAssign, cst.AnnAssign) and type(current.target) in (cst.Subscript,
                                                                                                 cst.Attribute):
            return False
        if kind is cst.Call and type(current.func) is cst.Attribute and current.func.attr.value in MUTATING_METHODS:
            receiver = current.func.value
            if type(receiver) is not cst.Name or receiver.value not in own or receiver.value in parameters:
                return False
    return True


def concrete_key(fn: FunctionValue, args, kwargs):
    """The key of a call of a plain function on concrete arguments, or None."""
    if fn.closure or fn.bound_self is not None or fn.is_lambda:
        return None
    parts = [fingerprint(a) for a in args]
    named = sorted((k, fingerprint(v)) for k, v in kwargs.items())
    if any(p is None for p in parts) or any(p is None for _, p in named):
        return None
    return (id(fn.node), tuple(parts), tuple(named))


def symbolic_key(fn: FunctionValue, args, kwargs, st, analysis):
    """``(key, variables)`` of a call of a plain function whose arguments hold symbolic sizes
    (the names of the variables they hold), or ``(None, None)``; ``fn`` is a plain function (no
    closure, no ``self``, no lambda), as for :func:`concrete_key`."""
    terms: list = []
    parts = [_symbolic_print(a, terms) for a in args]
    named = sorted((k, _symbolic_print(v, terms)) for k, v in kwargs.items())
    if not terms or any(p is None for p in parts) or any(p is None for _, p in named):
        return None, None
    chosen = analysis.solver.conditions_on(st.pc, terms)
    if chosen is None:
        return None, None
    names = frozenset().union(*(S.variables(t) for t in terms))
    unchecked = id(st.unchecked[0]) if st.unchecked is not None else None
    # (what a run of an entry point notes as it goes, a call kept from another run would not)
    context = (tuple(Term(c.term) for c in chosen), unchecked, analysis.data_only, analysis.suppress_checks,
               analysis.entry_runs)
    return (id(fn.node), tuple(parts), tuple(named), context), names


def assumed(before: tuple, after: tuple, names) -> tuple | None:
    """The terms a call conjoined to the path condition (``before`` it ran, ``after``), when
    they can be assumed again at a later call with the same key: none for concrete arguments,
    else assumptions (no branch taken) that name only the arguments' variables."""
    if after[:len(before)] != before:
        return None
    added = after[len(before):]
    if not added:
        return ()
    if names is None or any(c.branch or not c.names <= names for c in added):
        return None
    return tuple(c.term for c in added)


def _symbolic_print(value, terms: list):
    """:func:`fingerprint`, with a symbolic size as its term (collected in ``terms``)."""
    if S.is_sym(value) and S.is_int_like(value):
        terms.append(value)
        return ("size", Term(value))
    if isinstance(value, tuple):
        parts = tuple(_symbolic_print(v, terms) for v in value)
        return None if any(p is None for p in parts) else ("tuple",) + parts
    if isinstance(value, Tensor):
        dims = _dims_print(value, terms)
        if dims is None:
            return fingerprint(value)
        shadow = None
        if value.shadow is not None:
            # (the sizes the data will have where Keras knows none while it builds)
            shadow = _dims_print(value.shadow, terms) if value.shadow.shadow is None else None
            if shadow is None:
                return None
        return ("tensor", dims, shadow, value.channels_last, value.batched, value.dtype, value.label)
    return fingerprint(value)


def _dims_print(tensor: Tensor, terms: list):
    """A known tensor's sizes, the symbolic ones as their terms (collected in ``terms``), or None."""
    if tensor.free or not tensor.known or tensor.origin is not None or tensor._source is not None:
        return None
    dims = []
    for d in tensor.dims:
        if S.is_sym(d):
            terms.append(d)
            dims.append(Term(d))
        elif d is None or type(d) is int:
            dims.append(d)
        else:
            return None
    return tuple(dims)


class Term:
    """A z3 term as a dictionary key: z3 shares equal terms, so their ids are equal (the key
    holds the term, so that its id is not reused)."""

    __slots__ = ("term",)

    def __init__(self, term):
        self.term = term

    def __hash__(self):
        return S.term_id(self.term)

    def __eq__(self, other):
        return isinstance(other, Term) and self.term.eq(other.term)


def storable(value, names=None, outside=()) -> bool:
    """Can a call's result be handed out again to a later call with the same key?  A concrete
    value, or a value nobody knows of which no symbolic view was taken (a helper that asks
    which backend runs: each call gives one as opaque as the first's), a tuple of them, or a
    list the call made itself (none of ``outside``, the ids of lists its caller can reach).
    With ``names``, the variables of a symbolic key: a tensor or a size that names only them."""
    if isinstance(value, tuple):
        return all(storable(v, names, outside) for v in value)
    if type(value) is Unknown:
        return (not value.free and value._tensor is None and value._int is None and value._str is None
                and value._items is None and value._length is None and value._sequence is None
                and value._derived is None and value.used_as is None
                and value._bool in (None, True, False) and value._none in (None, True, False))
    if type(value) is ListValue:
        return id(value) not in outside and all(storable(v, names, outside) for v in value.items)
    if names is not None:
        terms: list = []
        if _symbolic_print(value, terms) is not None and all(S.variables(t) <= names for t in terms):
            return True
    return fingerprint(value) is not None


def lists_within(values, depth: int = 3) -> set:
    """Ids of the lists ``values`` hold (a call's arguments, its module's globals)."""
    found: set = set()
    stack = [(v, 0) for v in values]
    while stack:
        value, level = stack.pop()
        if isinstance(value, ListValue) and id(value) not in found:
            found.add(id(value))
            if level < depth:
                stack.extend((v, level + 1) for v in value.items)
        elif isinstance(value, tuple) and level < depth:
            stack.extend((v, level + 1) for v in value)
    return found


def fresh(value):
    """A kept result handed out again: tensors, lists and values nobody knows as new objects,
    like a new call's."""
    if type(value) is Unknown:
        new = Unknown(value.label, False, value.reason)
        new.origin, new._bool, new._none = value.origin, value._bool, value._none
        return new
    if isinstance(value, Tensor):
        new = Tensor(value.dims, channels_last=value.channels_last)
        new.batched, new.dtype = value.batched, value.dtype
        new.shadow = value.shadow
        return new
    if isinstance(value, tuple):
        return tuple(fresh(v) for v in value)
    if type(value) is ListValue:
        return ListValue(fresh(v) for v in value.items)
    return value
