"""Python's own answer as the oracle for the analyser's reading of plain Python.

Each case is a test on plain values (strings, numbers, lists, dicts, f-strings, classes,
scopes) that Python itself evaluates here.  The analyser reads it inside a block whose Add
merges 8 and 4 channels only when the test holds; it must never decide the test the other
way: a KSL101 where Python says False, or a proof where Python says True.  Leaving it
undecided is allowed (it is not modelled).  Cases with a free argument ``n`` check the other
direction too: a finding's witness must give an ``n`` for which Python takes the branch.
"""

from __future__ import annotations

import math

import pytest

from keras_shape_lint.analysis import analyse_text

# (lines run before the test, the test); ``; `` separates statements
CONCRETE = [
    ("", '"ab" in "xaby"'), ("", '"ab" not in "xaby"'), ("", '"q" in {"q": 1}'), ("", "3 not in (1, 2)"),
    ("", '"a" < "b"'), ("", '"abc".startswith("ab")'), ("", 'len("abc") == 3'), ("", '"abc"[1:] == "bc"'),
    ("", "min([3, 1, 2]) == 1"), ("", '"x" * 3 == "xxx"'), ("", "[1] * 3 == [1, 1, 1]"), ("", "1 == 1.0"),
    ("", "None == 0"), ("", 'not ""'), ("", "not (0,)"), ("", "-7 // 2 == -4"), ("", "-7 % 3 == 2"),
    ("", "7 / 2 == 3.5"), ("", "round(2.5) == 2"), ("", "isinstance(True, int)"), ("", "(1, 2, 3)[::-1] == (3, 2, 1)"),
    ("", '{"a": 1}.get("b", 2) == 2'), ("", "sum([1, 2, 3]) == 6"), ("", '"abc" > "abd"'), ("", "len({1, 2, 2}) == 2"),
    ("k = 1", 'f"{k}" == "1"'), ("k = 10", 'f"b_{k}".split("_")[1] == "10"'),
    ("k = 10", 'f"b_{k}".upper() == "B_10"'),
    ("k = 10", 'f"b_{k}".endswith("0")'), ("k = 10", '"x_{}".format(f"{k}") == "x_10"'),
    ("k = 10", 'f"b_{k}"[-1] == "0"'),
    ("k = 10", 'len(f"b_{k}") == 4'), ("k = 1", 'f"b{k}" * 2 == "b1b1"'), ("k = 1", 'f"b_{k}" in {"b_1": 3}'),
    ("k = 1", '{f"b_{k}": 3}["b_1"] == 3'), ("k = 1.5", 'f"{k}" == "1.5"'), ("k = 2", 'f"{k * 3}" == "6"'),
    ("k = 1", 'f"block_{k}" != "block_1"'), ("k = 1", 'f"block_{k}" in ("block_0", "block_1")'),
    ("k = 10", 'f"b_{k}".replace("_", "") == "b10"'), ("k = 10", 'f"b_{k}".startswith("b_1")'),
    ("a = 7; b = -2", "a // b == -4"), ("a = -7; b = 3", "a % b == 2"), ("a = -3.7", "int(a) == -3"),
    ("a = [1, 2]; b = a; b += [3]", "len(a) == 3"), ("a = (1, 2); b = a; b += (3,)", "len(a) == 2"),
    ("a = [1, 2, 3]; b = a.pop()", "b == 3 and len(a) == 2"), ("a = [3, 1]; a.sort()", "a[0] == 1"),
    ("a = [3, 1, 2]; a.sort(reverse=True)", "a == [3, 2, 1]"), ("a = [1, 2, 3]; a.remove(2)", "a == [1, 3]"),
    ("a = [1, 2, 3]; del a[0]", "len(a) == 2"), ("a = [1, 2, 3, 4]; del a[1:3]", "a == [1, 4]"),
    ("a = [1, 2, 3]; a[1:] = [9]", "len(a) == 2"), ("a = [1, 2, 3]; a[::2] = [7, 8]", "a == [7, 2, 8]"),
    ("a = [1, 2, 3]; a.clear()", "len(a) == 0"), ("a = {'x': 1, 'y': 2}; del a['x']", "len(a) == 1"),
    ("a = {'x': 1}; a.update(y=2)", "len(a) == 2"), ("a = {'x': 1}; b = {**a, 'x': 3}", "b['x'] == 3"),
    ("a = {'x': 1}; b = a; b['x'] = 5", "a['x'] == 5"), ("a, *b = [1, 2, 3]", "len(b) == 2"),
    ("a = list(range(10, 0, -3))", "a == [10, 7, 4, 1]"), ("a = list(zip([1, 2, 3], [4, 5]))", "len(a) == 2"),
    ("a = 0", "(a or 5) == 5"), ("a = 3", "1 < a < 3"), ("a = [[0]] * 2; a[0].append(1)", "len(a[1]) == 2"),
    ("a = [i for i in range(5) if i % 2]", "a == [1, 3]"), ("a = 10; a //= 3", "a == 3"),
]
_HOLDER = ("class Holder:\n    def __init__(self, n):\n        if n > 2:\n            self.kind = 1\n"
           "        else:\n            self.kind = 2\n")
# (module prelude, lines run before the test, the test)
DEFINITIONS = [
    ("class A:\n    w = 4\n\n\nclass B(A):\n    pass\n", "", "B().w == 4"),
    ("class A:\n    def g(self):\n        return 1\n\n\nclass B(A):\n    def g(self):\n"
     "        return super().g() + 1\n", "", "B().g() == 2"),
    ("N = 1\n\n\ndef g():\n    global N\n    N = 5\n", "g()", "N == 5"),
    ("def g():\n    n = 1\n\n    def h():\n        nonlocal n\n        n += 1\n\n    h()\n    return n\n", "",
     "g() == 2"),
    ("def g(x=[]):\n    x.append(1)\n    return len(x)\n", "g()", "g() == 2"),
    ("from dataclasses import dataclass\n\n\n@dataclass\nclass A:\n    w: int = 4\n", "", "A(w=9).w == 9"),
    ("from dataclasses import dataclass\n\n\n@dataclass\nclass A:\n    w: int = 8\n\n    def __post_init__(self):\n"
     "        self.w = self.w // 2\n", "", "A().w == 4"),
    ("W = 8\n\n\ndef narrow():\n    global W\n    W = 4\n\n\ndef width():\n    return W\n", "width()\n    narrow()",
     "width() == 4"),
    ("def g(a, b=2, *, c=3):\n    return a + b + c\n", "", "g(1, c=10) == 13"),
    ("", "fs = [lambda i=i: i for i in range(3)]", "fs[0]() == 0"),
    ("", "a = 1\n    def h():\n        return a\n    a = 2", "h() == 2"),
    ("", "try:\n        a = 1\n    finally:\n        a = 3", "a == 3"),
    ("", "a = 0\n    for i in range(3):\n        if i == 1:\n            break\n    else:\n        a = 7", "a == 0"),
    # an argument whose constructor parts the path on ``n``: the list read before it (the
    # method's receiver, an earlier argument, item or dict value, a subscripted value) is each
    # path's own
    (_HOLDER, "items = []\n    items.append(Holder(n))", "len(items) != 1"),
    (_HOLDER + "\n\ndef put(a, h):\n    a.append(h)\n", "items = []\n    put(items, Holder(n))", "len(items) != 1"),
    (_HOLDER, "items = []\n    pair = [items, Holder(n)]\n    pair[0].append(1)", "len(items) != 1"),
    (_HOLDER, "items = []\n    d = {'a': items, 'b': Holder(n)}\n    d['a'].append(1)", "len(items) != 1"),
    (_HOLDER, "items = []\n    d = {'a': items}\n    d['a'][Holder(n).kind - 1:] = [1]", "len(items) != 1"),
]
# tests on a free argument n (default 1)
FREE = [
    "n // 3 == 2", "n % 4 == 3", "n % -3 == -1", "n // -2 == 3", "abs(n) == 5", "max(n, 3) == 7", "int(n / 2) == 3",
    "int(n / 3) == -2", "int(n / 3) == -1 and n == -4", "round(n / 2) == 2 and n == 5", "round(n * 0.5) == 3",
    "n ** 2 == 49", "math.ceil(n / 4) == 2", "int(math.sqrt(n)) == 3 if n >= 0 else False", "n in (3, 5)",
    "1 < n < 3", "n * 0.5 == 2", "float(n) / 4 == 1.25", "(n if n > 5 else 5) == 6", "min(n, 10) // 3 == 3",
    "(-n) % 5 == 1", "int(n * -0.5) == 1", 'f"block_{n}" == "conv_1"',
    # floats worked out from sizes, decided in integers (rounding.py)
    "int(n * 4.0) == 12", "int(n * 2.5) == 7", "round(n * 1.5) == 4", "round(n * 1.5) == 8", "math.ceil(n * 0.75) == 3",
    "n < 0.9 * 7 and n > 5", "int(n + 8 / 2) // 8 * 8 == 16", "n / 3 == 2.0", "n * 0.5 != 2.5 and n * 0.5 >= 2.5",
]

_BLOCK = """{prelude}

def block(x, n=1):
    {setup}
    y = layers.Dense(8)(x)
    if {test}:
        y = layers.Dense(4)(x)
    return layers.Add()([layers.Dense(8)(x), y])
"""


def _python_says(prelude: str, setup: str, test: str, n: int = 1) -> bool:
    namespace = {"math": math}
    exec(compile(f"{prelude}\n\ndef _t(n):\n    {setup or 'pass'}\n    return bool({test})\n", "<case>", "exec"),
         namespace)
    return namespace["_t"](n)


def _analysed(prelude: str, setup: str, test: str):
    block = _BLOCK.format(prelude=prelude, setup=setup or "pass", test=test)
    source = "import math\nfrom keras import layers\n" + block
    findings, analysis = analyse_text(source)
    return [f for f in findings if f.code in ("KSL101", "KSL102")], analysis.statistics()


def _cases():
    for setup, test in CONCRETE:
        yield "", setup.replace("; ", "\n    "), test
    yield from DEFINITIONS


@pytest.mark.parametrize("prelude, setup, test", list(_cases()))
def test_a_test_on_plain_values_is_never_decided_against_python(prelude, setup, test):
    truth = _python_says(prelude, setup, test)
    findings, stats = _analysed(prelude, setup, test)
    if truth:
        assert stats["proven"] == 0, "proven, but Python takes the branch and the Add fails"
    else:
        assert not findings, f"flagged, but Python does not take the branch: {findings[0].message}"


@pytest.mark.parametrize("test", FREE)
def test_a_test_on_a_free_number_is_flagged_with_a_number_that_takes_it(test):
    takes = [n for n in range(-30, 31) if _python_says("", "", test, n)]
    findings, stats = _analysed("", "", test)
    if findings:
        n = findings[0].witness.args.get("n", 1)
        assert _python_says("", "", test, n), f"witness n={n} does not take the branch: {findings[0].message}"
    else:
        assert not (takes and stats["proven"]), f"proven, but Python takes the branch for n in {takes[:5]}"


UNKNOWN_OPERAND = '''
import keras
from keras import layers


def head(x):
    if {test}:
        y = layers.Dense(4)(x)
    else:
        y = layers.Dense(8)(x)
    return layers.Add()([y, layers.Dense(8)(x)])
'''


@pytest.mark.parametrize("test, outcome", [
    # an operand nobody knows (a version check) beside one that settles the test whatever it is
    ('hasattr(keras.config, "is_flash_attention_enabled") and keras.config.backend() == "jax"', "proven"),
    ('not (hasattr(keras.config, "anything") or keras.config.backend() == "tensorflow")', "proven"),
    # the unknown operand decides it: still undecided
    ('hasattr(keras.config, "anything") or keras.config.backend() == "jax"', "undecided"),
])
def test_a_test_its_known_operand_settles_is_decided(test, outcome):
    findings, analysis = analyse_text(UNKNOWN_OPERAND.format(test=test), None, "unknown_operand.py")
    stats = analysis.statistics()
    assert findings == [] and stats[outcome] == 1, (stats, findings)


SIX_MOVES = '''
from six.moves import {name}
from tensorflow.keras import layers


def stack(x, filters):
    for _ in {loop}:
        x = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.Add()([x, layers.Conv2D(64, 1)(x)])
'''


@pytest.mark.parametrize("name, loop", [("xrange", "xrange(2)"), ("range", "range(2)"),
                                        ("zip", "zip([1, 2], [3, 4])")])
def test_six_moves_names_are_the_builtins_they_stand_for(name, loop):
    # Python 2 compatibility code (`from six.moves import xrange`): the loop runs as over the
    # builtin, so the merge after it is decided (a mismatch for every filters but 64)
    findings, analysis = analyse_text(SIX_MOVES.format(name=name, loop=loop), None, "six_moves.py")
    assert [f.code for f in findings] == ["KSL102"], analysis.statistics()
