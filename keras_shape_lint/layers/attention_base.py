"""MultiHeadAttention as a base class: what a subclass's own ``call`` can use.

Cached decoders (keras_hub's ``CachedMultiHeadAttention`` and the classes
built on it) subclass ``keras.layers.MultiHeadAttention`` and write ``call``
from its private pieces.  The facts, as Keras 3 defines them:

- ``__init__`` stores ``_num_heads``, ``_key_dim``, ``_value_dim`` (``key_dim``
  when not given), ``_dropout``, ``_use_bias``, ``_use_gate``,
  ``_output_shape`` (an int becomes a 1-tuple), ``_attention_axes`` (an int
  becomes a 1-tuple), ``_inverse_sqrt_key_dim`` and the public properties
  ``num_heads``, ``key_dim``, ``value_dim`` ...; it refuses a ``num_heads``,
  ``key_dim`` or ``value_dim`` that is not a positive int.
- ``build(query_shape, value_shape, key_shape=None)`` refuses a key that
  differs from the value on an axis other than the last one, then creates
  four ``EinsumDense`` projections.  For an input of full rank ``r`` (batch
  axis included) a projection's equation has ``r - 1`` free letters, one bound
  letter and two output letters (``"abc,cde->abde"`` for ``r = 3``) with
  output shape ``[None] * (r - 2) + [num_heads, key_dim]`` (``value_dim`` for
  the value), bias over the output letters when ``use_bias``.  The output
  projection binds the two last letters (heads and ``value_dim``) and gives
  ``output_shape``, or the query's last axis by default; it is built on the
  query's projection with ``value_dim`` last.  ``_build_attention(rank)``
  sets the attention axes (every axis between the batch axis and the heads by
  default; a negative one counts from ``rank - 1``), the two einsum equations,
  ``_softmax`` over the key's attention axes and ``_dropout_layer``.
- ``_compute_attention(query, key, value, ...)`` takes the projections,
  ``(B, T..., N, H)``, ``(B, S..., N, H)``, ``(B, S..., N, Hv)``, and gives
  ``(output, scores)``: the output ``(B, T..., N, Hv)``, the scores
  ``(B, <other axes>, N, T..., S...)``.  Once data flows the query and the
  key agree on every axis but the attention axes, the key and the value on
  every axis but the last, the query and the value on the axes that are not
  attended over; the mask broadcasts against the scores after Keras inserts
  axes in front of the query's attention axes.  Without dropout and without
  scores asked for, a rank-4 projection goes through the fused dot-product
  attention, which gives no scores (``None``).
"""

from __future__ import annotations

import math
import string

from .. import symbolic as S
from ..values import DictValue, LayerValue, Tensor, full_dims, opaque
from . import REQUIRED, lookup
from . import shapes
from .attention import _output_shape
from .bases import BaseClass, Built, Method, base_class
from .sequence_shapes import (
    REJECTED,
    built_equal_dims,
    data_broadcastable,
    data_equal,
    defined,
    flag,
    positive_int,
)

_LETTERS = string.ascii_lowercase

PROJECTIONS = ("_query_dense", "_key_dense", "_value_dense", "_output_dense")
PUBLIC = {"query_dense": "_query_dense", "key_dense": "_key_dense", "value_dense": "_value_dense",
          "output_dense": "_output_dense"}
ATTENTION_ATTRS = ("_dot_product_equation", "_combine_equation", "_softmax", "_dropout_layer")
SUBLAYER_KWARGS = ("kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
                   "activity_regularizer", "kernel_constraint", "bias_constraint", "dtype")


def projection_equation(free: int, bound: int, out: int) -> tuple[str, str]:
    """The einsum equation of a projection and its bias letters: ``free`` letters kept,
    ``bound`` letters summed over by the kernel, ``out`` letters the kernel adds."""
    kept = _LETTERS[:free]
    summed = _LETTERS[free:free + bound]
    added = _LETTERS[free + bound:free + bound + out]
    return f"{kept}{summed},{summed}{added}->{kept}{added}", added


def attention_equations(rank: int, axes: tuple) -> tuple[str, str, int]:
    """The dot-product and combine equations over projections of full rank ``rank``
    attended along ``axes``, and the scores' full rank."""
    target = _LETTERS[:rank]
    kept = [i for i in range(rank) if i not in axes and i != rank - 1]
    source, fresh = [], iter(_LETTERS[rank:])
    for i in range(rank):
        source.append(next(fresh) if i in axes else target[i])
    product = "".join([target[i] for i in kept] + [target[a] for a in axes] + [source[a] for a in axes])
    source = "".join(source)
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def _int_or_value(ctx, value):
    number = ctx.int(value)
    return value if number is None else number


def _init(ctx, cfg) -> Built:
    heads = positive_int(ctx, cfg.get("num_heads"))
    key_dim = positive_int(ctx, cfg.get("key_dim"))
    given_value_dim = cfg.get("value_dim")
    value_dim = key_dim if given_value_dim is None else positive_int(ctx, given_value_dim)
    if any(size is REJECTED for size in (heads, key_dim, value_dim)):
        return Built()  # Keras raises: the path is already cut
    heads = cfg.get("num_heads") if heads is None else heads
    key_dim = cfg.get("key_dim") if key_dim is None else key_dim
    value_dim = given_value_dim if value_dim is None else value_dim
    out = _output_shape(ctx, cfg.get("output_shape"))
    if out:
        # a symbolic size taken for a width: 0 would mean the default, so a witness never picks it
        shapes.require_positive(ctx, *[size for size in out if S.is_sym(size)])
    axes = cfg.get("attention_axes")
    if isinstance(axes, int) and not isinstance(axes, bool):
        axes = (axes,)
    inverse = 1.0 / math.sqrt(key_dim) if isinstance(key_dim, int) and key_dim > 0 else opaque("1 / sqrt(key_dim)")
    attrs = {
        "_num_heads": heads, "_key_dim": key_dim, "_value_dim": value_dim,
        "_dropout": cfg.get("dropout"), "_use_bias": cfg.get("use_bias"), "_use_gate": cfg.get("use_gate", False),
        "_output_shape": (out or None) if out is not None else cfg.get("output_shape"),
        "_attention_axes": axes, "_sliding_window": cfg.get("sliding_window"),
        "_flash_attention": cfg.get("flash_attention") or None, "seed": cfg.get("seed"),
        "_inverse_sqrt_key_dim": inverse, "supports_masking": True,
    }
    for name in SUBLAYER_KWARGS[:-1]:
        attrs[f"_{name}"] = opaque(name)
    for public in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "attention_axes"):
        attrs[public] = attrs[f"_{public}"]
    return Built(attrs)


def _einsum_dense(ctx, equation, output_shape, bias_letters, use_bias, activation=None) -> LayerValue:
    model = lookup("keras.layers.EinsumDense")
    cfg = model.bind([equation], {"output_shape": tuple(output_shape), "activation": activation,
                                  "bias_axes": bias_letters if use_bias is not False else None})
    return LayerValue(model, cfg, ctx.node)


def _ranked(tensor: Tensor | None, rank) -> bool:
    """Give a free input of unknown rank the rank ``rank`` (a sequence of vectors when
    nothing else is known); False for a tensor whose rank stays unknown."""
    if tensor is None:
        return False
    return tensor.known or tensor.choose_rank(rank or 2)


def _sizes(ctx, attrs):
    heads, key_dim, value_dim = (ctx.int(attrs.get(name)) for name in ("_num_heads", "_key_dim", "_value_dim"))
    out = _output_shape(ctx, attrs.get("_output_shape"))
    if any(size is None for size in (heads, key_dim, value_dim, out)):
        return None
    return heads, key_dim, value_dim, out


def _unbuilt(reason: str) -> Built:
    return Built({name: opaque(reason) for name in PROJECTIONS + ATTENTION_ATTRS + tuple(PUBLIC)})


def _build(ctx, attrs, given) -> Built:
    query, value, key = given.get("query_shape"), given.get("value_shape"), given.get("key_shape")
    key = value if key is None else key
    sizes = _sizes(ctx, attrs)
    known = next((t.rank for t in (query, value, key) if t is not None and t.known), None)
    if sizes is None or not all(_ranked(t, known) for t in (query, value, key) if t is not None) or query is None \
            or value is None:
        return _unbuilt("MultiHeadAttention built on inputs of unknown rank or sizes not understood")
    heads, key_dim, value_dim, out = sizes
    ok = shapes.require(ctx, built_equal_dims(value.dims[:-1], key.dims[:-1]))
    ok = defined(ctx, query.dims[-1], key.dims[-1], value.dims[-1]) and ok
    out = out or (query.dims[-1],)
    ok = defined(ctx, *out) and shapes.require_nonnegative(ctx, *out) and ok
    if not ok:
        return _unbuilt("MultiHeadAttention built on inputs it refuses")  # the path is cut
    use_bias = flag(attrs.get("_use_bias"))
    built = Built()

    def project(name, x, last, activation=None):
        equation, bias = projection_equation(x.rank, 1, 2)
        layer = _einsum_dense(ctx, equation, [None] * (x.rank - 1) + [heads, last], bias, use_bias, activation)
        built.attrs[name] = layer
        built.builds.append((layer, x))

    project("_query_dense", query, key_dim)
    project("_key_dense", key, key_dim)
    if flag(attrs.get("_use_gate")):
        project("_gate_dense", query, value_dim, "sigmoid")
    project("_value_dense", value, value_dim)
    built.attrs.update(_build_attention(ctx, attrs, value.rank + 2).attrs)
    equation, bias = projection_equation(query.rank, 2, len(out))
    output = _einsum_dense(ctx, equation, [None] * (query.rank - 1) + list(out), bias, use_bias)
    built.attrs["_output_dense"] = output
    built.builds.append((output, Tensor(query.dims[:-1] + (heads, value_dim))))
    for public, private in PUBLIC.items():
        built.attrs[public] = built.attrs[private]
    return built


def _attention_axes(value, rank):
    """Keras's attention axes of projections of full rank ``rank``, or None if not understood."""
    if value is None:
        return tuple(range(1, rank - 2))
    items = shapes.sequence(value)
    if items is None or not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        return None
    axes = tuple(a if a >= 0 else rank - 1 + a for a in items)
    if not axes or len(set(axes)) != len(axes) or not all(1 <= a <= rank - 3 for a in axes):
        return None
    return axes


def _build_attention(ctx, attrs, rank) -> Built:
    rank = ctx.int(rank)
    axes = None if not isinstance(rank, int) or S.is_sym(rank) else _attention_axes(attrs.get("_attention_axes"), rank)
    if axes is None:
        return Built({name: opaque("MultiHeadAttention attention axes not understood") for name in ATTENTION_ATTRS})
    dot, combine, scores_rank = attention_equations(rank, axes)
    norm_axes = tuple(range(scores_rank - len(axes), scores_rank))
    softmax, dropout = lookup("keras.layers.Softmax"), lookup("keras.layers.Dropout")
    return Built({
        "_attention_axes": axes, "_dot_product_equation": dot, "_combine_equation": combine,
        "_softmax": LayerValue(softmax, softmax.bind([norm_axes], {}), ctx.node),
        "_dropout_layer": LayerValue(dropout, dropout.bind([attrs.get("_dropout")], {}), ctx.node),
    })


def _compute_attention(ctx, attrs, args) -> Built:
    query, key, value = (ctx.tensor(args.get(name)) for name in ("query", "key", "value"))
    if query is None or key is None or value is None:
        return _not_understood(ctx, "attention over projections not understood")
    rank = next((t.rank for t in (query, key, value) if t.known), None)
    if rank is None or not all(t.with_rank(rank) for t in (query, key, value)) or rank < 3:
        return _not_understood(ctx, "attention over projections of unknown or different ranks")
    full = rank + 1
    axes = _attention_axes(attrs.get("_attention_axes"), full)
    if axes is None:
        return _not_understood(ctx, "MultiHeadAttention attention axes not understood")
    q, k, v = (dict(enumerate([None] + list(t.dims))) for t in (query, key, value))
    kept = [i for i in range(1, full - 1) if i not in axes]
    ok = shapes.require(ctx, data_equal(q[full - 1], k[full - 1]))
    for i in kept:
        ok = shapes.require(ctx, S.conj(data_equal(q[i], k[i]), data_equal(q[i], v[i]))) and ok
    for a in axes:
        ok = shapes.require(ctx, data_equal(k[a], v[a])) and ok
    scores_dims = tuple([q[i] for i in kept] + [q[a] for a in axes] + [k[a] for a in axes])
    ok = _mask_fits(ctx, args.get("attention_mask"), scores_dims, len(axes)) and ok
    if not ok:
        return _not_understood(ctx, "attention over projections Keras refuses")
    output = Tensor(query.dims[:-1] + (value.dims[-1],))
    return Built(result=(output, _scores(ctx, attrs, args, full, scores_dims)))


def _not_understood(ctx, reason: str) -> Built:
    return Built(result=(ctx.opaque(reason), opaque("attention scores")))


def _mask_fits(ctx, mask, scores_dims, attended) -> bool:
    """The mask broadcasts against the scores, once Keras inserts axes in front of the
    query's attention axes up to the scores' rank; False for a mask of a higher rank."""
    mask = ctx.tensor(mask) if isinstance(mask, Tensor) else None
    dims = full_dims(mask) if mask is not None else None
    if dims is None:
        return True
    target = [None] + list(scores_dims)
    if len(dims) > len(target):
        return False
    at = len(dims) - 2 * attended  # Keras's axis -2 * attended - 1, as an insertion point
    if at < 0:
        return len(dims) == len(target)
    dims = dims[:at] + [1] * (len(target) - len(dims)) + dims[at:]
    return all([shapes.require(ctx, data_broadcastable(m, s)) for m, s in zip(dims, target)])


def _scores(ctx, attrs, args, full, scores_dims):
    asked = flag(args.get("return_attention_scores"))
    dropout = attrs.get("_dropout")
    dropped = None if not isinstance(dropout, (int, float)) or S.is_sym(dropout) else dropout > 0
    if asked and attrs.get("_flash_attention"):
        shapes.require(ctx, False)  # Keras refuses scores with flash attention
    if asked or dropped or full != 4:
        return Tensor(scores_dims)
    if asked is False and dropped is False:
        return None  # the fused dot-product attention gives none
    return opaque("attention scores that may be None")


def _masked_softmax(ctx, attrs, args) -> Built:
    scores = ctx.tensor(args.get("attention_scores"))
    if scores is None or not scores.known:
        return Built(result=ctx.opaque("attention scores not understood"))
    attended = len(attrs.get("_attention_axes") or ())
    if not attended or not _mask_fits(ctx, args.get("attention_mask"), scores.dims, attended):
        return Built(result=ctx.opaque("attention mask not understood"))
    return Built(result=scores)


def _common_kwargs(ctx, attrs, args) -> Built:
    return Built(result=DictValue({name: opaque(name) for name in SUBLAYER_KWARGS}))


def _make_output_dense(ctx, attrs, args) -> Built:
    sizes = _sizes(ctx, attrs)
    query = args.get("query_shape")
    if sizes is None or not isinstance(query, Tensor) or not query.known:
        return Built(result=opaque("MultiHeadAttention output projection not understood"))
    out = sizes[3] or (query.dims[-1],)
    equation, bias = projection_equation(query.rank, 2, len(out))
    use_bias = flag(attrs.get("_use_bias"))
    return Built(result=_einsum_dense(ctx, equation, [None] * (query.rank - 1) + list(out), bias, use_bias))


BUILD_PARAMS = ("query_shape", "value_shape", "key_shape")

base_class("MultiHeadAttention", BaseClass(
    init=_init,
    build=_build,
    build_params=BUILD_PARAMS,
    input_rank=2,  # a sequence of vectors
    methods={
        "_build_attention": Method([("rank", REQUIRED)], lambda ctx, attrs, args: _build_attention(
            ctx, attrs, args["rank"])),
        "_compute_attention": Method(
            [("query", REQUIRED), ("key", REQUIRED), ("value", REQUIRED), ("attention_mask", None),
             ("training", None), ("return_attention_scores", False), ("use_causal_mask", False)],
            _compute_attention),
        "_masked_softmax": Method([("attention_scores", REQUIRED), ("attention_mask", None)], _masked_softmax),
        "_get_common_kwargs_for_sublayer": Method([], _common_kwargs),
        "_make_output_dense": Method([("query_shape", REQUIRED), ("common_kwargs", None), ("name", None)],
                                     _make_output_dense),
    },
))
