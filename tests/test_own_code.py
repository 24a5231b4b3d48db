"""A class entry point that runs no code of the analysed file is not run; one whose
hierarchy holds a method, a call or a function written in the file is."""

from __future__ import annotations

import textwrap

from keras_shape_lint.analysis import analyse_text
from keras_shape_lint.frontend import parse
from keras_shape_lint.own_code import defined_nodes, runs_own_code
from keras_shape_lint.values import ClassValue, FunctionValue

BASE = textwrap.dedent("""
    import keras
    from keras import layers


    class Block(keras.layers.Layer):
        width = 4

        def combine(self, a, b):
            return layers.Add()([a, b])

        def call(self, x):
            return self.combine(layers.Dense(8)(x), layers.Dense(self.width)(x))
""")


def _project(tmp_path, main: str):
    (tmp_path / "base.py").write_text(BASE)
    path = tmp_path / "main.py"
    text = textwrap.dedent(main)
    path.write_text(text)
    return analyse_text(text, path=str(path))


def test_the_base_flags_its_own_merge(tmp_path):
    (tmp_path / "base.py").write_text(BASE)
    findings, _ = analyse_text(BASE, path=str(tmp_path / "base.py"))
    assert [f.code for f in findings] == ["KSL101"]


def test_a_class_of_attributes_alone_is_not_run(tmp_path):
    findings, analysis = _project(tmp_path, """
        import keras

        from base import Block


        class Wider(Block):
            \"\"\"Attributes only: every method it runs is the base's.\"\"\"

            width = 16
    """)
    assert findings == []
    assert not analysis.entered  # no function body ran
    assert analysis.interp.steps < 100, analysis.interp.steps


def test_a_function_of_the_file_held_by_the_class_is_run(tmp_path):
    findings, analysis = _project(tmp_path, """
        from keras import layers

        from base import Block


        def concatenate(self, a, b):
            return layers.Concatenate(axis=1)([a, b])


        class Joined(Block):
            combine = concatenate
    """)
    # the base calls the file's function: its merge is checked (axis 1 of a rank-2 input joins
    # widths 8 and 4 along the other axis, so it builds for any batch) and counted here
    assert analysis.entered
    assert analysis.statistics()["merges"] == 1
    assert analysis.statistics()["unreached"] == 0


def test_a_method_or_a_call_in_the_class_body_runs_the_class(tmp_path):
    findings, analysis = _project(tmp_path, """
        from keras import layers

        from base import Block


        class Narrow(Block):
            width = 2

            def combine(self, a, b):
                return layers.Add()([a, b])
    """)
    assert [f.code for f in findings] == ["KSL101"]
    module = parse(textwrap.dedent("""
        from base import Block


        class WithCall(Block):
            width = int("3")
    """))
    own = defined_nodes(module)
    node = module.body[-1]
    assert not runs_own_code(ClassValue(node, "Plain", (), {"width": 3}), set())
    assert runs_own_code(ClassValue(node, "WithCall", (), {"width": 3}), own)


def test_attributes_holding_the_files_functions_count():
    module = parse("class Holder:\n    pass\n\ndef helper():\n    pass\n")
    own = defined_nodes(module)
    cls, helper = module.body
    function = FunctionValue.__new__(FunctionValue)
    function.node = helper
    assert runs_own_code(ClassValue(cls, "Holder", (), {"step": (1, function)}), own)
    assert not runs_own_code(ClassValue(cls, "Holder", (), {"step": (1, 2)}), own)


def _called(monkeypatch) -> list:
    """The names of the user functions the analysis calls, in order."""
    from keras_shape_lint.calls import Calls

    names: list = []
    original = Calls.call_user

    def call_user(self, fn, *rest):
        names.append(fn.name)
        return original(self, fn, *rest)

    monkeypatch.setattr(Calls, "call_user", call_user)
    return names


def test_a_class_whose_only_code_is_its_constructor_is_made_but_not_called(tmp_path, monkeypatch):
    called = _called(monkeypatch)
    findings, analysis = _project(tmp_path, """
        import keras

        from base import Block


        class Wide(Block):
            def __init__(self, width=16, **kwargs):
                super().__init__(**kwargs)
                self.width = width
    """)
    assert findings == []
    assert "__init__" in called  # its own code runs
    assert "call" not in called and "combine" not in called, called  # the base's only: never placed here


def test_a_constructor_that_keeps_a_function_of_the_file_is_called(tmp_path, monkeypatch):
    called = _called(monkeypatch)
    findings, analysis = _project(tmp_path, """
        from keras import layers

        from base import Block


        class Joined(Block):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.combine = lambda a, b: layers.Add()([a, b])
    """)
    # the base's call() runs the file's lambda: Add() of widths 8 and 4
    assert "call" in called
    assert [(f.code, f.line) for f in findings] == [("KSL101", 10)]


def test_a_file_with_a_function_besides_constructors_has_its_classes_called(tmp_path, monkeypatch):
    called = _called(monkeypatch)
    _project(tmp_path, """
        import keras

        from base import Block


        def helper():
            return 1


        class Wide(Block):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.width = helper()
    """)
    assert "call" in called
