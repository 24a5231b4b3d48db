"""Loops whose bound is symbolic and whose body reads the index (``self.blocks[i]``,
``stackwise_filters[i]``, ``if i == 0``): summarised by one iteration for any index, and
lists built by loops indexed by such an index."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import libcst as cst
import pytest
import z3

from keras_shape_lint import symbolic as S
from keras_shape_lint.analysis import Options, analyse_text
from keras_shape_lint.interpreter import PATHS_JOINED
from keras_shape_lint.loops import Loops
from keras_shape_lint.plain_loops import plain_loop_facts
from keras_shape_lint.solver import Solver
from keras_shape_lint.state import Condition, State
from keras_shape_lint.subscripts import subscript
from keras_shape_lint.values import LayerValue, ListValue, RepeatedList, Tensor, Unknown


def _analyse(source: str):
    findings, analysis = analyse_text(textwrap.dedent(source))
    return findings, analysis, analysis.statistics()


def _interp():
    return SimpleNamespace(analysis=SimpleNamespace(solver=Solver()))


def _state(*conditions) -> State:
    st = State({})
    for condition in conditions:
        st.add(condition)
    return st


# ------------------------------------------------------------------ subscripts


def test_a_list_built_by_a_loop_gives_its_item_for_an_index_the_path_keeps_in_range():
    k, n = z3.Int("k"), z3.Int("n")
    item = object()
    blocks = RepeatedList([], item, n)
    found = subscript(_interp(), _state(k >= 0, k < n), blocks, [k])
    assert found is item  # an object nobody copies is the item itself


def test_a_list_built_by_a_loop_stays_unknown_for_an_index_maybe_out_of_range():
    k, n, m = z3.Int("k"), z3.Int("n"), z3.Int("m")
    blocks = RepeatedList([], 7, n)
    assert isinstance(subscript(_interp(), _state(k >= 0, k < m), blocks, [k]), Unknown)
    assert isinstance(subscript(_interp(), _state(k >= 0), blocks, [k]), Unknown)
    assert isinstance(subscript(_interp(), _state(), blocks, [0]), Unknown)  # n may be 0


def test_a_list_built_by_a_loop_gives_its_leading_items_by_concrete_index():
    n = z3.Int("n")
    blocks = RepeatedList(["stem"], "block", n)
    assert subscript(_interp(), _state(n >= 2), blocks, [0]) == "stem"
    assert subscript(_interp(), _state(n >= 2), blocks, [1]) == "block"
    assert subscript(_interp(), _state(n >= 2), blocks, [-1]) == "block"
    assert isinstance(subscript(_interp(), _state(), blocks, [-1]), Unknown)  # n may be 0


def test_a_symbolic_index_past_a_different_leading_item_gives_the_repeated_one():
    k, n = z3.Int("k"), z3.Int("n")
    blocks = RepeatedList(["stem"], "block", n)
    assert subscript(_interp(), _state(k >= 1, k < n + 1), blocks, [k]) == "block"
    # k may be 0: the stem or a block, which differ
    assert isinstance(subscript(_interp(), _state(k >= 0, k < n + 1), blocks, [k]), Unknown)


def test_a_symbolic_index_of_a_concrete_list_gives_an_item_only_when_all_it_may_name_agree():
    k = z3.Int("k")
    layers = ListValue([LayerValue(model=None, config={"units": 8}) for _ in range(3)])
    found = subscript(_interp(), _state(k >= 0, k < 3), layers, [k])
    assert isinstance(found, LayerValue) and found.config == {"units": 8}
    assert all(found is not item for item in layers.items)  # a copy, as a loop over the list gives
    mixed = ListValue([1, 2, 2])
    assert isinstance(subscript(_interp(), _state(k >= 0, k < 3), mixed, [k]), Unknown)
    assert subscript(_interp(), _state(k >= 1, k < 3), mixed, [k]) == 2
    assert isinstance(subscript(_interp(), _state(k >= 1, k < 4), mixed, [k]), Unknown)  # maybe [3]


def test_a_free_sequence_read_twice_at_the_same_symbolic_index_gives_the_same_value():
    k = z3.Int("k")
    interp = _interp()
    filters = Unknown("filters", free=True)
    first = subscript(interp, _state(), filters, [k])
    assert subscript(interp, _state(), filters, [k]) is first
    assert not first.free  # nobody chooses it: it is whichever item k names
    assert subscript(interp, _state(), filters, [S.add(k, 1)]) is not first


# ------------------------------------------------------------------ summaries


def test_layers_applied_by_index_from_a_list_built_in_init_are_summarised():
    findings, analysis, stats = _analyse("""
        from keras import layers


        class Encoder(layers.Layer):
            def __init__(self, num_layers, hidden=32, **kwargs):
                super().__init__(**kwargs)
                self.num_layers = num_layers
                self.project = layers.Dense(hidden)
                self.blocks = []
                for i in range(num_layers):
                    self.blocks.append(layers.Dense(hidden, name=f"block_{i}"))
                self.head = layers.Dense(hidden)

            def call(self, x):
                x = self.project(x)
                for i in range(self.num_layers):
                    x = layers.Add()([x, self.blocks[i](x)])
                return layers.Add()([x, self.head(x)])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == []
    assert (stats["merges"], stats["proven"]) == (2, 2)


def test_without_the_summary_the_same_loop_stops_at_the_bound():
    # the index ranges over a length the list need not have: blocks[i] stays unknown
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers, depth, hidden=32):
            blocks = []
            for _ in range(depth):
                blocks.append(layers.Dense(hidden))
            x = layers.Dense(hidden)(x)
            for i in range(num_layers):
                x = layers.Add()([x, blocks[i](x)])
            return x
    """)
    assert findings == []
    assert stats["undecided"] == 1


def test_a_first_iteration_that_differs_is_run_before_the_summary():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def stage(x, num_blocks, filters=32):
            for i in range(num_blocks):
                strides = 2 if i == 0 else 1
                y = layers.Conv2D(filters, 3, strides=strides, padding="same")(x)
                if i == 0:
                    x = layers.Conv2D(filters, 1, strides=strides)(x)
                x = layers.Add()([x, y])
            return layers.Add()([x, layers.Conv2D(filters, 1)(x)])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    # after zero blocks the input's own channels meet `filters`: a real finding
    assert [(f.line, f.code) for f in findings] == [(12, "KSL102")]
    assert "num_blocks=0" in findings[0].message
    assert stats["proven"] == 1


def test_the_index_after_a_summarised_loop_is_the_last_one_the_range_gave():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def head(x, n):
            if n < 1:
                return x
            for i in range(n):
                name = f"layer_{i}"
                y = layers.Dense(n)(x) if i > 0 else layers.Dense(n)(x)
            return layers.Add()([layers.Dense(i + 1)(x), y])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and stats["proven"] == 1


def test_a_stage_width_read_by_index_is_widened_and_the_stage_merges_proven():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def stages(x, stackwise_filters):
            x = layers.Conv2D(16, 3)(x)
            for i in range(len(stackwise_filters)):
                x = layers.Conv2D(stackwise_filters[i], 3, strides=2, padding="same")(x)
                y = layers.Conv2D(stackwise_filters[i], 1)(x)
                x = layers.Add()([x, y])
            return x
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == []
    assert (stats["merges"], stats["proven"]) == (1, 1)


WIDENED_STAGES = """
    from keras import layers


    def stages(x, features, stackwise_filters):
        if len(stackwise_filters) < 8:
            raise ValueError("eight stages at least")
        for i in range(len(stackwise_filters)):
            x = layers.Conv2D(stackwise_filters[i], 3, strides=2{padding})(x)
            x = layers.Add()([x, layers.Conv2D(stackwise_filters[i], 1)(x)])
        return layers.Add()([layers.Dense(8)(features), layers.Dense(16)(features)])
"""


def test_after_a_widened_loop_a_later_merge_is_not_reported_on_a_witness_the_loop_may_refuse():
    # every path to the head runs the widened iteration, whose sizes nobody knows: a valid 3x3
    # convolution refuses an image under 3 pixels, which one of those iterations may meet, so
    # the head's mismatch (which no input avoids) stays undecided
    findings, analysis, stats = _analyse(WIDENED_STAGES.format(padding=""))
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == []
    assert (stats["proven"], stats["undecided"]) == (1, 1)
    assert next(iter(stats["undecided_because"])).startswith(
        "a loop earlier on its path (for ... in range(len(stackwise_filters)) at line 8)"), stats


def test_after_a_widened_loop_that_assumed_nothing_a_later_merge_is_reported():
    # a "same" convolution takes any image and the body's merge is proven over any sizes: every
    # iteration builds, and the head fails for every input that gets there
    findings, analysis, stats = _analyse(WIDENED_STAGES.format(padding=', padding="same"'))
    assert not analysis.budget_notes, analysis.budget_notes
    assert [(f.code, f.line) for f in findings] == [("KSL101", 11)]
    assert len(findings[0].witness.args["stackwise_filters"]) >= 8, findings[0].witness.args


def test_a_body_that_changes_what_cannot_be_widened_still_stops_at_the_bound():
    # a list nested one deeper each iteration: nothing stands for every later one
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers):
            name = []
            for i in range(num_layers):
                name = [name]
                x = layers.Dense(8)(x)
            return layers.Add()([x, layers.Dense(8, name=str(len(name)))(x)])
    """)
    assert analysis.budget_notes["symbolic loop bound"] == 1


def test_a_list_of_indices_is_widened_and_nothing_is_claimed_of_its_items():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers):
            if num_layers < 6:
                return x
            widths = []
            for i in range(num_layers):
                widths.append(8 * i)
                x = layers.Dense(8)(x)
            return layers.Add()([x, layers.Dense(widths[5])(x)])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    # the sixth width is 40, but the summary holds widened items: undecided, never proven
    assert findings == [] and stats["proven"] == 0 and stats["undecided"] == 1


def test_a_list_of_tuples_of_sizes_read_by_index_is_widened():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def pyramid(x, feat_strides, image_size):
            spatial_shapes = []
            for i in range(len(feat_strides)):
                h = image_size // feat_strides[i]
                spatial_shapes.append((h, h))
            x = layers.Dense(8)(x)
            return layers.Add()([x, layers.Dense(8)(x)]), spatial_shapes
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1)


# ------------------------------------------------------------------ widening what keeps changing


def test_a_tuple_each_iteration_adds_to_is_widened_and_nothing_is_claimed_of_it():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers):
            x = layers.Dense(8)(x)
            hidden_states = ()
            for i in range(num_layers):
                hidden_states = hidden_states + (x,)
                x = layers.Dense(8)(x)
            y = layers.Add()([x, layers.Dense(8)(x)])
            return layers.Add()([y, hidden_states[2]])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    # the third hidden state is there only when num_layers > 2: never proven
    assert findings == [] and (stats["merges"], stats["proven"], stats["undecided"]) == (2, 1, 1)


def test_a_keras_layer_configured_by_each_iteration_is_widened():
    findings, analysis, stats = _analyse("""
        import keras
        from keras import layers


        def stages(x, patch_sizes, num_stages):
            pads = []
            for i in range(num_stages):
                pads.append(layers.ZeroPadding2D(padding=patch_sizes[i] // 2))
            x = layers.Conv2D(8, 3)(x)
            return layers.Add()([x, layers.Conv2D(8, 1)(x)]), pads
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1)


def test_a_float_each_iteration_computes_is_widened():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def stack(x, head_dims, num_layers):
            scales = []
            for i in range(num_layers):
                scales.append(head_dims[i] ** -0.5)
            x = layers.Dense(8)(x)
            return layers.Add()([x, layers.Dense(8)(x)]), scales
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1)


def test_names_an_unpacking_binds_before_reading_are_not_part_of_the_loop_state():
    # each quantizer (nobody knows which) returns new values unpacked into the same names; the
    # lists hold the earlier ones: only the names' own values differ, and nothing reads them next
    findings, analysis, stats = _analyse("""
        from keras import layers


        def quantize(x, quantizers):
            codes, losses = [], []
            x = layers.Dense(8)(x)
            for quantizer in quantizers:
                code, loss = quantizer(x)
                codes.append(code)
                losses.append(loss)
            return layers.Add()([x, layers.Dense(8)(x)]), codes, losses
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1)


def test_a_loop_over_a_sequence_nobody_knows_is_summarised():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def heads(x, backbone, widths):
            features = backbone(x)
            outputs = []
            for i, feature in enumerate(features):
                outputs.append(layers.Dense(widths[i])(feature))
            x = layers.Dense(8)(x)
            return layers.Add()([x, layers.Dense(8)(x)]), outputs
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1)


# ------------------------------------------------------------------ what one iteration leaves


def test_layers_with_initialisers_nobody_reads_built_in_a_loop_are_summarised():
    # each iteration makes its own opaque initialiser: the same state but for which value is where
    findings, analysis, stats = _analyse("""
        import keras
        from keras import layers


        def stack(x, num_layers, hidden_dim):
            blocks = []
            for i in range(num_layers):
                blocks.append(layers.Dense(hidden_dim, kernel_initializer=keras.initializers.get("x"),
                                           name=f"block_{i}"))
            x = layers.Dense(hidden_dim)(x)
            for block in blocks:
                x = layers.Add()([x, block(x)])
            return x
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1)


def test_opaque_values_are_renamed_one_for_one():
    from keras_shape_lint.state import loop_fixpoint
    from keras_shape_lint.values import opaque

    def state(**frame):
        st = State({})
        st.push(dict(frame), (), None)
        return st

    equal = lambda a, b: False  # noqa: E731
    u, v, w = opaque("call"), opaque("call"), opaque("call")
    # one value in two places before, one (other) value in both places after: the same state
    assert loop_fixpoint(state(a=u, b=u), state(a=v, b=v), frozenset(), equal) == []
    # one value in two places before, two values after: not the same state
    assert loop_fixpoint(state(a=u, b=u), state(a=v, b=w), frozenset(), equal) is None
    assert loop_fixpoint(state(a=u, b=w), state(a=v, b=v), frozenset(), equal) is None
    # one value kept in one place and replaced in the other: no longer one value
    assert loop_fixpoint(state(a=u, b=u), state(a=u, b=v), frozenset(), equal) is None
    assert loop_fixpoint(state(a=u, b=w), state(a=u, b=w), frozenset(), equal) == []
    # a list grown by an item like its last but for its own opaque value: the new item is
    # compared with the last on its own (the last keeps its value in place)
    from keras_shape_lint.values import ListValue as Items
    first, second = opaque("call"), opaque("call")
    grown = loop_fixpoint(state(blocks=Items([(first,)])), state(blocks=Items([(first,), (second,)])),
                          frozenset(), equal)
    assert grown is not None and len(grown) == 1
    # a value something has read (its size is on the path) is not renamed
    u.as_int()
    assert loop_fixpoint(state(a=u), state(a=v), frozenset(), equal) is None


def test_a_flag_computed_from_the_index_is_the_same_for_every_later_index():
    findings, analysis, stats = _analyse("""
        from keras import layers


        class Block(layers.Layer):
            def __init__(self, hidden_dim, first=False, **kwargs):
                super().__init__(**kwargs)
                self.first = first
                self.norm = layers.LayerNormalization()
                self.dense = layers.Dense(hidden_dim)

            def call(self, x):
                if self.first:
                    x = self.norm(x)
                return x + self.dense(x)


        class Encoder(layers.Layer):
            def __init__(self, num_layers, hidden_dim=32, **kwargs):
                super().__init__(**kwargs)
                self.blocks = []
                for i in range(num_layers):
                    self.blocks.append(Block(hidden_dim, first=(i == 0)))
                self.project = layers.Dense(hidden_dim)

            def call(self, x):
                x = self.project(x)
                for block in self.blocks:
                    x = block(x)
                return x
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and stats["undecided"] == 0 and stats["proven"] >= 1


def test_a_local_the_body_assigns_before_reading_does_not_keep_the_loop_from_its_summary():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers, pattern):
            x = layers.Dense(16)(x)
            for i in range(num_layers):
                if pattern is not None:
                    is_global = pattern[i] == "global"
                else:
                    is_global = i % 4 == 3
                rate = 0.1 * i / num_layers
                x = layers.Add()([x, layers.Dropout(rate)(layers.Dense(16)(x))])
            return x
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1)


def test_after_the_summary_such_a_local_holds_a_value_nobody_knows():
    # after the loop width is 16 * (num_layers - 1), never the 16 an early iteration gave
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers):
            if num_layers < 5:
                return x
            for i in range(num_layers):
                width = 16 * i
                x = layers.Dense(16)(x)
            return layers.Add()([x, layers.Dense(width)(x)])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert stats["proven"] == 0


def test_locals_assigned_before_read_are_found_by_syntax():
    import libcst as cst

    from keras_shape_lint.loops import _assigned_before_read

    loop = cst.parse_module(textwrap.dedent("""
        for j in range(n):
            if t is not None:
                g = t[j] == 1
            else:
                g = j % p == 0
            if q:
                h = 1
            a = a + 1
            b = f(j)
            c = d = b
            print(e)
            e = 3
    """)).body[0]
    assert _assigned_before_read(loop.body) == {"g", "b", "c", "d"}


def test_a_loop_whose_paths_part_on_a_flag_is_summarised_on_each():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers, hidden_dim, use_bias):
            x = layers.Dense(hidden_dim)(x)
            for _ in range(num_layers):
                y = layers.Dense(hidden_dim)(x)
                if use_bias:
                    y = layers.LayerNormalization()(y)
                x = layers.Add()([x, y])
            return layers.Add()([x, layers.Dense(hidden_dim)(x)])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (2, 2)


def test_a_loop_over_a_list_the_caller_passes_is_summarised_over_widened_sizes():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def stages(x, stackwise_filters):
            x = layers.Conv2D(16, 3)(x)
            for filters in stackwise_filters:
                x = layers.Conv2D(filters, 3, strides=2, padding="same")(x)
                x = layers.Add()([x, layers.Conv2D(filters, 1)(x)])
            return x
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == []
    assert (stats["merges"], stats["proven"]) == (1, 1)


# ------------------------------------------------------------------ joins at loop exits


def test_layer_configurations_holding_lists_compare_by_their_items():
    # keras.Sequential keeps its layers as a plain list in its configuration: two blocks built
    # the same way by two iterations are the same state
    from keras_shape_lint.state import _same

    n = S.free_int("n")
    assert _same({"layers": [1, n]}, {"layers": [1, n]}, {})
    assert not _same({"layers": [1, n]}, {"layers": [1, n, 2]}, {})
    assert not _same([1, 2], [1, 3], {})


def test_names_only_a_loop_mentions_are_dead_after_it():
    import libcst as cst

    from keras_shape_lint.liveness import dead_after_ifs, dead_after_loops

    function = cst.parse_module(textwrap.dedent("""
        def block(x, n):
            for num in range(n):
                y = f(x, num)
                x = g(y)
            return x
    """)).body[0]
    (node, names), = dead_after_loops(function).values()
    assert type(node) is cst.For
    assert {"num", "y"} <= names and not names & {"x", "n"}  # x is read after the loop, n before it
    assert dead_after_ifs(function) == {}


def test_a_loop_inside_another_loop_has_no_dead_names_of_its_own():
    import libcst as cst

    from keras_shape_lint.liveness import dead_after_loops

    function = cst.parse_module(textwrap.dedent("""
        def stack(x, ns):
            for n in ns:
                for num in range(n):
                    x = f(x, num)
            return x
    """)).body[0]
    assert [type(node) for node, _ in dead_after_loops(function).values()] == [cst.For]


def test_stages_of_free_depth_each_possibly_empty_are_summarised():
    # each stage has as many convolutions as the caller says, none included: the paths out of
    # a stage (no convolution, some) are joined for the stages after the first few
    findings, analysis, stats = _analyse("""
        import keras
        from keras import layers


        class Stages(keras.Model):
            def __init__(self, stackwise_num_repeats, stackwise_num_filters, image_shape=(None, None, 3)):
                inputs = keras.Input(shape=image_shape)
                x = inputs
                for stack_index in range(len(stackwise_num_repeats)):
                    x = stage(x, stackwise_num_repeats[stack_index], stackwise_num_filters[stack_index])
                y = layers.Conv2D(8, 1)(x)
                outputs = layers.Add()([y, layers.Conv2D(8, 3, padding="same")(y)])
                super().__init__(inputs=inputs, outputs=outputs)


        def stage(x, num_layers, filters):
            for num in range(1, num_layers + 1):
                x = layers.Conv2D(filters, 3, padding="same", name=f"conv{num}")(x)
            if filters > 64:
                x = layers.Conv2D(filters, 1, name="wide")(x)
            else:
                x = layers.Conv2D(filters, 1)(x)
            x = layers.MaxPooling2D((2, 2), (2, 2))(x)
            return x
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == []
    assert (stats["merges"], stats["proven"]) == (1, 1)


# ------------------------------------------------------------------ loops over plain Python values

_PLAIN_TRIM = """
    from keras import layers
    from helpers import budget_of, lengths_of


    def block(x, segments):
        lengths = lengths_of(segments)
        limit = budget_of(segments)
        cut = []
        for b in range(len(lengths)):
            low, high = -1, lengths[b] * 4
            while low <= high:
                mid = (low + high) // 2
                count = 0
                for s in range(4):
                    count += min(lengths[b], (mid - s) // 4 + 1)
                if count >= limit:
                    high = mid - 1
                else:
                    low = mid + 1
            cut.append(high)
        return layers.Add()([layers.Dense(8)(x), layers.Dense(8)(x)])
"""


def test_a_search_over_lengths_nobody_knows_is_summarised_not_run_path_by_path():
    # a binary search in a loop over a batch: only numbers, so no merge inside; the merge after it is proven
    # within a step budget the search run round by round exceeds
    findings, analysis = analyse_text(textwrap.dedent(_PLAIN_TRIM), Options(max_steps=400))
    stats = analysis.statistics()
    assert findings == []
    assert stats["budget"] == {}
    assert stats["proven"] == 1


def test_without_the_plain_loop_summary_the_same_search_exceeds_that_step_budget(monkeypatch):
    monkeypatch.setattr(Loops, "_plain_loop", lambda self, stmt, st, iterable=None: None)
    _, analysis = analyse_text(textwrap.dedent(_PLAIN_TRIM), Options(max_steps=400))
    assert analysis.statistics()["budget"] != {}


def test_a_size_a_plain_loop_changes_is_unknown_after_it():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def block(x, n):
            width = 8
            for _ in range(n):
                width = width * 2
            return layers.Add()([layers.Dense(width)(x), layers.Dense(8)(x)])
    """)
    assert findings == []
    assert stats["proven"] == 0 and stats["undecided"] == 1


def test_a_list_a_plain_loop_stores_into_is_unknown_after_it():
    # sizes[0] is no longer 8 after any iteration: the merge must not be proven
    findings, analysis, stats = _analyse("""
        from keras import layers


        def block(x, n):
            sizes = [8]
            for _ in range(n):
                sizes[0] = sizes[0] * 2 + 1
            return layers.Add()([layers.Dense(sizes[0])(x), layers.Dense(8)(x)])
    """)
    assert findings == []
    assert stats["proven"] == 0 and stats["undecided"] == 1


def test_a_loop_that_reads_a_tensor_is_not_summarised_as_plain():
    # y = x on every path: summarised as plain, y would be unknown and the merge undecided
    findings, analysis, stats = _analyse("""
        from keras import layers


        def block(x, n):
            x = layers.Dense(8)(x)
            y = x
            for _ in range(n):
                y = x
            return layers.Add()([x, y])
    """)
    assert findings == []
    assert stats["proven"] == 1


def test_plain_loop_syntax_admits_builtins_and_list_methods_only():
    def facts(source):
        return plain_loop_facts(cst.parse_statement(textwrap.dedent(source)))

    plain = facts("""
        for b in range(n):
            row = [len(s) for s in segments[b]]
            out.append(min(row) + self.offset)
    """)
    assert plain is not None and plain.mutates
    assert plain.binds == {"b", "row"} and plain.local == {"s"}
    assert ("self", "offset") in plain.attributes and "self" not in plain.reads
    assert facts("for b in range(n):\n    total += b\n").mutates  # ``+=`` may extend a list in place
    assert not facts("for b in range(n):\n    total = total + b\n").mutates
    for body in ("y = layers.Dense(4)(y)", "self.count = b", "y = self.x.shape",
                 "y = (lambda: b)()", "y = helper.a.b(y)"):
        assert facts(f"for b in range(n):\n    {body}\n") is None, body
    # a function called by its name: the path decides whether it is a plain one of the user's
    assert facts("for b in range(n):\n    y = helper(y)\n").functions == {"helper"}
    assert facts("for b in range(n):\n    return b\n").returns
    assert not facts("for b in range(n):\n    raise ValueError(helper(b))\n").returns  # that path ends
    assert facts("for b in range(n):\n    pass\nelse:\n    pass\n") is None


_EINSUM_LETTERS = """
    import string

    from keras import layers
    from helpers import rank_of


    def letter(i):
        return string.ascii_lowercase[i]


    def equation(free, bound):
        text = ""
        for i in range(free):
            text += letter(i)
        for i in range(bound):
            text += letter(free + i)
        return text


    def block(x, query_shape, key_shape, value_shape):
        query = equation(rank_of(query_shape) - 1, 1)
        key = equation(rank_of(key_shape) - 1, 1)
        value = equation(rank_of(value_shape) - 1, 2)
        return layers.Add()([layers.Dense(8)(x), layers.Dense(8)(x)])
"""


def test_a_loop_calling_a_plain_function_of_the_users_is_summarised_not_run_path_by_path():
    # letters of an einsum equation spelt for a rank nobody knows, one helper call per letter:
    # only strings, so no merge inside; the merge after it is proven within a step budget
    # that running the two loops round by round exceeds
    findings, analysis = analyse_text(textwrap.dedent(_EINSUM_LETTERS), Options(max_steps=250))
    stats = analysis.statistics()
    assert findings == [] and stats["budget"] == {} and stats["proven"] == 1


def test_without_plain_functions_the_same_loops_exceed_that_step_budget(monkeypatch):
    from keras_shape_lint import plain_loops

    monkeypatch.setattr(plain_loops, "_plain_function", lambda *args: None)
    _, analysis = analyse_text(textwrap.dedent(_EINSUM_LETTERS), Options(max_steps=250))
    assert analysis.statistics()["budget"] != {}


_GROWN = """
    from keras import layers
    from helpers import rank_of


    def grow(sizes):
        sizes[0] = sizes[0] * 2 + 1


    def block(x, shape, n):
        sizes = [8]
        for _ in range({count}):
            grow(sizes)
        return layers.Add()([layers.Dense(sizes[0])(x), layers.Dense(8)(x)])
"""


def test_a_list_a_plain_function_changes_in_a_loop_is_unknown_after_it():
    # grow() stores into the list it is given: after any number of calls (a count nobody
    # knows: the rank of an unknown tensor) sizes[0] is no longer 8
    findings, analysis, stats = _analyse(_GROWN.format(count="rank_of(shape)"))
    assert findings == []
    assert stats["proven"] == 0 and stats["undecided"] == 1


def test_a_loop_calling_a_helper_a_caller_counts_is_run_count_by_count():
    # the caller chooses n: with n = 1 the widths are 17 and 8, which Keras refuses (summarised,
    # sizes[0] would be a width nobody knows and nothing would be flagged)
    findings, analysis, stats = _analyse(_GROWN.format(count="n"))
    assert [f.code for f in findings] == ["KSL101"] and "n=1" in findings[0].message


def test_a_function_that_makes_a_layer_or_changes_a_global_keeps_its_loop_run():
    # make() builds a Dense: the loop is run, the list holds n Dense(8) layers and the
    # shortcut around them is flagged (x's channels are the caller's)
    findings, analysis, stats = _analyse("""
        from keras import layers

        SEEN = []


        def make(width):
            return layers.Dense(width)


        def note(width):
            SEEN.append(width)
            return width


        def block(x, n):
            denses = []
            for _ in range(n):
                denses.append(make(note(8)))
            y = x
            for dense in denses:
                y = dense(y)
            return layers.Add()([x, y])
    """)
    assert [f.code for f in findings] == ["KSL102"]


def test_a_loop_calling_functions_of_pythons_random_module_is_plain_and_keras_ops_are_not():
    facts = plain_loop_facts(cst.parse_statement("for b in range(n):\n    if random.random() < rate:\n"
                                                 "        random.shuffle(order)\n"))
    assert facts is not None and facts.modules == {"random"} and facts.mutates
    # ops is Keras's: the loop is run, y stays a (4, 8) tensor and the merge after it is proven
    findings, analysis, stats = _analyse("""
        from keras import ops


        def block(n):
            y = ops.ones((4, 8))
            for _ in range(n):
                y = ops.ones((4, 8))
            return ops.add(y, ops.ones((4, 8)))
    """)
    assert findings == []
    assert stats["proven"] == 1


def test_a_plain_loop_that_returns_leaves_its_function_with_a_value_nobody_knows():
    # first_over returns 8 only when the loop runs out: the merge must not be proven
    findings, analysis, stats = _analyse("""
        from keras import layers


        def first_over(limit, n):
            for i in range(n):
                if i * 2 > limit:
                    return i
            return 8


        def block(x, n):
            width = first_over(10, n)
            return layers.Add()([layers.Dense(width)(x), layers.Dense(8)(x)])
    """)
    assert findings == []
    assert stats["proven"] == 0 and stats["undecided"] == 1


# ------------------------------------------------------------------ downward ranges


def test_a_downward_range_with_a_symbolic_bound_runs_as_many_iterations_as_fit():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def pyramid(x, num_levels, filters=32):
            x = layers.Conv2D(filters, 1)(x)
            for i in range(num_levels, 0, -1):
                y = layers.Conv2D(filters, 3, padding="same", name=f"p{i}")(x)
                if i == 1:
                    y = layers.Conv2D(filters, 1)(y)
                x = layers.Add()([x, y])
            return layers.Add()([x, layers.Conv2D(filters, 1)(x)])
    """)
    assert "iteration over an unknown sequence" not in analysis.opaque_reasons
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and (stats["merges"], stats["proven"]) == (2, 2)


def test_a_downward_range_that_runs_no_iteration_gives_a_finding_with_its_bound():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def head(x, top, filters=32):
            for i in range(top, 2, -1):
                x = layers.Conv2D(filters, 1, name=f"level_{i}")(x)
            return layers.Add()([x, layers.Conv2D(filters, 1)(x)])
    """)
    # no iteration when top <= 2: the input's own channels meet `filters`
    assert [(f.line, f.code) for f in findings] == [(8, "KSL102")]
    assert findings[0].witness.args["top"] <= 2


_MEMBERSHIP = """
    from keras import layers
    from pair_files import read_pairs


    def checked_pairs(path, vocabulary):
        pairs = read_pairs(path)  # a sequence nobody knows
        kept = []
        for pair in pairs:
            if "#version:" in pair.lstrip():
                continue
            a, b = str(pair).split(" ")
            if a not in vocabulary or b not in vocabulary:
                raise ValueError(f"{a} or {b} is not in the vocabulary")
            kept.append((a, b))
        return kept


    def block(x, path, vocabulary, more_path, other_path):
        first = checked_pairs(path, vocabulary)
        second = checked_pairs(more_path, vocabulary)
        third = checked_pairs(other_path, vocabulary)
        return layers.Add()([layers.Dense(8)(x), layers.Dense(8)(x)])
"""


def test_a_loop_asking_only_whether_items_are_in_a_parameter_is_summarised():
    # `vocabulary` is a parameter nobody has typed, read only as the container of `in`: the
    # loops are summarised, one path each, and the merge after them is proven within few steps
    findings, analysis = analyse_text(textwrap.dedent(_MEMBERSHIP), Options(max_steps=600))
    stats = analysis.statistics()
    assert findings == [] and stats["budget"] == {}
    assert stats["proven"] == 1


def test_without_the_membership_rule_the_same_loops_exceed_that_step_budget(monkeypatch):
    facts = plain_loop_facts

    def without_containers(stmt):
        found = facts(stmt)
        return None if found is None or found.containers else found

    monkeypatch.setattr("keras_shape_lint.loops.plain_loop_facts", without_containers)
    _, analysis = analyse_text(textwrap.dedent(_MEMBERSHIP), Options(max_steps=600))
    assert analysis.statistics()["budget"] != {}


def test_a_name_read_otherwise_as_well_is_no_membership_container():
    def facts(source):
        return plain_loop_facts(cst.parse_statement(textwrap.dedent(source)))

    only = facts("for a in items:\n    if a not in vocabulary and a in extra:\n        out.append(a)\n")
    assert only.containers == {"vocabulary", "extra"} and "vocabulary" not in only.reads
    both = facts("for a in items:\n    if a in vocabulary:\n        out.append(vocabulary[a])\n")
    assert "vocabulary" in both.reads and not both.containers
    assert facts("for a in items:\n    a = a.rstrip().lstrip()\n") is not None  # string methods are plain


def test_a_membership_container_holding_a_tensor_keeps_the_loop_run():
    # `kept` holds a tensor: comparing items with it is not summarised, the loop runs and the
    # merge after it (the tensor it left in `y`) is proven as before
    findings, analysis, stats = _analyse("""
        from keras import layers


        def block(inputs, names):
            x = layers.Dense(8)(inputs)
            y = layers.Dense(8)(x)
            kept = [y]
            for name in names:
                if name in kept:
                    y = layers.Dense(8)(x)
            return layers.Add()([x, y])
    """)
    assert findings == [] and stats["proven"] == 1


def test_membership_in_a_table_of_plain_values_is_decided_as_python_does():
    # the byte table of byte-pair tokenizers: `b not in bs` over ints decides the width
    findings, analysis, stats = _analyse("""
        from keras import layers


        def block(x):
            bs = list(range(ord("!"), ord("~") + 1))
            extra = 0
            for b in range(2**8):
                if b not in bs:
                    extra += 1
            return layers.Add()([layers.Dense(extra)(x), layers.Dense(161)(x)])
    """)
    # 256 bytes, 94 of them printable from "!" to "~": 162 others
    assert [f.code for f in findings] == ["KSL101"]
    assert "162 and 161 channels" in findings[0].message, findings[0].message


_PAST_BOUND = """
    from keras import layers, ops
    from segment_io import read_segments


    def pack(x, path, start):
        segments = read_segments(path)  # a sequence nobody knows: no caller chooses its length
        pieces, ids = [start], [ops.zeros_like(start)]
        for i, seg in enumerate(segments):
            pieces = [pieces, seg]  # one deeper each time: nothing stands for every later one
            ids.append(ops.ones_like(seg) * i)
            if i == len(segments) - 1:
                pieces.append(start)
            else:
                pieces.append(ops.zeros_like(start))
            scaled = ops.add(start, start)
        y = layers.Add()([layers.Dense(8)(x), layers.Dense(8)(x)])
        return y, ops.concatenate(pieces, axis=1), scaled
"""


def test_a_loop_over_a_sequence_nobody_knows_goes_on_past_the_bound_with_its_changes_forgotten():
    findings, analysis = analyse_text(textwrap.dedent(_PAST_BOUND))
    stats = analysis.statistics()
    assert stats["budget"] == {}, stats["budget"]
    assert findings == []
    outcomes = {analysis.main.start(node).line: outcome for node, outcome in analysis.outcomes.items()}
    assert outcomes[17] == "proven"  # nothing the loop changes reaches it
    # `ops.add(start, start)` held in the iterations run, but later ones were not checked
    assert outcomes[16] == "undecided"
    assert "more iterations than the analysis follows" in analysis.blocked[
        next(n for n in analysis.outcomes if analysis.main.start(n).line == 16)]
    assert outcomes[18] == "undecided"  # the list the loop grew is a value nobody knows


def test_without_going_past_the_bound_the_same_loop_stops_there(monkeypatch):
    monkeypatch.setattr(Loops, "_past_bound", lambda self, stmt, states, summaries: states)
    _, analysis = analyse_text(textwrap.dedent(_PAST_BOUND))
    assert "symbolic loop bound" in analysis.statistics()["budget"]


def test_a_loop_past_the_bound_that_reads_an_instance_still_stops_there():
    source = textwrap.dedent("""
        from keras import layers, ops
        from segment_io import read_segments


        class Packer(layers.Layer):
            def call(self, x, path):
                pieces = []
                for i, seg in enumerate(read_segments(path)):
                    pieces = [pieces, seg]  # one deeper each time: nothing stands for every later one
                    pieces.append(self.separator)
                return layers.Add()([x, x])
    """)
    _, analysis = analyse_text(source)
    assert "symbolic loop bound" in analysis.statistics()["budget"]


def test_layers_built_in_a_loop_with_the_dtype_policy_are_summarised():
    # each read of self.dtype_policy gives a new policy object: the layers the loop appends are
    # still alike, one iteration to the next, and the loop is summarised, not cut at the bound
    findings, analysis, stats = _analyse("""
        import keras


        class Head(keras.layers.Layer):
            def __init__(self, num_conv_layers, num_filters, **kwargs):
                super().__init__(**kwargs)
                self.num_conv_layers = num_conv_layers
                self.num_filters = num_filters

            def build(self, input_shape):
                self.conv_layers = []
                for idx in range(self.num_conv_layers):
                    conv = keras.layers.Conv2D(self.num_filters, 3, padding="same", name=f"conv2d_{idx}",
                                               dtype=self.dtype_policy)
                    self.conv_layers.append(conv)

            def call(self, x):
                x = keras.layers.Conv2D(self.num_filters, 1)(x)
                for idx in range(self.num_conv_layers):
                    x = keras.layers.Add()([x, self.conv_layers[idx](x)])
                return x
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == [] and stats["proven"] == 1


def _counting_calls(source: str, name: str):
    """The analysis of ``source`` and how many times the function ``name`` was run."""
    import keras_shape_lint.calls as calls

    runs = []
    original = calls.Calls.call_user

    def counted(self, fn, args, kwargs, st, node):
        if fn.name == name:
            runs.append(fn)
        return original(self, fn, args, kwargs, st, node)

    calls.Calls.call_user = counted
    try:
        return _analyse(source), len(runs)
    finally:
        calls.Calls.call_user = original


STACK_BUILT_THEN_APPLIED = """
    import keras
    from keras import layers


    class Block(layers.Layer):
        def __init__(self, width, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(width)

        def call(self, x):
            return x + self.dense(x)


    class Stack(keras.Model):
        def __init__(self, width, num_layers, **kwargs):
            self.blocks = []
            for i in range(num_layers):
                self.blocks.append(Block(width, name=f"block_{{i}}"))
            inputs = keras.Input((None, width))
            x = inputs
            for {target} in {iterable}:
                x = block(x)
            super().__init__(inputs, x, **kwargs)
"""


@pytest.mark.parametrize("target, iterable", [("block", "self.blocks"), ("i, block", "enumerate(self.blocks)")])
def test_layers_made_in_a_loop_and_applied_in_another_run_once_for_any_count(target, iterable):
    # the first loop makes equal blocks whatever num_layers is: one list of num_layers blocks (and
    # a path with none), not one path per count the bound allows, each running every block again
    (findings, analysis, stats), runs = _counting_calls(
        STACK_BUILT_THEN_APPLIED.format(target=target, iterable=iterable), "call")
    assert findings == [] and not analysis.budget_notes, analysis.budget_notes
    assert (stats["merges"], stats["proven"]) == (1, 1), stats
    assert runs <= 2, runs  # the second loop's first iteration (and one more to see it repeat)


_BLOCKS_BUILT_BY_PATH = """
import keras
from keras import layers


class Block(layers.Layer):
    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)
        self.fused = layers.Dense(width)
        self.plain = layers.Dense(width)
        self.fused_norm = layers.LayerNormalization()
        self.plain_norm = layers.LayerNormalization()

    def call(self, x):
        # two queries of the environment: each built sublayer differs by path
        y = self.fused(x) if keras.config.is_flash_attention_enabled() else self.plain(x)
        if keras.config.is_flash_attention_enabled():
            return self.fused_norm(y)
        return self.plain_norm(y)


class Stack(keras.Model):
    def __init__(self, depth, width, **kwargs):
        self.blocks = []
        for i in range(depth):
            self.blocks.append(Block(width, name=f"block_{i}"))
        inputs = keras.Input((8, width))
        x = inputs
        for block in self.blocks:
            x = x + block(x)
        super().__init__(inputs, x, **kwargs)
"""


def test_blocks_built_one_way_or_another_run_the_next_iteration_as_one_path():
    # each block's call builds one of two sublayers per query of the environment: the paths
    # of an iteration differ only in the block just called (the loop variable, assigned again
    # before the next iteration reads it and read by nothing after the loop), so they join
    findings, analysis = analyse_text(_BLOCKS_BUILT_BY_PATH, Options(max_steps=1000))
    stats = analysis.statistics()
    assert findings == []
    assert stats["budget"] == {}
    assert stats["proven"] == 1


def _assuming_each_size_as_often_as_asked(self, term, decision=None, branch=False):
    """State.add as it was before an assumption the path holds already was left out."""
    if term is not True:
        self.pc = self.pc + (Condition(term, branch),)
        if decision:
            self.decisions = self.decisions + (decision,)


def test_without_forgetting_the_block_just_called_the_same_stack_exceeds_that_budget(monkeypatch):
    # (about 1,400 steps against 700: each path is still tried for any block after the first).
    # The paths' conditions must differ for that: each Dense assumed ``width >= 1`` once more on
    # each path, until an assumption the path holds already was left out, which lets them join
    monkeypatch.setattr(Loops, "_iteration_dead", lambda self, stmt, states: frozenset())
    _, analysis = analyse_text(_BLOCKS_BUILT_BY_PATH, Options(max_steps=1000))
    assert analysis.statistics()["budget"] == {}
    monkeypatch.setattr(State, "add", _assuming_each_size_as_often_as_asked)
    _, analysis = analyse_text(_BLOCKS_BUILT_BY_PATH, Options(max_steps=1000))
    assert analysis.statistics()["budget"] != {}


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# a stack of blocks made in a loop, whose first block projects the stage's input
_STAGE_WITH_A_PROJECTING_FIRST_BLOCK = (FIXTURES / "stage_projecting_first_block_clean.py").read_text()


def test_a_stack_whose_first_block_differs_leaves_its_loop_as_few_paths():
    # the first block projects (channels != filters), the others are alike: the loop that
    # makes them leaves three kinds of path (none, one block, more), not one per count
    findings, analysis = analyse_text(_STAGE_WITH_A_PROJECTING_FIRST_BLOCK, Options(max_paths=5))
    stats = analysis.statistics()
    assert findings == []
    assert stats["budget"] == {} and not analysis.opaque_reasons[PATHS_JOINED]
    assert stats["proven"] == 1


def test_a_stack_whose_first_block_fails_to_project_is_flagged_with_a_witness_that_builds_it():
    source = _STAGE_WITH_A_PROJECTING_FIRST_BLOCK.replace("project=channels != filters", "project=channels > filters")
    findings, analysis = analyse_text(source, Options())
    assert [f.code for f in findings] == ["KSL102"], [f.message for f in findings]
    args = findings[0].witness.args
    assert args["width"] < args["filters"] and args["depth"] >= 1, args


def test_a_merge_of_branches_made_for_each_item_the_caller_passes_is_proven():
    # the loop leaves a list of the 1x1 branch and as many equal branches as there are rates:
    # the merge runs once with none of them and once with some, standing in as one tensor
    source = (FIXTURES / "aspp_branches_clean.py").read_text()
    findings, analysis = analyse_text(source, Options())
    stats = analysis.statistics()
    assert findings == []
    assert (stats["merges"], stats["proven"], stats["internal_errors"]) == (2, 2, []), analysis.incomplete_merges()


def test_a_merge_of_one_tensor_is_proven():
    keras = pytest.importorskip("keras")
    x = keras.Input((4, 8))
    assert tuple(keras.layers.Concatenate()([x]).shape) == (None, 4, 8)  # Keras builds it
    findings, analysis, stats = _analyse("""
        import keras
        from keras import layers


        def head(x):
            return layers.Concatenate()([layers.Dense(4)(x)])
    """)
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1), stats


def test_a_join_by_ops_of_branches_made_for_each_item_is_read_as_the_layer_reads_it():
    # ops.concatenate of the list the loop built, added to a projection as wide as every
    # branch together: both proven (the add was undecided: the join of the copies unknown)
    source = (FIXTURES / "aspp_ops_concat_residual_clean.py").read_text()
    findings, analysis = analyse_text(source, Options())
    stats = analysis.statistics()
    assert findings == []
    assert (stats["merges"], stats["proven"]) == (2, 2), analysis.incomplete_merges()
    # one branch wide instead: flagged (Keras raises there for any rate: tests/test_oracle.py)
    findings, _ = analyse_text((FIXTURES / "aspp_ops_concat_residual.py").read_text(), Options())
    assert [f.code for f in findings] == ["KSL101"], [f.message for f in findings]


def test_a_join_proven_on_one_path_and_unread_on_another_is_undecided():
    # ops.concatenate of a list nobody can read on one path: no merge anyone saw there, but the
    # other path checked it as one, so it is not proven (on the code before it was)
    source = (FIXTURES / "aspp_ops_concat_residual_clean.py").read_text().replace(
        "ops.concatenate(branches, axis=-1)", "ops.concatenate(branches if rates else from_disk(), axis=-1)")
    findings, analysis = analyse_text("from elsewhere import from_disk\n" + source, Options())
    outcomes = {analysis.main.start(node).line: outcome for node, outcome in analysis.outcomes.items()}
    assert findings == []
    assert outcomes[12] == "undecided", outcomes
    assert "from_disk" in analysis.in_words(analysis.blocked[next(n for n in analysis.outcomes if analysis.main.start(n).line == 12)])


def test_a_merge_of_an_empty_list_ends_the_path():
    # Keras refuses a merge of no tensors; the heads of a feature pyramid nobody can count
    # (one per level of an unknown dict) are joined on every path that has one, and each is
    # as wide as the Reshape makes it: proven (the path with none was unread: undecided)
    keras = pytest.importorskip("keras")
    for merge in (keras.layers.Concatenate(axis=1), keras.layers.Add()):
        with pytest.raises(Exception):
            merge([])
    findings, analysis, stats = _analyse("""
        import keras
        from keras import layers


        def head(backbone, box_head):
            feature_map = backbone.outputs_by_level
            boxes = []
            for level in feature_map:
                boxes.append(layers.Reshape((-1, 4))(box_head(feature_map[level])))
            return layers.Concatenate(axis=1)(boxes)
    """)
    assert findings == [] and (stats["merges"], stats["proven"]) == (1, 1), analysis.incomplete_merges()


# Dense(8) layers for each of n >= 1 blocks, made in a loop, then one Dense(WIDTH) appended
_BLOCKS_THEN_ONE_MORE = """
        from keras import layers


        def head(x, n):
            if n < 1:
                raise ValueError("at least one block")
            blocks = []
            for _ in range(n):
                blocks.append(layers.Dense(8))
            blocks.append(layers.Dense(WIDTH))"""


def test_an_item_appended_after_the_loop_is_the_list_s_last():
    # layers made in a loop over a count the caller passes, then one more appended: the
    # last item is that one (read by [-1]), the length counts it, and a merge of the list
    # sees it after the copies
    findings, _, stats = _analyse(_BLOCKS_THEN_ONE_MORE.replace("WIDTH", "4") + """
            y = blocks[-1](x)
            assert len(blocks) == n + 1
            return layers.Add()([y, layers.Dense(8)(x)])  # 4 and 8 channels, whatever n is
    """)
    assert [f.code for f in findings] == ["KSL101"], [f.message for f in findings]
    assert stats["flagged"] == 1 and not stats["budget"], stats  # every count of blocks, not the first few


def test_the_item_after_the_copies_can_be_replaced():
    # ``outputs[-1] = ...`` replaces what was appended after the loop, nothing else
    source = """
        from keras import layers


        def pyramid(x, n):
            outputs = [layers.Dense(8)(x)]
            for _ in range(n):
                outputs.append(layers.Dense(8)(x))
            outputs.append(layers.Dense(4)(x))
            outputs[-1] = layers.Dense(8)(outputs[-1])
            return layers.Add()(outputs)
    """
    findings, _, stats = _analyse(source)
    assert not findings and stats["proven"] == 1, ([f.message for f in findings], stats)
    findings, _, _ = _analyse(source.replace("outputs[-1] = layers.Dense(8)", "outputs[0] = layers.Dense(5)"))
    assert [f.code for f in findings] == ["KSL101"], [f.message for f in findings]


def test_a_copy_replaced_by_an_index_nobody_knows_makes_the_list_unknown():
    findings, _, stats = _analyse("""
        from keras import layers


        def pyramid(x, n, k):
            outputs = []
            for _ in range(n):
                outputs.append(layers.Dense(8)(x))
            outputs[k] = layers.Dense(4)(x)
            return layers.Add()(outputs)
    """)
    assert not findings and stats["proven"] == 0, ([f.message for f in findings], stats)


@pytest.mark.parametrize("apply", ["[block(x) for block in blocks]", "outputs"])
def test_a_comprehension_or_loop_over_the_list_reaches_the_item_after_the_copies(apply):
    source = _BLOCKS_THEN_ONE_MORE + """
            outputs = []
            for i, block in enumerate(blocks):
                outputs.append(block(x))
            return layers.Add()(APPLY)
    """.replace("APPLY", apply)
    findings, _, stats = _analyse(source.replace("WIDTH", "4"))
    assert [f.code for f in findings] == ["KSL101"], [f.message for f in findings]
    findings, _, stats = _analyse(source.replace("WIDTH", "8"))
    assert not findings and stats["proven"] == 1 and not stats["budget"], stats


_TEXT_GROWN = """
import keras
from keras import layers

def letter(i):
    return "abcdefgh"[i]


def block(x, rank, width=8):
    letters = ""
    for i in range(rank):
        letters += letter(i)
    y = layers.Dense(width, name=letters or None)(x)
    return layers.Add()([x, y])
"""


def test_text_a_loop_adds_to_for_a_count_nobody_knows_is_summarised():
    # an einsum equation built letter by letter for a rank the caller passes: the text after
    # the loop is one nobody knows, and the merge after it is still reached and decided
    findings, analysis, stats = _analyse(_TEXT_GROWN)
    assert stats["budget"] == {}, stats["budget"]
    assert stats["merges"] == 1 and stats["flagged"] == 1, stats
    assert [f.code for f in findings] == ["KSL102"]


def test_a_list_a_loop_built_and_another_rewrites_item_by_item_is_summarised():
    # ``shapes[i] = ...`` for an index nobody knows: the list is one nothing can be read of
    # after it, and the loop is summarised rather than stopped at the bound
    findings, analysis, stats = _analyse("""
        from keras import layers
        from elsewhere import Block

        def head(x, count):
            shapes = []
            for i in range(count):
                shapes.append(Block().compute_output_shape(x.shape))
            for i, shape in enumerate(shapes):
                shapes[i] = Block().compute_output_shape(shape)
            return layers.Add()([x, layers.Dense(8)(x)])
    """)
    assert stats["budget"] == {}, stats["budget"]
    assert [f.code for f in findings] == ["KSL102"]


def test_values_nobody_knows_that_an_iteration_hands_on_and_appends_are_widened():
    # each fused output is fed to the next block and kept in a list: on its own each place
    # looks renamed, together they are not, so both are widened to values nobody knows
    findings, analysis, stats = _analyse("""
        from keras import layers
        from elsewhere import Block

        def fusion(x, count):
            xs = [layers.Dense(8)(x) for _ in range(count)]
            fused = None
            outs = []
            for i, y in enumerate(reversed(xs)):
                if fused is None:
                    fused = Block()(y)
                else:
                    fused = Block()(fused, y)
                outs.append(fused)
            return layers.Add()([x, layers.Dense(8)(x)])
    """)
    assert stats["budget"] == {}, stats["budget"]
    assert stats["merges"] == 1


def test_a_tensor_one_iteration_leaves_without_data_time_sizes_is_widened_without_them():
    from keras_shape_lint.loops import _generalised
    from keras_shape_lint.provenance import Origin
    from keras_shape_lint.values import Tensor

    n = z3.Int("n")
    before = Tensor((None, n, 8))
    before.shadow = Tensor((z3.Int("batch"), n, 8))
    after = Tensor((None, n + 1, 8))
    covering: set = set()
    general = _generalised(before, after, lambda a, b: False, Origin("", None, None), covering, set())
    assert isinstance(general, Tensor) and general.shadow is None
    assert general.dims[2] == 8 and general.dims[1].decl().name() in covering


_BLOCKS_UNDER_FLAGS = """
import keras
from keras import layers


class Block(keras.layers.Layer):
    def __init__(self, width, a=False, b=False, c=False, d=False, **kwargs):
        super().__init__(**kwargs)
        self.windowed = a
        if b:
            self.extra = layers.Dense(width)
        else:
            self.extra = None
        if c:
            self.gate = layers.Dense(width)
        else:
            self.gate = None
        if d:
            self.scale = layers.Dense(width)
        else:
            self.scale = None
        self.dense = layers.Dense(width)

    def call(self, x):
        if self.windowed:
            x = x * 2.0
        y = self.dense(x)
        if self.extra is not None:
            y = self.extra(y)
        if self.gate is not None:
            y = y * self.gate(x)
        if self.scale is not None:
            y = self.scale(y)
        return y


def stack(x, num_layers, width, a=False, b=False, c=False, d=False):
    blocks = []
    for i in range(num_layers):
        blocks.append(Block(width, a=a and i % 2 == 0, b=b, c=c, d=d))
    for block in blocks:
        x = block(x)
    return layers.Add()([x, layers.Dense(width)(x)])
"""


def test_a_stack_of_blocks_built_under_several_flags_is_summarised_once_its_paths_are_joined():
    # each block's constructor parts on three flags: the iteration run for any index, on the
    # path that joined the flags' paths, parts into eight again, and those are joined too
    findings, analysis, stats = _analyse(_BLOCKS_UNDER_FLAGS)
    assert stats["budget"] == {}, stats["budget"]
    assert [f.code for f in findings] == ["KSL102"]


_TWO_APPENDS = """
import keras
from keras import layers


class MLP(keras.layers.Layer):
    def __init__(self, hidden_dim, output_dim, num_layers, **kwargs):
        super().__init__(**kwargs)
        widths = [hidden_dim] * (num_layers - 1)
        blocks = []
        for width in widths:
            blocks.append(layers.Dense(width))
            blocks.append(layers.Activation("relu"))
        blocks.append(layers.Dense(output_dim))
        self.mlp = keras.Sequential(blocks)

    def call(self, x):
        return self.mlp(x)


def head(x, hidden_dim, output_dim, num_layers):
    y = MLP(hidden_dim, output_dim, num_layers)(x)
    return layers.Add()([x, layers.Dense(8)(x)])
"""

_KEYS_ADDED = """
from keras import layers
from elsewhere import Block


def pyramid(x, levels):
    maps = {}
    for i, level in enumerate(levels):
        maps[level] = Block()(x)
    return layers.Add()([x, layers.Dense(8)(x)])
"""

_CLOSURE = """
from keras import layers, ops


def scan(x, steps):
    state = layers.Dense(8)(x)

    def step(t, s):
        return ops.tanh(s) + ops.cast(t, "float32")

    for t in range(steps):
        state = ops.concatenate([state, step(t, state)], axis=-1)
    return layers.Add()([state, layers.Dense(8)(x)])
"""


@pytest.mark.parametrize("source, expected", [
    # a list each iteration appends a layer and its activation to: a list nobody knows after
    (_TWO_APPENDS, "KSL102"),
    # a dict each iteration adds a key to (the items of a list the caller passes)
    (_KEYS_ADDED, "KSL102"),
    # a function defined before the loop closes over the state the loop widens
    (_CLOSURE, "KSL101"),
], ids=["two appends", "keys added", "closure"])
def test_a_loop_that_grows_a_container_or_closes_over_its_state_is_summarised(source, expected):
    findings, analysis, stats = _analyse(source)
    assert stats["budget"] == {}, stats["budget"]
    assert [f.code for f in findings] == [expected]


_LAYER_BY_FLAG = """
from keras import layers


class Block(layers.Layer):
    def __init__(self, width, windowed, **kwargs):
        super().__init__(**kwargs)
        self.proj = layers.Dense(width, use_bias=False) if windowed else layers.Dense(width, activation="relu")
        self.out = layers.Dense(width)

    def call(self, x):
        return x + self.out(self.proj(x))


def stack(x, num_layers, width):
    blocks = []
    for i in range(num_layers):
        blocks.append(Block(width, windowed=i % 3 == 0))
    for block in blocks:
        x = block(x)
    return layers.Add()([x, layers.Dense(width)(x)])
"""


def test_a_layer_built_one_way_or_another_by_the_index_is_widened_to_one_nobody_knows():
    # the first block's projection is a Dense without bias; for any index the iteration builds
    # it either way and the two are joined into a layer nobody knows: the loop is summarised
    # after one iteration (it stopped at the symbolic bound before), with the block's residual
    # and the head flagged as before
    findings, analysis, stats = _analyse(_LAYER_BY_FLAG)
    assert stats["budget"] == {}, stats["budget"]
    assert [f.code for f in findings] == ["KSL102", "KSL102"]
    assert analysis.interp.steps < 450, analysis.interp.steps


_WINDOWED_STACK = """
import keras
from keras import layers


class Block(layers.Layer):
    def __init__(self, width, windowed=False, **kwargs):
        super().__init__(**kwargs)
        self.windowed = windowed
        self.dense = layers.Dense(width)
        self.out = layers.Dense(width)

    def call(self, x):
        y = self.dense(x)
        if self.windowed:
            y = y * 0.5
        return x + self.out(y)


def stack(x, num_layers, width):
    blocks = []
    for i in range(num_layers):
        blocks.append(Block(width, windowed=i % 2 == 0))
    for block in blocks:
        x = block(x)
    return layers.Add()([x, layers.Dense(width)(x)])
"""


@pytest.mark.parametrize("first_try, most_steps", [(1, 400), (99, None)])
def test_a_stack_alike_after_its_first_block_is_summarised_after_one_iteration(monkeypatch, first_try, most_steps):
    # the blocks differ by the index (every other one windowed): tried for any index after the
    # first iteration, the loop leaves as one path instead of one per count it unrolls, with the
    # same findings (the block's own residual and the head, both wider than a free input)
    monkeypatch.setattr("keras_shape_lint.loops._FIRST_TRY", first_try)
    findings, analysis, stats = _analyse(_WINDOWED_STACK)
    assert stats["budget"] == {}
    assert [f.code for f in findings] == ["KSL102", "KSL102"]
    if most_steps is not None:
        assert analysis.interp.steps < most_steps, analysis.interp.steps
    else:  # unrolled four times first: about three times the steps
        assert analysis.interp.steps > 600, analysis.interp.steps


_ZIPPED_WIDTHS = """
from keras import layers


def mlp_residual(x, hidden_dim, num_layers, output_dim):
    h = [hidden_dim] * (num_layers - 1)
    y = x
    for _, units in zip([x.shape[-1]] + h, h + [{last}]):
        y = layers.Dense(units)(y)
    return layers.Add()([x, y])
"""


@pytest.mark.parametrize("last, proven, codes", [
    # the widths in pairs: the last layer is as wide as the input for any number of layers
    ("x.shape[-1]", 1, []),
    # the last layer is output_dim wide: the Add fails unless that is the input's width
    ("output_dim", 0, ["KSL102"]),
])
def test_widths_zipped_from_lists_of_copies_are_paired_for_any_number_of_layers(last, proven, codes):
    findings, _, stats = _analyse(_ZIPPED_WIDTHS.format(last=last))
    assert stats["proven"] == proven and stats["undecided"] == 0, stats
    assert [f.code for f in findings] == codes
    if codes:
        assert "output_dim" in findings[0].message


_COPIES_THEN_ONE = """
from keras import layers


def tapered(x, width, num_layers):
    widths = [width] * (num_layers - 1) + [x.shape[-1]]
    y = x
    for units in {iterable}:
        y = layers.Dense(units)(y)
    return layers.Add()([x, y])
"""


@pytest.mark.parametrize("iterable", ["widths", "enumerate(widths)"])
def test_the_items_after_a_list_of_copies_are_iterated_on_every_path_even_with_no_copies(iterable):
    # with one layer the loop runs over the last item alone: y still ends x's width
    body = _COPIES_THEN_ONE.format(iterable=iterable)
    if iterable.startswith("enumerate"):
        body = body.replace("for units in", "for _, units in")
    findings, _, stats = _analyse(body)
    assert findings == []
    assert stats["proven"] == 1, stats


_FLAGGED_STACK = """
from keras import layers


class Block(layers.Layer):
    def __init__(self, width, windowed, use_norm, use_gate, use_post, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(width)
        self.post = layers.LayerNormalization() if use_post else None
        self.norm = layers.LayerNormalization() if use_norm else None
        self.gate = layers.Dense(width, activation="sigmoid") if use_gate else None
        self.windowed = windowed

    def call(self, x):
        y = self.dense(x)
        if self.norm is not None:
            y = self.norm(y)
        if self.gate is not None:
            y = y * self.gate(x)
        if self.post is not None:
            y = self.post(y)
        if self.windowed:
            y = y * 0.5
        return x + y


def stack(x, num_layers, width, use_norm, use_gate, use_post):
    blocks = []
    for i in range(num_layers):
        blocks.append(Block(width, i % 2 == 0, use_norm, use_gate, use_post))
    for block in blocks:
        x = block(x)
    return layers.Add()([x, layers.Dense(width)(x)])
"""


def test_a_stack_whose_first_block_parts_on_several_flags_is_tried_on_each_path_after_one_iteration():
    # the first block's constructor parts the path on three flags the caller passes (eight paths):
    # each is tried for any index after the first iteration, as a path of its own, instead of
    # four more iterations unrolled on each (and a path out of the loop for every count): about
    # 2,500 steps instead of 5,800, and the same findings (the block's residual and the head)
    findings, analysis, stats = _analyse(_FLAGGED_STACK)
    assert stats["budget"] == {}
    assert [f.code for f in findings] == ["KSL102", "KSL102"]
    assert (stats["merges"], stats["proven"], stats["flagged"]) == (3, 1, 2), stats
    assert analysis.interp.steps < 4000, analysis.interp.steps


def test_a_list_repeated_by_a_count_the_caller_passes_is_that_many_copies():
    # ``[width] * num_layers``: Python repeats a list an int number of times, so the parameter is
    # one; the loop over the copies is summarised and the residual proven for any count
    source = (FIXTURES / "mlp_widths_times_count_clean.py").read_text()
    findings, _, stats = _analyse(source)
    assert findings == []
    assert (stats["proven"], stats["undecided"]) == (1, 0), stats


def test_stages_kept_in_flat_lists_and_walked_by_counters_are_summarised():
    # the stage loop appends a block per inner iteration and a downsampling pair: for any stage
    # the lists are ones nobody knows; call() walks them by counters, and its stage loop, tried
    # over the widened counter, changes the tensor read through it as well: widened again and
    # tried once more, it is summarised (the symbolic bound stopped both loops before: about
    # 22,000 steps; widening either way alone stops once or takes 14,000)
    source = (FIXTURES / "encoder_stages_by_counter.py").read_text()
    findings, analysis, stats = _analyse(source)
    assert stats["budget"] == {}, stats["budget"]
    assert [f.code for f in findings] == ["KSL102"]
    assert analysis.interp.steps < 4000, analysis.interp.steps


def test_a_flag_one_iteration_leaves_where_another_leaves_a_value_nobody_knows_is_widened():
    # ``is_shared = i in sources``: a flag for the first index, a value nobody knows for any index
    # (a dict whose keys the path cannot tell): both stand for one value nobody knows, as a
    # size or a tensor against one does, instead of stopping the summary
    from keras_shape_lint.loops import _general
    from keras_shape_lint.provenance import Origin
    from keras_shape_lint.values import opaque

    covering: set = set()
    for flag in (S.free_bool("use_sliding_window"), True):
        widened = _general(flag, opaque("membership in a dict"), lambda a, b: False,
                           Origin("a flag that changes", None, None), covering)
        assert isinstance(widened, Unknown) and id(widened) in covering


def test_layers_applied_by_index_keep_the_last_ones_own_width():
    # `self.dense_layers[i]` for i in range(self.num_layers): on a path that holds the layers
    # one by one (one or two of them), the path fixes the number of iterations, and each is run
    # instead of one for any index that reads the layers as one nobody knows (which left the
    # head's sum undecided before)
    source = (FIXTURES / "mlp_layers_by_index_clean.py").read_text()
    findings, _, stats = _analyse(source)
    assert findings == []
    assert (stats["proven"], stats["undecided"]) == (1, 0), stats


def _mixers(flags: int) -> str:
    """A stack whose blocks each apply, under flags the caller passes, layers nobody knows."""
    params = ", ".join(f"f{i}" for i in range(flags))
    body = "\n".join(f"        if f{i}:\n            x = Mixer({i})(x)" for i in range(flags))
    return textwrap.dedent("""
        from keras import layers
        from elsewhere import Mixer


        def stack(inputs, num_blocks, {params}, width=8):
            x = layers.Dense(width)(inputs)
            for _ in range(num_blocks):
        {body}
                x = layers.Dense(width)(x)
            return layers.Add()([x, layers.Dense(16)(inputs)])
    """).format(params=params, body=body)


def test_paths_apart_only_in_values_nobody_knows_run_the_next_iteration_as_one():
    # after the first block, the paths through some of the four mixers each hold an output of
    # their own nobody knows, the same but for which: they run the later iterations as one
    findings, analysis = analyse_text(_mixers(4))
    assert [f.code for f in findings] == ["KSL102"] and "width == 16" in findings[0].message
    assert findings[0].witness.args["width"] != 16
    assert not analysis.budget_notes, analysis.budget_notes
    assert analysis.interp.steps < 1200, analysis.interp.steps  # 1,650 with a path each


def _two_sizes(first, second, pc=()):
    st = State({})
    st.frames.append({"x": Tensor((None, first)), "y": Tensor((None, second))})
    st.closures.append(())
    st.modules.append(None)
    for term in pc:
        st.add(term)
    return st


def test_paths_are_joined_only_where_their_unknown_sizes_correspond_one_for_one():
    from keras_shape_lint.state import join_renamed

    a, b, c, d = (S.opaque_int() for _ in range(4))
    width = S.free_int("width")
    # the same but for which unknown sizes: joined, each path's own assumption kept on its half
    one, other = _two_sizes(a + width, a, [a >= 3]), _two_sizes(b + width, b, [b >= 5])
    assert join_renamed(one, other) is one
    assert one.frames[-1]["x"].dims[1].eq(a + width)
    joined = S.conj(*[c.term for c in one.pc])
    # either path's assumption holds: a is at least 3 (the first), or b at least 5 with a any
    # size (a stands for b on the second's half)
    for values, verdict in (((0, 0), z3.unsat), ((0, 5), z3.sat), ((3, 0), z3.sat)):
        solver = z3.Solver()
        solver.add(joined, a == values[0], b == values[1])
        assert solver.check() == verdict, values
    # one size of one path meets two of the other's: not the same state
    assert join_renamed(_two_sizes(c, c), _two_sizes(a, b)) is None
    assert join_renamed(_two_sizes(a, b), _two_sizes(c, c)) is None
    # a size a caller chooses is no value nobody knows: never renamed
    assert join_renamed(_two_sizes(width, a), _two_sizes(d, a)) is None
    # one the two paths hold in the same place stands for itself, in a size made of it too
    assert join_renamed(_two_sizes(a, c), _two_sizes(a, a)) is None
    assert join_renamed(_two_sizes(a + width, c), _two_sizes(a + width, a)) is None
    assert join_renamed(_two_sizes(a + width, c), _two_sizes(a + width, d)) is not None


def test_a_stack_of_alternating_layers_whose_lookup_gives_none_for_some_is_summarised():
    # iteration 0 leaves the block's `shared_index` None, the iteration for any index a value
    # nobody knows (the lookup may or may not find it): the one value that stands for both is
    # one nobody knows, so the loop is summarised there instead of stopping at the bound
    findings, analysis = analyse_text((FIXTURES / "alternating_layer_stack_clean.py").read_text(), Options())
    stats = analysis.statistics()
    assert stats["budget"] == {}, stats["budget"]
    assert findings == [] and (stats["merges"], stats["proven"]) == (2, 2), analysis.incomplete_merges()
    # the same stack with wider global layers: flagged at the block's add, still without a bound
    findings, analysis = analyse_text((FIXTURES / "alternating_layer_stack.py").read_text(), Options())
    assert analysis.statistics()["budget"] == {}
    assert [(f.code, f.line) for f in findings] == [("KSL102", 14)], [f.message for f in findings]
    assert findings[0].witness.args["pattern"] <= findings[0].witness.args["num_layers"], findings[0].witness.args
