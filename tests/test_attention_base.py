"""MultiHeadAttention as a base class, against Keras's own.

A subclass that writes its own ``call`` uses the sublayers the base class's
``build`` creates and its ``_compute_attention``.  Each case builds a real
subclass in Keras, calls it on arrays, and reads what it made: the equation,
kernel and bias of every projection, the attention equations and axes, and the
shapes ``_compute_attention`` gives.  The catalogue's facts
(:mod:`keras_shape_lint.layers.attention_base`) must agree with all of them.
"""

from __future__ import annotations

import os

import pytest

from keras_shape_lint.layers import lookup
from keras_shape_lint.layers.bases import lookup_base
from keras_shape_lint.values import LayerValue, Tensor

from layer_ctx import LayerCtx

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROJECTIONS = ("_query_dense", "_key_dense", "_value_dense", "_output_dense")

# (constructor arguments, query dims, value dims, key dims or None), batch axis excluded
CASES = [
    pytest.param(dict(num_heads=2, key_dim=4), (8, 16), (8, 16), None, id="self-attention"),
    pytest.param(dict(num_heads=3, key_dim=5, value_dim=7, output_shape=24), (8, 16), (10, 12), (10, 20),
                 id="cross-attention-value-dim-output-shape"),
    pytest.param(dict(num_heads=2, key_dim=4, use_bias=False, output_shape=(4, 6)), (5, 12), (7, 12), None,
                 id="no-bias-two-axis-output"),
    pytest.param(dict(num_heads=2, key_dim=3), (4, 6, 10), (4, 6, 10), None, id="rank-4-default-axes"),
    pytest.param(dict(num_heads=2, key_dim=3, attention_axes=(2,)), (4, 6, 10), (4, 5, 8), None,
                 id="rank-4-attention-axis-2"),
    pytest.param(dict(num_heads=1, key_dim=8, value_dim=2, attention_axes=-2), (3, 4, 6), (3, 5, 6), None,
                 id="rank-4-negative-axis"),
    pytest.param(dict(num_heads=2, key_dim=2), (2, 3, 4, 6), (2, 3, 5, 6), None, id="rank-5"),
]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _probe_class(keras):
    class Probe(keras.layers.MultiHeadAttention):
        """Records what its call sees; the sublayers are the base class's."""

        def call(self, query, value, key=None, return_attention_scores=False):
            key = value if key is None else key
            q, k, v = self._query_dense(query), self._key_dense(key), self._value_dense(value)
            output, scores = self._compute_attention(q, k, v, return_attention_scores=return_attention_scores)
            self.seen = {"q": q.shape, "k": k.shape, "v": v.shape, "output": output.shape,
                         "scores": None if scores is None else scores.shape}
            return self._output_dense(output)

    return Probe


def _keras_side(keras, kwargs, query, value, key, scores):
    import numpy as np

    layer = _probe_class(keras)(**kwargs)
    arrays = [np.random.rand(2, *dims).astype("float32") for dims in (query, value)]
    extra = {} if key is None else {"key": np.random.rand(2, *key).astype("float32")}
    result = layer(*arrays, return_attention_scores=scores, **extra)
    return layer, tuple(result.shape[1:])


def _modelled(kwargs, query, value, key):
    ctx = LayerCtx()
    model, base = lookup("keras.layers.MultiHeadAttention"), lookup_base("MultiHeadAttention")
    attrs = dict(base.init(ctx, model.bind([], dict(kwargs))).attrs)
    shapes = {"query_shape": Tensor(query), "value_shape": Tensor(value),
              "key_shape": None if key is None else Tensor(key)}
    built = base.build(ctx, attrs, shapes)
    attrs.update(built.attrs)
    return ctx, base, attrs, dict((id(layer), x) for layer, x in built.builds)


def _weights(layer: LayerValue, x: Tensor):
    """Kernel and bias sizes of an EinsumDense built on ``x``, read off its equation."""
    equation, partial, bias = layer.config["equation"], layer.config["output_shape"], layer.config["bias_axes"]
    inputs, rest = equation.split(",")
    weight, output = rest.split("->")
    sizes = dict(zip(inputs, (None,) + tuple(x.dims)))
    sizes.update({letter: size for letter, size in zip(output, (None,) + tuple(partial)) if size is not None})
    kernel = tuple(sizes[letter] for letter in weight)
    return kernel, None if bias is None else tuple(sizes[letter] for letter in output if letter in bias)


@pytest.mark.parametrize("kwargs, query, value, key", CASES)
def test_projections_match_keras(keras, kwargs, query, value, key):
    layer, _ = _keras_side(keras, kwargs, query, value, key, scores=False)
    ctx, _, attrs, builds = _modelled(kwargs, query, value, key)
    assert not ctx.opaques and all(a is not False for a in ctx.assumptions)
    for name in PROJECTIONS:
        real, modelled = getattr(layer, name), attrs[name]
        assert isinstance(modelled, LayerValue) and modelled.model.name == "EinsumDense", name
        assert modelled.config["equation"] == real.equation, name
        assert list(modelled.config["output_shape"]) == list(real.partial_output_shape), name
        kernel, bias = _weights(modelled, builds[id(modelled)])
        assert kernel == tuple(real.kernel.shape), name
        assert bias == (None if real.bias is None else tuple(real.bias.shape)), name
    for private, public in (("_query_dense", "query_dense"), ("_output_dense", "output_dense")):
        assert attrs[public] is attrs[private]


@pytest.mark.parametrize("kwargs, query, value, key", CASES)
def test_attention_equations_match_keras(keras, kwargs, query, value, key):
    layer, _ = _keras_side(keras, kwargs, query, value, key, scores=False)
    _, _, attrs, _ = _modelled(kwargs, query, value, key)
    assert attrs["_dot_product_equation"] == layer._dot_product_equation
    assert attrs["_combine_equation"] == layer._combine_equation
    assert tuple(attrs["_attention_axes"]) == tuple(layer._attention_axes)
    assert attrs["_softmax"].config["axis"] == tuple(layer._softmax.axis)
    assert attrs["_num_heads"] == layer._num_heads and attrs["_value_dim"] == layer._value_dim


@pytest.mark.parametrize("scores", [True, False], ids=["scores", "no-scores"])
@pytest.mark.parametrize("kwargs, query, value, key", CASES)
def test_projected_shapes_and_attention_match_keras(keras, kwargs, query, value, key, scores):
    layer, output = _keras_side(keras, kwargs, query, value, key, scores=scores)
    seen = {name: None if shape is None else tuple(shape[1:]) for name, shape in layer.seen.items()}
    ctx, base, attrs, builds = _modelled(kwargs, query, value, key)
    # each projection on the (data-time) input it is applied to
    for name, x, tag in (("_query_dense", query, "q"), ("_key_dense", key or value, "k"),
                         ("_value_dense", value, "v")):
        projection = attrs[name]
        ctx.real = Tensor(x)  # the sizes Keras sees once data flows
        modelled = projection.model.apply(ctx, projection.config, Tensor(x))
        ctx.real = None
        assert tuple(modelled.dims) == seen[tag], name
    args = {"query": Tensor(seen["q"]), "key": Tensor(seen["k"]), "value": Tensor(seen["v"]),
            "return_attention_scores": scores}
    result = base.methods["_compute_attention"].apply(ctx, attrs, base.methods["_compute_attention"].bind([], args))
    modelled_output, modelled_scores = result.result
    assert tuple(modelled_output.dims) == seen["output"]
    if seen["scores"] is None:
        assert modelled_scores is None
    else:
        assert tuple(modelled_scores.dims) == seen["scores"]
    ctx.real = modelled_output
    final = attrs["_output_dense"].model.apply(ctx, attrs["_output_dense"].config, modelled_output)
    ctx.real = None
    assert tuple(final.dims) == output
    assert not ctx.opaques and all(a is not False for a in ctx.assumptions)


def test_attention_of_mismatched_heads_is_refused_as_keras_refuses(keras):
    """A key with other heads than the query: Keras's einsum raises on data; the model
    assumes the sizes agree, so the assumption is plainly false here."""
    import numpy as np

    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    layer.build((None, 8, 16), (None, 8, 16))
    q, k = np.zeros((1, 8, 2, 4), "float32"), np.zeros((1, 8, 3, 4), "float32")
    with pytest.raises(Exception):  # noqa: B017 -- any backend error on data is a refusal
        layer._compute_attention(q, k, k, return_attention_scores=True)
    ctx, base, attrs, _ = _modelled(dict(num_heads=2, key_dim=4), (8, 16), (8, 16), None)
    method = base.methods["_compute_attention"]
    method.apply(ctx, attrs, method.bind([], {"query": Tensor((8, 2, 4)), "key": Tensor((8, 3, 4)),
                                               "value": Tensor((8, 3, 4)), "return_attention_scores": True}))
    assert False in ctx.assumptions


def test_refused_configurations_cut_the_path():
    ctx = LayerCtx()
    model, base = lookup("keras.layers.MultiHeadAttention"), lookup_base("MultiHeadAttention")
    base.init(ctx, model.bind([], {"num_heads": 0, "key_dim": 4}))
    assert False in ctx.assumptions
    ctx = LayerCtx()
    attrs = base.init(ctx, model.bind([], {"num_heads": 2, "key_dim": 4})).attrs
    base.build(ctx, attrs, {"query_shape": Tensor((8, 16)), "value_shape": Tensor((8, 16)),
                            "key_shape": Tensor((9, 16))})
    assert False in ctx.assumptions  # value and key must agree on every axis but the last
