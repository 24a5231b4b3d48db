"""The layer catalogue: shape transfer functions registered by qualified name.

A model is registered with :func:`layer`::

    @layer("Dense", params=[("units", REQUIRED), ("activation", None)])
    def dense(ctx, cfg, inputs):
        x = ctx.tensor(inputs)
        ...
        return Tensor(x.dims[:-1] + (units,))

``cfg`` maps the constructor's parameter names to the values the user passed
(or the defaults); ``inputs`` is whatever the layer is called on.  The
function returns the output value (usually a :class:`Tensor`), or
``ctx.opaque(...)`` when the shape cannot be known.  The interpreter knows no
layer by name: it looks names up here, so a new layer is one function in the
module of its family.

The ``ctx`` argument offers (see :class:`keras_shape_lint.interpreter.LayerContext`):

- ``ctx.tensor(value, rank=None)`` -> Tensor or None: the value as a tensor,
  with its rank fixed to ``rank`` (non-batch dims) when given.
- ``ctx.int(value)`` -> int, z3 int term, or None when not an int.
- ``ctx.ints(value, n)`` -> tuple of ``n`` ints from an int or a sequence
  (``kernel_size=3`` -> ``(3, 3)``), or None.
- ``ctx.assume(term)``: Keras rejects the layer unless ``term`` holds
  (e.g. group divisibility); the path continues under that assumption and
  witnesses satisfy it.
- ``ctx.channels_last(cfg.get("data_format"))`` -> bool.
- ``ctx.proves(term)`` -> bool: ``term`` holds on every input reaching the layer.
- ``ctx.check_merge(kind, tensors, axis=None)``: run the merge checks
  (``kind`` is "elementwise" or "concat").
- ``ctx.call(function, args)``: call a Python callable (for ``Lambda``).
- ``ctx.opaque(reason)``: an opaque result, recorded for coverage statistics.
- ``ctx.call_args``, ``ctx.call_kwargs``: the call's arguments after its inputs
  (``mha(query, value, attention_mask=m)`` -> ``[value]``, ``{"attention_mask": m}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

REQUIRED = object()
KERAS_LAYERS = "keras.layers"


@dataclass
class LayerModel:
    name: str
    params: list
    apply: Callable
    call_params: list = field(default_factory=list)
    # constructor arguments Keras refuses as None: it raises TypeError when the layer is made
    # (``BatchNormalization(axis=None)``) or first called (``Concatenate(axis=None)``)
    not_none: tuple = ()
    not_none_on_call: tuple = ()

    def bind(self, args: list, kwargs: dict) -> dict | None:
        """Bind constructor arguments; None when a required one is missing."""
        return bind_params(self.params, args, kwargs)


REGISTRY: dict[str, LayerModel] = {}
FUNCTIONAL: dict[str, LayerModel] = {}


def layer(*names: str, params=(), module: str = KERAS_LAYERS, functional=(), not_none=(), not_none_on_call=()):
    """Register a transfer function under ``module.name`` for each name.

    ``functional`` lists function-style aliases (``add`` for ``Add``): their
    first positional argument is what the layer is applied to, and the rest
    of their arguments bind to ``params``.  ``not_none`` and ``not_none_on_call``
    name the parameters Keras refuses as None, when the layer is made or called.
    """

    def register(apply: Callable) -> Callable:
        model = LayerModel(names[0], list(params), apply, not_none=tuple(not_none),
                           not_none_on_call=tuple(not_none_on_call))
        for name in names:
            REGISTRY[f"{module}.{name}"] = model
        for name in functional:
            FUNCTIONAL[f"{module}.{name}"] = model
        return apply

    return register


def bind_params(params, args, kwargs) -> dict | None:
    cfg = {}
    for index, (name, default) in enumerate(params):
        if index < len(args):
            cfg[name] = args[index]
        elif name in kwargs:
            cfg[name] = kwargs[name]
        elif default is REQUIRED:
            return None
        else:
            cfg[name] = default
    for name, value in kwargs.items():
        cfg.setdefault(name, value)
    return cfg


def lookup(qualname: str) -> LayerModel | None:
    return REGISTRY.get(qualname)


def lookup_functional(qualname: str) -> LayerModel | None:
    return FUNCTIONAL.get(qualname)


def _load_families() -> None:
    # Importing a family module registers its layers.
    from . import merging  # noqa: F401
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_families()
