"""Does running a class as an entry point run any code of the analysed file?

A class written as attributes alone (``backbone_cls = MyBackbone``, ``tokenizer_cls = ...``)
on a base from another module inherits every method it runs: constructing and calling it
executes only the other modules' code, whose merges are counted where those modules are
linted, and no call on the way is written in this file, so no finding could be placed here.
Such an entry point is not run at all.

Likewise a file whose only functions are constructors (a subclass that passes its own
configuration to ``super().__init__``, a tokenizer with its vocabulary) runs its own code only
while the instance is made: once constructed, an instance that holds nothing defined in the
file runs none of the file's code when called (:func:`runs_own_code_when_called`).
"""

from __future__ import annotations

import libcst as cst

from .classes import mro
from .frontend import walk
from .values import ClassValue, DictValue, FunctionValue, InstanceValue, ListValue

# statements of a class body that run nothing later: names bound to values (no call), docstrings
_INERT = (cst.Assign, cst.AnnAssign, cst.Expr, cst.Pass)


def defined_nodes(module: cst.Module) -> set:
    """Ids of every class, function and lambda written in ``module``."""
    return {id(node) for node in walk(module) if type(node) in _DEFINITIONS}


_DEFINITIONS = (cst.ClassDef, cst.FunctionDef, cst.Lambda)


def runs_own_code(cls: ClassValue, own: set) -> bool:
    """Would constructing and calling ``cls`` run code written in the file whose definitions
    are ``own`` (:func:`defined_nodes`)?  True unless every class of its hierarchy written
    there is a body of plain attributes holding nothing defined there."""
    for current in mro(cls):
        if id(current.node) not in own:
            continue
        if not _inert_body(current.node):
            return True
        if any(_holds_own(value, own, set()) for value in current.attrs.values()):
            return True
    return False


def only_constructors(module: cst.Module) -> bool:
    """Are the file's only functions ``__init__`` methods (and no lambdas)?"""
    return all(type(node) is not cst.Lambda and (type(node) is not cst.FunctionDef or node.name.value == "__init__")
               for node in walk(module))


def runs_own_code_when_called(instance: InstanceValue, own: set, only_init: bool) -> bool:
    """Would calling ``instance``, constructed already, run code written in the file whose
    definitions are ``own``?  Not when the file's only functions are constructors
    (``only_init``, :func:`only_constructors`) and neither the instance nor its classes
    hold anything written there but the classes themselves."""
    if not only_init:
        return True
    seen = {id(current) for current in mro(instance.cls)}  # (their constructors have run)
    return any(_holds_own(value, own, seen) for value in instance.attrs.values()) or any(
        _holds_own(value, own, set(seen)) for current in mro(instance.cls) for value in current.attrs.values()
        if not (isinstance(value, FunctionValue) and value.name == "__init__"))


def _inert_body(node) -> bool:
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else node.body.body
    for line in body:
        if not isinstance(line, cst.SimpleStatementLine):
            return False  # a method, a nested class, an if ...
        for statement in line.body:
            if not isinstance(statement, _INERT) or _calls_or_defines(statement):
                return False
    return True


def _calls_or_defines(node) -> bool:
    found = []

    class _Finder(cst.CSTVisitor):
        def visit_Call(self, node):
            found.append(node)
            return False

        def visit_Lambda(self, node):
            found.append(node)
            return False

    node.visit(_Finder())
    return bool(found)


def _holds_own(value, own: set, seen: set) -> bool:
    """Does ``value`` hold a function or class written in the analysed file?"""
    if id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, (FunctionValue, ClassValue)):
        return id(value.node) in own
    if isinstance(value, InstanceValue):
        return _holds_own(value.cls, own, seen) or any(_holds_own(v, own, seen) for v in value.attrs.values())
    if isinstance(value, ListValue):
        return any(_holds_own(v, own, seen) for v in value.items)
    if isinstance(value, DictValue):
        return any(_holds_own(v, own, seen) for v in value.items.values())
    if isinstance(value, tuple):
        return any(_holds_own(v, own, seen) for v in value)
    return False
