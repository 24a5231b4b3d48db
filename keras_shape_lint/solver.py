"""Prove, refute and find witnesses with z3, under a time limit per query.

Answers are three-valued: ``True`` (satisfiable), ``False`` (unsatisfiable)
or ``None`` (the solver gave up: treated as "not known", never as a finding).
"""

from __future__ import annotations

import time

import z3

from .symbolic import TIME_BACKSTOP, limit_query, new_solver, query_context, term_id, unchecked, variables

# Candidate values tried, in order, when a witness picks a free value.
SPATIAL_SIZES = (56, 32, 64, 28, 16, 14, 8, 112, 7, 224, 4, 2, 57, 33, 31, 15, 9, 5, 3, 1)
CHANNEL_SIZES = (64, 32, 128, 256, 16, 8, 512, 3, 4, 2, 1)  # 1 last: a size that only broadcasts
PLAIN_INTS = (64, 32, 128, 16, 256, 8, 4, 2, 1, 3, 512)
COUNTS = (1, 2, 3, 4, 0, 5, 6, 8)  # lengths of lists a caller passes: short ones read best
# After this many questions z3 gave up on in a file, a proof gets a quarter of its share: such
# a file asks mostly nonlinear questions (divisions and remainders by sizes), and each give-up
# costs the whole limit (a Swin stage's layers: 61 give-ups took 2.9 of 4.2 s; with a quarter
# after 16 of them, 3.2 s, and no merge's outcome changed on keras-hub's 668 files)
STRAINED_AFTER = 16
# A question whose only useful answer is "unsatisfiable" (a proof, a branch's feasibility) is
# limited to this share of a query's steps: on keras-hub every such answer z3 gave came within
# a fifth of the full limit (the longest 40 ms of 200), and a question it gives up on cost the
# whole limit (EfficientNet's backbone: 3.4 s of its 5 s)
PROOF_LIMIT_SHARE = 4
WITNESS_TIMEOUT_FACTOR = 10  # the limit of a witness's preference checks, in solver timeouts
STRIDES = (1, 2, 4, 3)  # strides, dilations and pool sizes, by the parameter's name
AXES = (-1, 1, 2, 3)  # an axis, by the parameter's name: the last (channels) first


class Solver:
    REFUTED_KEPT = 8  # sets of conditions kept per refuted question, the latest

    def __init__(self, timeout_ms: int = 200, max_preference_checks: int = 60, deadline: float | None = None):
        self.timeout_ms = timeout_ms
        self.deadline = deadline  # time.monotonic() after which every query answers "unknown"
        self.max_preference_checks = max_preference_checks
        self.queries = 0
        self.unknowns = 0
        # settled answers by the set of term ids: z3 shares equal terms, and the
        # entry holds its terms, so an id cannot be reused while it is cached
        self._answers: dict = {}
        # the question's term ids -> the sets of condition ids it was found unsatisfiable with
        # (the terms are held by their entries in ``_answers``)
        self._refuted: dict = {}
        # the variable-sharing groups of each path condition asked about (see Cones)
        self._cones = Cones()
        # questions z3 gave up on, by the set of term ids -> (their terms, the largest step
        # limit it gave up with): asked again with no more steps, z3 gives up again (on an
        # EfficientNet backbone 444 of 1,493 give-ups, each tens of milliseconds, were repeats)
        self._gave_up: dict = {}

    @property
    def _queries(self):
        """The current file's QueryContext: questions are asked on copies of their terms there."""
        queries = query_context()
        if queries.solver is None:
            queries.solver = new_solver(queries.ctx)
            queries.models = Models()
        return queries

    @property
    def _solver(self):
        return self._queries.solver

    @property
    def _models(self):
        return self._queries.models

    def _time_left(self, limit_ms: int | None = None) -> bool:
        """Set the next query's limit (``limit_ms``, else the solver's), shortened to the time
        left; False when none is."""
        limit_ms = self.timeout_ms if limit_ms is None else limit_ms
        # the time limit stays the solver's own limit's, however short the query's
        backstop_ms = TIME_BACKSTOP * max(1, limit_ms, self.timeout_ms)
        if self.deadline is None:
            limit_query(self._solver, limit_ms, backstop_ms=backstop_ms)
            return True
        left_ms = int((self.deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            return False
        limit_query(self._solver, limit_ms, left_ms, backstop_ms)
        return True

    def check(self, terms, limit_ms: int | None = None) -> bool | None:
        """Is the conjunction of ``terms`` satisfiable?"""
        terms = [t for t in terms if t is not True]
        if any(t is False for t in terms):
            return False
        return self._check(terms, [term_id(t) for t in terms], limit_ms=limit_ms)

    def _check(self, terms: list, idents: list, new: int = 0, repair: bool = True,
               limit_ms: int | None = None) -> bool | None:
        """:meth:`check` of terms that are all z3 terms, with their ids; the last ``new`` of
        them the question, the others the path condition it is asked on; ``limit_ms`` the
        query's limit, else the solver's."""
        if not terms:
            return True
        key = frozenset(idents)
        cached = self._answers.get(key)
        if cached is not None:
            return cached[1]
        question = frozenset(idents[-new:]) if 0 < new < len(idents) else None
        if question is not None and self._refuted_under_fewer(question, idents[:-new]):
            self._answers[key] = (terms, False)
            return False
        if not self._time_left(limit_ms):
            self.unknowns += 1
            return None
        queries = self._queries
        copy = queries.copy
        asked = [copy(t, ident) for t, ident in zip(terms, idents)]
        if queries.models.satisfy(asked, idents) or repair and self._repaired(queries, terms, asked, idents, new):
            self._answers[key] = (terms, True)
            return True
        steps = self.timeout_ms if limit_ms is None else limit_ms
        given_up = self._gave_up.get(key)
        if given_up is not None and steps <= given_up[1]:
            self.unknowns += 1
            return None
        solver = queries.solver
        solver.push()
        try:
            _assert(solver, asked)
            answer = self._verdict(solver.check())
            if answer:
                queries.models.remember(solver.model(), asked, idents)
        finally:
            solver.pop()
        if answer is None:  # "gave up" may change with more steps: kept with the limit it had
            self._gave_up[key] = (terms, max(steps, given_up[1] if given_up is not None else 0))
        else:
            self._answers[key] = (terms, answer)
            if answer is False and question is not None:
                refuted = self._refuted.setdefault(question, [])
                refuted.append(frozenset(idents[:-new]))
                del refuted[:-self.REFUTED_KEPT]
        return answer

    def _refuted_under_fewer(self, question: frozenset, conditions) -> bool:
        """Was ``question`` found unsatisfiable with some of ``conditions`` (not necessarily
        all)?  More conditions cannot make it satisfiable: a path asks again and again, each
        time with the conditions it added since, about what it proved before."""
        earlier = self._refuted.get(question)
        if not earlier:
            return False
        conditions = set(conditions)
        return any(fewer <= conditions for fewer in earlier)

    def conditions_on(self, conditions: tuple, terms) -> list | None:
        """The path ``conditions`` that share a variable with ``terms``, directly or through
        other conditions: all a path knows of them (None when one of ``conditions`` is False)."""
        return self._cones.relevant_conditions(conditions, terms)

    def check_path(self, conditions, terms, repair: bool = True, limit_ms: int | None = None) -> bool | None:
        """Is ``terms`` satisfiable together with the path ``conditions``?

        Only the conditions that share variables with ``terms`` (directly or
        through other conditions) can matter, so only those are sent to z3.
        """
        terms = [t for t in terms if t is not True]
        if any(t is False for t in terms):
            return False
        if not isinstance(conditions, tuple):
            return self.check(relevant(conditions, terms) + terms, limit_ms)
        chosen = self._cones.relevant_conditions(conditions, terms)
        if chosen is None:
            return False
        chosen = [c for c in chosen if c.term is not True]
        return self._check([c.term for c in chosen] + terms, [c.ident for c in chosen] + [term_id(t) for t in terms],
                           len(terms) if chosen else 0, repair, limit_ms)

    def refutes(self, conditions, terms) -> bool:
        """Is ``terms`` unsatisfiable together with the path ``conditions`` (proven impossible)?

        Only "unsatisfiable" counts, so no model of the path is repaired first: a repaired
        model answers "satisfiable", which z3 asked in full answers too (or gives up on): the
        answer here is the same either way, and most such questions are proofs, where a repair
        is one more query that fails.  The query gets the shorter limit of a proof."""
        return self.check_path(conditions, terms, repair=False, limit_ms=self.proof_limit_ms) is False

    def possible(self, conditions, terms) -> bool:
        """Can ``terms`` hold together with the path ``conditions``?  Unknown counts as yes,
        so only a proof that they cannot says no: asked with the shorter limit of a proof."""
        return self.check_path(conditions, terms, limit_ms=self.proof_limit_ms) is not False

    @property
    def proof_limit_ms(self) -> int:
        """The step limit of a proof (a quarter of that once STRAINED_AFTER questions were given up)."""
        share = PROOF_LIMIT_SHARE * (4 if len(self._gave_up) >= STRAINED_AFTER else 1)
        return max(1, self.timeout_ms // share)

    def _repaired(self, queries, terms, asked, idents, new: int) -> bool:
        """Is the query satisfiable by a recent model of its path condition with only the
        values the question names changed?  z3 is asked with every other value the model gives
        held fixed: the path condition's products and quotients of sizes are then numbers, where
        the whole question can exhaust z3's steps (a branch's other side, asked after a model of
        the first).  A model found satisfies every term: True; else False (not known)."""
        model = queries.models.nearly(asked, idents, new)
        if model is None:
            return False
        free = set()
        for term in terms[-new:]:
            free |= variables(term)
        pins = [pin for name, pin in queries.models.pins(model) if name not in free]
        if not pins:
            return False
        solver = queries.solver
        solver.push()
        try:
            _assert(solver, asked + pins)
            if self._verdict(solver.check()) is not True:
                return False
            queries.models.remember(solver.model(), asked, idents)
        finally:
            solver.pop()
        return True

    def model(self, terms, preferences=()) -> z3.ModelRef | None:
        """A model of ``terms``, steered by ``preferences``.

        ``preferences`` is a sequence of groups; each group lists alternative
        constraints (e.g. ``filters == 64``, ``filters == 32``) tried in order,
        keeping the first that stays satisfiable.
        """
        terms = [t for t in terms if t is not True]
        if any(t is False for t in terms) or not self._time_left(WITNESS_TIMEOUT_FACTOR * self.timeout_ms):
            return None
        queries = self._queries
        copy = queries.copy
        solver = queries.solver
        solver.push()
        depth = 1
        try:
            solver.add(*[copy(t) for t in terms])
            if self._verdict(solver.check()) is not True:
                return None
            budget = self.max_preference_checks
            for group in preferences:
                for candidate in group:
                    if budget <= 0:
                        break
                    budget -= 1
                    # a witness is searched only for a finding: a longer limit keeps the chosen
                    # values from depending on how busy the machine is
                    if not self._time_left(WITNESS_TIMEOUT_FACTOR * self.timeout_ms):
                        budget = 0
                        break
                    solver.push()
                    solver.add(copy(candidate))
                    if self._verdict(solver.check()) is True:
                        depth += 1
                        break
                    solver.pop()
            if self._verdict(solver.check()) is not True:
                return None
            return Answer(solver.model(), queries)
        finally:
            for _ in range(depth):
                solver.pop()

    def _verdict(self, result) -> bool | None:
        self.queries += 1
        if result == z3.sat:
            return True
        if result == z3.unsat:
            return False
        self.unknowns += 1
        return None


class Answer:
    """A model found for copies of terms (see QueryContext), read with the terms themselves."""

    def __init__(self, model, queries):
        self.model = model
        self._queries = queries

    def eval(self, term, model_completion: bool = False):
        return self.model.eval(self._queries.copy(term), model_completion=model_completion)


class Models:
    """The models of the last few satisfiable queries, each with the terms it was asked
    to satisfy and those it was found to satisfy or not since.

    A query that one of them satisfies is satisfiable, and z3 need not be asked: the next
    branch of a path asks its path condition (satisfied by the model that answered the
    last branch) with one more term, which is only evaluated in that model.  A model
    that does not satisfy a query says nothing about it (z3 is asked).
    """

    KEPT = 4

    def __init__(self):
        self._recent: list = []  # [(model, {term id: (term, holds)})], the newest last
        self._pins: dict = {}  # id of a recent model -> [(name, name == its value there)]
        self.answered = 0  # queries answered by a model (a count, for tests)

    def remember(self, model, terms, idents) -> None:
        # z3 found the model for these terms: each holds there
        self._recent.append((model, {ident: (term, True) for ident, term in zip(idents, terms)}))
        if len(self._recent) > self.KEPT:
            self._pins.pop(id(self._recent[0][0]), None)
            del self._recent[0]

    def pins(self, model) -> list:
        """``(name, name == value)`` for each value a recent ``model`` gives (made once: a model
        is asked to hold its values fixed again and again, each time for another question)."""
        found = self._pins.get(id(model))
        if found is None:
            found = self._pins[id(model)] = [(decl.name(), decl() == model[decl]) for decl in model.decls()
                                             if decl.arity() == 0]
        return found

    def nearly(self, terms, idents, new: int):
        """The newest recent model in which every term but the last ``new`` holds, or None."""
        if not 0 < new < len(terms):
            return None
        return self._holding(terms[:-new], idents[:-new])

    def satisfy(self, terms, idents) -> bool:
        if self._holding(terms, idents) is None:
            return False
        self.answered += 1
        return True

    def _holding(self, terms, idents):
        """The newest recent model in which every one of ``terms`` holds, or None."""
        for model, holds in reversed(self._recent):
            if all(_holds(model, holds, ident, term) for ident, term in zip(idents, terms)):
                return model
        return None


def _holds(model, holds: dict, ident: int, term) -> bool:
    """Is ``term`` true in ``model`` (completed where the model leaves a variable free)?"""
    known = holds.get(ident)
    if known is not None:
        return known[1]
    ctx = model.ctx.ref()
    value = (z3.Ast * 1)()
    # only a literal truth value counts: anything else (a term z3 left unevaluated) does not.
    # (z3 keeps the value it returns alive until it returns another.)
    result = bool(_model_eval(ctx, model.model, term.ast, True, value)) and \
        _bool_value(ctx, value[0]) == z3.Z3_L_TRUE
    holds[ident] = (term, result)
    return result


class Cones:
    """:func:`relevant` for many questions about a few path conditions.

    A path condition is asked about again and again (both sides of each branch, every
    merge on the path), and most of its conjuncts share no variable with the question.
    Its conjuncts are grouped, connected where they share a variable; a question's
    relevant conjuncts are then the groups its own variables meet, in the order of the
    path condition: the same set as :func:`relevant`'s.  Groups are kept for path
    conditions held as tuples (a path's ``pc``, never changed in place); a path
    condition a few conjuncts longer than one already grouped (the next branches of a
    path) extends that one's groups rather than starting again.
    """

    LIMIT = 1024  # path conditions remembered before the table starts over
    REACH = 8  # how many conjuncts shorter a grouped path condition may be, to be extended

    def __init__(self):
        self._groups: dict = {}
        self.built = 0  # path conditions grouped from their first conjunct (a count, for tests)

    def groups(self, conditions: tuple):
        """The groups of ``conditions`` (None when one of them is False)."""
        table = self._groups
        found = table.get(conditions, self)
        if found is not self:
            return found
        if len(table) >= self.LIMIT:
            table.clear()
        # the longest of the last few shorter path conditions already grouped (a path's
        # condition before its last branches, or what two joined paths held in common)
        start, shorter = 0, self
        for length in range(len(conditions) - 1, max(len(conditions) - self.REACH, 0) - 1, -1):
            shorter = table.get(conditions[:length], self)
            if shorter is not self:
                start = length
                break
        if shorter is None:  # a False conjunct stays
            found = None
        else:
            if shorter is self:
                self.built += 1
                found = _Groups()
            else:
                found = _Groups(dict(shorter.owner), dict(shorter.members))
            for position in range(start, len(conditions)):
                found = found.extended(conditions[position], position)
                if found is None:
                    break
        table[conditions] = found
        return found

    def relevant(self, conditions, terms) -> list:
        """:func:`relevant`, through the groups when ``conditions`` is a tuple."""
        if not isinstance(conditions, tuple):
            return relevant(conditions, terms)
        chosen = self.relevant_conditions(conditions, terms)
        return [False] if chosen is None else [c.term for c in chosen]

    def relevant_conditions(self, conditions: tuple, terms) -> list | None:
        """The conditions :func:`relevant` chooses the terms of, in order (None when one
        of ``conditions`` is False)."""
        groups = self.groups(conditions)
        if groups is None:
            return None
        owner, members = groups.owner, groups.members
        roots = set()
        for term in terms:
            for name in variables(term):
                root = owner.get(name)
                if root is not None:
                    roots.add(root)
        if not roots:
            return []
        if len(roots) == 1:
            chosen = members[roots.pop()]
        else:
            chosen = sorted(i for root in roots for i in members[root])
        return [conditions[i] for i in chosen]


class _Groups:
    """The conjuncts of one path condition connected where they share a variable:
    ``owner`` maps each variable to its group's name (one of its variables), ``members``
    each group's name to the positions of its conjuncts, in order."""

    __slots__ = ("owner", "members")

    def __init__(self, owner=None, members=None):
        self.owner: dict = {} if owner is None else owner
        self.members: dict = {} if members is None else members

    def extended(self, condition, position: int):
        """These groups, changed in place, with the conjunct ``condition`` at ``position`` added
        (None when it is False)."""
        if condition.term is False:
            return None
        names = condition.names
        if not names:
            return self
        owner, members = self.owner, self.members
        roots = {owner[name] for name in names if name in owner}
        if not roots:
            root = next(iter(names))
            joined = (position,)
        else:
            # the largest group keeps its name; the others' variables take it
            root = max(roots, key=lambda r: (len(members[r]), r))
            joined = members[root]
            others = roots - {root}
            if others:
                for name, group in owner.items():
                    if group in others:
                        owner[name] = root
                joined = tuple(sorted(joined + tuple(i for r in others for i in members.pop(r))))
            joined = joined + (position,)
        for name in names:
            owner[name] = root
        members[root] = joined
        return self


def _assert(solver, terms) -> None:
    """``solver.add(*terms)``, boolean terms handed to z3 directly (its Python wrapper
    checks and converts each one first, which costs more than asserting it)."""
    ctx = solver.ctx.ref()
    for term in terms:
        if isinstance(term, z3.BoolRef):
            _solver_assert(ctx, solver.solver, term.ast)
        else:
            solver.add(term)


_solver_assert = z3.Z3_solver_assert
_model_eval = unchecked(z3.Z3_model_eval)
_bool_value = unchecked(z3.Z3_get_bool_value)


def relevant(conditions, terms) -> list:
    """The terms of ``conditions`` in the cone of influence of ``terms``."""
    names = set()
    for term in terms:
        names |= variables(term)
    pending = []
    chosen = []
    for condition in conditions:
        if condition.term is False:
            return [False]
        if condition.names:
            pending.append(condition)
    changed = True
    while changed and pending:
        changed = False
        rest = []
        for condition in pending:
            if condition.names & names:
                chosen.append(condition.term)
                names |= condition.names
                changed = True
            else:
                rest.append(condition)
        pending = rest
    return chosen


def candidates_for(var, default=None, role: str = "int"):
    """Alternatives for one free value, most ordinary first."""
    if var.sort() == z3.StringSort():
        # the literals the code compares it with decide it; else its default (a dtype's float32)
        return [var == z3.StringVal(default)] if isinstance(default, str) else []
    if z3.is_bool(var):
        values = [default, not default] if isinstance(default, bool) else [False, True]
        return [var == z3.BoolVal(v) for v in values]
    if var.sort() == z3.RealSort():  # a float: its default, then ratios
        values = [default] if isinstance(default, float) else []
        return [var == z3.RealVal(v) for v in values + [0.25, 0.5, 1.0, 2.0]]
    if role == "spatial":
        values = list(SPATIAL_SIZES)
    elif role == "channels":
        values = list(CHANNEL_SIZES)
    elif role == "length":
        values = list(COUNTS)
    elif role == "stride":
        values = list(STRIDES)
    elif role == "axis":
        values = list(AXES)
    else:
        values = list(PLAIN_INTS)
        if isinstance(default, int) and not isinstance(default, bool):
            nearby = (default + 1, default - 1, default + 2, default - 2, default * 2, default // 2)
            values = [default] + [v for v in nearby + (1, 2, 4, 3) if v > 0 and v != default] + values
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return [var == v for v in seen]
