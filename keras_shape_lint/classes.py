"""The Python class model: method resolution over user classes and binding methods to receivers."""

from __future__ import annotations

from dataclasses import replace

from .values import ClassValue, FunctionValue


def bind_method(fn: FunctionValue, receiver) -> FunctionValue:
    return replace(fn, bound_self=receiver)


def lookup_class_attribute(cls: ClassValue, name: str, skip_self: bool = False):
    """Method resolution over user classes (depth-first, left to right)."""
    seen = set()
    stack = [cls]
    first = True
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if not (skip_self and first) and name in current.attrs:
            return current.attrs[name]
        first = False
        stack.extend(b for b in current.bases if isinstance(b, ClassValue))
    return None
