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

from .frontend import children

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_LOOPS = (cst.For, cst.While)
# names that reach a function's locals without naming them
_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec", "dir"})


def dead_after_ifs(function) -> dict:
    """``id(if node) -> (node, names)`` for the ``if`` statements of ``function``."""
    return {key: found for key, found in _dead_after(function).items() if type(found[0]) is cst.If}


def dead_after_loops(function) -> dict:
    """``id(loop node) -> (node, names)`` for the ``for`` and ``while`` statements of
    ``function`` that are not inside another loop: the names only the loop mentions."""
    return {key: found for key, found in _dead_after(function).items() if type(found[0]) is not cst.If}


def _dead_after(function) -> dict:
    """``id(node) -> (node, names)`` for the ``if`` and loop statements of ``function``.

    Only a ``def`` has such statements; any other node gives an empty table.
    One walk counts each name's occurrences in the whole function and inside
    each ``if`` that qualifies (not in a loop, not in a nested scope).
    """
    if not isinstance(function, cst.FunctionDef):
        return {}
    everywhere: Counter = Counter()
    inside: dict = {}  # id(if) -> (node, Counter)
    spoiled: set = set()  # ifs that define a function, lambda or class
    # (node, enclosing qualifying ifs, in a loop or nested scope of the function)
    stack = [(child, (), False) for child in children(function)]
    while stack:
        node, ifs, nested = stack.pop()
        if isinstance(node, cst.Name):
            everywhere[node.value] += 1
            for key in ifs:
                inside[key][1][node.value] += 1
            continue
        if isinstance(node, _SCOPES):
            spoiled.update(ifs)
            nested = True
        elif isinstance(node, (cst.If, *_LOOPS)) and not nested:
            inside[id(node)] = (node, Counter())
            ifs = ifs + (id(node),)
            nested = isinstance(node, _LOOPS)
        elif isinstance(node, _LOOPS):
            nested = True
        stack.extend((child, ifs, nested) for child in children(node))
    if everywhere.keys() & _INTROSPECTION:
        return {}
    return {
        key: (node, frozenset(name for name, count in counts.items() if count == everywhere[name]))
        for key, (node, counts) in inside.items() if key not in spoiled
    }
