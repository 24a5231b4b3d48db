"""Loops and comprehensions: ``for`` over concrete sequences and symbolic ranges, ``while``.

A mixin of :class:`keras_shape_lint.interpreter.Interpreter`.
"""

from __future__ import annotations

import itertools

import libcst as cst

from . import symbolic as S

from .frontend import children, walk
from .liveness import dead_after_loops
from .plain_loops import (forgotten_past_bound, opaque_loop_facts, plain_function_facts, plain_loop_facts,
                          plain_loop_summary)
from .provenance import Origin
from .pybuiltins import Enumerated, SymbolicRange
from .state import State, _copy_value, _LoopComparison, _same, loop_fixpoint, merge_paths, merge_renamed, widen
from .values import (DictValue, FunctionValue, Guarded, InstanceValue, LayerValue, ListValue, RepeatedList, Tensor,
                     Unknown, opaque)

_INDEX_IDS = itertools.count(1)
_NONE_FITS = object()  # no value stands for both (see _generalised)
_MAX_PATHS_TRIED = 4  # paths of one loop each tried for a summary after the first try (each runs the body again)
_MAX_LEADING_ITERATIONS = 1  # iterations unlike the rest a stack of appended blocks may begin with
# the iteration after which a loop whose body reads its index is first tried for any index: a
# stack of blocks alike after its first then leaves as one path, not one path per count
_FIRST_TRY = 1
_WIDENING_ROUNDS = 2  # tries over widened values, each widening what the one before still changed


class Loops:
    def stmt_For(self, stmt, st):
        out = []
        for s, iterable in self.eval(stmt.iter, st):
            out.extend(self.run_loop(stmt, s, iterable))
        # the paths out of the loop (each number of iterations a free length allows) that
        # agree on every name read after it go on as one
        return self.cap(merge_paths(out, lambda: self._dead_after_loop(stmt)), stmt)

    def _dead_after_loop(self, stmt) -> frozenset:
        """Local names nothing reads once the loop ``stmt`` is done."""
        return self.dead_names(stmt, "dead after loops", dead_after_loops)

    def run_loop(self, stmt, st: State, iterable) -> list:
        """Run a ``for`` loop: unrolled over a concrete sequence, or over a symbolic range
        (or a sequence too long to unroll) until its state repeats."""
        finished: list = []
        items = self.iterate_concrete(iterable)
        if items is not None and len(items) <= self.budget.max_unroll:
            states = self._unroll(stmt, [st], items, finished)
            return finished + self._exhausted(stmt, states)
        summary = self._plain_loop(stmt, st, iterable)
        if summary is not None:  # any number of iterations over plain values: what they may change forgotten
            return summary
        if isinstance(iterable, RepeatedList) and not iterable.spoiled:
            states = self._unroll(stmt, [st], iterable.items, finished)
            item = iterable.item
            ran_out: list = []  # paths past the copies, on to the items after them
            states = self._symbolic(stmt, states, finished, 0, iterable.count, 1, lambda index: _copy_value(item, {}),
                                    any_item=lambda k: _copy_value(item, {}), ran_out=ran_out)
            if iterable.tail:  # the items appended after the loop that made the copies
                states = self._unroll(stmt, ran_out + states, iterable.tail, finished)
            else:
                states = ran_out + states
            return self.cap(finished + self._exhausted(stmt, states), stmt)
        if isinstance(iterable, Unknown) and iterable.free and iterable.used_as in (None, "list"):
            # a sequence the caller passes: as many iterations as its (free) length allows
            length = iterable.length()
            st.add(length >= 0)
            states = self._symbolic(stmt, [st], finished, 0, length, 1, iterable.item, reads_index=True,
                                    any_item=lambda k: _any_item(iterable, k))
            return self.cap(finished + self._exhausted(stmt, states), stmt)
        if isinstance(iterable, Enumerated) and isinstance(iterable.sequence, RepeatedList):
            # ``enumerate`` of a list a loop built: its items, then the repeated one, numbered
            sequence, first = iterable.sequence, iterable.start
            numbered = [(first + i, item) for i, item in enumerate(sequence.items)]
            states = self._unroll(stmt, [st], numbered, finished)
            base, item = first + len(numbered), sequence.item
            ran_out = []
            states = self._symbolic(stmt, states, finished, 0, sequence.count, 1,
                                    lambda index: (S.add(base, index), _copy_value(item, {})),
                                    reads_index=self._reads_number(stmt),
                                    any_item=lambda k: (S.add(base, k), _copy_value(item, {})), ran_out=ran_out)
            states = ran_out + states
            if sequence.tail:
                after = S.add(base, sequence.count)
                states = self._unroll(stmt, states, [(S.add(after, i), item) for i, item in enumerate(sequence.tail)],
                                      finished)
            return self.cap(finished + self._exhausted(stmt, states), stmt)
        if isinstance(iterable, Enumerated):
            # ``enumerate`` of a sequence the caller passes: the same loop, each item numbered
            sequence, first = iterable.sequence, iterable.start
            length = sequence.length()
            st.add(length >= 0)
            states = self._symbolic(stmt, [st], finished, 0, length, 1,
                                    lambda index: (S.add(first, index), sequence.item(index)), reads_index=True,
                                    any_item=lambda k: (S.add(first, k), _any_item(sequence, k)))
            return self.cap(finished + self._exhausted(stmt, states), stmt)
        downward = _downward_range(iterable)
        if downward is not None:
            # ``range(top, bottom, -s)``: the n-th iteration (from 0) gets ``top - s * n``, for as
            # many as fit above ``bottom``
            top, bottom, step = downward
            count = S.maximum(0, S.ceildiv(S.sub(top, bottom), -step) if step != -1 else S.sub(top, bottom))
            value_at = (lambda n: S.add(top, S.mul(step, n)))
            states = self._symbolic(stmt, [st], finished, 0, count, 1, value_at,
                                    reads_index=self._reads_number(stmt), any_item=value_at)
            return self.cap(finished + self._exhausted(stmt, states), stmt)
        bounds = self.symbolic_range(iterable)
        if bounds is None and isinstance(iterable, range) and iterable.step > 0:
            bounds = (iterable.start, iterable.stop, iterable.step)
        if bounds is None and items is not None:  # a concrete sequence too long to unroll
            bounds = (0, len(items), 1)
            at = items.__getitem__
        else:
            at = None
        if bounds is None:
            # a sequence nobody knows (what an unknown call returned): as many iterations as an
            # unknown length allows, each over an unknown item, rather than no path at all
            self.analysis.note_opaque("iteration over an unknown sequence")
            origin = Origin("an unknown sequence", stmt.iter, st.modules[-1])
            length = S.opaque_int(origin=origin)
            st.add(length >= 0)
            states = self._symbolic(stmt, [st], finished, 0, length, 1,
                                    lambda index: opaque("an item of an unknown sequence"),
                                    any_item=lambda k: opaque("an item of an unknown sequence"),
                                    nobody_chooses=True)
            return self.cap(finished + self._exhausted(stmt, states), stmt)
        start, stop, step = bounds
        reads = at is None and self._reads_target(stmt)
        if at is None and not reads and type(stmt.target) is cst.Name and isinstance(step, int) and step > 0:
            appended = self._stable_appends(stmt, st, start, stop, step)
            if appended is not None:  # (layers made in a loop and kept in a list)
                return self.cap(self._exhausted(stmt, appended), stmt)
        states = self._symbolic(stmt, [st], finished, start, stop, step, at or (lambda index: index),
                                reads_index=reads, any_item=(lambda k: k) if at is None else None)
        return self.cap(finished + self._exhausted(stmt, states), stmt)

    def _few_left(self, st: State, index, stop, step, most: int) -> bool:
        """Does ``st`` leave at most ``most`` iterations from ``index`` (a range over the length
        of a list the path holds item by item)?"""
        if step != 1 or not S.is_sym(stop) or not S.is_int_like(stop) or not S.is_int_like(index):
            return False
        return self.analysis.solver.refutes(st.pc, [S.sub(stop, index) > most])

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
                grown = loop_fixpoint(snapshot, states[0], self._ignored_on(stmt, snapshot), self._equal_on(states[0]))
                if grown is not None:
                    summary = self._summarise(states[0], grown, len(rest), concrete=True)
                    return [self._forget_killed(stmt, snapshot, states[0], summary)]
        return states

    def _symbolic(self, stmt, states, finished, start, stop, step, item_at, reads_index=False,
                  any_item=None, nobody_chooses=False, ran_out=None) -> list:
        """Iterations while ``index < stop``, each path exiting where the bound allows;
        once an iteration leaves the state as it found it (and the body does not read
        the index), every later one would too: the loop is summarised there.

        ``any_item(k)`` gives the item of an index ``k`` nobody knows: with it, the body is run
        once more for any index (:meth:`_any_iteration`) after the first iteration (over
        widened sizes) and, a body that reads the index, again after the iterations unrolled
        anyway; when that leaves the state as it found it the loop is summarised the same way.
        On the last try any body is, over widened sizes.

        ``nobody_chooses``: the length is no caller's to choose (a sequence nobody knows); the
        paths still running at the bound go on with what the loop may change forgotten, where
        :func:`forgotten_past_bound` can say what that is, instead of stopping there.

        ``ran_out``: where the paths that reach ``stop`` go, when the loop has items after the
        range (a list of copies with more items after them); else to ``finished``, after the
        loop's ``else``."""
        index = start
        summaries: list = []  # paths whose loop was summarised, each after all its iterations
        for number in range(self.budget.max_symbolic_unroll + 1):
            cont = _running(index, stop)
            running = []
            for s in states:
                for s2, taken in self.branch(s, cont):
                    if taken:
                        running.append(s2)
                    elif ran_out is not None:
                        ran_out.append(s2)
                    else:
                        finished.extend(self._exhausted(stmt, [s2]))
            # tried after the first iteration (``if i == 0`` behind: a stack alike after its first
            # block leaves as one path), after the second (a stack kept in a list: the block for
            # any index is compared with the last one appended, which after the first iteration is
            # the first block, unlike the rest), then after the iterations unrolled anyway but the
            # last one or two, where the paths that leave the loop early (a short stack, a stop where
            # a size stops dividing) are explored one by one.  Each path is tried on its own (one
            # that took a branch on a flag the caller passes runs the loop with that flag as its own):
            # on the first try every path, however many the first block's flags made (each try
            # costs about an iteration; each path left running costs three more, and a path out
            # of the loop for every count they reach), later at most _MAX_PATHS_TRIED
            last_try = number == self.budget.max_symbolic_unroll
            early = number == _FIRST_TRY
            tries = any_item is not None and (early or number == _FIRST_TRY + 1
                                              or number >= max(1, self.budget.max_symbolic_unroll - 1))
            if tries and last_try and len(running) > _MAX_PATHS_TRIED:
                # too many paths to try one by one (each number of blocks a free length allows):
                # joined, what they disagree on made a value nobody knows, rather than dropped
                running = widen(running, Origin("a value that differs between the paths into a loop's later"
                                                " iterations", stmt.iter, running[0].modules[-1]))
            if tries and (reads_index or last_try or early) and (early or len(running) <= _MAX_PATHS_TRIED):
                unsummarised = []
                for s in running:
                    if not last_try and self._few_left(s, index, stop, step, self.budget.max_symbolic_unroll - number):
                        # the path leaves few enough iterations to run each (a list of one or two
                        # items indexed by the loop): they are, rather than one for any index
                        # that would tell them apart less well
                        unsummarised.append(s)
                        continue
                    # sizes are widened only on the first and the last try
                    summary = self._any_iteration(stmt, s, index, stop, step, any_item, widen=last_try or early)
                    (unsummarised if summary is None else summaries).append(s if summary is None else summary)
                running = unsummarised
            states = []
            for s in running:
                entered = self.assign(stmt.target, item_at(index), s)
                snapshot = None if reads_index else self._snapshot(entered)
                after = self._after_iteration(self.exec_suite(stmt.body, entered), finished)
                if snapshot is not None and len(after) == 1:
                    ignored = self._ignored_on(stmt, snapshot)
                    grown = loop_fixpoint(snapshot, after[0], ignored, self._equal_on(after[0]))
                    if grown is not None:
                        # the iterations left: as many as fit between the next index and ``stop``
                        following = S.add(index, step)
                        left = S.maximum(0, S.ceildiv(S.sub(stop, following), step) if step != 1
                                         else S.sub(stop, following))
                        summary = self._summarise(after[0], grown, left)
                        summaries.append(self._forget_killed(stmt, snapshot, after[0], summary))
                        continue
                states.extend(after)
            # paths that took different branches in this iteration but left the same values
            # (a block of one layer or of several, each as wide) run the next iteration as one;
            # what the next iteration assigns before reading it (the loop variable: the block
            # just called, built one way or another) counts where nothing after the loop reads it
            states = merge_renamed(states, _once(lambda: self._iteration_dead(stmt, states)))
            index = S.add(index, step)
            if not states:
                return summaries
        if states and nobody_chooses:
            states = self._past_bound(stmt, states, summaries)
        if states:
            self.analysis.note_budget("symbolic loop bound")
        return summaries

    def _stable_appends(self, stmt, st: State, start, stop, step):
        """The paths after a range loop whose body does not read its index and, run twice,
        changes nothing but appending one item, the same each time, to some lists (the layers
        of a stack made in a loop, used by a later loop): each list gets as many copies of the
        item as the range has numbers: two paths (no iteration, and any number of them) rather
        than one per count the bound allows.  Where the first iteration differs (a stage's
        first block gets a projection: ``has_projection=width != filters``, then
        ``width = filters``, the first iteration perhaps branching on it) and the second and
        third are alike, a path for one iteration and one for any more, on each branch of the
        first.  None for any other loop."""
        if not self._appends(stmt):
            return None
        kept = _speculate(self.analysis)
        plans = self._append_plans(stmt, st)
        if plans and any(len(runs) > 2 for runs, _ in plans):
            # the later iterations read the caller's values as what the first one found they
            # are (``filters`` a size once a layer took it): the first one again, reading them so
            _restore(self.analysis, kept)
            kept = _speculate(self.analysis)
            plans = self._append_plans(stmt, st)
        if not plans:
            _restore(self.analysis, kept)
            return None
        out = []
        for s, taken in self.branch(st, _running(start, stop)):
            if not taken:
                out.append(s)
            else:
                for runs, (before, grown) in plans:
                    out.extend(self._after_appends(stmt, s, runs, before, grown, start, stop, step))
        return out

    def _append_plans(self, stmt, st: State):
        """For each path of the loop's first iteration from ``st``: (the paths after its
        first iterations, 0, 1 ..., up to the one an item repeats from; (that path, the
        lists that grew with their item)); None unless every path has one."""
        firsts = self._iteration_paths(stmt, st)
        if not firsts or len(firsts) > _MAX_PATHS_TRIED:
            return None
        plans = []
        for first in firsts:
            runs = [st, first]  # the path after 0, 1, 2 ... iterations
            found = None
            while found is None and len(runs) <= _MAX_LEADING_ITERATIONS + 2:
                after = self._iteration_paths(stmt, runs[-1])
                if not after or len(after) != 1:
                    return None
                runs.append(after[0])
                found = self._repeats(stmt, runs)
            if found is None:
                return None
            plans.append((runs[:-1], found))  # the iteration that repeated is the summary's business
        return plans

    def _after_appends(self, stmt, running: State, runs, before, grown, start, stop, step) -> list:
        """The paths out of a loop that ran at least once (``running``, on which ``runs`` are
        the paths after 0, 1 ... of its first iterations, the last one ``before`` the item
        ``grown`` repeats): one for each count of the leading iterations, one for any more."""
        st = runs[0]
        out = []
        pc, decisions = running.pc, running.decisions
        for count in range(1, len(runs)):
            # what the iteration assumed or chose, on the path that ran it
            pc = pc + runs[count].pc[len(runs[count - 1].pc):]
            decisions = decisions + runs[count].decisions[len(runs[count - 1].decisions):]
            if count == len(runs) - 1:
                break
            probe = runs[count].fork()
            probe.pc, probe.decisions = pc, decisions
            more = None
            for s, taken in self.branch(probe, _running(S.add(start, S.mul(step, count)), stop)):
                if taken:
                    more = s
                else:
                    out.append(s)  # exactly ``count`` iterations
            if more is None:
                return out
            pc, decisions = more.pc, more.decisions
        # the first items stay the objects the loop made (a later loop that calls each layer
        # of the list builds it for good); the later ones are copies of the repeated one
        total = S.ceildiv(S.sub(stop, start), step) if step != 1 else S.sub(stop, start)
        leading = len(runs) - 1
        memo = {id(target): RepeatedList([], None, S.sub(total, leading)) for target, _ in grown}
        summary = runs[-1].fork(memo)
        summary.pc, summary.decisions = pc, decisions
        for target, item in grown:
            repeated = memo[id(target)]
            repeated.items = [_copy_value(value, memo) for value in target.items]
            repeated.item = _copy_value(item, {})
        summary = self._forget_killed(stmt, before, runs[-1], summary)
        summary.assign(stmt.target.value, S.opaque_int(origin=Origin("the last number of a loop's range", stmt.iter,
                                                                     st.modules[-1])))
        out.append(summary)
        return out

    def _repeats(self, stmt, runs: list):
        """Did the last iteration of ``runs`` (the paths after 0, 1, 2 ... iterations) append
        to the same lists the same item as the one before it, and change nothing else?  Then
        (the path before that earlier iteration, [(list, item)]); else None."""
        before, previous, after = runs[-3:]
        grown = loop_fixpoint(before, previous, self._ignored_on(stmt, before), self._equal_on(previous), first=True)
        if not grown:
            return None
        sources: list = []
        again = loop_fixpoint(previous, after, self._ignored_on(stmt, previous), self._equal_on(after), sources)
        if not again or sorted(map(id, sources)) != sorted(id(target) for target, _ in grown):
            return None
        return before, grown

    def _iteration_paths(self, stmt, before: State):
        """The paths after one iteration, from ``before``, of a body that does not read its
        index; None where one leaves the loop or drops a condition ``before`` had."""
        states = self.assign(stmt.target, S.opaque_int(), before.fork())
        states = self.exec_suite(stmt.body, states) if states else []
        if any(s.flow is not None or s.pc[:len(before.pc)] != before.pc for s in states):
            return None
        return states

    def _appends(self, stmt) -> bool:
        """Does the loop body call ``.append(...)`` anywhere?"""
        return self.node_fact("appends", stmt, lambda loop: _find_appends(loop.body))

    def _past_bound(self, stmt, states, summaries) -> list:
        """The paths of ``states`` (at the bound of a loop over a sequence nobody knows) that
        go on past it with what the loop may change forgotten, added to ``summaries``; the
        others are returned.  A merge in the loop's body checked in the iterations run is
        undecided: the later ones were not."""
        facts = self.node_fact("opaque loop", stmt, opaque_loop_facts)
        left = []
        for s in states:
            paths = forgotten_past_bound(facts, stmt, s, self._function_facts)
            if paths is None:
                left.append(s)
            else:
                summaries.extend(paths)
        if len(left) < len(states):
            self.analysis.note_opaque("a loop over a sequence nobody knows, past the iterations followed")
            inside = self._nodes_in(stmt.body)
            for node, outcome in list(self.analysis.outcomes.items()):
                if outcome == "proven" and id(node) in inside:
                    self.analysis.record_outcome(node, "undecided", reason="a loop over a sequence nobody knows "
                                                 "runs more iterations than the analysis follows")
        return left

    def _nodes_in(self, suite) -> frozenset:
        """The ids of every syntax node in ``suite``, worked out once."""
        return self.node_fact("nodes in", suite, lambda found: frozenset(map(id, walk(found))))

    def _any_iteration(self, stmt, st: State, index, stop, step, any_item, widen: bool = True):
        """The path after every iteration left of a range loop whose body reads the index,
        when one iteration for any index ``k`` from ``index`` on (``index <= k < stop``)
        leaves the state as it found it; else None, and nothing that iteration found is kept.

        That iteration stands for each of the later ones: a merge it proves holds for every
        ``k``; a merge it flags fails for some ``k`` the path allows, with a witness whose
        ``stop`` reaches that ``k``.  Conditions it adds that name ``k`` must follow from the
        range (else the iterations would differ); those that do not name ``k`` hold for each.

        When the iteration changes only sizes (a stage's width ``filters[i]``, a size halved
        each time), those sizes are widened to values nobody knows and the iteration is run
        again from there (:meth:`_widened`): if it stays within them, the loop is summarised
        with them, and what it proves holds for every iteration."""
        summary, after = self._try_any(stmt, st, index, stop, step, any_item)
        if summary is not None or after is None or not widen:
            return summary
        base, covering = st, frozenset()
        for _ in range(_WIDENING_ROUNDS):
            # the iteration over widened values may change more (a size read through a widened
            # index, a shape made from it): those are widened too, and the iteration tried again
            widened, more = self._widened(stmt, base, after)
            if widened is None:
                return None
            covering |= more
            summary, after = self._try_any(stmt, widened, index, stop, step, any_item, covering)
            if summary is not None or after is None:
                return summary
            base = widened
        return None

    def _try_any(self, stmt, st: State, index, stop, step, any_item, covering=None):
        """One iteration for any index from ``index`` on: (summary, None), or (None, the
        path it ended on, when one path whose new conditions hold for every index), or
        (None, None)."""
        k = S.free_int(f"{'/'.join(sorted(self._targets(stmt))) or 'index'}#{next(_INDEX_IDS)}")
        trial = st.fork()
        trial.add(k >= index)
        trial.add(k < stop)
        if step != 1:
            trial.add(S.mod(S.sub(k, index), step) == 0)
        in_range = trial.pc
        kept = _speculate(self.analysis)
        undecided: list = []  # the merges the iteration checked: (node, module)
        checked: list = []
        if covering is not None:
            self.analysis.record_outcome = _watching(self.analysis, undecided, checked)
        try:
            done: list = []
            states = list(self.assign(stmt.target, any_item(k), trial))
            states = self._after_iteration(self.exec_suite(stmt.body, states), done) if states else []
            if not done and 1 < len(states):
                # the iteration branched (a block of no layers or of some, a layer built under each
                # of the flags a joined path left open): its paths, each checked on its own above,
                # go on joined, what they disagree on a value nobody knows
                states = widen(states, Origin("a value that differs between the branches of a loop's body",
                                              stmt.iter, st.modules[-1]))
        finally:
            self.analysis.__dict__.pop("record_outcome", None)
        after = states[0] if not done and len(states) == 1 else None
        uniform = self._uniform_conditions(after, k, in_range, covering) if after is not None else None
        if uniform is None:
            # conditions on sizes that change from one iteration to the next may hold for
            # every index once those sizes are widened: the path is given for that try
            _restore(self.analysis, kept)
            return None, after
        sources: list = []
        grown = loop_fixpoint(st, after, self._ignored_on(stmt, st), self._equal_on(after), sources, covering)
        if grown is None:
            _restore(self.analysis, kept)
            return None, after
        if covering is not None:
            _findings_withdrawn(self.analysis, kept)
        left = S.ceildiv(S.sub(stop, index), step) if step != 1 else S.sub(stop, index)
        memo = {id(source): RepeatedList([], None, left) for source in sources}
        summarised = st.fork(memo)
        for source in sources:
            repeated = memo[id(source)]
            repeated.items = [_copy_value(value, memo) for value in source.items]
            repeated.item = _copy_value(source.items[-1], memo)
        summarised.pc = st.pc + tuple(uniform)
        summarised.unchecked = st.unchecked or after.unchecked
        if covering is not None and summarised.unchecked is None:
            # what the widened iteration assumed holds for one iteration only: a merge there
            # (or a layer's own condition) may fail at some iteration before a later finding's.
            # A merge proven over the widened sizes holds at every iteration, and a condition
            # on them that any sizes meet assumed nothing
            risky = undecided + [m for m in checked if self.analysis.outcomes.get(m[0]) != "proven"]
            if risky or self._assumed(after, in_range, covering, st):
                summarised.unchecked = (risky + [(stmt.iter, st.modules[-1])])[0]
        if type(stmt.target) is cst.Name and any_item(k) is k:  # the last index the range gave
            summarised.assign(stmt.target.value, S.add(index, S.mul(step, S.sub(left, 1))))
        return self._forget_killed(stmt, st, after, summarised), None

    def _assumed(self, after: State, in_range, covering, widened: State) -> bool:
        """Did the iteration over widened sizes assume of them something that need not hold
        at every iteration (a valid convolution's image at least its kernel)?  What every
        size of a tensor meets (at least 1) is no such assumption."""
        left_out = [c for c in after.pc[len(in_range):] if c.names & covering]
        if not left_out:
            return False
        sizes = [d >= 1 for d in _widened_sizes(widened.frames[-1].values(), covering)]
        kept = tuple(c for c in after.pc if not c.names & covering)
        return not all(self.analysis.solver.refutes(kept, sizes + [S.neg(c.term)]) for c in left_out)

    def _uniform_conditions(self, after: State, k, in_range, covering=None):
        """The conditions the iteration added, when those that name ``k`` hold for every ``k``
        in the range (given the others): those others; else None.  Conditions on widened
        sizes (``covering``) are facts of one iteration, left out of the summary."""
        if after.pc[:len(in_range)] != in_range:
            return None
        added = after.pc[len(in_range):]
        name = k.decl().name()
        if covering:
            added = tuple(c for c in added if not c.names & covering)
        uniform = [c for c in added if name not in c.names]
        for condition in added:
            if name in condition.names and not self.analysis.solver.refutes(
                    in_range + tuple(uniform), [S.neg(condition.term)]):
                return None
        return uniform

    def _widened(self, stmt, before: State, after: State):
        """``before`` with each value the iteration changed, a size, a flag or a tensor of the
        same rank (held by a local, in a tuple, an instance's attribute, a list's item, or the
        last item of a list the iteration appended to), replaced by one whose differing sizes
        nobody knows; with those sizes' names.  None when something else changed."""
        widened = before.fork()
        frame, changed = widened.frames[-1], after.frames[-1]
        targets = self._ignored_on(stmt, before)
        equal = self._equal_on(after)
        covering: set = set()
        origin = Origin("a size that changes from one iteration to the next", stmt.iter, before.modules[-1])
        for strict in (False, True):
            # values nobody knows that one iteration passes to the next (``fused_x``, appended
            # to a list as well) each look renamed on their own; where nothing else changed,
            # they are widened too (``strict``)
            seen: set = set()
            for name, value in list(frame.items()):
                if name in targets or name not in changed:
                    continue
                general = _generalised(value, changed[name], equal, origin, covering, seen, strict)
                if general is _NONE_FITS:
                    return None, None
                frame[name] = general
            if covering:
                return widened, frozenset(covering)
        return None, None

    def _equal_on(self, st: State):
        """Are two sizes equal on every input that reaches ``st``?"""
        return lambda a, b: self.analysis.solver.refutes(st.pc, [S.ne(a, b)])

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

    def _ignored(self, stmt) -> frozenset:
        """The locals whose value at the start of an iteration does not matter: the loop
        variables, and those the body assigns before anything reads them."""
        return self.node_fact("killed", stmt, lambda loop: self._targets(loop) | _assigned_before_read(loop.body))

    def _iteration_dead(self, stmt, states) -> frozenset:
        """The locals of ``states`` (paths at the end of an iteration) that neither the next
        iteration (it assigns them first) nor the code after the loop reads."""
        dead = self._dead_after_loop(stmt)
        for s in states:
            dead = dead & self._ignored_on(stmt, s)
        return dead

    def _ignored_on(self, stmt, st: State) -> frozenset:
        """:meth:`_ignored`, but only the loop variables where a function of the path closes
        over the loop's own scope (calling it could read any local)."""
        frame = st.frames[-1]
        if any(isinstance(value, FunctionValue) and any(scope is frame for scope in value.closure)
               for value in frame.values()):
            return self._targets(stmt)
        return self._ignored(stmt)

    def _forget_killed(self, stmt, before: State, after: State, summary: State) -> State:
        """``summary`` with each local the body assigns before reading it, when its value
        differs between ``before`` and ``after`` (``i_name = f(i)``), made a value nobody
        knows: after the loop it holds what the last iteration gave it, which no iteration
        that was run need have given."""
        killed = self._ignored_on(stmt, before) - self._targets(stmt)
        if not killed:
            return summary
        frame, old, new = summary.frames[-1], before.frames[-1], after.frames[-1]
        comparison = _LoopComparison(self._equal_on(after))
        origin = Origin("a value the last iteration of a loop left", stmt.iter, before.modules[-1])
        for name in killed:
            if name not in new:
                continue  # the iteration left it unbound (an exit before it): as before
            if name in old and name in frame and _same(old[name], new[name], {}, comparison):
                continue
            forgotten = opaque(origin.reason)
            forgotten.origin = origin
            frame[name] = forgotten
        return summary

    def _reads_number(self, stmt) -> bool:
        """Does the body of ``for i, item in enumerate(...)`` read ``i`` (outside f-strings)?"""
        target = stmt.target
        if type(target) not in (cst.Tuple, cst.List) or len(target.elements) != 2:
            return self._reads_target(stmt)
        return self._body_reads(stmt, "reads number", frozenset(_names(target.elements[0].value)))

    def _reads_target(self, stmt) -> bool:
        """Does the loop body read the loop variable (outside f-strings, which name things)?"""
        return self._body_reads(stmt, "reads target", self._targets(stmt))

    def _body_reads(self, stmt, what: str, names: frozenset) -> bool:
        """Does the loop body read one of ``names`` (outside f-strings)?  Worked out once."""
        return self.node_fact(what, stmt, lambda loop: _reads(loop.body, names))

    def _function_facts(self, node):
        """:func:`plain_function_facts` of a ``def``, worked out once per file."""
        return self.node_fact("plain function", node, plain_function_facts)

    def _plain_loop(self, stmt, st: State, iterable=None):
        """The paths out of a loop over plain Python values (see :mod:`.plain_loops`), or None."""
        summary = plain_loop_summary(self.node_fact("plain loop", stmt, plain_loop_facts), stmt, st, iterable,
                                     self._function_facts)
        if summary is not None:
            self.analysis.note_opaque("a loop over plain Python values")
        return summary

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
        symbolic = 0  # rounds entered on a test that is no plain bool on some path
        for _ in range(self.budget.max_unroll):
            if symbolic > self.budget.max_symbolic_unroll:
                # as a ``for`` over a symbolic range: the paths still running go no further
                self.analysis.note_budget("symbolic loop bound")
                return self.cap(finished, stmt)
            nxt = []
            decided = True
            for s in states:
                for s2, value in self.eval(stmt.test, s):
                    truth = self.truth(value)
                    summary = None if isinstance(truth, bool) else self._plain_loop(stmt, s2)
                    if summary is not None:
                        finished.extend(summary)
                        continue
                    decided = decided and isinstance(truth, bool)
                    for s3, taken in self.branch(s2, truth):
                        (nxt if taken else finished).append(s3)
            symbolic += not decided
            states = self.exec_suite(stmt.body, nxt)
            states = self._after_iteration(states, finished)
            if not states:
                return self.cap(finished, stmt)
        self.analysis.note_budget("while loop")
        return self.cap(finished, stmt)

    def ex_ListComp(self, node, st):
        repeated = self._repeated_comprehension(node, st)
        if repeated is None:
            repeated = self._comprehension_of_repeated(node, st)
        if repeated is not None:
            return repeated
        return [(s, ListValue(items) if items is not None else opaque("comprehension"))
                for s, items in self.comprehension(node.elt, node.for_in, st)]

    def ex_GeneratorExp(self, node, st):
        return [(s, tuple(items) if items is not None else opaque("generator"))
                for s, items in self.comprehension(node.elt, node.for_in, st)]

    def ex_SetComp(self, node, st):
        return [(st, opaque("set comprehension"))]

    def ex_DictComp(self, node, st):
        return [(st, opaque("dict comprehension"))]

    def _repeated_comprehension(self, node, st):
        """``[value for _ in range(n)]`` with a symbolic ``n``: ``n`` copies of one plain value
        (an int, a string, a tuple of them) the element computes without reading the target or
        calling anything; None for any other comprehension."""
        for_in = node.for_in
        loop = for_in.iter
        if (for_in.ifs or for_in.inner_for_in is not None or not isinstance(loop, cst.Call)
                or not isinstance(loop.func, cst.Name) or loop.func.value != "range"
                or _has_call(loop.args) or _has_call(node.elt)
                or _reads(node.elt, frozenset(_all_names(for_in.target)))):
            return None
        ranges = self.eval(loop, st)
        if len(ranges) != 1 or ranges[0][0] is not st:
            return None
        bounds = self.symbolic_range(ranges[0][1])
        if bounds is None or bounds[2] != 1:
            return None
        values = self.eval(node.elt, st)
        if len(values) != 1 or values[0][0] is not st or not _plain(values[0][1]):
            return None
        start, stop, _ = bounds
        return [(st, RepeatedList([], values[0][1], S.maximum(S.sub(stop, start), 0)))]

    def _comprehension_of_repeated(self, node, st):
        """``[branch(x) for branch in self.branches]`` over a list a loop built (its first
        items, then copies of one): the element for each first item and once for the copies,
        which stand for every copy; None for any other comprehension, or where an element
        forks the path."""
        for_in = node.for_in
        if for_in.ifs or for_in.inner_for_in is not None or not _names_a_value(for_in.iter):
            return None
        sequences = self.eval(for_in.iter, st)  # a name or attribute: reading it twice is harmless
        if len(sequences) != 1 or sequences[0][0] is not st:
            return None
        sequence = sequences[0][1]
        if not isinstance(sequence, RepeatedList) or sequence.spoiled:
            return None
        trial = st.fork()
        _push_comprehension_frame(trial)
        values = []
        for item in [*sequence.items, *sequence.tail, _copy_value(sequence.item, {})]:
            assigned = self.assign(for_in.target, item, trial)
            if len(assigned) != 1 or assigned[0] is not trial:
                return None
            results = self.eval(node.elt, trial)
            if len(results) != 1 or results[0][0] is not trial:
                return None
            values.append(results[0][1])
        trial.pop()
        lead = len(sequence.items)
        return [(trial, RepeatedList(values[:lead], values[-1], sequence.count, values[lead:-1]))]

    def comprehension(self, elt, for_in, st):
        """Evaluate a comprehension in a child frame; [(state, items or None)]."""
        _push_comprehension_frame(st)
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


def _push_comprehension_frame(st: State) -> None:
    """A comprehension's own scope: a copy of the function's locals it reads (none at a
    module's top level, whose names it finds as globals)."""
    st.push(dict(st.locals) if len(st.frames) > 1 else {}, st.closures[-1], st.modules[-1])


def _names_a_value(node) -> bool:
    """Is ``node`` a name or a chain of attributes of one (``self.branches``)?"""
    while type(node) is cst.Attribute:
        node = node.value
    return type(node) is cst.Name


def _once(compute):
    """``compute``, called at most once: later calls give the first answer."""
    found: list = []

    def answer():
        if not found:
            found.append(compute())
        return found[0]

    return answer


def _downward_range(iterable):
    """(start, stop, step) of a ``range`` with a negative step and a symbolic bound, else None."""
    if not isinstance(iterable, SymbolicRange):
        return None
    start, stop, step = iterable.start, iterable.stop, iterable.step
    if not isinstance(step, int) or isinstance(step, bool) or step >= 0:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) or S.is_int_like(v) for v in (start, stop)):
        return None
    return start, stop, step


def _any_item(sequence: Unknown, k) -> Unknown:
    """The item at index ``k`` of a sequence a caller passes: a value nobody knows."""
    return opaque(f"an item of {sequence.label} for an index that is not known")


def _general(value, other, equal, origin, covering: set):
    """One value standing for both ``value`` and ``other`` (a size, a value nobody knows or
    a tensor of the same rank), its differing sizes new opaque ones (their names added to
    ``covering``, and the ids of new unknown values); or None."""
    def size():
        term = S.opaque_int(origin=origin)
        covering.add(term.decl().name())
        return term

    if S.is_int_like(value) and S.is_int_like(other) and not isinstance(value, bool) and not isinstance(other, bool):
        return size()
    if S.is_bool_like(value) and S.is_bool_like(other):  # a flag that changes (``i % 2 == 0``)
        flag = S.opaque_bool(origin=origin)
        covering.add(flag.decl().name())
        return flag
    if isinstance(value, str) and isinstance(other, str):  # text each iteration adds to (``equation += char``)
        text = _anything(origin, covering)
        text._none = False
        return text
    if isinstance(value, Unknown) or isinstance(other, Unknown) or (_is_real(value) and _is_real(other)):
        # (a float that changes, ``head_dim ** -0.5`` of a widened size: a number nobody knows;
        # a tensor or a flag one iteration leaves where another leaves a value nobody knows:
        # ``i in shared`` of a dict whose keys it cannot tell for any ``i``; None, or what joined
        # paths left apart, where the iteration for any index leaves a value nobody knows:
        # ``shared.get(i, None)``)
        if not all(v is None or isinstance(v, (Unknown, Tensor, str, Guarded)) or S.is_int_like(v) or S.is_bool_like(v)
                   or _is_real(v) for v in (value, other)):
            return None
        return _anything(origin, covering)
    if not (isinstance(value, Tensor) and isinstance(other, Tensor)):
        return None
    if not (value.known and other.known):  # each iteration's tensor of a rank nobody knows yet
        return _anything(origin, covering)
    if (value.rank != other.rank or value.channels_last != other.channels_last or value.dtype != other.dtype
            or value.batched != other.batched):
        return None
    widened: dict = {}  # axis -> the fresh size standing for both
    dims = _general_dims(value.dims, other.dims, equal, size, widened)
    if dims is None:
        return None
    tensor = Tensor(dims, channels_last=value.channels_last)
    tensor.dtype = value.dtype
    tensor.origin = origin
    tensor.batched = value.batched
    if value.shadow is not None and other.shadow is not None:
        # the data-time sizes (a sequence length broadcast against another input's each layer)
        # are widened alike: an axis widened above keeps its one fresh size in the shadow.
        # Where one iteration leaves none, the tensor keeps none: they only ever give KSL106
        # findings, never a proof
        shadow, others = value.shadow, other.shadow
        if not (shadow.known and others.known and shadow.rank == others.rank == value.rank):
            return None
        shadow_dims = _general_dims(shadow.dims, others.dims, equal, size, widened, reuse=True)
        if shadow_dims is None:
            return None
        tensor.shadow = Tensor(shadow_dims, label=shadow.label, channels_last=shadow.channels_last)
        tensor.shadow.dtype = shadow.dtype
    return tensor


def _general_dims(dims, others, equal, size, widened: dict, reuse: bool = False):
    """Sizes standing for ``dims`` and ``others`` axis by axis: those alike kept, each other
    one a fresh size (``size()``), noted by axis in ``widened`` (or, with ``reuse``, the one
    already noted for that axis); None where one leaves an axis unknown and the other not."""
    out = []
    for axis, (a, b) in enumerate(zip(dims, others)):
        if a is None or b is None:
            if a is not b:
                return None
            out.append(None)
        elif _same(a, b, {}, _LoopComparison(equal)):
            out.append(a)
        elif reuse and axis in widened:
            out.append(widened[axis])
        else:
            out.append(widened.setdefault(axis, size()))
    return out


def _anything(origin, covering: set) -> Unknown:
    """A value nobody knows, standing for any number, tuple or tensor (its id added to ``covering``)."""
    anything = opaque(origin.reason)
    anything.origin = origin
    covering.add(id(anything))
    return anything


def _is_real(value) -> bool:
    """A float, or a real-valued term."""
    return isinstance(value, float) or (S.is_sym(value) and hasattr(value, "is_real") and value.is_real())


def _generalised(value, other, equal, origin, covering: set, seen: set, strict: bool = False):
    """:func:`_general` through containers: ``value`` (of the widened state, its lists and
    instances changed in place) standing for itself and ``other`` (the same place one
    iteration later); a list that grew by one item keeps its length, its last item standing
    for the new one too.  ``_NONE_FITS`` where no such value is found."""
    if _same(value, other, {}, None if strict and isinstance(value, Unknown) else _LoopComparison(equal)):
        return value
    if type(other) is Unknown and not other.free and isinstance(value, (ListValue, RepeatedList, DictValue,
                                                                        LayerValue, InstanceValue)):
        # a list, dict or layer (Keras's or the code's own) that the iteration for any index left
        # as a value nobody knows (its paths built it one way and another, and were joined): one
        # nobody knows
        return _anything(origin, covering)
    # a tuple, or a list a layer's configuration holds (Sequential's layers)
    if isinstance(value, (tuple, list)) and isinstance(other, tuple) == isinstance(value, tuple) \
            and isinstance(other, (tuple, list)):
        if len(value) != len(other):  # a tuple each iteration adds to (``outputs += (x,)``)
            return _anything(origin, covering) if isinstance(value, tuple) else _NONE_FITS
        items = [_generalised(a, b, equal, origin, covering, seen, strict) for a, b in zip(value, other)]
        if any(item is _NONE_FITS for item in items):
            return _NONE_FITS
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, (ListValue, InstanceValue, DictValue)):
        if type(other) is not type(value):
            return _NONE_FITS
        if id(value) in seen:
            return value
        seen.add(id(value))
        if isinstance(value, InstanceValue):
            if value.cls is not other.cls or value.attrs.keys() != other.attrs.keys():
                return _NONE_FITS
            mapping, others = value.attrs, other.attrs
        elif isinstance(value, DictValue):
            if value.items.keys() < other.items.keys():  # a dict each iteration adds a key to
                return _anything(origin, covering)
            if value.items.keys() != other.items.keys():
                return _NONE_FITS
            mapping, others = value.items, other.items
        else:
            grew = len(other.items) == len(value.items) + 1 and value.items
            if len(other.items) > len(value.items) and not grew:
                # a list each iteration appends several items to (a layer and its activation):
                # a list nobody knows
                return _anything(origin, covering)
            if len(other.items) != len(value.items) and not grew:
                return _NONE_FITS
            mapping = dict(enumerate(value.items))
            others = dict(enumerate(other.items[:len(value.items)]))
            if grew:  # the last item stands for the one appended as well
                last = _generalised(value.items[-1], other.items[-1], equal, origin, covering, seen, strict)
                if last is _NONE_FITS:
                    return _NONE_FITS
                mapping[len(value.items) - 1] = value.items[-1] = last
                others[len(value.items) - 1] = last
        for key in list(mapping):
            general = _generalised(mapping[key], others[key], equal, origin, covering, seen, strict)
            if general is _NONE_FITS:
                return _NONE_FITS
            mapping[key] = general
        if isinstance(value, ListValue):
            value.items = [mapping[i] for i in range(len(value.items))]
        return value
    if isinstance(value, RepeatedList):
        # a list built by a loop that an iteration changes (``shapes[i] = shape``): a list
        # nothing can be read of, its length included
        if type(other) is not RepeatedList:
            return _NONE_FITS
        value.spoiled = True
        covering.add(id(value))  # (counted among the values widened: the iteration is tried again)
        return value
    if isinstance(value, FunctionValue):
        # a function defined before the loop that closes over names the loop changes: those
        # are widened in the frames it closes over, which are the widened path's own
        if (type(other) is not FunctionValue or other.node is not value.node or other.module is not value.module
                or value.is_lambda != other.is_lambda or value.defaults.keys() != other.defaults.keys()):
            return _NONE_FITS
        if id(value) in seen:
            return value
        seen.add(id(value))
        for key in list(value.defaults):
            value.defaults[key] = _generalised(value.defaults[key], other.defaults[key], equal, origin, covering,
                                               seen, strict)
            if value.defaults[key] is _NONE_FITS:
                return _NONE_FITS
        if value.bound_self is not None or other.bound_self is not None:
            bound = _generalised(value.bound_self, other.bound_self, equal, origin, covering, seen, strict)
            if bound is _NONE_FITS:
                return _NONE_FITS
            value.bound_self = bound
        return value
    if isinstance(value, LayerValue):  # a Keras layer each iteration configures with its own sizes
        if (type(other) is not LayerValue or other.model is not value.model or other.call_node is not value.call_node
                or value.config.keys() != other.config.keys()
                or not _same(value.built, other.built, {}, _LoopComparison(equal))):
            return _NONE_FITS
        if id(value) in seen:
            return value
        seen.add(id(value))
        config = {}
        for key, setting in value.config.items():
            config[key] = _generalised(setting, other.config[key], equal, origin, covering, seen, strict)
            if config[key] is _NONE_FITS:
                return _NONE_FITS
        value.config = config  # the widened path's own copy of the layer (its configuration is shared)
        return value
    general = _general(value, other, equal, origin, covering)
    return _NONE_FITS if general is None else general


def _watching(analysis, undecided: list, checked: list):
    """``analysis.record_outcome`` that also notes each merge checked, as (node, module), in
    ``undecided`` when it was left undecided, else in ``checked``."""
    record = type(analysis).record_outcome

    def watched(node, outcome, module=None, reason=None):
        (undecided if outcome == "undecided" else checked).append((node, module or analysis.main))
        return record(analysis, node, outcome, module, reason)

    return watched


def _findings_withdrawn(analysis, kept) -> None:
    """Findings of an iteration over widened sizes are not reported (an earlier iteration
    that really ran reports what fails): they become undecided merges."""
    outcomes, blocked, drafts, pending = kept[:4]
    for node, outcome in list(analysis.outcomes.items()):
        if outcome == "flagged" and outcomes.get(node) != "flagged":
            analysis.outcomes[node] = "undecided"
            analysis.blocked.setdefault(node, "a size that changes from one iteration to the next")
    analysis.drafts = drafts
    analysis.pending = pending


def _speculate(analysis):
    """What an iteration that may be taken back could change in ``analysis``."""
    return (dict(analysis.outcomes), dict(analysis.blocked), dict(analysis.drafts), list(analysis.pending),
            set(analysis.entered), analysis.opaque_reasons.copy(), analysis.budget_notes.copy(),
            len(analysis.kept_calls))


def _restore(analysis, kept) -> None:
    (analysis.outcomes, analysis.blocked, analysis.drafts, analysis.pending, analysis.entered,
     analysis.opaque_reasons, analysis.budget_notes, calls) = kept
    # a call kept while the iteration ran was run for outcomes now taken back: a later call
    # with its key must run, and record them, again (a dict keeps its keys in the order added)
    while len(analysis.kept_calls) > calls:
        analysis.kept_calls.popitem()


def _names(target) -> list:
    if type(target) is cst.Name:
        return [target.value]
    if type(target) in (cst.Tuple, cst.List):
        return [name for element in target.elements for name in _names(element.value)]
    return []


def _assigned_before_read(body) -> frozenset:
    """Names the statements of ``body`` bind (``name = ...`` at the top of the body, or in
    both branches of an ``if``) before any earlier statement, or the value bound, names
    them: their value when the body starts is never read."""
    return frozenset(_kills(getattr(body, "body", ()), set()))


def _kills(statements, seen: set) -> set:
    """The names ``statements`` bind before reading (see :func:`_assigned_before_read`);
    ``seen`` (every name met so far, read or bound) is updated."""
    killed: set = set()
    for statement in statements:
        if type(statement) is cst.If and statement.orelse is not None:
            before = seen | _all_names(statement.test)
            body = _kills(statement.body.body, set(before))
            orelse = statement.orelse
            other = _kills(orelse.body.body if type(orelse) is cst.Else else [orelse], set(before))
            killed |= (body & other) - seen
            seen |= _all_names(statement)
            continue
        small = statement.body if type(statement) is cst.SimpleStatementLine else None
        for part in small if small is not None else (statement,):
            bound = _plain_assignment(part)
            if bound is not None:
                targets, value = bound
                read = _all_names(value)
                killed |= {name for name in targets if name not in seen and name not in read}
                seen |= read | set(targets)
            else:
                seen |= _all_names(part)
    return killed


def _plain_assignment(node):
    """([names], value) of ``a = b = value`` or ``a, b = value`` whose targets are names or
    unpack into names (those bound; an item stored elsewhere, ``a, self.b = value``, binds no
    local); else None."""
    if type(node) is cst.Assign and all(type(t.target) in (cst.Name, cst.Tuple, cst.List) for t in node.targets):
        return [name for t in node.targets for name in _names(t.target)], node.value
    return None


def _plain(value) -> bool:
    """A value copies of which can share one object: a number, a string, None, a tuple of them."""
    if value is None or isinstance(value, (bool, int, float, str)) or S.is_sym(value):
        return True
    return isinstance(value, tuple) and all(_plain(v) for v in value)


def _has_call(node) -> bool:
    roots = node if isinstance(node, (tuple, list)) else [node]
    return any(type(current) in (cst.Call, cst.Lambda, cst.NamedExpr, cst.Await, cst.Yield)
               for root in roots for current in walk(root))


def _all_names(node) -> set:
    return {current.value for current in walk(node) if type(current) is cst.Name}


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


def _widened_sizes(values, covering) -> list:
    """The sizes of the tensors among ``values`` (in tuples, lists and instances too) that a
    widened iteration made stand for any iteration's (their names in ``covering``)."""
    out, seen, todo = [], set(), list(values)
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, Tensor) and value.dims is not None:
            out.extend(d for d in value.dims if S.is_sym(d) and S.is_int_like(d) and d.decl().name() in covering)
        elif isinstance(value, tuple):
            todo.extend(value)
        elif isinstance(value, ListValue):
            todo.extend(value.items)
        elif isinstance(value, InstanceValue):
            todo.extend(value.attrs.values())
    return out


def _find_appends(node) -> bool:
    return any(type(current) is cst.Call and type(current.func) is cst.Attribute
               and current.func.attr.value == "append" for current in walk(node))


def _running(index, stop):
    """The condition that a range loop at ``index`` runs once more."""
    return S.conj(index < stop) if S.is_sym(index) or S.is_sym(stop) else index < stop
