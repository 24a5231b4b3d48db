"""The solver's shortcuts give the answers of the long way round.

Path conditions are grouped by shared variables once per path (``Cones``), the variables of
a term are read through z3's C interface, and a branch's negated condition is built once:
each is compared here with the plain computation it stands for.
"""

import random

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_shape_lint import symbolic as S
from keras_shape_lint.solver import Cones, Solver, relevant
from keras_shape_lint.state import Condition, State

NAMES = ["a", "b", "c", "d", "e", "?1", "?2", "f"]


def _term(rng: random.Random, names):
    chosen = [z3.Int(n) for n in rng.sample(names, rng.randint(1, 2))]
    term = chosen[0] if len(chosen) == 1 else chosen[0] + chosen[1]
    return term >= rng.randint(0, 4)


def _plain_names(term) -> frozenset:
    """The uninterpreted constants of a term, walked through z3's Python API."""
    if z3.is_const(term):
        return frozenset((term.decl().name(),)) if term.decl().kind() == z3.Z3_OP_UNINTERPRETED else frozenset()
    return frozenset().union(*(_plain_names(c) for c in term.children())) if term.children() else frozenset()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 12))
def test_grouped_conditions_are_the_cone_of_influence(seed, length):
    rng = random.Random(seed)
    pc = ()
    cones = Cones()
    prefixes = []
    for _ in range(length):
        pc = pc + (Condition(_term(rng, NAMES)),)
        prefixes.append(pc)
    for conditions in prefixes + [pc]:
        for _ in range(3):
            question = [_term(rng, NAMES + ["g"])]
            expected = sorted(t.get_id() for t in relevant(conditions, question))
            got = [t.get_id() for t in cones.relevant(conditions, question)]
            assert sorted(got) == expected
            # in the order of the path condition
            assert got == [c.term.get_id() for c in conditions if c.term.get_id() in expected]


def test_a_longer_path_condition_extends_the_groups_of_the_shorter():
    cones = Cones()
    a, b, c = z3.Ints("a b c")
    pc = (Condition(a > 1), Condition(b > 1))
    cones.relevant(pc, [a > 0])
    longer = pc + (Condition(a + b > c),)
    assert {t.get_id() for t in cones.relevant(longer, [c > 0])} == {t.get_id() for t in [a > 1, b > 1, a + b > c]}
    # three branches later, on another path: still the groups of the first one, extended
    d = z3.Int("d")
    later = pc + (Condition(c > 2), Condition(d > 0), Condition(d < c))
    assert {t.get_id() for t in cones.relevant(later, [d > 1])} == {t.get_id() for t in [c > 2, d > 0, d < c]}
    assert cones.relevant(pc, [a > 0])[0].eq(a > 1)  # the shorter one's groups are unchanged
    assert len(cones.relevant(pc, [a > 0])) == 1
    assert cones.built == 1  # the longer ones were not grouped from their first conjunct


def test_a_false_conjunct_makes_every_question_false():
    a = z3.Int("a")
    pc = (Condition(a > 1), Condition(False))
    assert Cones().relevant(pc, [a > 0]) == [False]
    assert Solver().check_path(pc + (Condition(a > 2),), [a > 0]) is False


def test_check_path_answers_as_the_plain_check():
    a, b, c = z3.Ints("a b c")
    st_ = State({})
    st_.add(a > 3)
    st_.add(b == a + 1)
    st_.add(c < 0)
    solver = Solver()
    for question in ([b < 4], [b > 4], [c == 0], [a + c == 10]):
        expected = z3.Solver()
        expected.add(*[cond.term for cond in st_.pc], *question)
        assert solver.check_path(st_.pc, question) is (expected.check() == z3.sat)


def test_a_settled_question_is_not_sent_to_z3_again():
    a = z3.Int("a")
    pc = (Condition(a > 3),)
    solver = Solver()
    assert solver.check_path(pc, [a < 3]) is False
    asked = solver.queries
    assert solver.check_path(pc, [a < 3]) is False
    assert solver.queries == asked


def test_variables_of_terms_of_each_sort():
    a, b = z3.Ints("a b")
    flag, r, s = z3.Bool("flag"), z3.Real("r"), z3.String("s")
    terms = [a + 2 * b > z3.Int("?3x"), z3.And(a > 1, z3.Not(b == a)), z3.IntVal(3) + 1,
             z3.If(flag, a, 3) == b, s == z3.StringVal("x"), r / 2 > 1, z3.Length(s) + a, a % (b + 1)]
    for term in terms:
        assert S.variables(term) == _plain_names(term)


def test_negation_is_built_once_and_means_not():
    a = z3.Int("a")
    term = a > 1
    assert S.neg(term) is S.neg(term)
    assert z3.Solver().check(S.neg(term) == z3.Not(term)) == z3.sat
    proof = z3.Solver()
    proof.add(S.neg(term) != z3.Not(term))
    assert proof.check() == z3.unsat
    assert S.neg(True) is False


def test_a_branch_after_a_satisfiable_one_is_answered_by_its_model():
    a, b = z3.Ints("a b")
    solver = Solver()
    pc = (Condition(a > 3), Condition(b == a + 1))
    assert solver.check_path(pc, [b > 2]) is True
    asked = solver.queries
    # the model that satisfied the path has b > 5 or not: one of these two needs no z3 query
    first, second = solver.check_path(pc, [b > 5]), solver.check_path(pc, [b <= 5])
    assert (first, second) == (True, True)
    assert solver.queries < asked + 2
    assert solver._models.answered >= 1
    # an unsatisfiable question is still asked, and answered False
    assert solver.check_path(pc, [b < 4]) is False


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_cached_answers_equal_fresh_ones(seed):
    """Along a path (each condition added only where the path stays feasible), as z3 answers."""
    rng = random.Random(seed)
    solver = Solver()
    pc = ()
    for _ in range(10):
        question = [_term(rng, NAMES[:5]) if rng.random() < 0.7 else z3.Not(_term(rng, NAMES[:5]))]
        fresh = z3.Solver()
        fresh.add(*[c.term for c in pc], *question)
        feasible = fresh.check() == z3.sat
        assert solver.check_path(pc, question) is feasible
        if feasible and rng.random() < 0.6:  # a path goes on only where it is feasible
            pc = pc + (Condition(question[0]),)


def test_a_forked_layer_or_function_is_the_dataclass_copy():
    import dataclasses

    from keras_shape_lint.state import _shallow
    from keras_shape_lint.values import FunctionValue, LayerValue

    layer = LayerValue("Dense", {"units": 3}, None, "dense", (2, {-1: 4}))
    copied = _shallow(layer)
    assert copied is not layer and type(copied) is LayerValue
    assert copied.__dict__ == dataclasses.replace(layer).__dict__
    function = FunctionValue("node", "f", ({"a": 1},))
    changed = _shallow(function, closure=(), bound_self=layer)
    assert changed.__dict__ == dataclasses.replace(function, closure=(), bound_self=layer).__dict__
    assert function.closure == ({"a": 1},)  # the original keeps its own


def test_conjunctions_and_disjunctions_are_z3s_own_terms():
    a, b = z3.Ints("a b")
    flag = z3.Bool("flag")
    assert S.conj(a > 1, b < 2, flag).eq(z3.And(a > 1, b < 2, flag))
    assert S.disj(a > 1, b < 2, flag).eq(z3.Or(a > 1, b < 2, flag))
    assert S.conj(a > 1, True).eq(a > 1) and S.conj(a > 1, False) is False
    assert S.disj(a > 1, True) is True and S.disj() is False


def _rlimit_count(solver) -> int:
    statistics = solver.statistics()
    return next((statistics.get_key_value(k) for k in statistics.keys() if k == "rlimit count"), 0)


def test_a_query_gives_up_after_a_count_of_steps_not_a_time(monkeypatch):
    # sums of three cubes: z3 does not settle this within the limit, and gives up after the
    # same number of its steps however busy the machine is (the time backstop made long here,
    # so that only the step count can stop it), so the answer cannot change with the load
    monkeypatch.setattr(S, "TIME_BACKSTOP", 1000)
    x, y, z = z3.Ints("x y z")
    hard = [x * x * x + y * y * y + z * z * z == 33, x > 1000, y < -1000]
    spent = []
    for _ in range(2):
        S.reset_caches()  # each as the first question of a file: a z3 solver of its own
        solver = Solver(timeout_ms=20)
        before = _rlimit_count(solver._solver)
        assert solver.check(hard) is None  # gave up
        spent.append(_rlimit_count(solver._solver) - before)
    assert spent[0] == spent[1], spent
    assert spent[0] >= 20 * S.RLIMIT_PER_MS, spent


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_validity_with_counter_models_is_validity(seed):
    # valid() first tries the values that made earlier terms false: its answers equal a fresh
    # solver's on random disjunctions of comparisons, asked one after another as joins ask
    rng = random.Random(seed)
    S.reset_caches()
    for _ in range(6):
        term = z3.Or(_term(rng, NAMES), z3.Not(_term(rng, NAMES)))
        fresh = z3.Solver()
        fresh.add(z3.Not(term))
        assert S.valid(term, timeout_ms=50) == (fresh.check() == z3.unsat)


def test_a_term_earlier_values_make_false_is_refuted_without_a_solver(monkeypatch):
    S.reset_caches()
    x, y = z3.Int("x"), z3.Int("y")
    assert S.valid(z3.Or(x >= 1, y >= 1), timeout_ms=50) is False  # x = 0, y = 0 (or less) refutes it
    made = []
    real = z3.Solver
    monkeypatch.setattr(z3, "Solver", lambda *a, **k: made.append(1) or real(*a, **k))
    assert S.valid(z3.Or(x >= 2, y >= 3), timeout_ms=50) is False
    assert made == []  # refuted by the values kept from the first question
    assert S.valid(z3.Or(x >= 0, x < 0), timeout_ms=50) is True  # a valid term still asks a solver
    assert made == [1]


def _branch_after_a_nonlinear_path():
    # a path condition with a product of sizes (x, y, z = 3, 5, 7 satisfies it) tied to a
    # flag-like size n; its first branch found a model; the other side changes n only
    S.reset_caches()
    x, y, z, n = z3.Ints("x y z n")
    solver = Solver(timeout_ms=5)
    conditions = tuple(Condition(t) for t in [x * x * y + y * y * z + z * z * x == 367, x > 1, y > 1, z > 1,
                                              z3.Or(n <= 1, x + n > 4)])
    assert solver.check_path(conditions, [n > 1, x == 3, y == 5, z == 7]) is True
    return solver.check_path(conditions, [n <= 1])


def test_a_branchs_other_side_is_found_from_the_model_of_the_first_with_the_rest_held():
    assert _branch_after_a_nonlinear_path() is True


def test_asked_whole_the_other_side_exhausts_z3s_steps(monkeypatch):
    monkeypatch.setattr(Solver, "_repaired", lambda self, *args: False)
    assert _branch_after_a_nonlinear_path() is None


def _path_with_a_held_model():
    """A path n >= 5, m == n + 1, whose first question found a model the solver holds."""
    S.reset_caches()
    n, m = z3.Ints("n m")
    solver = Solver()
    conditions = (Condition(n >= 5), Condition(m == n + 1))
    assert solver.check_path(conditions, [m > 7]) is True
    return solver, conditions, n, m


def test_a_model_held_but_for_the_question_answers_nothing_it_cannot_satisfy():
    # n <= 1 and n >= 5 cannot both hold: no repaired model, and z3 settles it
    solver, conditions, n, _ = _path_with_a_held_model()
    assert solver.check_path(conditions, [n <= 1]) is False


def test_a_recent_models_pins_are_made_once_and_go_with_it():
    from keras_shape_lint.solver import Models

    models = Models()
    x, y = z3.Ints("x y")
    kept = []
    for value in range(Models.KEPT + 1):
        solver = z3.Solver()
        solver.add(x == value, y == value + 1)
        assert solver.check() == z3.sat
        model = solver.model()
        kept.append(model)
        models.remember(model, [x == value], [S.term_id(x == value)])
    newest = kept[-1]
    pins = models.pins(newest)
    # each value the model gives, held fixed: the same terms the model's own values make
    assert sorted(name for name, _ in pins) == ["x", "y"]
    assert all(pin.eq(z3.Int(name) == newest[z3.Int(name).decl()]) for name, pin in pins)
    assert models.pins(newest) is pins  # made once
    models.pins(kept[1])
    solver = z3.Solver()
    solver.add(x == 99)
    solver.check()
    models.remember(solver.model(), [x == 99], [S.term_id(x == 99)])  # kept[1] leaves the recent models
    assert id(kept[1]) not in models._pins and id(newest) in models._pins


def test_a_proof_asks_z3_once_without_repairing_a_model_first():
    # a model of the path is held (the first question found it); the proof's question,
    # n <= 1, has no model: a repair of the held one would be a second query that fails
    solver, conditions, n, m = _path_with_a_held_model()
    asked = solver.queries
    assert solver.refutes(conditions, [n <= 1]) is True
    assert solver.queries == asked + 1
    # what it cannot refute it says so of, whatever way z3 finds the model
    assert solver.refutes(conditions, [n >= 9]) is False
    assert solver.refutes(conditions, [m == 8]) is False


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_refutes_and_possible_are_check_path_answering_unsatisfiable_or_not(seed):
    S.reset_caches()
    rng = random.Random(seed)
    conditions = tuple(Condition(_term(rng, NAMES)) for _ in range(rng.randint(0, 5)))
    question = [_term(rng, NAMES)]
    unsatisfiable = Solver().check_path(conditions, question) is False
    assert Solver().refutes(conditions, question) is unsatisfiable
    assert Solver().possible(conditions, question) is not unsatisfiable


def test_a_question_refuted_on_a_path_is_refuted_further_on_without_z3():
    S.reset_caches()
    a, b, c = z3.Ints("a b c")
    solver = Solver()
    pc = (Condition(a >= 5), Condition(b == a + 1))
    assert solver.check_path(pc, [b <= 2]) is False
    asked = solver.queries
    # further on the path has more conditions, on the same variables too
    longer = pc + (Condition(c > a), Condition(b < 100))
    assert solver.check_path(longer, [b <= 2]) is False
    assert solver.queries == asked
    # another path, without one of the conditions it was refuted with, asks z3
    other = (Condition(a >= 4), Condition(b == a + 1))
    assert solver.check_path(other, [b <= 2]) is False
    assert solver.queries == asked + 1
    assert solver.check_path((Condition(b < 100),), [b <= 2]) is True


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_answers_on_paths_that_branch_equal_fresh_ones(seed):
    """Paths that fork and grow, asked the same few questions again: as z3 answers."""
    rng = random.Random(seed)
    solver = Solver()
    questions = [_term(rng, NAMES[:4]) for _ in range(4)]
    questions += [z3.Not(q) for q in questions]
    paths = [()]
    for _ in range(12):
        pc = rng.choice(paths)
        question = [rng.choice(questions)]
        fresh = z3.Solver()
        fresh.add(*[c.term for c in pc], *question)
        feasible = fresh.check() == z3.sat
        assert solver.check_path(pc, question) is feasible
        if feasible:
            paths.append(pc + (Condition(question[0]),))


def test_a_proof_or_a_branchs_feasibility_gets_a_shorter_limit_than_a_merges_question(monkeypatch):
    # only "unsatisfiable" counts for these: a question z3 gives up on costs its whole limit
    from keras_shape_lint import solver as solver_module

    limits, backstops = [], []
    real = solver_module.limit_query

    def limited(s, limit_ms, left_ms=None, backstop_ms=None):
        limits.append(limit_ms)
        backstops.append(backstop_ms)
        return real(s, limit_ms, left_ms, backstop_ms)

    monkeypatch.setattr(solver_module, "limit_query", limited)
    S.reset_caches()
    x, y = z3.Ints("x y")
    solver = Solver(timeout_ms=200)
    conditions = (Condition(x * x * y == 1234), Condition(x > 1))
    solver.refutes(conditions, [y > 7])
    solver.possible(conditions, [y > 8])
    solver.check_path(conditions, [y > 9])
    assert limits == [200 // solver_module.PROOF_LIMIT_SHARE] * 2 + [200]
    # the time limit, a backstop for work z3 does not count, stays the full query's: a shorter
    # one made answers depend on the machine's load (sam3's layers lost a proof when busy)
    assert backstops == [solver_module.TIME_BACKSTOP * 200] * 3


def _three_cubes():
    x, y, z = z3.Ints("x y z")
    return [x * x * x + y * y * y + z * z * z == 33, x > 1000, y < -1000]


def test_a_question_z3_gave_up_on_is_not_asked_again_with_no_more_steps():
    S.reset_caches()
    solver = Solver(timeout_ms=20)
    hard = _three_cubes()
    assert solver.check(hard) is None
    asked, unknowns = solver.queries, solver.unknowns
    assert solver.check(hard) is None
    assert solver.check(hard, limit_ms=10) is None
    assert solver.queries == asked  # z3 was not asked again
    assert solver.unknowns == unknowns + 2  # each still counts as a give-up
    assert solver.check(hard, limit_ms=40) is None  # more steps: z3 is asked
    assert solver.queries == asked + 1
    assert solver.check(hard, limit_ms=40) is None
    assert solver.queries == asked + 1


def test_the_analysis_asks_z3_without_its_groebner_basis_step():
    # z3's statistics name the Groebner step when it ran: on a nonlinear question it does by
    # default, and on the analysis's solver it must not
    x, y, z = z3.Ints("x y z")
    cubes = [x >= 1, y >= 1, z >= 1, x * x * x + y * y * y == z * z * z]
    S.reset_caches()
    plain = z3.Solver()
    plain.set("rlimit", 100 * S.RLIMIT_PER_MS)
    plain.add(*cubes)
    assert plain.check() == z3.unknown
    assert "arith-grobner-calls" in plain.statistics().keys()
    solver = Solver(timeout_ms=100)
    assert solver.check(cubes) is None
    assert "arith-grobner-calls" not in solver._solver.statistics().keys()


def test_after_many_give_ups_a_proof_gets_a_quarter_of_its_steps():
    from keras_shape_lint.solver import STRAINED_AFTER

    S.reset_caches()
    solver = Solver(timeout_ms=40)
    share = solver.proof_limit_ms
    x, y, z = z3.Ints("x y z")
    for number in range(STRAINED_AFTER):
        assert solver.proof_limit_ms == share
        assert solver.check([x * x * x + y * y * y + z * z * z == 33 + 9 * number, x > 1000, y < -1000]) is None
    assert solver.proof_limit_ms == share // 4
