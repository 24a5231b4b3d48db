"""The tensor-function catalogue: ``keras.ops``, ``tf`` and numpy functions by qualified name.

As :mod:`keras_shape_lint.layers` holds layers, this package holds functions that take
tensors and return tensors (or sizes).  A function is registered with :func:`op`::

    @op("keras.ops.expand_dims", "tensorflow.expand_dims")
    def expand_dims(ctx, args, kwargs):
        x = ctx.tensor(arg(args, kwargs, 0, "x"))
        ...
        return Tensor(...)

``ctx`` is the same :class:`keras_shape_lint.layer_context.LayerContext` layers receive
(``ctx.tensor``, ``ctx.int``, ``ctx.ints``, ``ctx.assume``, ``ctx.proves``,
``ctx.check_merge``, ``ctx.opaque`` ...); ``args`` and ``kwargs`` are the call's
arguments as the interpreter evaluated them.  Tensors among the positional arguments
are also run on their data-time shadows (KSL106), as layer inputs are.  The
interpreter knows no function by name: one module per family registers its functions
here when the package is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

OPS: dict[str, "OpModel"] = {}
_MISSING = object()


@dataclass
class OpModel:
    name: str
    apply: Callable  # (ctx, args: list, kwargs: dict) -> value
    accepts_none: bool = False  # None is a valid first argument (``keras.activations.get(None)``)

    @cached_property
    def as_layer(self):
        """The function as a layer model (keyword arguments as config, positional ones as inputs)."""
        from ..layers import LayerModel

        return LayerModel(self.name, [], lambda ctx, kwargs, args: self.apply(ctx, list(args), dict(kwargs)))


def op(*names: str):
    """Register a function model under each fully qualified (normalised) name."""

    def register(apply: Callable) -> Callable:
        model = OpModel(names[0].rsplit(".", 1)[-1], apply)
        for name in names:
            OPS[name] = model
        return apply

    return register


def lookup(qualname: str) -> OpModel | None:
    return OPS.get(qualname)


def arg(args, kwargs, index: int, name: str, default=None):
    """The argument at position ``index`` or keyword ``name``."""
    if index < len(args):
        return args[index]
    return kwargs.get(name, default)


def _load_families() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_families()
