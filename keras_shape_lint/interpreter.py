"""Symbolic execution of Python statements and expressions over libcst trees.

Every evaluation works on a list of paths: ``exec_block`` maps states to
states, ``eval`` maps one state to ``[(state, value), ...]``.  A branch whose
condition is symbolic forks the state when both sides are feasible; a branch
that only one side of can take follows that side.  Paths, loop unrolling,
call depth and steps are bounded; an exhausted bound stops that path (the
analysis reports it under KSL901, never as a finding).

The interpreter knows Python, not Keras: calls are dispatched in
:mod:`keras_shape_lint.calls`, layers live in :mod:`keras_shape_lint.layers`.
This module holds the paths' machinery (dispatch, branching, budgets, truth);
the handlers of each kind of syntax live in mixins: :mod:`.statements`,
:mod:`.loops`, :mod:`.definitions` and :mod:`.expressions`.
"""

from __future__ import annotations

import time

import libcst as cst

from . import symbolic as S
from .calls import Calls
from .definitions import Definitions
from .expressions import Expressions
from .loops import Loops
from .provenance import Origin
from .pybuiltins import SymbolicRange
from .state import State, widen_overflow
from .statements import Statements
from .values import (
    ClassValue,
    DictValue,
    FunctionValue,
    Guarded,
    Imported,
    InstanceValue,
    LazyImport,
    ListValue,
    RepeatedList,
    ShapeOf,
    Tensor,
    Unknown,
    opaque,
    real_text,
)


class BudgetExceeded(Exception):
    """Raised when the step budget of one analysis is spent."""


UNBOUND = object()


PATHS_JOINED = "paths joined at the path budget"


class Interpreter(Statements, Loops, Definitions, Expressions):
    def __init__(self, analysis):
        self.analysis = analysis
        self.budget = analysis.budget
        self.steps = 0
        # facts about nodes computed once (literal strings: literal_eval is slow), keyed by
        # id with the node kept alive beside its fact
        self._node_facts: dict = {}
        self._expression_handlers: dict = {}
        self._statement_handlers: dict = {}
        self.scopes: list = []  # the function nodes whose bodies are running, innermost last
        self.naming = (None, None)  # (the value an assignment is evaluating, the name it binds)
        self.calls = Calls(self)
        # names read by tests that no free value decided and that sent a path to a raise, and
        # (names, merges) of those that kept a path from merges (see Statements.note_decided)
        self.rejected: set = set()
        # of those, the ones a Keras layer refused as None (``BatchNormalization(axis=self.channel_axis)``)
        self.refused_none: set = set()
        self.passed_over: list = []
        self.subscripted_none: set = set()  # names found None where the code subscripts them

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.budget.max_steps:
            raise BudgetExceeded("step budget")
        if not self.steps & 1023 and time.monotonic() > self.analysis.entry_deadline:
            raise BudgetExceeded("time budget")

    def node_fact(self, kind: str, node, compute):
        """``compute(node)``, worked out once per node and kind (the node kept alive beside
        its fact, so that its id is not reused)."""
        key = (kind, id(node))
        found = self._node_facts.get(key)
        if found is None:
            found = self._node_facts[key] = (node, compute(node))
        return found[1]

    def cap(self, states: list, node=None) -> list:
        """At most ``max_paths`` paths: those past the first ones are joined into one, what
        they disagree on a value nobody knows (so the code after is still read, less
        precisely); only paths that cannot be joined (in other calls) are dropped."""
        limit = self.budget.max_paths
        if len(states) <= limit:
            return states
        overflow = states[limit - 1:]
        self.analysis.note_opaque(PATHS_JOINED)
        origin = Origin(f"a value that differs between {PATHS_JOINED}", node,
                        overflow[0].modules[-1])
        states = states[:limit - 1] + widen_overflow(overflow, origin)
        if len(states) > limit:
            self.analysis.note_budget("path budget")
            return states[:limit]
        return states

    def feasible(self, st: State, term) -> bool:
        """Can the path continue with ``term`` added?  Unknown counts as yes."""
        if term is True:
            return True
        if term is False:
            return False
        return self.analysis.solver.possible(st.pc, [term])

    def branch(self, st: State, cond, test=None):
        """Split ``st`` on a truth value: [(state, taken)] for each feasible side.

        ``test`` is the condition's source node; it names the decision in
        messages, and is rendered only when the path really forks.
        """
        if cond is None:
            cond = S.opaque_bool(origin=Origin("", test, st.modules[-1]) if test is not None else None)
        if isinstance(cond, bool):
            return [(st, cond)]
        yes = self.feasible(st, cond)
        no = self.feasible(st, S.neg(cond))
        if yes and not no:
            return [(st, True)]
        if no and not yes:
            return [(st, False)]
        if not yes and not no:
            return []
        other = st.fork()
        decision_true, decision_false = self.decision_texts(test, st) if test is not None else (None, None)
        st.add(cond, decision_true, branch=True)
        other.add(S.neg(cond), decision_false, branch=True)
        return [(st, True), (other, False)]

    def exec_block(self, body, states: list) -> list:
        for stmt in body:
            if len(states) == 1:  # the common case: one path, no bookkeeping
                st = states[0]
                if st.flow is not None:
                    break
                states = self.cap(self.exec_stmt(stmt, st), stmt)
                continue
            running = [st for st in states if st.flow is None]
            if not running:
                break
            done = [st for st in states if st.flow is not None]
            out = []
            for st in running:
                out.extend(self.exec_stmt(stmt, st))
            states = self.cap(done + out, stmt)
        return states

    def exec_suite(self, suite, states: list) -> list:
        if type(suite) is cst.IndentedBlock:
            return self.exec_block(suite.body, states)
        if type(suite) is cst.SimpleStatementSuite:
            return self.exec_block(suite.body, states)
        return self.exec_block(getattr(suite, "body", ()), states)

    def exec_stmt(self, stmt, st: State) -> list:
        self.tick()
        if type(stmt) is cst.SimpleStatementLine:
            return self.exec_block(stmt.body, [st])
        kind = type(stmt)
        handler = self._statement_handlers.get(kind, UNBOUND)
        if handler is UNBOUND:
            handler = self._statement_handlers[kind] = getattr(self, "stmt_" + kind.__name__, None)
        if handler is None:
            return [st]
        return handler(stmt, st)

    def eval(self, node, st: State) -> list:
        self.steps += 1  # tick(), inlined: this is the hottest call of the analysis
        if self.steps > self.budget.max_steps or not self.steps & 1023:
            self.steps -= 1
            self.tick()
        kind = type(node)
        if kind is cst.Name:  # four in ten expressions: a local variable, most often
            frame = st.frames[-1]
            if node.value in frame:
                value = frame[node.value]
                if type(value) is not Guarded:  # (a local bound one way or another: ex_Name parts the path)
                    return [(st, value.resolve() if isinstance(value, LazyImport) else value)]
        handler = self._expression_handlers.get(kind, UNBOUND)
        if handler is UNBOUND:
            handler = self._expression_handlers[kind] = getattr(self, "ex_" + kind.__name__, None)
        if handler is None:
            self.analysis.note_opaque(f"expression {type(node).__name__}")
            return [(st, opaque(type(node).__name__))]
        return handler(node, st)

    def eval_seq(self, nodes, st: State) -> list:
        """Evaluate expressions left to right: [(state, [values])]."""
        results = [(st, [])]
        for node in nodes:
            nxt = []
            for s, values in results:
                for s2, value in self.eval(node, s):
                    earlier = values if s2 is s else self.read_again(nodes, s2, values, s)
                    nxt.append((s2, earlier + [value]))
            results = nxt
        return results

    def truth(self, value):
        """Python truthiness: a bool, a z3 bool term, or None when unknowable."""
        if isinstance(value, bool):
            return value
        if S.is_sym(value):
            if S.is_bool_like(value):
                return value
            if S.is_int_like(value):
                return value != 0
            return None
        if value is None:
            return False
        if isinstance(value, (int, float, str, tuple)):
            return bool(value)
        if isinstance(value, (ListValue, DictValue)):
            return bool(value.items)
        if isinstance(value, RepeatedList) and not value.spoiled:
            return True if value.items or value.tail else value.count > 0
        if isinstance(value, Unknown):
            return value.as_bool()
        if isinstance(value, (Tensor, FunctionValue, ClassValue, InstanceValue, Imported)):
            return True
        return None

    def iterate_concrete(self, value):
        """The items of a sequence whose length is known, else None."""
        if isinstance(value, tuple):
            return list(value)
        if isinstance(value, ListValue):
            return list(value.items)
        if isinstance(value, DictValue):
            return list(value.items.keys())
        if isinstance(value, ShapeOf):
            shape = value.sizes()
            self.analysis.batch_read = self.analysis.batch_read or shape is not None
            return None if shape is None else list(shape)
        if isinstance(value, str):
            text = real_text(value)  # (an f-string's placeholder text: its real letters, if known)
            return None if text is None else list(text)
        if isinstance(value, range):
            return list(value) if len(value) <= self.budget.max_unroll else None

        if isinstance(value, SymbolicRange):
            return value.concrete_items(self.budget.max_unroll)
        if isinstance(value, Tensor) and value.known and value.dims:
            first = value.dims[0]
            if isinstance(first, int) and first <= self.budget.max_unroll:
                return [Tensor(value.dims[1:]) for _ in range(first)]
        return None

    def symbolic_range(self, value):
        if isinstance(value, SymbolicRange) and isinstance(value.step, int) and value.step > 0:
            return value.start, value.stop, value.step
        return None

    def decision_texts(self, test, st: State | None = None):
        """How a branch decision reads in a message, for each side: ``downsample=True`` for a
        flag, ``rd_channels is truthy`` for a parameter whose default is no bool (None, a
        size: ``=True`` would name a value it never holds)."""
        module = self.analysis.module
        if type(test) is cst.Name:
            if st is not None and not self._is_flag(test.value, st):
                return f"{test.value} is truthy", f"{test.value} is falsy"
            return f"{test.value}=True", f"{test.value}=False"
        if isinstance(test, cst.UnaryOperation) and type(test.operator) is cst.Not:
            inner_true, inner_false = self.decision_texts(test.expression, st)
            return inner_false, inner_true
        # written out once per condition, however many paths fork on it
        return self.node_fact("condition texts", test, lambda node: _test_texts(module, node))


    def _is_flag(self, name: str, st: State) -> bool:
        """Is ``name`` a flag (a free parameter with a bool default or none), not a parameter
        whose truth stands for being set?"""
        try:
            value = st.lookup(name)
        except KeyError:
            return True
        for param in self.analysis.free_params:
            if param.value is value:
                return param.flag_like
        return True


_NEGATED = {
    "Equal": "!=", "NotEqual": "==", "LessThan": ">=", "GreaterThanEqual": "<",
    "GreaterThan": "<=", "LessThanEqual": ">", "Is": "is not", "IsNot": "is",
    "In": "not in", "NotIn": "in",
}


def _test_texts(module, test) -> tuple:
    """A condition's code, and its negation, each on one line."""
    text = _one_line(module.code_for_node(test))
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        op = type(test.comparisons[0].operator).__name__
        negated = _NEGATED.get(op)
        if negated:
            left = _one_line(module.code_for_node(test.left))
            right = _one_line(module.code_for_node(test.comparisons[0].comparator))
            return text, f"{left} {negated} {right}"
    return text, f"not ({text})"


def _one_line(code: str) -> str:
    """Source written over several lines, as one line (``(\n a,\n b,\n)`` -> ``(a, b)``)."""
    text = " ".join(code.split())
    return text.replace("( ", "(").replace(" )", ")").replace("[ ", "[").replace(" ]", "]")
