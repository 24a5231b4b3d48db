"""Loops whose bound is symbolic and whose body reads the index (``self.blocks[i]``,
``stackwise_filters[i]``, ``if i == 0``): summarised by one iteration for any index, and
lists built by loops indexed by such an index."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import z3

from keras_shape_lint import symbolic as S
from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.solver import Solver
from keras_shape_lint.state import State
from keras_shape_lint.subscripts import subscript
from keras_shape_lint.values import LayerValue, ListValue, RepeatedList, Unknown


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


def test_after_a_widened_loop_a_later_merge_is_not_reported_on_a_witness_the_loop_may_refuse():
    # every path to the head runs the widened iteration, whose sizes nobody knows: an iteration
    # may fail before the head, so the head's mismatch (which no input avoids) stays undecided
    findings, analysis, stats = _analyse("""
        from keras import layers


        def stages(x, features, stackwise_filters):
            if len(stackwise_filters) < 8:
                raise ValueError("eight stages at least")
            for i in range(len(stackwise_filters)):
                x = layers.Conv2D(stackwise_filters[i], 3, strides=2, padding="same")(x)
                x = layers.Add()([x, layers.Conv2D(stackwise_filters[i], 1)(x)])
            return layers.Add()([layers.Dense(8)(features), layers.Dense(16)(features)])
    """)
    assert not analysis.budget_notes, analysis.budget_notes
    assert findings == []
    assert (stats["proven"], stats["undecided"]) == (1, 1)
    assert "earlier merge" in next(iter(stats["undecided_because"]))


def test_a_body_that_changes_what_cannot_be_widened_still_stops_at_the_bound():
    findings, analysis, stats = _analyse("""
        from keras import layers


        def encoder(x, num_layers):
            names = []
            for i in range(num_layers):
                names.append(i)
                x = layers.Dense(8)(x)
            return layers.Add()([x, layers.Dense(8)(x)])
    """)
    assert analysis.budget_notes["symbolic loop bound"] == 1


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
