"""Paths that part at an ``if`` and meet again: when they may be joined, and what survives."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.interpreter import PATHS_JOINED
from keras_shape_lint.liveness import dead_after_ifs

FLAGS = 12  # 2**12 paths if nothing joined: far over the default budget of 32


def _optional_preprocessing(temporary: str) -> str:
    """A block with twelve optional, shape-preserving steps, each with its own temporary."""
    params = ", ".join(f"a{i}=False" for i in range(FLAGS))
    steps = "\n".join(
        f"    if a{i}:\n"
        f"        {temporary.format(i=i)} = {i + 2}\n"
        f"        x = layers.Rescaling(1.0 / {temporary.format(i=i)})(x)"
        for i in range(FLAGS)
    )
    return (
        "from keras import layers\n\n\n"
        f"def block(inputs, {params}):\n"
        "    def act(t):\n"
        "        return layers.ReLU()(t)\n\n"
        "    x = layers.Dense(8)(inputs)\n"
        f"{steps}\n"
        "    return layers.Add()([act(x), layers.Dense(4)(inputs)])\n"
    )


def test_paths_that_differ_only_in_dead_temporaries_are_joined():
    findings, analysis = analyse_text(_optional_preprocessing("scale{i}"))
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"]
    # one joined path: the merge fails whatever the flags, so no condition is named
    assert " when " not in findings[0].message
    assert "8 and 4 channels" in findings[0].message


def test_a_temporary_reused_by_a_later_if_keeps_the_paths_apart_until_the_budget_joins_them():
    # ``scale`` is read again by the next ``if``: not dead, so no join, until the paths past
    # the budget are joined into one (what they disagree on a value nobody knows)
    findings, analysis = analyse_text(_optional_preprocessing("scale"))
    assert analysis.opaque_reasons[PATHS_JOINED] > 0
    assert not analysis.budget_notes, analysis.budget_notes  # nothing dropped: the merge was read
    assert [f.code for f in findings] == ["KSL101"]


def test_a_name_read_after_the_if_is_kept():
    source = textwrap.dedent("""
        from keras import layers


        def block(inputs, flag=False):
            if flag:
                width = 8
            x = layers.Dense(16)(inputs)
            if flag:
                x = layers.Dense(width)(x)
            return layers.Add()([x, layers.Dense(16)(inputs)])
    """)
    findings, _ = analyse_text(source)
    assert [f.code for f in findings] == ["KSL101"]
    assert findings[0].witness.args["flag"] is True
    assert "8 and 16 channels" in findings[0].message


def _dead_names(source: str) -> dict:
    function = cst.parse_module(textwrap.dedent(source)).body[0]
    return {cst.Module([]).code_for_node(node.test): names for node, names in dead_after_ifs(function).values()}


def test_liveness_counts_every_occurrence_in_the_function():
    dead = _dead_names("""
        def f(a, b):
            if a:
                only_here = 1
                later = 2
            print(later)
            if b:
                c = 3
                print(c)
            return a
    """)
    assert "only_here" in dead["a"]
    assert "later" not in dead["a"]
    assert "c" in dead["b"]
    assert "a" not in dead["a"]  # a parameter occurs outside every if


def test_liveness_gives_nothing_inside_loops_or_around_new_scopes():
    dead = _dead_names("""
        def f(items, a):
            for item in items:
                if a:
                    t = item
            if a:
                def g():
                    return u
                u = 1
            return items
    """)
    assert dead == {}  # the loop's if may feed the next iteration; g may read u later


def test_liveness_gives_nothing_when_locals_are_introspected():
    assert _dead_names("""
        def f(a):
            if a:
                t = 1
            return locals()
    """) == {}


def test_the_walk_skips_only_layout():
    # liveness and positions walk dataclass fields themselves (libcst's generic children are slow):
    # it must see every name libcst's own visitor sees
    from pathlib import Path

    from keras_shape_lint.frontend import children

    class Names(cst.CSTVisitor):
        def __init__(self):
            self.count = 0

        def visit_Name(self, node):
            self.count += 1

    sources = [p.read_text() for p in sorted((Path(__file__).parent.parent / "fixtures").rglob("*.py"))]
    sources.append("def f(*args, a: int = b, **kw) -> T:\n    global g\n    with c as (d, e):\n"
                   "        return {k: v for k, v in x[i:j, ::s]} | [*y] if (z := w) else lambda q=r: q\n")
    for source in sources:
        module = cst.parse_module(source)
        expected = Names()
        module.visit(expected)
        seen, stack = 0, [module]
        while stack:
            node = stack.pop()
            seen += isinstance(node, cst.Name)
            stack.extend(children(node))
        assert seen == expected.count


def test_joining_many_distinct_paths_costs_a_bounded_number_of_comparisons(monkeypatch):
    # merge_paths tries each path against the last few kept ones only: 400 paths nothing joins
    # cost at most 400 * window comparisons, not 400 * 400 / 2, and paths alike within the
    # window are still joined
    from keras_shape_lint import state

    calls = []

    def fake_join(kept, st, dead=None):
        calls.append(1)
        return kept if kept == st else None

    monkeypatch.setattr(state, "_join", fake_join)
    distinct = list(range(400))
    assert state.merge_paths(distinct) == distinct
    assert len(calls) <= 400 * state._JOIN_WINDOW
    assert state.merge_paths([1, 2, 1, 3, 2, 1]) == [1, 2, 3]


def _environment_choices(test: str) -> str:
    """Twelve values each chosen by a conditional expression on ``test`` (a call in each branch),
    then a residual of 8 and 4 channels."""
    choices = "\n".join(f"    tag{i} = str({i}).upper() if {test} else None" for i in range(FLAGS))
    return (
        "import keras\nfrom keras import layers\n\n\n"
        "def block(inputs, flag=False):\n"
        "    x = layers.Dense(8)(inputs)\n"
        f"{choices}\n"
        "    return layers.Add()([x, layers.Dense(4)(inputs)])\n"
    )


def test_conditional_expressions_on_undecidable_tests_go_on_as_one_path():
    # nobody can answer the query before the code runs: each choice is widened into one path
    # (2**12 paths otherwise, far past the budget, and the merge never checked)
    findings, analysis = analyse_text(_environment_choices("keras.config.is_flash_attention_enabled()"))
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"]
    assert analysis.interp.steps < 500, analysis.interp.steps


def test_conditional_expressions_on_a_callers_flag_keep_their_paths():
    # a flag the caller passes is not widened: it decides every choice alike, so the first
    # fork decides the rest and two paths go on
    findings, analysis = analyse_text(_environment_choices("flag"))
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"]


def _environment_operands(test: str) -> str:
    """Twelve values each an ``and`` or ``or`` of ``test`` and a call, then a residual of 8
    and 4 channels."""
    operands = "\n".join(f"    tag{i} = {test} {'and' if i % 2 == 0 else 'or'} str({i}).upper()"
                         for i in range(FLAGS))
    return (
        "import keras\nfrom keras import layers\n\n\n"
        "def block(inputs, flag=False):\n"
        "    x = layers.Dense(8)(inputs)\n"
        f"{operands}\n"
        "    return layers.Add()([x, layers.Dense(4)(inputs)])\n"
    )


def test_boolean_operations_on_undecidable_operands_go_on_as_one_path():
    # keras-hub's fused_attention_op_available(): ``hasattr(keras.config, ...) and ...``; nothing
    # decides the first operand, so each operation is widened into one path (2**12 otherwise)
    findings, analysis = analyse_text(_environment_operands('hasattr(keras.config, "is_flash_attention_enabled")'))
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"]
    assert analysis.interp.steps < 500, analysis.interp.steps


def test_boolean_operations_on_a_callers_flag_keep_their_paths():
    # the caller chooses ``flag``: not widened, the first fork decides the rest
    findings, analysis = analyse_text(_environment_operands("flag"))
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"]


def test_a_size_an_and_of_a_callers_flag_chooses_stays_known():
    # ``flag and 4 or 8``: each side of the flag keeps its size, so the residual is flagged
    # where flag=True (widened, the width would be a value nobody knows and the merge undecided)
    findings, analysis = analyse_text(
        "from keras import layers\n\n\n"
        "def block(inputs, flag=False):\n"
        "    units = flag and 4 or 8\n"
        "    return layers.Add()([layers.Dense(8)(inputs), layers.Dense(units)(inputs)])\n")
    assert not analysis.budget_notes, analysis.budget_notes
    assert [f.code for f in findings] == ["KSL101"], [f.message for f in findings]
    assert "flag=True" in findings[0].message



def _repeated_none_tests(value: str) -> str:
    """Eight ``if flag and token is not None`` tests of two caller's flags, each growing a list
    (paths the caller's flags keep apart), then a residual."""
    tests = "\n".join(f"    if f{i % 2} and token is not None:\n        parts.append({i})" for i in range(8))
    return (
        "import tokenizers_lib\nfrom keras import layers\n\n\n"
        "def block(inputs, f0=True, f1=True):\n"
        f"    token = {value}\n"
        "    parts = []\n"
        f"{tests}\n"
        "    return layers.Add()([layers.Dense(8)(inputs), layers.Dense(4)(inputs)])\n"
    )


def test_an_opaque_value_tested_for_none_again_answers_as_the_first_time():
    # keras-hub's packers test ``add_start_value and self.start_value is not None`` again and
    # again: nobody knows whether the value is None, but it is one answer per value, so the
    # tests after the first add no paths (before: every test doubled them, up to the budget)
    findings, analysis = analyse_text(_repeated_none_tests("tokenizers_lib.special_token()"))
    assert not analysis.budget_notes, analysis.budget_notes
    assert analysis.interp.steps < 1000, analysis.interp.steps
    assert analysis.statistics()["merges"] == 1


def test_a_merge_past_a_layer_keras_refuses_is_never_reached_there():
    # Keras refuses the EinsumDense (its "d" has no source) before the Add: the path ends, and
    # the Add is reached on no path; it used to count as proven on a path that never ran
    keras = pytest.importorskip("keras")
    with pytest.raises(ValueError):
        keras.layers.EinsumDense("ab,bc->ad", output_shape=8)(keras.Input((4,)))
    findings, analysis = analyse_text(textwrap.dedent("""
        from keras import layers


        def block(x):
            y = layers.EinsumDense("ab,bc->ad", output_shape=8)(x)
            return layers.Add()([x, y])
    """))
    stats = analysis.statistics()
    assert findings == []
    assert (stats["merges"], stats["proven"], stats["unreached"]) == (1, 0, 1), stats


def test_a_callee_made_before_the_arguments_split_the_path_is_each_paths_own():
    # a method bound to an instance the frames hold, and a layer made in the call itself: on the
    # path split off, the method is bound to that path's copy of the instance and the layer is a
    # copy of its own, so building it there leaves the first path's layer as it was
    from keras_shape_lint.state import State, own_copy
    from keras_shape_lint.values import ClassValue, FunctionValue, InstanceValue, LayerValue

    instance = InstanceValue(ClassValue(None, "Block", ()))
    instance.attrs["width"] = 8
    first = State({})
    first.push({"self": instance}, (), None)
    split = first.fork()
    method = FunctionValue(None, "call", (), bound_self=instance)
    assert own_copy(method, first, split).bound_self is split.frames[-1]["self"]
    assert split.frames[-1]["self"] is not instance
    layer = LayerValue(None, {"units": 8})
    copy = own_copy(layer, first, split)
    assert copy is not layer and copy.config == layer.config
    copy.built = (3, {1: 16})
    assert layer.built is None
    assert own_copy(8, first, split) == 8
    plain = FunctionValue(None, "helper", ())
    assert own_copy(plain, first, split) is plain


_EXPAND = """
    import keras
    from keras import layers


    def expand(t, wide):
        if wide:
            return layers.Dense(16)(t)
        return layers.Dense(32)(t)


    class Proj(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(units)

        def call(self, t):
            return self.dense(t)


    def apply(layer, t):
        return layer(t)


    def block(x, wide):
        y = {made}
        shortcut = layers.Dense(8 if wide else 4)(x)
        return layers.Add()([shortcut, y])
"""


@pytest.mark.parametrize("made", [
    # a Dense made in an earlier argument than the one that splits the path
    "apply(layers.Dense(8), expand(x, wide))",
    # a layer class of the user's made in the call that applies it (its instance, and the Dense it holds)
    "Proj(8)(expand(x, wide))",
    # a Sequential, and the layers its configuration holds, made there or held by a name
    "keras.Sequential([layers.Dense(8), layers.Dense(8)])(expand(x, wide))",
    "(head := keras.Sequential([layers.Dense(8)]))(expand(x, wide))",
])
def test_what_an_expression_made_before_its_path_split_is_each_paths_own(made):
    # one per path, as Python makes one per call; shared, the narrow path's call would meet a
    # Dense built for 16 channels and be dropped, and the merge proven although it fails there
    findings, analysis = analyse_text(textwrap.dedent(_EXPAND.format(made=made)))
    assert [(f.code, f.line) for f in findings] == [("KSL101", 28)]
    assert "wide=False" in findings[0].message


def test_an_assumption_the_path_holds_already_is_not_added_again():
    # (each Dense of ``2 * c`` units assumes ``2 * c >= 1``: paths that assumed it a different
    # number of times would otherwise differ in their conditions and never join)
    import z3

    from keras_shape_lint.state import State

    c = z3.Int("c")
    st = State({})
    st.add(c * 2 >= 1)
    st.add(c * 2 >= 1)
    assert len(st.pc) == 1
    st.add(c * 2 >= 1, "c*2 >= 1", branch=True)  # a branch taken is a decision of its own
    assert len(st.pc) == 2 and st.decisions == ("c*2 >= 1",)
    st.add(False)
    st.add(c >= 1)
    assert [str(condition.term) for condition in st.pc][2:] == ["False", "c >= 1"]
