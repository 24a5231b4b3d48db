"""Recurrent layers (LSTM, GRU, SimpleRNN) and the Bidirectional wrapper.

A recurrent layer reads ``(time, features)`` sequences (features defined: they
size the kernel) and gives ``(units,)``, or ``(time, units)`` with
``return_sequences=True``.  With ``return_state=True`` it gives a tuple: the
output, then its final states (two for an LSTM, one otherwise), each ``(units,)``.
"""

from __future__ import annotations

from .. import symbolic as S
from ..values import LayerValue, Tensor
from . import REQUIRED, layer
from . import shapes
from .sequence_shapes import REJECTED, defined, flag, other_rank, positional_tensors, positive_int

REJECTS = "configuration Keras rejects"
OTHER_RANK = object()

# states an RNN returns besides its output
STATES = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}

GATED = [("units", REQUIRED), ("activation", "tanh"), ("recurrent_activation", "sigmoid"), ("use_bias", True)]


def recurrent_output(ctx, name, cfg, inputs):
    """(output, state tensors) of an RNN on ``inputs``; a reason string when not
    understood; REJECTED when Keras refuses it; OTHER_RANK for an input of another rank."""
    units = positive_int(ctx, cfg.get("units"))
    sequences = flag(cfg.get("return_sequences", False))
    stateful = flag(cfg.get("stateful", False))
    x = ctx.tensor(inputs)
    if units is None or sequences is None or stateful is None or x is None:
        return f"{name} configuration or input not understood"
    if stateful:
        return f"stateful {name} (its batch size is not modelled)"
    if units is REJECTED:
        return REJECTED
    if not x.with_rank(2):
        return OTHER_RANK  # Keras takes (batch, time, features) only
    time, features = x.dims
    if not defined(ctx, features):
        return REJECTED
    output = Tensor((time, units) if sequences else (units,))
    return output, [Tensor((units,)) for _ in range(STATES[name])]


def _register(name, params):
    @layer(name, params=params)
    @positional_tensors
    def apply(ctx, cfg, inputs):
        found = recurrent_output(ctx, name, cfg, inputs)
        if found is REJECTED:
            return ctx.opaque(REJECTS)
        if found is OTHER_RANK:
            return other_rank(ctx, name)
        if isinstance(found, str):
            return ctx.opaque(found)
        output, states = found
        returns_state = flag(cfg.get("return_state", False))
        if returns_state is None:
            return ctx.opaque(f"{name} return_state not understood")
        return (output, *states) if returns_state else output


_register("LSTM", GATED)
_register("GRU", GATED)
_register("SimpleRNN", [("units", REQUIRED), ("activation", "tanh"), ("use_bias", True)])

MERGE_MODES = ("concat", "sum", "mul", "ave", None)
BIDIRECTIONAL_PARAMS = [("layer", REQUIRED), ("merge_mode", "concat"), ("weights", None), ("backward_layer", None)]


@layer("Bidirectional", params=BIDIRECTIONAL_PARAMS)
@positional_tensors
def bidirectional(ctx, cfg, inputs):
    inner, mode = cfg.get("layer"), cfg.get("merge_mode", "concat")
    if not isinstance(inner, LayerValue) or inner.model.name not in STATES:
        return ctx.opaque("Bidirectional of a layer that is not a modelled RNN")
    if cfg.get("backward_layer") is not None:
        return ctx.opaque("Bidirectional with its own backward layer")
    if not (mode is None or isinstance(mode, str)):
        return ctx.opaque("Bidirectional merge_mode not understood")
    if mode not in MERGE_MODES:
        shapes.require(ctx, False)
        return ctx.opaque(REJECTS)
    returns_state = flag(inner.config.get("return_state", False))
    found = recurrent_output(ctx, inner.model.name, inner.config, inputs)
    if found is REJECTED:
        return ctx.opaque(REJECTS)
    if found is OTHER_RANK:
        return other_rank(ctx, "Bidirectional")
    if isinstance(found, str) or returns_state is None:
        return ctx.opaque(found if isinstance(found, str) else "Bidirectional return_state not understood")
    output, states = found
    if mode is None:
        outputs = (output, Tensor(output.dims))
    elif mode == "concat":
        outputs = (Tensor(output.dims[:-1] + (S.mul(2, output.dims[-1]),)),)
    else:
        outputs = (output,)
    if not returns_state:
        return outputs[0] if len(outputs) == 1 else outputs
    backward = [Tensor(state.dims) for state in states]
    return (*outputs, *states, *backward)
