"""The Python class model: method resolution over user classes and binding methods to receivers."""

from __future__ import annotations

from dataclasses import replace

from .values import ClassValue, FunctionValue


def bind_method(fn: FunctionValue, receiver) -> FunctionValue:
    return replace(fn, bound_self=receiver)


def mro(cls: ClassValue) -> list:
    """The user classes a lookup on ``cls`` visits, in order (breadth-first, left to right:
    Python's C3 order for the hierarchies models are written with)."""
    order, seen, queue = [], set(), [cls]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        order.append(current)
        queue.extend(b for b in current.bases if isinstance(b, ClassValue))
    return order


def lookup_class_attribute(cls: ClassValue, name: str, skip_self: bool = False, after: ClassValue | None = None):
    """Method resolution over user classes; ``after``: only the classes that follow it
    (``super()`` inside a method of ``after``); ``skip_self``: after ``cls`` itself."""
    classes = mro(cls)
    if skip_self and after is None:
        after = cls
    if after is not None:
        # the same class statement, even if its module was executed again (and its class rebuilt)
        position = next((i for i, c in enumerate(classes) if c is after or c.node is after.node), 0)
        classes = classes[position + 1:]
    for current in classes:
        if name in current.attrs:
            return current.attrs[name]
    return None
