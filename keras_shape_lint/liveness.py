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

import dataclasses
from collections import Counter

import libcst as cst

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_LOOPS = (cst.For, cst.While)
# names that reach a function's locals without naming them
_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec", "dir"})
# fields that only hold layout (whitespace, commas, parentheses): never a name
_LAYOUT = frozenset({"lpar", "rpar", "lbracket", "rbracket", "lbrace", "rbrace", "leading_lines",
                     "lines_after_decorators", "header", "footer", "comma", "semicolon", "newline",
                     "indent", "equal", "dot", "star", "operator"})
_FIELDS: dict = {}


def dead_after_ifs(function) -> dict:
    """``id(if node) -> (node, names)`` for the ``if`` statements of ``function``.

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
    stack = [(child, (), False) for child in _children(function)]
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
        elif isinstance(node, _LOOPS):
            nested = True
        elif isinstance(node, cst.If) and not nested:
            inside[id(node)] = (node, Counter())
            ifs = ifs + (id(node),)
        stack.extend((child, ifs, nested) for child in _children(node))
    if everywhere.keys() & _INTROSPECTION:
        return {}
    return {
        key: (node, frozenset(name for name, count in counts.items() if count == everywhere[name]))
        for key, (node, counts) in inside.items() if key not in spoiled
    }


def _children(node):
    """The child nodes of ``node`` that can hold names (layout fields skipped)."""
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(
            f.name for f in dataclasses.fields(node)
            if f.name not in _LAYOUT and "whitespace" not in f.name)
    out = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (tuple, list)):
            out.extend(item for item in value if isinstance(item, cst.CSTNode))
    return out
