"""``layer.bias`` (``kernel``, ``gamma``, ``beta``) of a catalogue layer: None exactly where
Keras leaves the built layer without that weight (checked against Keras itself), so
``if self.proj.bias is not None:`` is decided by the constructor's arguments."""

from __future__ import annotations

import os

import libcst as cst
import pytest

from keras_shape_lint import layers as catalogue
from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.layers.weights import UNDECIDED, weight_attribute
from keras_shape_lint.options import Options
from keras_shape_lint.values import LayerValue, Tensor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# (constructor as written, input shape it is built on, attribute)
CASES = [
    ("Dense(8)", (None, 4), "bias"),
    ("Dense(8, use_bias=False)", (None, 4), "bias"),
    ("Dense(8)", (None, 4), "kernel"),
    ("EinsumDense('abc,cd->abd', output_shape=(None, 8), bias_axes='d')", (None, 3, 4), "bias"),
    ("EinsumDense('abc,cd->abd', output_shape=(None, 8))", (None, 3, 4), "bias"),
    ("Conv2D(8, 3)", (None, 6, 6, 2), "bias"),
    ("Conv2D(8, 3, use_bias=False)", (None, 6, 6, 2), "bias"),
    ("DepthwiseConv2D(3, use_bias=False)", (None, 6, 6, 2), "bias"),
    ("BatchNormalization(center=False)", (None, 4), "beta"),
    ("BatchNormalization(center=False)", (None, 4), "gamma"),
    ("LayerNormalization(scale=False)", (None, 4), "gamma"),
    ("LayerNormalization(rms_scaling=True)", (None, 4), "beta"),
    ("LayerNormalization(rms_scaling=True, scale=False)", (None, 4), "gamma"),
]


def _ours(source: str) -> LayerValue:
    call = cst.parse_expression(source)
    model = catalogue.lookup(f"keras.layers.{call.func.value}")
    args = [cst.Module([]).code_for_node(a.value) for a in call.args if a.keyword is None]
    kwargs = {a.keyword.value: cst.Module([]).code_for_node(a.value) for a in call.args if a.keyword is not None}
    literal = __import__("ast").literal_eval
    return LayerValue(model, model.bind([literal(a) for a in args], {k: literal(v) for k, v in kwargs.items()}), call)


def test_weights_are_none_where_keras_leaves_them_out():
    keras = pytest.importorskip("keras")
    for source, shape, name in CASES:
        built = eval(f"keras.layers.{source}", {"keras": keras})
        built.build(shape)
        ours = weight_attribute(_ours(source), name)
        assert ours is not UNDECIDED, source
        assert (ours is None) == (getattr(built, name) is None), (source, name)
        if ours is not None:
            assert isinstance(ours, Tensor) and not ours.batched


def test_a_flag_not_known_or_passed_by_position_is_undecided():
    assert weight_attribute(_ours("Dense(8, 'relu', False)"), "bias") is UNDECIDED
    layer = _ours("Dense(8)")
    layer.config["use_bias"] = object()  # a value the analysis does not know
    assert weight_attribute(layer, "bias") is UNDECIDED
    assert weight_attribute(_ours("Dense(8)"), "moving_mean") is UNDECIDED


def test_a_branch_on_a_bias_follows_the_constructor():
    source = (
        "import keras\nfrom keras import layers\n\n"
        "class Block(layers.Layer):\n"
        "    def build(self, input_shape):\n"
        "        self.plain = layers.Dense(8, use_bias=False)\n"
        "        self.plain.build(input_shape)\n"
        "        self.biased = layers.Dense(8)\n"
        "        self.biased.build(input_shape)\n\n"
        "    def call(self, x):\n"
        "        if self.plain.bias is not None:\n"
        "            x = layers.Add()([x, self.plain(x)])\n"
        "        if self.biased.bias is not None:\n"
        "            x = layers.Concatenate()([x, self.biased(x)])\n"
        "        return x\n\n"
        "def model():\n"
        "    x = keras.Input((5, 8))\n"
        "    return keras.Model(x, Block()(x))\n"
    )
    _, analysis = analyse_text(source, Options(), "snippet.py")
    stats = analysis.statistics()
    assert stats["merges"] == 2
    assert stats["proven"] == 1 and stats["unreached"] == 1 and stats["undecided"] == 0, stats


def test_a_witness_never_leaves_a_weight_empty():
    # rows = image_size // patch_size: with patch_size at 64 the first image size tried (32)
    # gives an empty table, which Keras builds but TensorFlow then adds another way (BiasAdd
    # raises, not the merge); the witness must give the table at least one row
    source = (
        "from keras import layers, ops\n\n"
        "class Positions(layers.Layer):\n"
        "    def __init__(self, width, patch_size, image_size, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "        self.width = width\n"
        "        self.rows = image_size // patch_size\n"
        "        self.projection = layers.Conv1D(width, patch_size, strides=patch_size)\n\n"
        "    def build(self, input_shape):\n"
        "        self.table = self.add_weight(shape=(1, self.rows, self.width))\n\n"
        "    def call(self, signal):\n"
        "        return ops.add(self.projection(signal), self.table)\n"
    )
    findings, _ = analyse_text(source, Options(), "snippet.py")
    assert [f.code for f in findings] == ["KSL103"], [f.message for f in findings]
    args = findings[0].witness.args
    assert args["image_size"] // args["patch_size"] >= 1, args
