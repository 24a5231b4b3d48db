"""A minimal stand-in for the interpreter's layer context, over plain values."""

from __future__ import annotations

from keras_shape_lint import symbolic as S
from keras_shape_lint.values import ListValue, Tensor, Unknown


class LayerCtx:
    """Implements the ``ctx`` contract of :mod:`keras_shape_lint.layers`."""

    def __init__(self, image_data_format: str = "channels_last", call_args=(), call_kwargs=None):
        self.image_data_format = image_data_format
        self.assumptions: list = []
        self.unread_merges: list = []
        self.data_assumptions: list = []  # what data must satisfy; Keras does not check it at build time
        self.opaques: list[str] = []
        self.merges: list = []
        # the call's arguments after its inputs: layer(x, value, mask=m) -> [value], {"mask": m}
        self.call_args = list(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.built = False  # a layer object called for the first time (its weights made here)

    def tensor(self, value, rank=None):
        if isinstance(value, Unknown):
            value = value.as_tensor(self.channels_last(None))
        if not isinstance(value, Tensor):
            return None
        if rank is not None and not value.with_rank(rank):
            return None
        return value

    def int(self, value):
        if isinstance(value, Unknown):
            return value.as_int()
        return value if S.is_int_like(value) else None

    def ints(self, value, n):
        single = self.int(value)
        if single is not None:
            return (single,) * n
        if isinstance(value, ListValue):
            value = value.items
        if not isinstance(value, (tuple, list)) or len(value) != n:
            return None
        items = tuple(self.int(item) for item in value)
        return None if any(item is None for item in items) else items

    def assume(self, term):
        self.assumptions.append(term)

    def assume_on_data(self, term):
        self.data_assumptions.append(term)

    def proves(self, term):
        import z3

        if not S.is_sym(term):
            return bool(term)
        solver = z3.Solver()
        solver.add(*[a for a in self.assumptions if S.is_sym(a)], z3.Not(term))
        return solver.check() == z3.unsat

    def channels_last(self, data_format):
        return (data_format or self.image_data_format) != "channels_first"

    def check_merge(self, kind, tensors, axis=None):
        self.merges.append((kind, tensors, axis))

    def unread_merge(self, inputs):
        self.unread_merges.append(inputs)

    def opaque_int(self, reason):
        self.opaques.append(reason)
        return S.opaque_int()

    def opaque(self, reason):
        # like the interpreter's: a tensor of unknown rank, the reason recorded
        self.opaques.append(reason)
        return Tensor(None, channels_last=self.channels_last(None))

    def call(self, function, args):
        return function(*args)

    # what tensor-function models (keras_shape_lint.ops) also use
    node = None
    real = None  # set only when a model runs on data-time sizes

    def apply_layer(self, layer, inputs):
        return layer.model.apply(self, layer.config, inputs)
