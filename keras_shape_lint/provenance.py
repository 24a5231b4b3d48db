"""Where opaque values come from, so that an undecided merge can name what blocked it.

The interpreter keeps the calls it is evaluating on :data:`STACK`; an opaque value
made while a call runs remembers that call (its :class:`Origin`), and so does every
solver variable that stands for such a value (:func:`register`, by variable name).
A merge that cannot be decided then says which value it depends on:
"the output of ``ops.einsum`` (line 40) is unknown".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    reason: str  # what the analyser could not read ("keras.ops.einsum", "unmodelled layer")
    node: object  # the call (or other syntax) that produced the value
    module: object  # the ModuleInfo that holds ``node``


STACK: list = []  # (node, module) of the calls being evaluated, innermost last
ORIGINS: dict = {}  # opaque solver variable name -> Origin


def here(reason: str = "") -> Origin | None:
    """The origin of a value made now: the innermost call being evaluated."""
    if not STACK:
        return None
    node, module = STACK[-1]
    return Origin(reason, node, module)


def register(name: str, origin: Origin | None) -> None:
    if origin is not None:
        ORIGINS[name] = origin


def reset() -> None:
    """Forget the variables of the previous file."""
    STACK.clear()
    ORIGINS.clear()
