"""keras_hub (formerly keras_nlp) layers that models compose, as their source defines them.

Transformer blocks and position embeddings keep their input's shape; the
token embeddings append ``embedding_dim``.  Keras builds these layers from
the shapes it is given, and most of their checks only run on data: both
become assumptions (the hidden size is defined and at least ``num_heads``; a
learnt position table is at least as long as the sequence; rotary features
come in pairs).
"""

from __future__ import annotations

from .. import symbolic as S
from ..values import Tensor
from . import REQUIRED, layer
from .bases import BaseClass, Built, base_class
from . import shapes
from .sequence_shapes import (
    REJECTED,
    argument,
    data_equal,
    defined,
    flag,
    other_rank,
    positional_tensors,
    positive_int,
    same_rank,
)

HUB = "keras_hub.layers"
REJECTS = "configuration Keras rejects"

TRANSFORMER_PARAMS = [
    ("intermediate_dim", REQUIRED),
    ("num_heads", REQUIRED),
    ("dropout", 0),
    ("activation", "relu"),
    ("layer_norm_epsilon", 1e-05),
    ("kernel_initializer", "glorot_uniform"),
    ("bias_initializer", "zeros"),
    ("normalize_first", False),
]


def _features(x):
    """The last axis of ``x`` (its hidden size), even before its rank is known; None if unknown."""
    if x.known:
        return x.dims[-1] if x.rank >= 1 else None
    return x.channels_dim() if x.channels_last else None


def _heads_fit(ctx, cfg, x):
    """True, False (Keras refuses), or None (not understood): the attention head size
    ``hidden // num_heads`` must be at least 1, the feed-forward size positive."""
    heads = positive_int(ctx, cfg.get("num_heads"))
    intermediate = positive_int(ctx, cfg.get("intermediate_dim"))
    if heads is None or intermediate is None or (not x.known and not x.channels_last):
        return None
    if heads is REJECTED or intermediate is REJECTED:
        return False
    hidden = _features(x)
    return defined(ctx, hidden) and shapes.require(ctx, hidden >= heads)


@layer("TransformerEncoder", params=TRANSFORMER_PARAMS, module=HUB)
@positional_tensors
def transformer_encoder(ctx, cfg, inputs):
    scores = flag(argument(ctx, None, "return_attention_scores", False))
    x = ctx.tensor(inputs)
    if x is None or scores is None:
        return ctx.opaque("TransformerEncoder input not understood")
    if scores:
        # Keras's symbolic output is one tensor there, the data's a pair
        return ctx.opaque("TransformerEncoder attention scores")
    if x.known and x.rank < 1:
        return other_rank(ctx, "TransformerEncoder")
    fits = _heads_fit(ctx, cfg, x)
    if fits is None:
        return ctx.opaque("TransformerEncoder configuration not understood")
    return x if fits else ctx.opaque(REJECTS)


@layer("TransformerDecoder", params=TRANSFORMER_PARAMS, module=HUB)
@positional_tensors
def transformer_decoder(ctx, cfg, inputs):
    if inputs is None:
        inputs = argument(ctx, None, "decoder_sequence")
    encoder = argument(ctx, 0, "encoder_sequence")
    caches = (argument(ctx, 5, "self_attention_cache"), argument(ctx, 7, "cross_attention_cache"))
    x = ctx.tensor(inputs)
    if x is None or any(cache is not None for cache in caches):
        return ctx.opaque("TransformerDecoder input or cache not understood")
    if x.known and x.rank < 1:
        return other_rank(ctx, "TransformerDecoder")
    fits = _heads_fit(ctx, cfg, x)
    if fits is None:
        return ctx.opaque("TransformerDecoder configuration not understood")
    if not fits:
        return ctx.opaque(REJECTS)
    if encoder is None:
        return x
    memory = ctx.tensor(encoder)
    if memory is None:
        return ctx.opaque("TransformerDecoder encoder_sequence not understood")
    # cross-attention: the ranks must agree once data flows, the encoder's features size its kernels
    if same_rank(ctx, [x, memory]) is False or (memory.known and memory.rank < 1):
        return other_rank(ctx, "TransformerDecoder")
    if memory.known and not defined(ctx, memory.dims[-1]):
        return ctx.opaque(REJECTS)
    return x


def _fits_table(ctx, length, x, start, positions) -> bool:
    """A learnt position table of ``length`` rows covers the sequence (the
    second-to-last axis) from ``start``: the data-time slice needs it."""
    if positions is not None:
        return True
    start = ctx.int(start)
    size = x.dims[-2]
    if start is None or size is None:
        return True
    return shapes.require(ctx, S.add(size, start) <= length)


def _given_int(ctx, value):
    """A size argument: an int, REJECTED (``None``: Keras raises), or None when not understood."""
    if value is None:
        shapes.require(ctx, False)
        return REJECTED
    return ctx.int(value)


@layer("PositionEmbedding", params=[("sequence_length", REQUIRED), ("initializer", "glorot_uniform")], module=HUB)
@positional_tensors
def position_embedding(ctx, cfg, inputs):
    length = _given_int(ctx, cfg.get("sequence_length"))
    x = ctx.tensor(inputs)
    if length is None or x is None:
        return ctx.opaque("PositionEmbedding configuration or input not understood")
    if length is REJECTED:
        return ctx.opaque(REJECTS)
    if not x.known:
        return x
    if x.rank < 2:
        return ctx.opaque("PositionEmbedding of a rank-2 input (its sequence axis is the batch)")
    start, positions = argument(ctx, 0, "start_index", 0), argument(ctx, 1, "positions")
    if not (defined(ctx, x.dims[-1]) and _fits_table(ctx, length, x, start, positions)):
        return ctx.opaque(REJECTS)
    return x


def _position_init(ctx, cfg) -> Built:
    """What ``PositionEmbedding.__init__`` stores that a subclass's ``call`` reads."""
    length = _given_int(ctx, cfg.get("sequence_length"))
    if length is None or length is REJECTED:
        return Built()
    return Built(attrs={"sequence_length": length, "initializer": cfg.get("initializer")})


def _position_table(ctx, attrs, given) -> Built:
    """``PositionEmbedding.build``: the table ``position_embeddings``, a weight of
    ``(sequence_length, feature size)``, the feature size the input's last axis."""
    x, length = given.get("inputs_shape"), attrs.get("sequence_length")
    if not isinstance(x, Tensor) or not x.known or x.rank < 1 or length is None:
        return Built()
    feature = x.dims[-1]
    if not defined(ctx, feature):
        return Built()  # Keras raises: the path is cut
    for size in (length, feature):
        if S.is_sym(size):
            ctx.assume(size >= 1)  # as for any weight (see attributes._add_weight)
    table = Tensor((length, feature))
    table.batched = False
    return Built(attrs={"position_embeddings": table})


# its compute_output_shape() returns the input's shape: a subclass's call() runs on data only
base_class("PositionEmbedding", BaseClass(init=_position_init, build=_position_table,
                                          build_params=("inputs_shape",), declares_output=True))


@layer(
    "TokenAndPositionEmbedding",
    params=[("vocabulary_size", REQUIRED), ("sequence_length", REQUIRED), ("embedding_dim", REQUIRED),
            ("tie_weights", True), ("embeddings_initializer", "uniform"), ("mask_zero", False)],
    module=HUB,
)
@positional_tensors
def token_and_position_embedding(ctx, cfg, inputs):
    sizes = [_given_int(ctx, cfg.get(name)) for name in ("vocabulary_size", "sequence_length", "embedding_dim")]
    x = ctx.tensor(inputs)
    if any(size is None for size in sizes) or x is None:
        return ctx.opaque("TokenAndPositionEmbedding configuration or input not understood")
    if any(size is REJECTED for size in sizes) or not shapes.require_positive(ctx, sizes[0], sizes[2]):
        return ctx.opaque(REJECTS)
    vocabulary, length, dim = sizes
    if not x.known:
        return ctx.opaque("TokenAndPositionEmbedding of an input of unknown rank")
    if x.rank < 1:
        return ctx.opaque("TokenAndPositionEmbedding of a rank-1 input (its sequence axis is the batch)")
    out = Tensor(x.dims + (dim,))
    start, positions = argument(ctx, 0, "start_index", 0), argument(ctx, 1, "positions")
    return out if _fits_table(ctx, length, out, start, positions) else ctx.opaque(REJECTS)


REVERSIBLE_PARAMS = [("input_dim", REQUIRED), ("output_dim", REQUIRED), ("tie_weights", True)]


def reversible_embedding(ctx, cfg, inputs):
    """Token ids to vectors, or with ``reverse=True`` vectors (``output_dim`` features) to logits."""
    input_dim, output_dim = ctx.int(cfg.get("input_dim")), ctx.int(cfg.get("output_dim"))
    reverse = flag(argument(ctx, None, "reverse", False))
    x = ctx.tensor(inputs)
    if input_dim is None or output_dim is None or reverse is None or x is None:
        return ctx.opaque("ReversibleEmbedding configuration or input not understood")
    if not shapes.require_positive(ctx, input_dim, output_dim):
        return ctx.opaque(REJECTS)
    if not reverse:
        if not x.known:
            return ctx.opaque("ReversibleEmbedding of an input of unknown rank")
        return Tensor(x.dims + (output_dim,))
    features = _features(x)
    if features is None and not (x.known and x.rank >= 1):
        return ctx.opaque("ReversibleEmbedding reverse of an input without a known last axis")
    if not shapes.require(ctx, data_equal(features, output_dim)):
        return ctx.opaque(REJECTS)  # the data-time product with the embedding table
    return Tensor.last_axis_replaced(x, input_dim)


layer("ReversibleEmbedding", params=REVERSIBLE_PARAMS)(positional_tensors(reversible_embedding))
layer("ReversibleEmbedding", params=REVERSIBLE_PARAMS, module=HUB)(positional_tensors(reversible_embedding))


@layer(
    "RotaryEmbedding",
    params=[("max_wavelength", 10000), ("scaling_factor", 1.0), ("rope_type", "linear"), ("beta_fast", 32.0),
            ("beta_slow", 1.0), ("original_max_position_embeddings", 4096), ("truncate", True),
            ("sequence_axis", 1), ("feature_axis", -1)],
    module=HUB,
)
@positional_tensors
def rotary_embedding(ctx, cfg, inputs):
    axes = cfg.get("sequence_axis", 1), cfg.get("feature_axis", -1)
    x = ctx.tensor(inputs)
    if x is None or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        return ctx.opaque("RotaryEmbedding configuration or input not understood")
    if axes[0] == axes[1]:
        shapes.require(ctx, False)  # the same axis for both, whatever the rank
        return ctx.opaque(REJECTS)
    if not x.known:
        return x
    full = x.rank + 1  # the axes count the batch axis
    sequence, feature = (a + full if a < 0 else a for a in axes)
    if not (0 <= sequence < full and 0 <= feature < full and sequence != feature):
        return other_rank(ctx, "RotaryEmbedding")
    size = ((None,) + tuple(x.dims))[feature]
    # the features are rotated in pairs (checked when data flows)
    if size is not None and not shapes.require(ctx, S.eq(S.mod(size, 2), 0)):
        return ctx.opaque(REJECTS)
    return x


@layer("SinePositionEncoding", params=[("max_wavelength", 10000)], module=HUB)
@positional_tensors
def sine_position_encoding(ctx, cfg, inputs):
    x = ctx.tensor(inputs)
    if x is None:
        return ctx.opaque("SinePositionEncoding input not understood")
    if x.known and x.rank < 2:
        return ctx.opaque("SinePositionEncoding of a rank-2 input (its sequence axis is the batch)")
    return x
