"""The ``ctx`` object layer transfer functions receive (see :mod:`keras_shape_lint.layers`)."""

from __future__ import annotations

import functools

from . import symbolic as S
from .checks import check_data_merge, check_merge
from .provenance import Origin
from .values import ListValue, Tensor, Unknown


class LayerContext:
    def __init__(self, calls, state, node, display: str, real=None, call_args=(), call_kwargs=None,
                 built: bool = False):
        self._calls = calls
        self.analysis = calls.analysis
        self.state = state
        self.node = node
        self.display = display
        # set when the layer runs on data-time sizes: the inputs Keras itself sees
        self.real = real
        # the call's arguments after its inputs: layer(x, value, mask=m) -> [value], {"mask": m}
        self.call_args = list(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.unchecked = True  # until a merge check runs: a merge whose inputs nobody could read
        self.why_unchecked = None  # what kept the merge from being checked, if not its inputs
        # the layer object was built before this call (its weights are made): Keras no longer
        # sizes them from this input, and an axis it does not know is no refusal
        self.built = built

    def tensor(self, value, rank: int | None = None) -> Tensor | None:
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
        if isinstance(value, bool):
            return None
        if S.is_int_like(value):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return None

    def ints(self, value, n: int):
        if isinstance(value, ListValue):
            value = tuple(value.items)
        if isinstance(value, tuple):
            if len(value) != n:
                return None
            items = tuple(self.int(v) for v in value)
            return None if any(v is None for v in items) else items
        single = self.int(value)
        return None if single is None else (single,) * n

    def assume_on_data(self, term) -> None:
        """What data must satisfy to get past this call, though Keras builds without checking
        it (a -1 in a batch's reshape): the path goes on where it holds."""
        if term is not True:
            self.state.add(term)

    def assume(self, term) -> None:
        if self.real is not None and not S.is_sym(term):
            return  # Keras does not check sizes it does not know at build time
        if term is False:
            # Keras itself rejects this configuration: the path cannot go on
            self.state.add(False)
            return
        self.state.add(term)

    def proves(self, term) -> bool:
        """Does ``term`` hold on every input that reaches this point?"""
        if not S.is_sym(term):
            return bool(term)
        return self.analysis.solver.refutes(self.state.pc, [S.neg(term)])

    def channels_last(self, data_format) -> bool:
        if isinstance(data_format, str):
            return data_format != "channels_first"
        return self.analysis.options.data_format != "channels_first"

    def check_merge(self, kind: str, tensors, axis=None) -> None:
        self.unchecked = False
        if self.real is not None:
            real = [self.tensor(t) for t in _items(self.real)]
            check_data_merge(self.analysis, self.state, self.node, self.display, kind, tensors, real, axis)
            return
        check_merge(self.analysis, self.state, self.node, self.display, kind, tensors, axis)

    def unread_merge(self, inputs) -> None:
        """A join this path reached with inputs it could not read: where another path
        checked it as a merge, it is undecided (see :meth:`Analysis.note_unread_merge`)."""
        self.analysis.note_unread_merge(self.node, self.state.modules[-1],
                                        functools.partial(self._calls._unread, inputs))

    def call(self, function, args, kwargs=None):
        results = self._calls.call(function, list(args), dict(kwargs or {}), self.state, self.node)
        if len(results) == 1 and results[0][0] is self.state:
            return results[0][1]
        return self.opaque("callable that forks")

    def apply_layer(self, layer, inputs):
        return self._calls.apply_layer(layer, inputs, self.state, self.node, {})

    def opaque_int(self, reason: str):
        """A number the analysed code does not fix (a layer's choice among several), named
        for ``reason`` where a merge it keeps undecided is explained."""
        return S.opaque_int(origin=Origin(reason, self.node, self.state.modules[-1]))

    def opaque(self, reason: str) -> Tensor:
        self.analysis.note_opaque(reason)
        tensor = Tensor(None, channels_last=self.channels_last(None))
        tensor.origin = Origin(reason, self.node, self.state.modules[-1])
        return tensor


def _items(inputs):
    if isinstance(inputs, ListValue):
        return inputs.items
    if isinstance(inputs, tuple):
        return list(inputs)
    return [inputs]
