"""Symbolic execution of Python statements and expressions over libcst trees.

Every evaluation works on a list of paths: ``exec_block`` maps states to
states, ``eval`` maps one state to ``[(state, value), ...]``.  A branch whose
condition is symbolic forks the state when both sides are feasible; a branch
that only one side of can take follows that side.  Paths, loop unrolling,
call depth and steps are bounded; an exhausted bound stops that path (the
analysis reports it under KSL901, never as a finding).

The interpreter knows Python, not Keras: calls are dispatched in
:mod:`keras_shape_lint.calls`, layers live in :mod:`keras_shape_lint.layers`.
"""

from __future__ import annotations

import time

import libcst as cst

from . import symbolic as S
from .attributes import get_attribute
from .frontend import dotted_name, normalise
from .liveness import dead_after_ifs
from .operators import binary_operation, compare
from .pybuiltins import BUILTINS, SymbolicRange
from .state import State, merge_paths
from .subscripts import subscript
from .values import (
    ELLIPSIS,
    ClassValue,
    DictValue,
    FunctionValue,
    Imported,
    InstanceValue,
    LazyImport,
    ListValue,
    ShapeOf,
    Slice,
    Tensor,
    Unknown,
    opaque,
)


class BudgetExceeded(Exception):
    """Raised when the step budget of one analysis is spent."""


UNBOUND = object()


class Interpreter:
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
        from .calls import Calls

        self.calls = Calls(self)

    # ------------------------------------------------------------ helpers
    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.budget.max_steps:
            raise BudgetExceeded("step budget")
        if not self.steps & 1023 and time.monotonic() > self.analysis.deadline:
            raise BudgetExceeded("time budget")

    def cap(self, states: list) -> list:
        if len(states) > self.budget.max_paths:
            self.analysis.note_budget("path budget")
            return states[: self.budget.max_paths]
        return states

    def feasible(self, st: State, term) -> bool:
        """Can the path continue with ``term`` added?  Unknown counts as yes."""
        if term is True:
            return True
        if term is False:
            return False
        verdict = self.analysis.solver.check_path(st.pc, [term])
        return verdict is not False

    def branch(self, st: State, cond, test=None):
        """Split ``st`` on a truth value: [(state, taken)] for each feasible side.

        ``test`` is the condition's source node; it names the decision in
        messages, and is rendered only when the path really forks.
        """
        if cond is None:
            cond = S.opaque_bool()
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
        decision_true, decision_false = self.decision_texts(test) if test is not None else (None, None)
        st.add(cond, decision_true, branch=True)
        other.add(S.neg(cond), decision_false, branch=True)
        return [(st, True), (other, False)]

    # --------------------------------------------------------- statements
    def exec_block(self, body, states: list) -> list:
        for stmt in body:
            if len(states) == 1:  # the common case: one path, no bookkeeping
                st = states[0]
                if st.flow is not None:
                    break
                states = self.cap(self.exec_stmt(stmt, st))
                continue
            running = [st for st in states if st.flow is None]
            if not running:
                break
            done = [st for st in states if st.flow is not None]
            out = []
            for st in running:
                out.extend(self.exec_stmt(stmt, st))
            states = self.cap(done + out)
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

    def stmt_Expr(self, stmt, st):
        return [s for s, _ in self.eval(stmt.value, st)]

    def stmt_Pass(self, stmt, st):
        return [st]

    def stmt_Assign(self, stmt, st):
        out = []
        for s, value in self.eval(stmt.value, st):
            states = [s]
            for target in stmt.targets:
                states = [r for t in states for r in self.assign(target.target, value, t)]
            out.extend(states)
        return out

    def stmt_AnnAssign(self, stmt, st):
        if stmt.value is None:
            return [st]
        return [r for s, v in self.eval(stmt.value, st) for r in self.assign(stmt.target, v, s)]

    def stmt_AugAssign(self, stmt, st):
        out = []
        op = type(stmt.operator).__name__.replace("Assign", "")
        for s, current in self.eval(stmt.target, st):
            for s2, value in self.eval(stmt.value, s):
                if isinstance(current, ListValue) and op == "Add":
                    current.items.extend(self.iterate_concrete(value) or [])
                    out.append(s2)
                    continue
                for s3, result in self.binary(op, current, value, s2, stmt):
                    out.extend(self.assign(stmt.target, result, s3))
        return out

    def stmt_Return(self, stmt, st):
        if stmt.value is None:
            st.flow, st.retval = "return", None
            return [st]
        out = []
        for s, value in self.eval(stmt.value, st):
            s.flow, s.retval = "return", value
            out.append(s)
        return out

    def stmt_Raise(self, stmt, st):
        return []  # a path that raises never reaches a later merge

    def stmt_Assert(self, stmt, st):
        out = []
        for s, value in self.eval(stmt.test, st):
            for s2, taken in self.branch(s, self.truth(value)):
                if taken:
                    out.append(s2)
        return out

    def stmt_Break(self, stmt, st):
        st.flow = "break"
        return [st]

    def stmt_Continue(self, stmt, st):
        st.flow = "continue"
        return [st]

    def stmt_Import(self, stmt, st):
        for alias in stmt.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None:
                local = self._project_module(st, full, 0)
                st.assign(alias.asname.name.value, local or Imported(normalise(full)))
            else:
                head = full.split(".")[0]
                local = self._project_module(st, head, 0) if head == full else None
                st.assign(head, local or Imported(normalise(head)))
        return [st]

    def stmt_ImportFrom(self, stmt, st):
        level = len(stmt.relative)
        base = dotted_name(stmt.module) if stmt.module is not None else None
        if isinstance(stmt.names, cst.ImportStar):
            return [st]
        for alias in stmt.names:
            name = alias.name.value if type(alias.name) is cst.Name else dotted_name(alias.name)
            bound = alias.asname.name.value if alias.asname is not None else name
            qualname = normalise(f"{base}.{name}") if base else name
            if level == 0 and base and _is_modelled(qualname):
                st.assign(bound, Imported(qualname))
                continue
            # a submodule of the project (``from . import blocks``), or a member of one
            value = self._project_module(st, f"{base}.{name}" if base else name, level)
            if value is None:
                module = self._project_module(st, base, level) if (base or level) else None
                if module is not None:
                    value = LazyImport(module.loader, module.path, name)
            if value is None:
                value = opaque(f"relative import {name}") if level else Imported(qualname)
            st.assign(bound, value)
        return [st]

    def _project_module(self, st, dotted, level):
        """The user's module that an import names (read when first used), or None."""
        module = st.modules[-1]
        loader = module.loader if module is not None else None
        if loader is None:
            return None
        path = loader.resolve(dotted, level)
        return LazyImport(loader, path) if path is not None else None

    def stmt_Global(self, stmt, st):
        return [st]

    stmt_Nonlocal = stmt_Global

    def stmt_Del(self, stmt, st):
        return [st]

    def stmt_FunctionDef(self, stmt, st):
        fn = self.make_function(stmt, st)
        value = fn
        for decorator in reversed(stmt.decorators):
            name = self._decorator_name(decorator.decorator)
            if name in ("staticmethod", "classmethod", "property"):
                continue
            if name and ("register_keras_serializable" in name or name.endswith("export")):
                continue
            if name in ("functools.wraps", "wraps"):
                continue
            value = opaque(f"decorated function {stmt.name.value}")
            break
        st.assign(stmt.name.value, value)
        return [st]

    def _decorator_name(self, node) -> str:
        if isinstance(node, cst.Call):
            node = node.func
        return dotted_name(node) or ""

    def make_function(self, node, st: State, is_lambda: bool = False) -> FunctionValue:
        defaults = {}
        params = node.params
        for param in list(params.posonly_params) + list(params.params) + list(params.kwonly_params):
            if param.default is not None:
                results = self.eval(param.default, st)
                defaults[param.name.value] = results[0][1] if results else opaque()
        closure = st.closures[-1]
        if len(st.frames) > 1:
            closure = (st.frames[-1],) + closure
        name = "<lambda>" if is_lambda else node.name.value
        return FunctionValue(node, name, closure, defaults, is_lambda, module=st.modules[-1])

    def stmt_ClassDef(self, stmt, st):
        bases = []
        keras_base = ""
        for arg in stmt.bases:
            results = self.eval(arg.value, st)
            base = results[0][1] if results else opaque()
            bases.append(base)
            if isinstance(base, Imported):
                keras_base = keras_base or normalise(base.qualname)
            elif isinstance(base, ClassValue) and base.keras_base:
                keras_base = keras_base or base.keras_base
            elif dotted_name(arg.value):
                pass
        cls = ClassValue(stmt, stmt.name.value, tuple(bases), {}, keras_base)
        # run the class body in its own frame; methods see module globals
        st.push({}, st.closures[-1], st.modules[-1])
        states = self.exec_suite(stmt.body, [st])
        body_state = states[0] if states else st
        cls.attrs = body_state.pop()
        for other in states[1:]:
            other.pop()
        for method in cls.attrs.values():
            if isinstance(method, FunctionValue):
                method.qualname = f"{cls.name}.{method.name}"
        for s in states or [st]:
            s.assign(stmt.name.value, cls)
        return states or [st]

    def stmt_If(self, stmt, st):
        out = []
        for s, value in self.eval(stmt.test, st):
            for s2, taken in self.branch(s, self.truth(value), stmt.test):
                if taken:
                    out.extend(self.exec_suite(stmt.body, [s2]))
                elif stmt.orelse is None:
                    out.append(s2)
                elif type(stmt.orelse) is cst.If:
                    out.extend(self.stmt_If(stmt.orelse, s2))
                else:
                    out.extend(self.exec_suite(stmt.orelse.body, [s2]))
        return self.cap(merge_paths(out, lambda: self.dead_after(stmt)))

    def dead_after(self, stmt) -> frozenset:
        """Local names nothing reads once ``stmt`` (an ``if``) is done."""
        function = self.scopes[-1] if self.scopes else None
        key = ("dead", id(function))
        found = self._node_facts.get(key)
        if found is None:
            found = self._node_facts[key] = (function, dead_after_ifs(function))
        return found[1].get(id(stmt), (None, frozenset()))[1]

    def stmt_With(self, stmt, st):
        states = [st]
        for item in stmt.items:
            nxt = []
            for s in states:
                for s2, value in self.eval(item.item, s):
                    if item.asname is not None:
                        nxt.extend(self.assign(item.asname.name, opaque("with-target"), s2))
                    else:
                        nxt.append(s2)
            states = nxt
        return self.exec_suite(stmt.body, states)

    def stmt_Try(self, stmt, st):
        states = self.exec_suite(stmt.body, [st])
        if stmt.orelse is not None:
            states = self.exec_suite(stmt.orelse.body, states)
        if stmt.finalbody is not None:
            states = self.exec_suite(stmt.finalbody.body, states)
        return states

    stmt_TryStar = stmt_Try

    def stmt_For(self, stmt, st):
        out = []
        for s, iterable in self.eval(stmt.iter, st):
            out.extend(self.run_loop(stmt, s, iterable))
        return self.cap(out)

    def run_loop(self, stmt, st: State, iterable) -> list:
        """Unroll a ``for`` loop over a concrete sequence or a symbolic range."""
        items = self.iterate_concrete(iterable)
        finished = []
        if items is None and isinstance(iterable, range):
            self.analysis.note_budget("loop unrolling")
            return []
        if items is not None:
            if len(items) > self.budget.max_unroll:
                self.analysis.note_budget("loop unrolling")
                return []
            states = [st]
            for item in items:
                states = [r for s in states for r in self.assign(stmt.target, item, s)]
                states = self.exec_suite(stmt.body, states)
                states = self._after_iteration(states, finished)
                if not states:
                    break
            if stmt.orelse is not None:
                states = self.exec_suite(stmt.orelse.body, states)
            return finished + states
        sym = self.symbolic_range(iterable)
        if sym is None:
            self.analysis.note_opaque("iteration over an unknown sequence")
            return []
        start, stop, step = sym
        states = [st]
        index = start
        for _ in range(self.budget.max_symbolic_unroll + 1):
            cont = S.conj(index < stop) if S.is_sym(index) or S.is_sym(stop) else index < stop
            nxt = []
            for s in states:
                for s2, taken in self.branch(s, cont):
                    if taken:
                        nxt.append(s2)
                    else:
                        if stmt.orelse is not None:
                            finished.extend(self.exec_suite(stmt.orelse.body, [s2]))
                        else:
                            finished.append(s2)
            states = [r for s in nxt for r in self.assign(stmt.target, index, s)]
            if not states:
                break
            states = self.exec_suite(stmt.body, states)
            states = self._after_iteration(states, finished)
            index = S.add(index, step)
        if states:
            self.analysis.note_budget("symbolic loop bound")
        return self.cap(finished)

    def _after_iteration(self, states, finished):
        running = []
        for s in states:
            if s.flow == "break":
                s.flow = None
                finished.append(s)
            elif s.flow == "continue":
                s.flow = None
                running.append(s)
            elif s.flow is None:
                running.append(s)
            else:
                finished.append(s)
        return running

    def stmt_While(self, stmt, st):
        states = [st]
        finished = []
        for _ in range(self.budget.max_unroll):
            nxt = []
            for s in states:
                for s2, value in self.eval(stmt.test, s):
                    for s3, taken in self.branch(s2, self.truth(value)):
                        (nxt if taken else finished).append(s3)
            states = self.exec_suite(stmt.body, nxt)
            states = self._after_iteration(states, finished)
            if not states:
                return self.cap(finished)
        self.analysis.note_budget("while loop")
        return self.cap(finished)

    # ----------------------------------------------------------- assignment
    def assign(self, target, value, st: State) -> list:
        if type(target) is cst.Name:
            st.assign(target.value, value)
            return [st]
        if type(target) in (cst.Tuple, cst.List):
            elements = target.elements
            starred = [i for i, e in enumerate(elements) if type(e) is cst.StarredElement]
            if isinstance(value, ShapeOf) and not value.tensor.known and not starred:
                value.tensor.with_rank(len(elements) - 1)
            items = self.iterate_concrete(value)
            if items is None:
                if isinstance(value, Unknown):
                    items = [opaque("unpacked unknown") for _ in elements]
                else:
                    items = [opaque("unpacked value") for _ in elements]
                starred = []
            states = [st]
            if starred:
                k = starred[0]
                after = len(elements) - k - 1
                if len(items) < len(elements) - 1:
                    return []
                parts = items[:k] + [ListValue(items[k: len(items) - after])] + items[len(items) - after:]
            else:
                if len(items) != len(elements):
                    return []
                parts = items
            for element, part in zip(elements, parts):
                states = [r for s in states for r in self.assign(element.value, part, s)]
            return states
        if type(target) is cst.Attribute:
            out = []
            for s, obj in self.eval(target.value, st):
                if isinstance(obj, (InstanceValue, ClassValue)):
                    obj.attrs[target.attr.value] = value
                out.append(s)
            return out
        if type(target) is cst.Subscript:
            out = []
            for s, obj in self.eval(target.value, st):
                if len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
                    for s2, key in self.eval(target.slice[0].slice.value, s):
                        self.store_item(obj, key, value)
                        out.append(s2)
                else:
                    out.append(s)
            return out
        return [st]

    def store_item(self, obj, key, value) -> None:
        if isinstance(obj, DictValue) and not S.is_sym(key) and _hashable(key):
            obj.items[key] = value
        elif isinstance(obj, ListValue) and isinstance(key, int) and -len(obj.items) <= key < len(obj.items):
            obj.items[key] = value

    # ---------------------------------------------------------- expressions
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
                    nxt.append((s2, values + [value]))
            results = nxt
        return results

    def ex_Name(self, node, st):
        name = node.value
        try:
            value = st.lookup(name)
        except KeyError:
            pass
        else:
            return [(st, value.resolve() if isinstance(value, LazyImport) else value)]

        if name in BUILTINS:
            return [(st, BUILTINS[name])]
        if name in ("True", "False", "None"):
            return [(st, {"True": True, "False": False, "None": None}[name])]
        self.analysis.note_opaque(f"unbound name {name}")
        return [(st, opaque(f"unbound {name}"))]

    def ex_Integer(self, node, st):
        cached = self._node_facts.get(id(node))
        if cached is None:
            text = node.value.replace("_", "")
            try:
                number = int(text, 0)
            except ValueError:
                number = int(text)  # decimal with leading zeros, e.g. "00"
            cached = self._node_facts[id(node)] = (node, number)
        return [(st, cached[1])]

    def ex_Float(self, node, st):
        return [(st, float(node.evaluated_value))]

    def ex_Imaginary(self, node, st):
        return [(st, opaque("complex"))]

    def ex_SimpleString(self, node, st):
        cached = self._node_facts.get(id(node))
        if cached is None:
            try:
                value = node.evaluated_value
            except Exception:
                value = None
            cached = self._node_facts[id(node)] = (node, value)  # the node kept alive with its id
        value = cached[1]
        return [(st, value if isinstance(value, str) else opaque("string"))]

    def ex_ConcatenatedString(self, node, st):
        try:
            value = node.evaluated_value
        except Exception:
            value = None
        return [(st, value if isinstance(value, str) else opaque("string"))]

    def ex_FormattedString(self, node, st):
        # Names and messages: shapes never depend on their text.  A placeholder
        # string keeps ``name is None`` and ``name + "_bn"`` decidable.
        parts = []
        for part in node.parts:
            parts.append(part.value if type(part) is cst.FormattedStringText else "\u2026")
        return [(st, "".join(parts))]

    def ex_Ellipsis(self, node, st):
        return [(st, ELLIPSIS)]

    def _elements(self, elements, st):
        """Evaluate literal elements, expanding ``*starred`` ones."""
        results = [(st, [])]
        for element in elements:
            nxt = []
            for s, values in results:
                for s2, value in self.eval(element.value, s):
                    if type(element) is cst.StarredElement:
                        items = self.iterate_concrete(value)
                        if items is None:
                            return [(s2, None)]
                        nxt.append((s2, values + list(items)))
                    else:
                        nxt.append((s2, values + [value]))
            results = nxt
        return results

    def ex_Tuple(self, node, st):
        return [(s, tuple(v) if v is not None else opaque("tuple")) for s, v in self._elements(node.elements, st)]

    def ex_List(self, node, st):
        return [(s, ListValue(v) if v is not None else opaque("list")) for s, v in self._elements(node.elements, st)]

    def ex_Set(self, node, st):
        # only membership tests matter here: a tuple answers them the same way
        return [(s, tuple(v) if v is not None else opaque("set")) for s, v in self._elements(node.elements, st)]

    def ex_Dict(self, node, st):
        results = [(st, {})]
        for element in node.elements:
            nxt = []
            for s, items in results:
                if isinstance(element, cst.StarredDictElement):
                    for s2, value in self.eval(element.value, s):
                        if isinstance(value, DictValue) and items is not None:
                            nxt.append((s2, {**items, **value.items}))
                        else:
                            nxt.append((s2, None))
                    continue
                for s2, (key, value) in self.eval_seq([element.key, element.value], s):
                    if items is None or S.is_sym(key) or not _hashable(key):
                        nxt.append((s2, None))
                    else:
                        nxt.append((s2, {**items, key: value}))
            results = nxt
        return [(s, DictValue(items) if items is not None else opaque("dict")) for s, items in results]

    def ex_Lambda(self, node, st):
        return [(st, self.make_function(node, st, is_lambda=True))]

    def ex_Attribute(self, node, st):
        return [(s, get_attribute(self, s, value, node.attr.value)) for s, value in self.eval(node.value, st)]

    def ex_Call(self, node, st):
        out = []
        for s, func in self.eval(node.func, st):
            for s2, args, kwargs in self.eval_arguments(node.args, s):
                if args is None:
                    out.append((s2, opaque("call with unknown *args")))
                    continue
                out.extend(self.calls.call(func, args, kwargs, s2, node))
        return out

    def eval_arguments(self, arguments, st):
        results = [(st, [], {})]
        for arg in arguments:
            nxt = []
            for s, args, kwargs in results:
                if args is None:
                    nxt.append((s, None, None))
                    continue
                for s2, value in self.eval(arg.value, s):
                    if arg.star == "*":
                        items = self.iterate_concrete(value)
                        nxt.append((s2, None, None) if items is None else (s2, args + list(items), kwargs))
                    elif arg.star == "**":
                        if isinstance(value, DictValue) and all(isinstance(k, str) for k in value.items):
                            nxt.append((s2, args, {**kwargs, **value.items}))
                        else:
                            nxt.append((s2, args, kwargs))
                    elif arg.keyword is not None:
                        nxt.append((s2, args, {**kwargs, arg.keyword.value: value}))
                    else:
                        nxt.append((s2, args + [value], kwargs))
            results = nxt
        return results

    def ex_IfExp(self, node, st):
        out = []
        for s, test in self.eval(node.test, st):
            cond = self.truth(test)
            # an int-valued choice stays one path as a z3 If-term
            if S.is_sym(cond) and not self._has_calls(node.body) and not self._has_calls(node.orelse):
                body = self.eval(node.body, s)
                orelse = self.eval(node.orelse, s)
                if len(body) == 1 and len(orelse) == 1:
                    a, b = body[0][1], orelse[0][1]
                    if (S.is_int_like(a) and S.is_int_like(b)) or (S.is_bool_like(a) and S.is_bool_like(b)):
                        out.append((s, S.ite(cond, a, b)))
                        continue
            for s2, taken in self.branch(s, cond, node.test):
                out.extend(self.eval(node.body if taken else node.orelse, s2))
        return out

    def _has_calls(self, node) -> bool:
        found = self._node_facts.get(("calls", id(node)))
        if found is None:
            found = self._node_facts[("calls", id(node))] = (node, bool(_find_calls(node)))
        return found[1]

    def ex_BooleanOperation(self, node, st):
        out = []
        is_and = type(node.operator) is cst.And
        for s, left in self.eval(node.left, st):
            truth = self.truth(left)
            if isinstance(truth, bool):
                if truth == is_and:
                    out.extend(self.eval(node.right, s))
                else:
                    out.append((s, left))
                continue
            for s2, right in self.eval(node.right, s):
                right_truth = self.truth(right)
                if S.is_bool_like(left) and S.is_bool_like(right_truth) and S.is_bool_like(right):
                    combined = S.conj(truth, right_truth) if is_and else S.disj(truth, right_truth)
                    out.append((s2, combined))
                else:
                    for s3, taken in self.branch(s2, truth):
                        out.append((s3, right if taken == is_and else left))
        return out

    def ex_UnaryOperation(self, node, st):
        out = []
        for s, value in self.eval(node.expression, st):
            op = node.operator
            if type(op) is cst.Not:
                truth = self.truth(value)
                out.append((s, S.neg(truth) if truth is not None else opaque("not")))
            elif type(op) is cst.Minus:
                if isinstance(value, Unknown):
                    value = value.as_int()
                if isinstance(value, (int, float)) or S.is_sym(value):
                    out.append((s, -value))
                else:
                    out.append((s, opaque("negation")))
            elif type(op) is cst.Plus:
                out.append((s, value))
            else:
                out.append((s, opaque("bitwise not")))
        return out

    def ex_BinaryOperation(self, node, st):
        out = []
        op = type(node.operator).__name__
        for s, (left, right) in self.eval_seq([node.left, node.right], st):
            out.extend(self.binary(op, left, right, s, node))
        return out

    def binary(self, op, left, right, st, node) -> list:
        return binary_operation(self, op, left, right, st, node)

    def ex_Comparison(self, node, st):
        out = []
        for s, left in self.eval(node.left, st):
            results = [(s, True, left)]
            for target in node.comparisons:
                nxt = []
                for s2, acc, lhs in results:
                    for s3, rhs in self.eval(target.comparator, s2):
                        verdict = compare(self, type(target.operator).__name__, lhs, rhs)
                        # one comparison the analysis cannot decide makes the whole chain unknown
                        known = acc is not None and verdict is not None
                        nxt.append((s3, S.conj(acc, verdict) if known else None, rhs))
                results = nxt
            for s2, acc, _ in results:
                out.append((s2, acc if acc is not None else S.opaque_bool()))
        return out

    def ex_Subscript(self, node, st):
        out = []
        for s, value in self.eval(node.value, st):
            for s2, keys in self.eval_slices(node.slice, s):
                out.append((s2, subscript(self, s2, value, keys)))
        return out

    def eval_slices(self, elements, st):
        results = [(st, [])]
        for element in elements:
            nxt = []
            part = element.slice
            for s, keys in results:
                if type(part) is cst.Index:
                    for s2, value in self.eval(part.value, s):
                        nxt.append((s2, keys + [value]))
                else:
                    bounds = [part.lower, part.upper, part.step]
                    present = [b for b in bounds if b is not None]
                    for s2, values in self.eval_seq(present, s):
                        it = iter(values)
                        lower, upper, step = (next(it) if b is not None else None for b in bounds)
                        nxt.append((s2, keys + [Slice(lower, upper, step)]))
            results = nxt
        return results

    def ex_ListComp(self, node, st):
        return [(s, ListValue(items) if items is not None else opaque("comprehension"))
                for s, items in self.comprehension(node.elt, node.for_in, st)]

    def ex_GeneratorExp(self, node, st):
        return [(s, tuple(items) if items is not None else opaque("generator"))
                for s, items in self.comprehension(node.elt, node.for_in, st)]

    def ex_SetComp(self, node, st):
        return [(st, opaque("set comprehension"))]

    def ex_DictComp(self, node, st):
        return [(st, opaque("dict comprehension"))]

    def comprehension(self, elt, for_in, st):
        """Evaluate a comprehension in a child frame; [(state, items or None)]."""
        st.push(dict(st.locals) if len(st.frames) > 1 else {}, st.closures[-1], st.modules[-1])
        results = self._comp(elt, for_in, st, [])
        out = []
        for s, items in results:
            s.pop()
            out.append((s, items))
        return out

    def _comp(self, elt, for_in, st, acc):
        out = []
        for s, iterable in self.eval(for_in.iter, st):
            items = self.iterate_concrete(iterable)
            if items is None or len(items) > self.budget.max_unroll:
                out.append((s, None))
                continue
            states = [(s, list(acc))]
            for item in items:
                nxt = []
                for s2, collected in states:
                    if collected is None:
                        nxt.append((s2, None))
                        continue
                    for s3 in self.assign(for_in.target, item, s2):
                        keep = [(s3, True)]
                        for cond in for_in.ifs:
                            filtered = []
                            for s4, ok in keep:
                                if not ok:
                                    filtered.append((s4, False))
                                    continue
                                for s5, value in self.eval(cond.test, s4):
                                    filtered.extend(self.branch(s5, self.truth(value)))
                            keep = filtered
                        for s4, ok in keep:
                            if not ok:
                                nxt.append((s4, collected))
                            elif for_in.inner_for_in is not None:
                                nxt.extend(self._comp(elt, for_in.inner_for_in, s4, collected))
                            else:
                                for s5, value in self.eval(elt, s4):
                                    nxt.append((s5, collected + [value]))
                states = nxt
            out.extend(states)
        return out

    def ex_NamedExpr(self, node, st):
        return [(s2, v) for s, v in self.eval(node.value, st) for s2 in self.assign(node.target, v, s)]

    # ------------------------------------------------------------ values
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
            shape = value.as_tuple()
            return None if shape is None else list(shape)
        if isinstance(value, str):
            return list(value)
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

    def decision_texts(self, test):
        """How a branch decision reads in a message, for each side."""
        module = self.analysis.module
        if type(test) is cst.Name:
            return f"{test.value}=True", f"{test.value}=False"
        if isinstance(test, cst.UnaryOperation) and type(test.operator) is cst.Not:
            inner_true, inner_false = self.decision_texts(test.expression)
            return inner_false, inner_true
        text = module.code_for_node(test)
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            op = type(test.comparisons[0].operator).__name__
            negated = _NEGATED.get(op)
            if negated:
                left = module.code_for_node(test.left)
                right = module.code_for_node(test.comparisons[0].comparator)
                return text, f"{left} {negated} {right}"
        return text, f"not ({text})"


def _is_modelled(qualname: str) -> bool:
    """Is this Keras name (or a module holding such names) one the analyser models?"""
    from . import keras_api, layers

    if qualname in keras_api.FUNCTIONS or layers.lookup(qualname) or layers.lookup_functional(qualname):
        return True
    prefix = qualname + "."
    return any(name.startswith(prefix) for name in keras_api.FUNCTIONS)


_NEGATED = {
    "Equal": "!=", "NotEqual": "==", "LessThan": ">=", "GreaterThanEqual": "<",
    "GreaterThan": "<=", "LessThanEqual": ">", "Is": "is not", "IsNot": "is",
    "In": "not in", "NotIn": "in",
}


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _find_calls(node) -> list:
    found = []

    class _Visitor(cst.CSTVisitor):
        def visit_Call(self, call):
            found.append(call)
            return False

    node.visit(_Visitor())
    return found
