"""Which local names die with the ``if`` statement that assigns them.

After ``if include_preprocessing: mean = [...]; x = Normalization(mean=mean)(x)``
the two paths differ in ``mean``, bound on one and unbound on the other; nothing
after the ``if`` reads it, so the paths can still be joined once ``mean`` is
forgotten.  A name counts as dead after an ``if`` when every occurrence of it
in the enclosing function lies inside that ``if``, the ``if`` is not inside a
loop of that function (a later iteration could read it), and no function,
lambda or class is defined inside the ``if`` (it could read the name later).
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_LOOPS = (cst.For, cst.While)
# names that reach a function's locals without naming them
_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec", "dir"})


def dead_after_ifs(function) -> dict:
    """``id(if node) -> (node, names)`` for the ``if`` statements of ``function``.

    Only a ``def`` has such statements; any other node gives an empty table.
    """
    found: dict = {}
    if not isinstance(function, cst.FunctionDef):
        return found
    everywhere = _names(function)
    if everywhere.keys() & _INTROSPECTION:
        return found
    # the function's own statements, outside nested scopes, with their loop depth
    stack = [(child, False) for child in function.body.children]
    while stack:
        node, in_loop = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, cst.If) and not in_loop:
            inside = _names(node)
            if not _defines_scope(node):
                dead = frozenset(name for name, count in inside.items() if count == everywhere[name])
                found[id(node)] = (node, dead)
        inner = in_loop or isinstance(node, _LOOPS)
        stack.extend((child, inner) for child in node.children)
    return found


def _names(root) -> Counter:
    counts: Counter = Counter()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            counts[node.value] += 1
        stack.extend(node.children)
    return counts


def _defines_scope(root) -> bool:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            return True
        stack.extend(node.children)
    return False
