"""Python values whose type or truth the code learns as it goes: free arguments used as ints,
tested for truth, divided by, and isinstance() of tensors."""

from __future__ import annotations

import math
import textwrap

import pytest

from keras_shape_lint.analysis import analyse_text


def _findings(source: str):
    findings, _ = analyse_text(textwrap.dedent(source))
    return findings


def test_a_witness_never_divides_by_zero():
    # with heads at its default (128) and width at 64, width // heads is 0: Python raises at
    # the division before the Add, so the witness must pick sizes where it is not 0
    findings = _findings("""
        import math
        from keras import layers


        def block(x, width, heads=128):
            scale = 1.0 / math.sqrt(width // heads)
            y = layers.Rescaling(scale)(layers.Dense(width)(x))
            return layers.Add()([x, y])
    """)
    assert [f.code for f in findings] == ["KSL102"]
    args = findings[0].witness.args
    assert args["width"] // args.get("heads", 128) != 0, args


def test_a_free_argument_tested_for_truth_and_used_as_an_int_is_one_value():
    # the KSL101 needs head_dim falsy; the other path reads it as an int: the witness must not
    # give a truthy int for the falsy path
    findings = _findings("""
        from keras import layers


        class Block(layers.Layer):
            def __init__(self, head_dim, **kwargs):
                super().__init__(**kwargs)
                self.head_dim = head_dim

            def build(self, input_shape):
                if self.head_dim:
                    self.width = self.head_dim
                else:
                    self.width = input_shape[-1] * 2
                self.proj = layers.Dense(self.width)

            def call(self, x):
                return x + self.proj(x)
    """)
    by_code = {f.code: f for f in findings}
    assert set(by_code) == {"KSL101", "KSL102"}, [f.message for f in findings]
    assert not by_code["KSL101"].witness.args["head_dim"], by_code["KSL101"].witness
    assert by_code["KSL102"].witness.args["head_dim"], by_code["KSL102"].witness


def test_free_arguments_divided_are_ints():
    findings = _findings("""
        from keras import layers


        class AddPositions(layers.Layer):
            def __init__(self, image_size, patch_size, width, **kwargs):
                super().__init__(**kwargs)
                grid = image_size // patch_size
                self.table = self.add_weight(shape=(1, grid, grid, width))

            def call(self, x):
                return x + self.table
    """)
    assert [f.code for f in findings] == ["KSL102"]
    args = findings[0].witness.args
    assert args["image_size"] // args["patch_size"] >= 1, args


def test_isinstance_of_a_tensor_is_false_for_builtin_types():
    findings = _findings("""
        from keras import layers


        def block(x, width):
            y = layers.Dense(width)(x)
            if isinstance(y, (tuple, list)):
                y = y[0]
            return layers.Add()([x, y])
    """)
    assert [f.code for f in findings] == ["KSL102"]


def test_an_activation_named_by_the_caller_keeps_the_shape_and_its_witness_names_one():
    findings = _findings("""
        import keras
        from keras import layers


        class GatedFeedForward(layers.Layer):
            def __init__(self, hidden_dim, hidden_activation, **kwargs):
                super().__init__(**kwargs)
                if hidden_activation == "gelu_approximate":
                    self.act_fn = lambda x: keras.activations.gelu(x, approximate=True)
                else:
                    self.act_fn = keras.activations.get(hidden_activation)
                self.gate = layers.Dense(hidden_dim)

            def call(self, x):
                return x + self.act_fn(self.gate(x))
    """)
    assert [f.code for f in findings] == ["KSL102"]
    name = findings[0].witness.args["hidden_activation"]
    assert name == "gelu_approximate" or name in {"relu", "gelu", "linear", "tanh", "sigmoid", "silu", "swish",
                                                  "elu", "selu", "softplus", "softsign", "relu6", "mish",
                                                  "exponential", "hard_sigmoid", "hard_silu", "hard_swish",
                                                  "leaky_relu", "log_sigmoid", "celu", "softmax", "log_softmax",
                                                  "hard_tanh", "tanh_shrink", "soft_shrink", "hard_shrink",
                                                  "squareplus", "sparse_plus", "sparse_sigmoid", "threshold"}, name


def test_an_activation_left_at_its_none_default_is_linear_and_the_witness_keeps_it():
    # ``keras.activations.get(None)`` is Keras's linear activation: the path goes on with the
    # default (no tensor function is handed a None here), and the witness need not name one
    findings = _findings("""
        import keras
        from keras import layers


        class Head(keras.layers.Layer):
            def __init__(self, width, activation=None, **kwargs):
                super().__init__(**kwargs)
                self.activation = keras.activations.get(activation)
                self.dense = layers.Dense(width)

            def call(self, x):
                return x + self.activation(self.dense(x))
    """)
    assert [f.code for f in findings] == ["KSL102"]
    assert "activation" not in findings[0].witness.args, findings[0].witness.args


def test_a_fractional_power_of_a_size_is_a_number():
    findings = _findings("""
        from keras import layers


        class Scaled(layers.Layer):
            def __init__(self, hidden_dim, **kwargs):
                super().__init__(**kwargs)
                self.hidden_dim = hidden_dim
                self.proj = layers.Dense(hidden_dim)

            def call(self, x):
                scale = self.hidden_dim ** 0.5
                return x * scale + self.proj(x)
    """)
    assert [f.code for f in findings] == ["KSL102"]


def test_a_comprehension_repeating_one_value_over_a_free_range_is_counted():
    # [points for _ in range(levels)] has `levels` items, each `points`: its sum sizes the
    # Dense, so the Add needs the input exactly levels * points wide; a comprehension that
    # calls something (a layer per level) stays unknown, so its merge is not flagged
    repeated = _findings("""
        from keras import layers


        def block(x, levels, points=4):
            counts = [points for _ in range(levels)]
            return layers.Add()([x, layers.Dense(sum(counts) + len(counts))(x)])
    """)
    assert [f.code for f in repeated] == ["KSL102"]
    args = repeated[0].witness.args
    width = args["x"]["shape"][-1]
    assert width != max(args["levels"], 0) * (args.get("points", 4) + 1), (args, width)
    called = _findings("""
        from keras import layers


        def block(x, levels):
            counts = [int(levels) for _ in range(levels)]
            return layers.Add()([x, layers.Dense(sum(counts))(x)])
    """)
    assert called == []


def test_a_free_argument_used_as_an_int_after_going_unread_is_written_down():
    # register() is not read, so head_size went where nobody learnt its type; head_size // 2
    # then makes it an int, and the witness can pass one
    findings = _findings("""
        from keras import layers
        from project_registry import register


        def block(x, head_size):
            register(head_size)
            y = layers.Dense(head_size // 2)(x)
            return layers.Add()([x, y])
    """)
    assert [f.code for f in findings] == ["KSL102"], [f.message for f in findings]
    args = findings[0].witness.args
    assert args["head_size"] // 2 != args["x"]["shape"][-1], args


def test_a_sum_of_two_untyped_arguments_used_as_a_size_makes_both_ints():
    # length1 + length2 could be two tensors; arange() then reads the sum as a size, so both
    # were ints and the witness can write length1 down
    findings = _findings("""
        from keras import ops


        def join(sequence, length1, length2, width):
            total = length1 + length2
            positions = ops.arange(total)
            padding = ops.zeros((2, length2, width))
            return ops.concatenate([sequence, padding], axis=1)
    """)
    assert [f.code for f in findings] == ["KSL104"], [f.message for f in findings]
    args = findings[0].witness.args
    assert isinstance(args["length1"], int) and args["width"] != args["sequence"]["shape"][-1], args


def test_a_function_that_reads_the_batch_size_gets_inputs_with_one():
    # on Keras inputs ops.shape(x)[0] is None and ops.zeros refuses it: the witness's inputs
    # have a batch size; a layer's call() is traced with one Keras does not know, and keeps None
    findings = _findings("""
        from keras import layers, ops


        def pad(sequence, length, width):
            padding = ops.zeros((ops.shape(sequence)[0], length, width))
            return ops.concatenate([sequence, padding], axis=1)


        class Pad(layers.Layer):
            def __init__(self, length, width, **kwargs):
                super().__init__(**kwargs)
                self.length, self.width = length, width

            def call(self, sequence):
                padding = ops.zeros((ops.shape(sequence)[0], self.length, self.width))
                return ops.concatenate([sequence, padding], axis=1)
    """)
    assert [f.code for f in findings] == ["KSL104", "KSL104"], [f.message for f in findings]
    function, layer = findings
    assert function.witness.args["sequence"]["shape"][0] == 2, function.witness
    assert layer.witness.call["sequence"]["shape"][0] is None, layer.witness


def test_a_merge_that_fails_only_on_an_empty_input_is_proven():
    # the shifted sequence has max(length, 0) steps, which differs from length only where the
    # length is negative: no input has one
    _, analysis = analyse_text(textwrap.dedent("""
        from keras import layers, ops


        class Shift(layers.Layer):
            def call(self, x):
                shifted = ops.pad(x, [[0, 0], [1, 0], [0, 0]])[:, :-1, :]
                return shifted - x
    """))
    stats = analysis.statistics()
    assert stats["merges"] == 1 and stats["proven"] == 1, stats


def test_a_dense_layer_made_with_an_untyped_product_makes_its_factors_ints():
    # Dense refuses anything but a positive int when it is made, so patch * patch * channels
    # is one, before the layer is applied after the merge
    findings = _findings("""
        import keras
        from keras import layers, ops


        class Last(keras.Model):
            def __init__(self, width, patch, channels):
                super().__init__()
                self.linear = layers.Dense(patch * patch * channels)
                self.modulation = layers.Dense(2 * width)

            def call(self, x, condition):
                shift, scale = ops.split(self.modulation(condition), 2, axis=-1)
                x = x * (1 + scale[:, None, :]) + shift[:, None, :]
                return self.linear(x)
    """)
    assert findings and {f.code for f in findings} <= {"KSL102", "KSL103"}, [f.message for f in findings]
    args = findings[0].witness.args
    assert all(isinstance(args[name], int) and args[name] >= 1 for name in ("patch", "channels")), args


def test_code_points_are_numbers_and_back():
    # tokenizers build byte tables from ``ord("!")``: a size made from one is a number
    source = textwrap.dedent("""\
        from keras import layers


        def block(x):
            width = ord("!") - ord(" ")  # 33 - 32
            code = ord(chr(64))
            a = layers.Dense(width * 64)(x)
            b = layers.Dense(code)(x)
            c = layers.Dense(65)(x)
            y = layers.Add()([a, b])
            return layers.Add()([y, c])  # KSL101
        """)
    findings, analysis = analyse_text(source)
    assert [(f.line, f.code) for f in findings] == [(11, "KSL101")]
    stats = analysis.statistics()
    assert stats["proven"] == 1 and stats["undecided"] == 0


def test_a_number_formatted_into_a_layer_name_is_written_down_as_one():
    # f"pool{index + 1}" adds 1 to index: a witness passing index=None raises TypeError there
    findings = _findings("""
        from keras import layers


        def block(x, index, use_pooling):
            residual = x
            if use_pooling:
                x = layers.MaxPooling2D(2, name=f"pool{index + 1}")(x)
            return layers.Add()([x, residual])
    """)
    assert [f.code for f in findings] == ["KSL103"], [f.message for f in findings]
    assert isinstance(findings[0].witness.args["index"], int), findings[0].witness.args


def test_names_unpacked_around_a_star_from_a_shape_of_unknown_rank_are_sizes():
    # batch, length, *rest = ops.shape(t) of a tensor nobody gave a rank: length is a size
    # (a scalar once cast, which anything broadcasts against), and channels its last axis
    findings, analysis = analyse_text(textwrap.dedent("""
        import keras
        from project_helpers import transform


        def gather(tensor, index):
            tensor = transform(tensor)
            batch, length, *rest = keras.ops.shape(tensor)
            length = keras.ops.cast(length, dtype=index.dtype)
            return index * length


        def last(tensor, index):
            tensor = transform(tensor)
            *rest, channels = keras.ops.shape(tensor)
            return keras.layers.Dense(channels)(index) + tensor
    """))
    assert findings == []
    assert sorted(analysis.outcomes.values()) == ["proven"], analysis.outcomes


def test_an_f_string_with_a_part_nobody_knows_is_no_equation_keras_rejects():
    # the text of `spec` is the caller's: the equation may be valid, so the path goes on to the
    # Add with an output nobody knows (undecided), rather than ending at a refusal nobody showed
    for call in ('layers.EinsumDense(f"{spec},cd->abd", output_shape=(None, 8))(x)',
                 'ops.einsum(f"{spec},cd->abd", x, ops.ones((16, 8)))'):
        _, analysis = analyse_text(textwrap.dedent(f"""
            from keras import layers, ops


            def block(x, spec):
                y = {call}
                return layers.Add()([x, y])
        """))
        assert sorted(analysis.outcomes.values()) == ["undecided"], (call, analysis.outcomes)


def test_an_f_string_of_known_strings_is_their_text():
    # an equation put together from letters: Keras reads "abc,cd->abd", a Dense to 8 units
    findings = _findings("""
        from keras import layers


        def block(x):
            given, kept = "abc", "ab"
            y = layers.EinsumDense(f"{given},cd->{kept}d", output_shape=(None, 8))(x)
            return layers.Add()([x, y])
    """)
    assert [(f.code, f.line) for f in findings] == [("KSL102", 8)], findings


def test_layers_named_by_their_index_in_a_loop_are_alike():
    # f"block_{i}" is a name: the blocks of the stack are one block repeated, whatever the count
    findings, analysis = analyse_text(textwrap.dedent("""
        from keras import layers


        def stack(x, depth):
            blocks = []
            for i in range(depth):
                blocks.append(layers.Dense(64, name=f"block_{i}"))
            for block in blocks:
                x = layers.Add()([x, block(x)])
            return x
    """))
    assert analysis.statistics()["budget"] == {}
    assert [f.code for f in findings] == ["KSL102"]


def test_a_dense_of_a_default_none_width_is_refused_and_the_width_freed():
    # Keras refuses Dense(None) when the layer is made (a test asks it): with `hidden` left at
    # None no path goes on, so the entry runs again with `hidden` the caller's to choose
    keras = pytest.importorskip("keras")
    with pytest.raises(ValueError):
        keras.layers.Dense(None)
    findings = _findings("""
        from keras import layers


        def block(x, hidden=None):
            return layers.Add()([x, layers.Dense(hidden)(x)])
    """)
    assert [f.code for f in findings] == ["KSL102"], findings
    assert findings[0].witness.args.get("hidden") is not None, findings[0].witness


def test_a_parameter_passed_through_a_call_still_holds_its_default_there():
    # `mask = ops.expand_dims(mask, -1)` hands expand_dims the default None: Keras raises, and
    # the entry runs again with `mask` a tensor the caller passes
    findings = _findings("""
        from keras import layers, ops


        def block(x, mask=None):
            mask = ops.expand_dims(mask, -1)
            y = layers.Dense(8)(x) * ops.cast(mask, "float32")
            return layers.Add()([x, y])
    """)
    assert [f.code for f in findings] == ["KSL102"], findings
    assert findings[0].witness.args.get("mask") is not None, findings[0].witness


def test_in_on_a_string_asks_for_a_substring():
    # `"tiny" in name` asks whether the text holds "tiny", not whether it is one of its letters:
    # the mismatch sits behind a test that holds for the default name
    findings = _findings("""
        from keras import layers


        def block(x, name="block_tiny"):
            y, z = layers.Dense(8)(x), layers.Dense(8)(x)
            if "tiny" in name and "huge" not in name:
                z = layers.Dense(4)(x)
            return layers.Add()([y, z])
    """)
    assert [f.code for f in findings] == ["KSL101"], [f.message for f in findings]
    assert findings[0].witness.args.get("name", "block_tiny") == "block_tiny"


def test_in_on_text_with_unknown_parts_is_undecided_where_those_parts_could_hold_it():
    from keras_shape_lint.operators import compare
    from keras_shape_lint.values import UnknownText

    text = UnknownText("block_…_conv")
    assert compare(None, "In", "block", text) is True
    assert compare(None, "In", "tiny", text) is None  # the unknown part may be "tiny"
    assert compare(None, "NotIn", "tiny", "block_x_conv") is True
    assert compare(None, "In", UnknownText("…"), "block") is None


def test_an_f_string_whose_number_nobody_knows_is_not_equal_to_any_one_text():
    # f"block_{n}" may be "block_1": neither branch is dropped, and the Add is not proven
    findings, analysis = analyse_text(textwrap.dedent("""
        from keras import layers


        def block(x, n):
            y = layers.Dense(8)(x)
            if f"block_{n}" == "block_1":
                y = layers.Dense(4)(x)
            return layers.Add()([layers.Dense(8)(x), y])
    """))
    assert analysis.statistics()["proven"] == 0, [f.message for f in findings]


def test_a_list_sorted_by_values_nobody_can_order_keeps_its_length_only():
    findings, analysis = analyse_text(textwrap.dedent("""
        from keras import layers


        def block(x, a, b):
            widths = [a, b]
            widths.sort()
            y = layers.Dense(widths[0])(x)
            assert len(widths) == 2
            return layers.Add()([layers.Dense(a)(x), y])
    """))
    stats = analysis.statistics()
    assert not findings and stats["proven"] == 0 and stats["undecided"] == 1, stats


def test_a_name_made_from_an_f_string_still_reads_alike_across_a_loop():
    # upper() of f"block_{i}" stays placeholder text: the blocks a loop over a free count makes
    # are alike, and the loop is summarised rather than run to the symbolic loop bound
    findings, analysis = analyse_text(textwrap.dedent("""
        from keras import layers


        def stack(x, n):
            x = layers.Dense(8)(x)
            for i in range(n):
                x = layers.Dense(8, name=f"block_{i}".upper())(x)
            return layers.Add()([x, layers.Dense(8)(x)])
    """))
    stats = analysis.statistics()
    assert not findings and stats["proven"] == 1 and not stats["budget"], stats


def test_the_rank_of_a_weight_and_of_a_tensor_counts_the_axes_it_has():
    # a kernel has no batch axis (rank 2); an input of (5, 7) has three axes with the batch
    findings = _findings("""
        import keras
        from keras import layers


        class Scale(layers.Layer):
            def build(self, input_shape):
                self.kernel = self.add_weight(shape=(input_shape[-1], 4))

            def call(self, x):
                y = layers.Dense(8)(x)
                if self.kernel.shape.rank == 2 and x.ndim == 3:
                    y = layers.Dense(4)(x)
                return layers.Add()([layers.Dense(8)(x), y])


        def model():
            return Scale()(keras.Input((5, 7)))
    """)
    assert [f.code for f in findings] == ["KSL101"], [f.message for f in findings]


@pytest.mark.parametrize("read", ['levels[f"P{i}"]', 'levels.get(f"P{i}")'])
def test_a_dict_read_at_text_with_a_number_nobody_knows_reads_nothing(read):
    # f"P{i}" and f"P{j}" are one key when i == j and two otherwise: the value read at f"P{i}" is
    # the 16-wide one on some inputs and the 8-wide one on others, so nothing is claimed of the
    # Add (it was flagged as two widths that can never be equal)
    findings = _findings(f"""
        from keras import layers


        def head(x, i, j):
            levels = {{}}
            levels[f"P{{i}}"] = layers.Dense(8)(x)
            levels[f"P{{j}}"] = layers.Dense(16)(x)
            return layers.Add()([{read}, layers.Dense(8)(x)])
    """)
    assert findings == []
