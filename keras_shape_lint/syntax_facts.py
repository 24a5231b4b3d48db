"""Facts read from the standard library's syntax tree in one walk.

flake8 hands every plugin this tree for free, and it is many times faster to
walk than libcst's.  Before the libcst parse the analysis needs its size (to
skip files it could not even parse within the time budget) and its depth (the
parsers and walks recurse); afterwards, how often each top-level name is used
(unused functions and layers are entry points) and which functions yield.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class SyntaxFacts:
    nodes: int  # syntax nodes in the module
    depth: int  # deepest nesting; ``a and b and c`` counts as deep as it is long, as in libcst
    uses: Counter  # name -> references, not counting definitions, decorators or ``f.__doc__`` edits
    generators: frozenset  # functions whose own body yields


def read_syntax(tree: ast.AST) -> SyntaxFacts:
    nodes = deepest = 0
    uses: Counter = Counter()
    generators = set()
    # (node, depth, the function whose own body holds the node or None, the top-level
    # definition that holds it or None: a name used inside its own definition is not a use)
    stack = [(tree, 1, None, None)]
    while stack:
        node, depth, owner, top = stack.pop()
        nodes += 1
        if depth > deepest:
            deepest = depth
        if isinstance(node, ast.Name):
            if node.id != top:
                uses[node.id] += 1
            continue
        if top is None and depth == 2 and isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            top = node.name
        if isinstance(node, (ast.Yield, ast.YieldFrom)) and owner is not None:
            generators.add(owner)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            # ``f.__doc__`` reads metadata and ``f.attr = ...`` edits it: neither calls ``f``
            if node.attr.startswith("__") or isinstance(node.ctx, ast.Store):
                uses[node.value.id] -= 1
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
              and node.args and isinstance(node.args[0], ast.Name)):
            uses[node.args[0].id] -= 1
        step = len(node.values) if isinstance(node, ast.BoolOp) else 1
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            for decorator in node.decorator_list:  # applying a decorator is not a use
                uses.subtract(inner.id for inner in ast.walk(decorator) if isinstance(inner, ast.Name))
        if isinstance(node, _FUNCTIONS):
            # decorators and defaults run in the enclosing scope, the body in its own
            body = {id(statement) for statement in node.body}
            stack.extend((child, depth + step, node.name if id(child) in body else owner, top)
                         for child in ast.iter_child_nodes(node))
            continue
        if isinstance(node, (ast.Lambda, ast.ClassDef)):
            owner = None
        stack.extend((child, depth + step, owner, top) for child in ast.iter_child_nodes(node))
    return SyntaxFacts(nodes, deepest, uses, frozenset(generators))
