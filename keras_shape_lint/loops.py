"""Loops and comprehensions: ``for`` over concrete sequences and symbolic ranges, ``while``.

A mixin of :class:`keras_shape_lint.interpreter.Interpreter`.
"""

from __future__ import annotations

from . import symbolic as S
from .state import State
from .values import ListValue, opaque


class Loops:
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
