"""Loops and comprehensions: ``for`` over concrete sequences and symbolic ranges, ``while``.

A mixin of :class:`keras_shape_lint.interpreter.Interpreter`.
"""

from __future__ import annotations

from . import symbolic as S
import libcst as cst

from .frontend import children
from .state import State, _copy_value, _same, loop_fixpoint
from .values import ListValue, RepeatedList, Unknown, opaque


class Loops:
    def stmt_For(self, stmt, st):
        out = []
        for s, iterable in self.eval(stmt.iter, st):
            out.extend(self.run_loop(stmt, s, iterable))
        return self.cap(out)

    def run_loop(self, stmt, st: State, iterable) -> list:
        """Run a ``for`` loop: unrolled over a concrete sequence, or over a symbolic range
        (or a sequence too long to unroll) until its state repeats."""
        finished: list = []
        items = self.iterate_concrete(iterable)
        if items is not None and len(items) <= self.budget.max_unroll:
            states = self._unroll(stmt, [st], items, finished)
            return finished + self._exhausted(stmt, states)
        if isinstance(iterable, RepeatedList) and not iterable.spoiled:
            states = self._unroll(stmt, [st], iterable.items, finished)
            item = iterable.item
            states = self._symbolic(stmt, states, finished, 0, iterable.count, 1, lambda index: _copy_value(item, {}))
            return self.cap(finished + self._exhausted(stmt, states))
        if isinstance(iterable, Unknown) and iterable.free and iterable.used_as in (None, "list"):
            # a sequence the caller passes: as many iterations as its (free) length allows
            length = iterable.length()
            st.add(length >= 0)
            states = self._symbolic(stmt, [st], finished, 0, length, 1, iterable.item, reads_index=True)
            return self.cap(finished + self._exhausted(stmt, states))
        bounds = self.symbolic_range(iterable)
        if bounds is None and isinstance(iterable, range) and iterable.step > 0:
            bounds = (iterable.start, iterable.stop, iterable.step)
        if bounds is None and items is not None:  # a concrete sequence too long to unroll
            bounds = (0, len(items), 1)
            at = items.__getitem__
        else:
            at = None
        if bounds is None:
            self.analysis.note_opaque("iteration over an unknown sequence")
            return []
        start, stop, step = bounds
        states = self._symbolic(stmt, [st], finished, start, stop, step, at or (lambda index: index),
                                reads_index=at is None and self._reads_target(stmt))
        return self.cap(finished + self._exhausted(stmt, states))

    def _unroll(self, stmt, states, items, finished) -> list:
        """Iterations over concrete items; once the state repeats and the items left
        equal the current one, they are skipped (each would do the same again)."""
        for position, item in enumerate(items):
            states = [r for s in states for r in self.assign(stmt.target, item, s)]
            rest = items[position + 1:]
            # worth comparing states only when every item left is this one again
            uniform = rest and all(_same(item, other, {}) for other in rest)
            snapshot = self._snapshot(states) if uniform else None
            states = self._after_iteration(self.exec_suite(stmt.body, states), finished)
            if not states:
                break
            if snapshot is not None and len(states) == 1:
                grown = loop_fixpoint(snapshot, states[0], self._targets(stmt), self._equal_on(states[0]))
                if grown is not None:
                    return [self._summarise(states[0], grown, len(rest), concrete=True)]
        return states

    def _symbolic(self, stmt, states, finished, start, stop, step, item_at, reads_index=False) -> list:
        """Iterations while ``index < stop``, each path exiting where the bound allows;
        once an iteration leaves the state as it found it (and the body does not read
        the index), every later one would too: the loop is summarised there."""
        index = start
        for _ in range(self.budget.max_symbolic_unroll + 1):
            cont = S.conj(index < stop) if S.is_sym(index) or S.is_sym(stop) else index < stop
            running = []
            for s in states:
                for s2, taken in self.branch(s, cont):
                    if taken:
                        running.append(s2)
                    else:
                        finished.extend(self._exhausted(stmt, [s2]))
            states = [r for s in running for r in self.assign(stmt.target, item_at(index), s)]
            if not states:
                return []
            snapshot = None if reads_index else self._snapshot(states)
            states = self._after_iteration(self.exec_suite(stmt.body, states), finished)
            index = S.add(index, step)
            if snapshot is not None and len(states) == 1:
                grown = loop_fixpoint(snapshot, states[0], self._targets(stmt), self._equal_on(states[0]))
                if grown is not None:
                    # the iterations left: as many as fit between ``index`` and ``stop``
                    left = S.maximum(0, S.ceildiv(S.sub(stop, index), step) if step != 1 else S.sub(stop, index))
                    return [self._summarise(states[0], grown, left)]
        if states:
            self.analysis.note_budget("symbolic loop bound")
        return []

    def _equal_on(self, st: State):
        """Are two sizes equal on every input that reaches ``st``?"""
        return lambda a, b: self.analysis.solver.check_path(st.pc, [S.ne(a, b)]) is False

    def _snapshot(self, states):
        return states[0].fork() if len(states) == 1 else None

    def _summarise(self, st: State, grown, left, concrete: bool = False) -> State:
        """The path after all remaining iterations: each grown list gets ``left`` more copies
        of its last item; the loop variable holds an item nobody names."""
        if not grown:
            return st
        if concrete:
            for target, item in grown:
                target.items.extend(_copy_value(item, {}) for _ in range(left))
            return st
        memo = {id(target): RepeatedList([], None, left) for target, _ in grown}
        summarised = st.fork(memo)
        for target, item in grown:
            repeated = memo[id(target)]
            repeated.items = [_copy_value(value, memo) for value in target.items]
            repeated.item = _copy_value(item, memo)
        return summarised

    def _exhausted(self, stmt, states) -> list:
        """Paths whose loop ran out of items: the ``else`` clause runs on them."""
        if stmt.orelse is None or not states:
            return states
        return self.exec_suite(stmt.orelse.body, states)

    def _targets(self, stmt) -> frozenset:
        return frozenset(_names(stmt.target))

    def _reads_target(self, stmt) -> bool:
        """Does the loop body read the loop variable (outside f-strings, which name things)?"""
        key = ("reads target", id(stmt))
        found = self._node_facts.get(key)
        if found is None:
            found = self._node_facts[key] = (stmt, _reads(stmt.body, self._targets(stmt)))
        return found[1]

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


def _names(target) -> list:
    if type(target) is cst.Name:
        return [target.value]
    if type(target) in (cst.Tuple, cst.List):
        return [name for element in target.elements for name in _names(element.value)]
    return []


def _reads(node, names: frozenset) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if type(current) is cst.Name and current.value in names:
            return True
        if type(current) is cst.FormattedString:
            continue
        stack.extend(children(current))
    return False
