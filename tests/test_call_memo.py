"""A call on symbolic sizes runs once where a later call would do the same: the same terms,
and what the path knows of them the same; never where the path knows something else of
them, and never handing one call's made-up sizes to another."""

from __future__ import annotations

import textwrap

from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.interpreter import Interpreter


def _bodies_run(monkeypatch, name: str) -> list:
    """Each time the body of the function ``name`` starts to run."""
    runs: list = []
    original = Interpreter.exec_suite

    def exec_suite(self, body, states):
        if self.scopes and getattr(self.scopes[-1], "name", None) is not None \
                and self.scopes[-1].name.value == name and body is self.scopes[-1].body:
            runs.append(len(states))
        return original(self, body, states)

    monkeypatch.setattr(Interpreter, "exec_suite", exec_suite)
    return runs


def _analyse(source: str):
    return analyse_text(textwrap.dedent(source))


HEAD = """
    import keras
    from keras import layers


    def mix(x):
        # a helper whose result depends only on its input's sizes
        y = layers.Dense(x.shape[-1] * 2)(x)
        for _ in range(3):
            y = layers.Dense(y.shape[-1])(y)
        return layers.Dense(x.shape[-1])(y)

"""


def test_a_second_call_on_the_same_symbolic_input_is_not_run_again(monkeypatch):
    runs = _bodies_run(monkeypatch, "mix")
    findings, analysis = _analyse(HEAD + """
    def block(c):
        x = keras.Input(shape=(None, None, c))
        return layers.Add()([mix(x), mix(x)])
    """)
    assert findings == [] and analysis.statistics()["proven"] == 1
    assert len(runs) == 1, runs


def test_the_result_handed_out_again_still_meets_the_merges_after_it(monkeypatch):
    runs = _bodies_run(monkeypatch, "mix")
    findings, _ = _analyse(HEAD + """
    def block(c):
        x = keras.Input(shape=(None, None, c))
        a = mix(x)
        b = mix(x)
        return layers.Add()([a, layers.Dense(4)(b)])
    """)
    assert len(runs) == 1, runs
    assert [f.code for f in findings] == ["KSL102"]


def test_a_call_on_other_sizes_runs_again(monkeypatch):
    runs = _bodies_run(monkeypatch, "mix")
    _analyse(HEAD + """
    def block(c, units):
        x = keras.Input(shape=(None, None, c))
        return layers.Add()([mix(x), mix(layers.Dense(units)(x))])
    """)
    assert len(runs) == 2, runs


def test_a_call_where_the_path_knows_more_of_its_sizes_runs_again():
    # on the first call the path knows c > 8 and the helper gives 8 channels; the second
    # call, on a path where c <= 8, gives c: handing it 8 would prove the Add wrongly
    findings, _ = _analyse("""
        import keras
        from keras import layers


        def shrink(x):
            if x.shape[-1] > 8:
                return layers.Dense(8)(x)
            return x


        def block(c):
            x = keras.Input(shape=(None, None, c))
            if c > 8:
                first = shrink(x)
            second = shrink(x)
            return layers.Add()([layers.Dense(8)(x), second])
    """)
    assert [f.code for f in findings] == ["KSL102"]


def test_a_size_the_call_made_up_is_not_shared_with_the_next_call():
    # each call's width is its own value nobody knows: the two may differ
    findings, analysis = _analyse("""
        import os

        import keras
        from keras import layers


        def mystery(x):
            return layers.Dense(int(os.environ["WIDTH"]))(layers.Dense(x.shape[-1])(x))


        def block(c):
            x = keras.Input(shape=(None, None, c))
            return layers.Add()([mystery(x), mystery(x)])
    """)
    assert analysis.statistics()["proven"] == 0


def test_a_list_the_call_made_is_handed_out_again_as_a_copy(monkeypatch):
    runs = _bodies_run(monkeypatch, "table")
    findings, _ = _analyse("""
        from keras import layers


        def table():
            widths = []
            for w in range(1, 40):
                widths.append(w)
            return widths


        def block(x):
            first = table()
            first.append(8)  # the caller's own copy: the next call's list is as made
            second = table()
            return layers.Add()([layers.Dense(first[-1])(x), layers.Dense(second[-1])(x)])
    """)
    assert len(runs) == 1, runs
    assert [f.code for f in findings] == ["KSL101"]  # 8 and 39 channels


def test_a_list_the_caller_holds_is_not_handed_out_as_a_copy(monkeypatch):
    runs = _bodies_run(monkeypatch, "shared")
    findings, analysis = _analyse("""
        from keras import layers

        WIDTHS = [8]


        def shared():
            return WIDTHS


        def block(x):
            shared().append(16)
            return layers.Add()([layers.Dense(shared()[-1])(x), layers.Dense(16)(x)])
    """)
    assert len(runs) == 2, runs
    assert findings == [] and analysis.statistics()["proven"] == 1


def test_a_call_kept_in_one_entry_point_runs_again_in_the_next(monkeypatch):
    # the two entry points' sizes are both named c; what a run notes as its calls go (a batch
    # size read, a default that raised) is its own, so each runs the helper itself
    runs = _bodies_run(monkeypatch, "mix")
    _analyse(HEAD + """
    def first(c):
        return mix(keras.Input(shape=(None, None, c)))


    def second(c):
        return mix(keras.Input(shape=(None, None, c)))
    """)
    assert len(runs) == 2, runs


def test_a_call_kept_in_an_iteration_taken_back_runs_again():
    # the loop is first tried as a stack of equal appends, then run iteration by iteration:
    # what the tried iteration recorded at the merge is taken back, and so must be the call
    # kept there, or the merge is never recorded again
    findings, analysis = _analyse("""
    import keras
    from keras import layers


    def mix(x):
        return layers.Add()([x, layers.Dense(x.shape[-1])(x)])


    def model(c, n):
        x = keras.Input(shape=(8, c))
        outs = []
        for i in range(n):
            outs.append(mix(x))
            x = layers.Dense(2 * c)(x)
        return outs
    """)
    stats = analysis.statistics()
    assert findings == [] and (stats["proven"], stats["unreached"]) == (1, 0), stats
