"""A layer whose class declares ``compute_output_shape()`` (its own, or keras-hub's
``PositionEmbedding``'s) is built by Keras from that declaration: its ``call()`` does not run
until data comes.  A merge in that ``call()`` fails on the first batch (KSL106, the model
builds); the merges after the layer are built with the declared shape, so none of them is
reported as failing while the model is built when the declaration lets it build.  Keras
confirms each case."""

from __future__ import annotations

import os
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from hub import hub_folder, install_package_stub  # noqa: E402
from oracle import analyse_module, build_from_witness, check_finding, keras  # noqa: E402

needs_hub = pytest.mark.skipif(hub_folder() is None,
                               reason="keras-hub is not installed (.ci/run installs it with --no-deps)")

TABLE = textwrap.dedent('''
    import keras
    from keras import ops
    from keras_hub.src.layers.modeling.position_embedding import PositionEmbedding


    class Adjustable(PositionEmbedding):
        def __init__(self, height, width, **kwargs):
            super().__init__(height * width, **kwargs)
            self.height = height
            self.width = width

        def call(self, {name}):
            feature_length = ops.shape({name})[-1]
            table = ops.convert_to_tensor(self.position_embeddings)
            table = ops.reshape(table, (self.height, self.width, feature_length))
            table = ops.reshape(table, (1, self.height * self.width, feature_length))
            return {result}


    def embed(height, width, sequence, dim):
        x = keras.Input(({sequence}, dim))
        y = Adjustable(height, width)(x)
        return keras.Model(x, {merge})
    ''')
CALL_MERGE = 18  # the line of ``return`` in call()
MODEL_MERGE = 24  # the line of ``return keras.Model(...)``


@needs_hub
@pytest.mark.parametrize("name", ["inputs", "x"])
def test_a_merge_in_the_call_of_a_position_embedding_fails_on_data(tmp_path, name):
    install_package_stub()
    source = TABLE.format(name=name, result=f"{name} + table", sequence="sequence", merge="y")
    path, findings, stats = analyse_module(tmp_path, "adjustable.py", source)
    assert [(f.code, f.line) for f in findings] == [("KSL106", CALL_MERGE)], (findings, stats)
    assert "the model builds, then the first batch fails" in findings[0].message
    check_finding(path, findings[0].to_json())  # builds (the declared shape), then data fails there


def _clean_table_model(tmp_path, result, sequence, merge, sizes):
    """The table module analysed (no finding, its one merge proven) and the model Keras builds
    from ``embed(**sizes)``."""
    install_package_stub()
    source = TABLE.format(name="inputs", result=result, sequence=sequence, merge=merge)
    path, findings, stats = analyse_module(tmp_path, "adjustable.py", source)
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1), (findings, stats)
    outcome = build_from_witness(path, {"entry": "embed", "args": sizes})
    assert outcome.error is None, outcome.error
    return outcome.result


@needs_hub
def test_a_table_of_the_inputs_length_builds_and_runs(tmp_path):
    model = _clean_table_model(tmp_path, "inputs + table", "height * width", "y",
                               {"height": 3, "width": 5, "sequence": 0, "dim": 8})
    assert tuple(model(keras().ops.zeros((2, 15, 8))).shape) == (2, 15, 8)


@needs_hub
def test_after_a_layer_whose_call_gives_another_shape_the_build_is_the_declarations(tmp_path):
    # Keras builds ``x + y`` with y of the declared shape (x's own): it builds whatever the
    # sizes, and only data can fail, so a finding of a build failure there would be false
    model = _clean_table_model(tmp_path, "table", "sequence", "x + y",
                               {"height": 3, "width": 5, "sequence": 4, "dim": 8})
    with pytest.raises(Exception, match="[Ii]ncompatible shapes|must be equal|broadcast"):
        model(keras().ops.zeros((2, 4, 8)))


# a project layer with a projection, a call() and a declaration, and a builder that uses it
PROJECTED = textwrap.dedent('''
    import keras
    from keras import layers


    class Projected(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.proj = layers.Dense(units)

        def call(self, x):
            return {result}

        {declaration}


    def model(width, units):
        x = keras.Input((6, width))
        {build}
    ''')
RETURNS_INPUT_SHAPE = "def compute_output_shape(self, input_shape):\n        return input_shape"
PROJECTED_MERGE = 12  # the line of ``return`` in call()


def _projected(tmp_path, result, declaration, build):
    source = PROJECTED.format(result=result, declaration=declaration, build=build)
    return analyse_module(tmp_path, "projected.py", source)


def test_a_project_layer_that_declares_its_output_is_built_from_it(tmp_path):
    path, findings, stats = _projected(tmp_path, "self.proj(x)[:, 1:]", RETURNS_INPUT_SHAPE,
                                       "return keras.Model(x, layers.Add()([x, Projected(width)(x)]))")
    # call() gives 5 steps where compute_output_shape() declares 6: the Add is built with 6
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1), (findings, stats)
    outcome = build_from_witness(path, {"entry": "model", "args": {"width": 4, "units": 4}})
    assert outcome.error is None, outcome.error
    with pytest.raises(Exception, match="[Ii]ncompatible shapes|must be equal|broadcast"):
        outcome.result(keras().ops.zeros((2, 6, 4)))  # only data meets call()'s 5 steps


def test_a_layer_that_declares_its_output_spec_runs_call_on_data_only(tmp_path):
    # compute_output_spec() as compute_output_shape(): Keras builds the output from it
    spec = "def compute_output_spec(self, x):\n        return keras.KerasTensor(x.shape, dtype=self.compute_dtype)"
    path, findings, stats = _projected(tmp_path, "x * self.proj(x)", spec,
                                       "return keras.Model(x, Projected(units)(x))")
    assert [(f.code, f.line) for f in findings] == [("KSL106", PROJECTED_MERGE)], (findings, stats)
    check_finding(path, findings[0].to_json())


def test_a_merge_that_fails_on_data_is_not_counted_flagged_where_no_model_is_built(tmp_path):
    # a KSL106 needs a path on which the whole model builds; here none does (the builder
    # raises after the layer), so there is no finding, and the merge is not counted as flagged
    path, findings, stats = _projected(tmp_path, "x + self.proj(x)", RETURNS_INPUT_SHAPE,
                                       "y = Projected(units)(x)\n    raise ValueError('no model')")
    assert findings == [] and (stats["flagged"], stats["undecided"]) == (0, 1), (findings, stats)


def test_a_keras_layer_subclassed_with_its_own_call_is_built_from_the_keras_layer():
    # Dense declares its output: Keras builds Residual(units) as Dense(units) and runs the
    # residual in call() on data only (fixtures/dense_subclass_call_on_data.py replays it); a
    # MultiHeadAttention subclass is run as written (its compute_output_spec() is not modelled)
    from keras_shape_lint.layers.bases import declares_output

    assert declares_output("keras.layers.Dense", "Dense")
    assert declares_output("keras.layers.Conv2D", "Conv2D")
    assert not declares_output("keras.layers.Layer", "Layer")
    assert not declares_output("keras.layers.MultiHeadAttention", "MultiHeadAttention")
    assert declares_output("keras_hub.layers.PositionEmbedding", "PositionEmbedding")


def test_the_keras_layers_that_trace_call_or_have_their_own_spec_are_the_installed_keras():
    # read from the installed Keras: which layers keep Layer's compute_output_shape() and
    # compute_output_spec() (a subclass's call() is traced), which have a spec of their own
    from keras.src import utils
    from keras.src.layers.layer import Layer

    from keras_shape_lint.layers.bases import KERAS_OWN_SPEC, KERAS_TRACED

    layers = keras().layers
    classes = {name: getattr(layers, name) for name in dir(layers)}
    classes = {name: c for name, c in classes.items() if isinstance(c, type) and issubclass(c, Layer)}
    own_spec = {name for name, c in classes.items() if c.compute_output_spec is not Layer.compute_output_spec}
    traced = {name for name, c in classes.items()
              if name not in own_spec and utils.is_default(c.compute_output_shape)}
    assert traced == KERAS_TRACED
    assert own_spec == KERAS_OWN_SPEC


def test_where_the_declaration_cannot_be_read_what_calls_paths_agree_on_stands_in(tmp_path):
    # compute_output_shape() gives two shapes, which the analyser does not read as one tensor:
    # call()'s output stands in, and its two paths (a flag the caller chooses) agree on the
    # first item, so the Add after the layer is checked with it, and fails as Keras builds it
    source = textwrap.dedent('''
        import keras
        from keras import layers


        class Paired(keras.layers.Layer):
            def __init__(self, units, mixed, **kwargs):
                super().__init__(**kwargs)
                self.proj = layers.Dense(units)
                self.mixed = mixed

            def call(self, x):
                if self.mixed:
                    return x, self.proj(x)
                return x, x

            def compute_output_shape(self, input_shape):
                return input_shape, input_shape


        def model(width, units, mixed):
            x = keras.Input((6, width))
            y, _ = Paired(units, mixed)(x)
            return keras.Model(x, layers.Add()([y, layers.Dense(units)(x)]))
        ''')
    path, findings, stats = analyse_module(tmp_path, "paired.py", source)
    assert [(f.code, f.line) for f in findings] == [("KSL102", 24)], (findings, stats)
    check_finding(path, findings[0].to_json())
