"""One file's analysis: run the module and its entry points, collect merge outcomes.

Entry points are the module's top level and every top-level function that
nothing else in the module names: their parameters are free (a caller may
pass anything), so a merge that fails for some choice of them is a finding.
Functions the module does call are analysed only inside their callers.
"""

from __future__ import annotations

import ast
import re
import time
from collections import Counter
from dataclasses import dataclass, replace

import libcst as cst
import z3

from . import frontend
from . import symbolic as S
from .checks import Draft, preference_groups
from .findings import CallSite, Finding, Witness
from .interpreter import BudgetExceeded, Interpreter
from .options import Options
from .prefilter import mentions_keras, too_large_to_parse, too_large_to_read
from .shown_sizes import data_names
from .solver import Solver
from .state import ModuleInfo, State, _copy_dict
from .syntax_facts import SyntaxFacts, read_syntax
from .classes import bind_method, lookup_class_attribute
from .own_code import defined_nodes, only_constructors, runs_own_code, runs_own_code_when_called
from .values import ClassValue, DictValue, FunctionValue, ListValue, Tensor, Unknown


@dataclass
class FreeParam:
    name: str
    value: object
    default: object
    group: str = "args"  # "args" of a function or "init" of a class; "call" of its call()
    keyword_only: bool = False

    @property
    def flag_like(self) -> bool:
        """Its truth is its value: a bool default, or none (a flag a caller passes)."""
        return self.default is _MISSING or isinstance(self.default, bool)


_MISSING = object()
ENTRY_RESERVE_S = 0.25  # seconds of the file's budget kept for each entry point not yet analysed
# an entry point that runs out of steps or of this share of its time runs again with at most
# COARSE_PATHS paths (Analysis._run_entry_or_coarser)
FIRST_TRY_SHARE = 0.7
COARSE_PATHS = 2
_WHAT_RAN_OUT = {"step budget": "steps", "time budget": "time"}


class Analysis:
    def __init__(self, module: cst.Module, options: Options | None = None, path: str | None = None,
                 tree=None, started: float | None = None, facts: SyntaxFacts | None = None):
        S.reset_caches()
        self.module = module
        self.path = path
        self.tree = tree  # the standard library's syntax tree of the same text, if parsed
        self._facts = facts
        self._own = None
        self._only_init = None
        self.suppress_checks = 0
        # inside a call() Keras runs only on data (its class declares compute_output_shape()):
        # its merges fail on the first batch, not while the model is built
        self.data_only = 0
        self.options = options or Options()
        self.budget = self.options
        # the budget counts from ``started`` (when the caller began, parsing included)
        self.deadline = (started if started is not None else time.monotonic()) + self.options.time_budget_s
        self.entry_deadline = self.deadline  # the one entry point being analysed stops here
        self.globals_rebound = False  # a ``global`` statement ran: calls are not reused (calls.py)
        self.solver = Solver(self.options.timeout_ms, deadline=self.deadline)
        self.outcomes: dict = {}
        # merges that compared an axis Keras does not size at build time (None): proven only
        # as far as the build goes
        self.unsized_merges: set = set()
        self.blocked: dict = {}  # undecided merge -> what kept it undecided, in words
        self.unread_merges: dict = {}  # join reached with inputs nobody could read -> (module, why)
        self.entered: set = set()  # ids of the function nodes whose bodies ran
        self.skipped: set = set()  # ids of the entry points the time budget left unanalysed
        self.drafts: dict = {}
        self.pending: list = []  # this entry point's drafts whose witness needs a finished build
        self.opaque_reasons: Counter = Counter()
        self._later: list = []  # words that name a line, each worked out when first read (in_words)
        self.budget_notes: Counter = Counter()
        self.coarser: list = []  # "entry: why" for each entry point analysed again with paths joined
        self.import_notes: set = set()  # budget notes of imported modules a budget cut short
        self.internal_errors: list = []
        self.entry_name: str | None = None
        self.entry_runs = 0  # entry points run so far, each try and each run with parameters freed
        self.kept_calls: dict = {}  # key -> what a call did (calls.Calls._memo), in the order kept
        self.free_params: list[FreeParam] = []
        self.needed_inputs: set = set()  # the entry call()'s inputs Keras asks the shapes of
        self.entry_class: ClassValue | None = None
        # the entry read its inputs' batch size as a number (``ops.zeros((ops.shape(x)[0], n))``)
        self.batch_read = False
        self.import_seconds = 0.0  # spent reading and running the project modules imported
        self.modules_charged: set = set()  # cache keys of the project modules whose steps it paid
        self.modules_unread: set = set()  # cache keys of the project modules a budget cut short
        # id of a decorated ``def`` -> the function as written (entry points run it undecorated)
        self.undecorated: dict = {}
        self._merge_nodes: set | None = None
        # ids of the reshapes of a batch that give the batch's place a size of its own: a batch
        # of another size fails there, and no witness is written past one
        self.unfit_reshapes: set = set()
        self.none_subscripts: set = set()  # ids of subscripts found applied to None (subscripts.py)
        # ids of calls of a TensorFlow tensor's method Keras 3's symbolic tensors lack (attributes.py)
        self.keras_tensor_methods: set = set()

    # ---------------------------------------------------------------- notes
    def note_opaque(self, reason: str) -> None:
        self.opaque_reasons[reason] += 1

    def note_budget(self, reason: str) -> None:
        self.budget_notes[reason] += 1

    def note_internal(self, message: str) -> None:
        self.internal_errors.append(message)

    def record_outcome(self, node, outcome: str, module=None, reason=None) -> None:
        """What one path found at a merge; the merge keeps the strongest (flagged over
        undecided over proven) and, while undecided, what blocked it."""
        if module is not None and module is not self.main:
            return  # counted where that module is linted
        previous = self.outcomes.get(node)
        rank = {"proven": 0, "undecided": 1, "flagged": 2}
        if previous is None or rank[outcome] > rank[previous]:
            self.outcomes[node] = outcome
        if outcome == "undecided" and node not in self.blocked:
            # ``reason`` may be a function giving the words (naming a line costs the positions
            # of a module's code): called only here, where the first reason is kept
            self.blocked[node] = (reason() if callable(reason) else reason) or \
                "it depends on a value the analyser cannot read"

    def note_unread_merge(self, node, module, reason) -> None:
        """A function that joins tensors (``ops.concatenate``) reached with inputs nobody
        could read: no merge on this path as far as anyone can tell, but where other paths
        checked it as one, this path leaves it undecided (:meth:`settle_unread_merges`)."""
        self.unread_merges.setdefault(node, (module, reason))

    def settle_unread_merges(self) -> None:
        for node, (module, reason) in self.unread_merges.items():
            if node in self.outcomes:
                self.record_outcome(node, "undecided", module, reason)

    def record_draft(self, draft: Draft) -> None:
        if self.wants_draft(draft.node, draft.code, draft.chain):
            self.drafts[(id(draft.node), draft.code)] = draft
            if "pending" in draft.extra:
                self.pending.append(draft)

    def complete_builds(self, finished: list) -> None:
        """Findings that claim the model builds (KSL105, KSL106) keep a witness only from a
        path that finished building: re-solved with that path's whole condition, which
        fixes what the rest of the build reads (list lengths, later layers' sizes).  A
        finding no finished path reaches is dropped: nothing shows the model builds."""
        for draft in self.pending:
            key = (id(draft.node), draft.code)
            if self.drafts.get(key) is not draft:
                continue
            terms, failure = draft.extra.pop("pending")
            witness = None
            for st in finished:
                witness = self.witness([c.term for c in st.pc] + terms + [failure],
                                       with_data=draft.code == "KSL106", inputs=st.inputs)
                if witness is not None:
                    break
            if witness is None:
                del self.drafts[key]
                if self.outcomes.get(draft.node) == "flagged" and not any(
                        other.node is draft.node for other in self.drafts.values()):
                    # nothing shows the model builds: the merge is not flagged after all
                    self.outcomes[draft.node] = "undecided"
                    self.blocked.setdefault(draft.node, "no path the analyser finished builds the whole model")
            else:
                draft.witness_args = witness
                draft.fields["data_names"] = data_names(st.inputs)
        self.pending = []

    def wants_draft(self, node, code: str, chain) -> bool:
        """Would a finding here be kept?  One per merge and code, reached by the shortest
        call chain: asked before a witness is searched for, which is costly."""
        kept = self.drafts.get((id(node), code))
        return kept is None or len(chain) < len(kept.chain)

    def later_words(self, compute) -> str:
        """A stand-in for words that name a line (costly: the positions of a statement's
        code), worked out by :meth:`in_words` only where they are read."""
        self._later.append(compute)
        return f"\0{len(self._later) - 1}\0"

    def in_words(self, text: str) -> str:
        """``text`` with the words :meth:`later_words` stood in for written out."""
        if "\0" not in text:
            return text

        def words(match) -> str:
            index = int(match.group(1))
            done = self._later[index]
            if callable(done):
                done = self._later[index] = done()
            return done

        return _LATER.sub(words, text)

    # ------------------------------------------------------------- running
    def run(self) -> list[Finding]:
        from .project import ACTIVE

        previous, ACTIVE[0] = ACTIVE[0], self
        try:
            return self._run()
        finally:
            ACTIVE[0] = previous  # not kept past its run: what it explored can go

    def _run(self) -> list[Finding]:
        from .project import ModuleLoader

        interp = self.interp = Interpreter(self)
        self.main = ModuleInfo(self.module, self.path, scope=None, loader=ModuleLoader(self, self.path),
                               syntax=self.tree, generators=self.facts.generators)
        start = State({}, self.main)
        self.entry_name = None
        self.free_params = []
        states = self._guarded(lambda: interp.exec_block(self.module.body, [start]), "module")
        self.complete_builds(states)
        module_scope = states[0].globals if states else start.globals
        entries = self._entry_points(module_scope)
        for number, entry in enumerate(entries):
            now = time.monotonic()
            if now > self.deadline:
                # each entry point would only start and stop again: say so once
                self.note_budget(f"time budget: {len(entries) - number} entry points not analysed")
                for skipped in entries[number:]:
                    methods = skipped.attrs.values() if isinstance(skipped, ClassValue) else ()
                    self.skipped.update([id(skipped.node)] + [id(m.node) for m in methods
                                                              if isinstance(m, FunctionValue)])
                break
            self._share_time(now, len(entries) - number - 1)
            try:
                self._guarded(lambda entry=entry: self._run_entry_or_coarser(interp, entry, module_scope, now),
                              entry.name)
            finally:
                self._share_time(now, 0)
            self.complete_builds([])  # an entry point stopped early: its builds did not finish
        self.settle_unread_merges()
        return self.findings()

    def _run_entry_or_coarser(self, interp: Interpreter, entry, module_scope: dict, now: float) -> None:
        """Run one entry point; when it runs out of steps, or of its share of the time
        (:data:`FIRST_TRY_SHARE`), run it again from the start with its paths joined to
        :data:`COARSE_PATHS` (what they disagree on a value nobody knows) in the time left.

        What the first try found stays (each finding has its witness); what it proved or left
        undecided is forgotten, the second try having seen every path, joined.  ``now``: when
        the entry point starts."""
        end = self.entry_deadline
        self.entry_deadline = self.solver.deadline = now + FIRST_TRY_SHARE * (end - now)
        before = _Decided(self)
        try:
            self._run_entry(interp, entry, module_scope)
            return
        except BudgetExceeded as exhausted:
            if time.monotonic() >= end:
                raise  # no time left for a second try: stopped early, as far as the first one got
            reason = str(exhausted)
        finally:
            self.entry_deadline = self.solver.deadline = end
        self.complete_builds([])  # (a finding waiting for a finished build has none)
        before.restore_all_but_findings(self)
        self.coarser.append(f"{entry.name}: {reason}")
        coarse = replace(self.options, max_paths=min(COARSE_PATHS, self.options.max_paths))
        self.budget = interp.budget = coarse
        try:
            self._run_entry(interp, entry, module_scope)
        finally:
            self.budget = interp.budget = self.options
            # a merge the first try reached that the second cannot read (an operand joined into
            # a value nobody knows) is undecided, not forgotten
            for node in before.reached_since:
                if node not in self.outcomes:
                    self.record_outcome(node, "undecided", reason="the first try reached it and ran out of "
                                        f"{_WHAT_RAN_OUT.get(reason, reason)}; the second, its paths joined, "
                                        "could not read it")

    def _share_time(self, now: float, later: int) -> None:
        """Keep some of the file's time for the ``later`` entry points: a large model class
        that would spend it all leaves each of them a little (at most half of what is left),
        so that a small layer after it (a sampler, a head) is still analysed."""
        reserve = min(ENTRY_RESERVE_S * later, (self.deadline - now) / 2) if later else 0.0
        self.entry_deadline = self.solver.deadline = self.deadline - max(0.0, reserve)

    @property
    def own_definitions(self) -> set:
        """Ids of the classes, functions and lambdas written in this file (walked once)."""
        if self._own is None:
            self._own = defined_nodes(self.module)
        return self._own

    @property
    def only_constructors(self) -> bool:
        """Are this file's only functions ``__init__`` methods (own_code.only_constructors)?"""
        if self._only_init is None:
            self._only_init = only_constructors(self.module)
        return self._only_init

    @property
    def merge_nodes(self) -> set:
        """Ids of the merges written in this file (found once)."""
        if self._merge_nodes is None:
            self._merge_nodes = {id(node) for node in merge_sites(self.module)}
        return self._merge_nodes

    @property
    def facts(self) -> SyntaxFacts:
        """What the standard library's syntax tree says (read once, here if the caller did not)."""
        if self._facts is None:
            tree = self.tree
            if tree is None:
                try:
                    tree = ast.parse(self.module.code)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    tree = ast.Module(body=[], type_ignores=[])
            self._facts = read_syntax(tree)
        return self._facts

    def execute_module(self, info: ModuleInfo, loader) -> bool:
        """Run an imported module's top level (its merges are checked where they are called).
        False when a budget stopped it part way."""
        info.loader = loader
        before = Counter(self.budget_notes)
        self.suppress_checks += 1
        try:
            self._guarded(lambda: self.interp.exec_block(info.tree.body, [State(info.scope, info)]), str(info.path))
        finally:
            self.suppress_checks -= 1
        # (kept if the entry point runs again: the module is not read again in this analysis)
        self.import_notes.update(self.budget_notes - before)
        return self.budget_notes == before

    def _guarded(self, action, where: str):
        try:
            return action()
        except BudgetExceeded as exhausted:
            self.note_budget(f"{where}: {exhausted}")
        except RecursionError:
            self.note_budget(f"{where}: Python recursion limit")
        except (z3.Z3Exception, ArithmeticError, TypeError, ValueError, AttributeError,
                IndexError, KeyError, AssertionError) as error:
            self.note_internal(f"{where}: {type(error).__name__}: {error}")
        return []

    def _entry_points(self, module_scope: dict) -> list:
        """Top-level functions, and Keras layer or model classes, that nothing here uses.

        A decorated function is analysed as written.  A Keras class is an entry point
        when it defines ``call`` (constructed, then called) or builds itself in
        ``__init__`` (a functional model handed to ``super().__init__``).
        """
        counts = self.facts.uses
        entries = []
        for stmt in self.module.body:
            if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) or counts[stmt.name.value] > 0:
                continue
            value = self.undecorated.get(id(stmt), module_scope.get(stmt.name.value))
            if isinstance(value, FunctionValue) and value.node is stmt:
                entries.append(value)
            elif isinstance(value, ClassValue) and value.node is stmt and value.keras_base.startswith(KERAS_BASES):
                runs = isinstance(lookup_class_attribute(value, "call"), FunctionValue) or _builds_in_init(value)
                if runs and runs_own_code(value, self.own_definitions):
                    entries.append(value)
            elif isinstance(value, ClassValue) and value.node is stmt:
                # a plain class of builders: its static and class methods are functions
                for method in value.attrs.values():
                    if isinstance(method, FunctionValue) and method.kind == "static":
                        entries.append(method)
                    elif isinstance(method, FunctionValue) and method.kind == "class":
                        entries.append(bind_method(method, value))
        return entries

    def data_input(self, st, dims, name: str | None = None) -> Tensor:
        """The data-time shadow of a new ``Input`` whose ``None`` sizes become symbols,
        named after the user's ``name`` for the Input (``image.shape[1]``) when it is unique
        on the path ``st``, which keeps it among its own (another path that makes the same
        Input makes the same symbols: the two can join again)."""
        number = len(st.inputs) + 1
        if not name or any(shadow.label == name for shadow in st.inputs):
            name = f"input{number}"
        shadow = Tensor(tuple(S.dynamic_int(f"{name}.shape[{i + 1}]") if d is None else d
                              for i, d in enumerate(dims)), label=name)
        st.inputs = st.inputs + (shadow,)
        return shadow

    def _run_entry(self, interp: Interpreter, entry, module_scope: dict, freed=frozenset()):
        """Run one entry point on free arguments.  When every path raises on a test that read
        a parameter's default (``if stage_type not in ("dark", "csp"): raise`` with
        ``stage_type=None``), the default is one no caller can keep: the entry runs once more
        with those parameters free (``freed``)."""
        interp.steps = 0  # the step budget is per entry point
        self.entry_runs += 1  # (calls on symbolic sizes are kept for one run: call_memo.py)
        interp.rejected, interp.refused_none, interp.passed_over = set(), set(), []
        interp.subscripted_none = set()
        self.batch_read = False
        st = State(_copy_dict(module_scope, {}), self.main)
        self.free_params = []
        self.needed_inputs = set()
        self.entry_name = getattr(entry, "qualname", "") or entry.name
        self.entry_class = entry if isinstance(entry, ClassValue) else None  # its dtype: dtypes.py
        if isinstance(entry, ClassValue):
            # construct the layer with free arguments, then call it on free inputs
            init = lookup_class_attribute(entry, "__init__")
            init_args = self._free_arguments(init, "init", freed=freed) if isinstance(init, FunctionValue) else ([], {})
            call = lookup_class_attribute(entry, "call")
            build = lookup_class_attribute(entry, "build")
            # an input whose shape build() or compute_output_shape() asks for by name is one Keras
            # needs, even if call() defaults it (Keras passes a shape only for a tensor it got)
            needed = set()
            for method in (build, lookup_class_attribute(entry, "compute_output_shape")):
                if isinstance(method, FunctionValue):
                    needed |= _shape_names(method)
            self.needed_inputs = needed
            call_args = self._free_arguments(call, "call", needed | freed) if isinstance(call, FunctionValue) else None
            if call_args is not None and call_args[0]:
                self._split_unpacked_input(call, build, call_args[0])
            finished = []
            built = interp.calls.instantiate(entry, *init_args, st, None)
            retry = _rejected_defaults(init, interp.rejected) if not built and not freed else None
            if retry:
                return self._run_entry(interp, entry, module_scope, retry)
            for s, instance in built:
                if call_args is None or not self.pending and not runs_own_code_when_called(
                        instance, self.own_definitions, self.only_constructors):
                    # (a call that runs none of this file's code can place no finding here)
                    finished.append(s)
                else:
                    finished.extend(r for r, _ in interp.calls.call_instance(instance, *call_args, s, None))
            # every call raised on a default of its own (``valid_inputs[0]`` with all inputs None), or
            # of the constructor's that build() or call() uses (``BatchNormalization(axis=self.channel_axis)``)
            retry = (_rejected_defaults(call, interp.rejected) | _rejected_defaults(init, interp.refused_none)
                     if built and not finished and not freed else None)
            if retry:
                return self._run_entry(interp, entry, module_scope, retry)
            self.complete_builds(finished)
            self._run_past_defaults(interp, init, entry, module_scope, freed, call)
            return
        frame: dict = {}
        named = self._free_parameters(entry, "args", skip_first=entry.bound_self is not None, freed=freed)
        if entry.bound_self is not None:  # a class method: its first parameter is the class
            first = (list(entry.node.params.posonly_params) + list(entry.node.params.params))[0]
            frame[first.name.value] = entry.bound_self
        for param, value in named:
            frame[param.name.value] = value
        params = entry.node.params
        if isinstance(params.star_arg, cst.Param):
            frame[params.star_arg.name.value] = ()
        if params.star_kwarg is not None:
            frame[params.star_kwarg.name.value] = DictValue()
        st.push(frame, entry.closure, entry.module)
        self.entered.add(id(entry.node))
        interp.scopes[:] = [entry.node]
        finished = interp.exec_suite(entry.node.body, [st])
        retry = _rejected_defaults(entry, interp.rejected) if not finished and not freed else None
        if retry:
            return self._run_entry(interp, entry, module_scope, retry)
        applied = []
        for s in finished:
            if s.flow == "return" and isinstance(s.retval, FunctionValue):
                # a block builder returns the function that applies the block (``return apply``):
                # it is applied to free inputs, as a caller would
                inner, s.flow, s.retval = s.retval, None, None
                args = [value for _, value in self._free_parameters(inner, "call",
                                                                    skip_first=inner.bound_self is not None)]
                applied.extend(r for r, _ in interp.calls.call_user(inner, args, {}, s, None))
            else:
                applied.append(s)
        self.complete_builds(applied)
        self._run_past_defaults(interp, entry, entry, module_scope, freed)

    def _run_past_defaults(self, interp: Interpreter, fn, entry, module_scope: dict, freed, call=None) -> None:
        """A merge that a test on a parameter's default kept every path away from (``if
        low_level_feature_key:`` with its default None) is one a caller reaches by passing
        something else: the entry runs once more with those parameters free."""
        if freed:
            return
        names = {name for names, nodes in interp.passed_over if any(n not in self.outcomes for n in nodes)
                 for name in names}
        retry = _rejected_defaults(fn, names)
        if interp.subscripted_none and any(outcome == "undecided" for outcome in self.outcomes.values()):
            # a merge after a subscript of a parameter left at None (``mask[:, None]``) was not
            # checked on that path: a caller that passes the parameter gets there (a layer's
            # call() parameter, as its constructor's)
            for method in (fn, call):
                if isinstance(method, FunctionValue):
                    retry = retry | _rejected_defaults(method, interp.subscripted_none)
        if retry:
            self._run_entry(interp, entry, module_scope, retry)

    def _free_parameters(self, fn: FunctionValue, group: str, skip_first: bool = False, inputs=frozenset(),
                         freed=frozenset()):
        """Each named parameter of ``fn`` with a free value (recorded for witnesses);
        those named in ``inputs`` are free inputs whatever their default, those in ``freed``
        free whatever their default (which a witness still prefers)."""
        params = fn.node.params
        named = list(params.posonly_params) + list(params.params)
        if skip_first:
            named = named[1:]
        out = []
        for param in named + list(params.kwonly_params):
            name = param.name.value
            default = _MISSING if name in inputs else fn.defaults.get(name, _MISSING)
            value = _free_value(name, default) if name not in freed else _freed_value(name, default)
            if group == "init" and isinstance(value, Unknown):
                value.config = True
            elif group == "call" and isinstance(value, Unknown):
                value.input = True
            self.free_params.append(FreeParam(name, value, default, group, param in params.kwonly_params))
            out.append((param, value))
        return out

    def _split_unpacked_input(self, call: FunctionValue, build, args: list) -> None:
        """``hidden, context = inputs`` at the top of ``call`` (or ``a_shape, b_shape =
        input_shape`` in ``build``): the caller passes that many tensors as one sequence, each
        of them a free input of its own (a witness gives a list of inputs)."""
        first = args[0]
        count = _unpacked_count(call, 1)
        if count is None and isinstance(build, FunctionValue):
            count = _unpacked_count(build, 1, shapes=True)
        if count is None or not isinstance(first, Unknown) or first.used_as is not None:
            return
        items = tuple(first.item(index) for index in range(count))
        args[0] = items
        for param in self.free_params:
            if param.value is first:
                param.value = items

    def _free_arguments(self, method: FunctionValue, group: str, inputs=frozenset(), freed=frozenset()):
        """Free positional and keyword arguments for a method (``self`` excluded)."""
        args, kwargs = [], {}
        for param, value in self._free_parameters(method, group, skip_first=True, inputs=inputs, freed=freed):
            if param in method.node.params.kwonly_params:
                kwargs[param.name.value] = value
            else:
                args.append(value)
        return args, kwargs

    def entry_defaults(self) -> dict:
        return {p.name: p.default for p in self.free_params if p.default is not _MISSING}

    # ------------------------------------------------------------ witnesses
    def _free_views(self) -> list:
        free = []
        for param in self.free_params:
            _free_views(param.name, param.value, param.default, free)
        return free

    def input_sizes(self, free=None) -> list:
        """``size >= 1`` for each size of the entry's free inputs: Keras refuses a negative one
        before any merge, and no witness gives an empty one, so a merge that fails only there
        is proven."""
        free = self._free_views() if free is None else free
        return [var >= 1 for _, var, _, role in free if role in ("channels", "spatial") and S.is_sym(var)]

    def witness(self, terms, soft=(), with_data: bool = False, inputs=()) -> dict | None:
        """Concrete entry arguments satisfying ``terms`` (None if none found).

        ``with_data`` adds the sizes of the data fed to each ``Input`` whose
        shape has ``None`` in it (under ``"data"``): ``inputs``, the data-time shadows of
        those the path made.
        """
        if time.monotonic() > self.deadline:
            return None
        free = self._free_views()
        sizes = self.input_sizes(free)
        data_dims = [d for shadow in inputs for d in shadow.dims if S.is_sym(d)] if with_data else []
        free += [(None, dim, None, "spatial") for dim in data_dims]
        terms = list(terms) + [dim >= 1 for dim in data_dims] + sizes + _truth_links(self.free_params)
        if any(isinstance(p.value, Unknown) and p.value.used_as == "unread" and p.default is _MISSING
               for p in self.free_params):
            return None  # an argument went where nobody learnt what it must be: no call to write down
        model = self.solver.model(terms, preference_groups(free, soft))
        if model is None:
            return None
        groups: dict = {}
        # a function called on Keras inputs sees their batch size as None, and ops.zeros or
        # ops.tile refuses None: where the entry reads it as a number, the inputs have one (in a
        # layer's call() Keras traces it as a tensor, and any batch size works)
        batch = WITNESS_BATCH if self.batch_read and all(p.group != "call" for p in self.free_params) else None
        for param in self.free_params:
            value = _witness_value(param, model, batch)
            if value is None and param.group == "call" and param.name in self.needed_inputs:
                if not isinstance(param.value, Unknown) or param.value.used_as is not None:
                    return None  # Keras asks for this input's shape: None is no call it can build
                # never read on the path: any tensor will do where Keras asks for one
                value = {"shape": [batch, SEQUENCE]}
            if value is not _MISSING:
                groups.setdefault("call" if param.group == "call" else "args", {})[param.name] = value
        if with_data:
            groups["data"] = [[None] + [_evaluate(d, model) for d in shadow.dims] for shadow in inputs]
        return groups

    # ------------------------------------------------------------- results
    def findings(self) -> list[Finding]:
        if not self.drafts:
            return []
        out = []
        for draft in self.drafts.values():
            located = self._locate(draft)
            if located is None:
                continue
            start, chain, elsewhere = located
            fields = dict(draft.fields)
            fields["when"] = _when_text(draft.decisions)
            fields["chain"] = _chain_text(draft.entry, chain) + elsewhere
            shown = {**draft.witness_args.get("args", {}), **draft.witness_args.get("call", {})}
            for number, shape in enumerate(draft.witness_args.get("data", ()), 1):
                shown[f"data for input {number}"] = {"shape": shape}
            fields["example"] = _example_text(shown, draft.decisions, draft.extra.get("defaults", {}))
            out.append(Finding(
                code=draft.code,
                line=start.line,
                col=start.column,
                fields=fields,
                path_condition=list(draft.decisions),
                call_chain=chain,
                witness=Witness(draft.entry, draft.witness_args.get("args", {}), draft.witness_args.get("call"),
                                draft.witness_args.get("data"),
                                fields.get("data_names") if draft.witness_args.get("data") is not None else None),
            ))
        out.sort(key=lambda f: (f.line, f.col, f.code))
        return out

    def _locate(self, draft: Draft):
        """Where a finding is reported: at the merge, or, when the merge lives in an
        imported module, at the call in this file that leads there."""
        def is_main(module) -> bool:
            return module is None or module is self.main

        chain = []
        for name, call, _, caller in draft.chain:
            if call is not None:
                chain.append(CallSite(name, caller_line(caller, call), _file_name(caller, self.main)))
        if is_main(draft.module):
            return self.main.start(draft.node), chain, ""
        for name, call, _, caller in draft.chain:
            if call is not None and is_main(caller):
                merge_line = draft.module.start(draft.node).line
                where = f" (the merge is in {_file_name(draft.module, self.main)} at line {merge_line})"
                return self.main.start(call), chain, where
        return None

    def incomplete_merges(self) -> list:
        """(node, "undecided" or "unreached", reason) for each merge of this file that is
        neither proven nor flagged, in source order."""
        out = []
        reached = self.outcomes
        for node, function in merge_sites_with_scope(self.module):
            if node in reached:
                if reached[node] == "undecided":
                    out.append((node, "undecided", self.in_words(self.blocked.get(node, ""))))
            else:
                out.append((node, "unreached", self._unreached_reason(function)))
        for node, outcome in reached.items():  # operator merges, known only where reached
            if outcome == "undecided" and not any(node is n for n, _, _ in out):
                out.append((node, "undecided", self.in_words(self.blocked.get(node, ""))))
        return out

    def _unreached_reason(self, function) -> str:
        if function is not None and id(function) in self.skipped:
            return f"{function.name.value}() was not analysed: the time budget ran out first"
        if function is not None and id(function) not in self.entered:
            return f"{function.name.value}() is never called from code the analyser runs"
        where = "the module's top level" if function is None else f"{function.name.value}()"
        stopped = sorted(self.budget_notes)
        return f"no path through {where} gets there" + (
            f" (the analysis stopped early: {stopped[0]})" if stopped else "")

    def strict_findings(self) -> list[Finding]:
        """KSL201 and KSL202 (strict mode): every merge neither proven nor flagged, with
        what blocked it; positions are computed only here."""
        from .calls import merge_display

        out = []
        for node, outcome, reason in self.incomplete_merges():
            start = self.main.start(node)
            code = "KSL201" if outcome == "undecided" else "KSL202"
            out.append(Finding(code=code, line=start.line, col=start.column,
                               fields={"merge": merge_display(self.module, node), "reason": reason}))
        return out

    def statistics(self) -> dict:
        """Merge outcomes of this file: proven, flagged, undecided, or never reached.

        ``merges`` counts the merge layers written in the file (whether or not
        the analysis reached them) plus operator merges (``x + y``) it reached.
        """
        counts = Counter(self.outcomes.values())
        sites = merge_sites(self.module)
        merges = len(set(map(id, sites)) | set(map(id, self.outcomes)))
        incomplete = self.incomplete_merges()
        return {
            "merges": merges,
            "proven": counts.get("proven", 0),
            "flagged": counts.get("flagged", 0),
            "undecided": counts.get("undecided", 0),
            "unreached": merges - len(self.outcomes),
            "undecided_because": dict(Counter(r for _, o, r in incomplete if o == "undecided").most_common()),
            "unreached_because": dict(Counter(r for _, o, r in incomplete if o == "unreached").most_common()),
            "opaque": dict(self.opaque_reasons.most_common()),
            "budget": dict(self.budget_notes),
            "coarser": list(self.coarser),
            "internal_errors": list(self.internal_errors),
        }


# a class built on one of these (a Keras layer or model, a keras_hub layer) is a Keras class
KERAS_BASES = ("keras.", "keras_hub.")


def _shape_names(build: FunctionValue) -> set:
    """The inputs ``build(self, query_shape, value_shape)`` (or ``compute_output_shape``)
    asks for (``query``, ``value``)."""
    params = list(build.node.params.posonly_params) + list(build.node.params.params)
    if len(params) <= 2:
        return set()
    # Keras passes a ``*_shape`` only for a tensor the call got (never a mask's): one with a
    # default is optional
    names = {p.name.value[: -len("_shape")] for p in params[1:]
             if p.name.value.endswith("_shape") and p.default is None}
    return {name for name in names if name != "mask" and not name.startswith("mask_")}


def _builds_in_init(cls: ClassValue) -> bool:
    """Does a class of the user's own (not Keras) define ``__init__`` for this class?"""
    init = lookup_class_attribute(cls, "__init__")
    return isinstance(init, FunctionValue)


def _rejected_defaults(fn, names: set) -> frozenset:
    """The parameters of ``fn`` among ``names`` whose default the analysis keeps as a plain
    value (None, a string, a float: ints and bools are free already)."""
    if not isinstance(fn, FunctionValue) or not names:
        return frozenset()
    return frozenset(name for name, default in fn.defaults.items()
                     if name in names and _free_value(name, default) is default)


def _freed_value(name: str, default):
    """A parameter whose default kept paths from merges or raised, made free: a float any
    rational, anything else a value of a type its use says."""
    if isinstance(default, float):
        return S.free_real(name)
    return Unknown(name, free=True)


def _free_value(name: str, default):
    if default is _MISSING:
        return Unknown(name, free=True)
    if isinstance(default, bool):
        return S.free_bool(name)
    if isinstance(default, int):
        return S.free_int(name)
    return default


def _free_views(name, value, default, free: list) -> None:
    """The solver variables that stand for a free value, each with how to prefer its
    witness value (appended to ``free`` as (name, variable, default, role))."""
    if isinstance(value, Unknown) and value._sequence is not None:
        # a list where the code used it as one, and its scalar view for the other paths
        free.append((name, value._sequence, value._items is not None, "bool"))
        if value._items is not None and value._int is not None:
            free.append((name, value._int, None, _int_role(name)))
    if isinstance(value, Unknown) and value._items is not None:
        if value._length is not None:
            free.append((name, value._length, None, "length"))
        for index, item in sorted(value._items.items()):
            _free_views(f"{name}[{index}]", item, None, free)
    elif isinstance(value, Unknown) and value._tensor is not None:
        tensor = value._tensor
        dims = _witness_dims(tensor)
        channel_index = len(dims) - 1 if tensor.channels_last else 0
        for i, dim in enumerate(dims):
            if S.is_sym(dim):
                free.append((name, dim, None, "channels" if i == channel_index else "spatial"))
    elif isinstance(value, Unknown) and value._int is not None:
        free.append((name, value._int, None, _int_role(name)))
    elif isinstance(value, Unknown) and value._bool is not None:
        free.append((name, value._bool, None, "bool"))
    elif isinstance(value, Unknown) and value._str is not None:
        free.append((name, value._str, default if isinstance(default, str) else None, "str"))
    elif S.is_sym(value):
        free.append((name, value, default, _int_role(name)))
    elif isinstance(value, tuple) and all(isinstance(item, Unknown) for item in value):
        for index, item in enumerate(value):
            _free_views(f"{name}[{index}]", item, None, free)


def _unpacked_count(fn: FunctionValue, position: int, shapes: bool = False) -> int | None:
    """How many names a top-level ``a, b = param`` in ``fn`` unpacks the parameter at
    ``position`` (``self`` is 0) into, or None.  With ``shapes`` (build()'s input shape), only
    names of shapes count (``query_shape, value_shape = input_shape``): ``batch, length, dim =
    input_shape`` reads the axes of one shape."""
    params = list(fn.node.params.posonly_params) + list(fn.node.params.params)
    if len(params) <= position:
        return None
    name = params[position].name.value
    body = fn.node.body.body if isinstance(fn.node.body, cst.IndentedBlock) else ()
    for line in body:
        for stmt in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if (isinstance(stmt, cst.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0].target, (cst.Tuple, cst.List))
                    and isinstance(stmt.value, cst.Name) and stmt.value.value == name):
                elements = stmt.targets[0].target.elements
                if len(elements) >= 2 and all(isinstance(e, cst.Element) for e in elements):
                    named = [e.value.value for e in elements if isinstance(e.value, cst.Name)]
                    if shapes and not any(n.endswith("shape") for n in named):
                        return None
                    return len(elements)
    return None


def _truth_links(free_params) -> list:
    """A free argument tested for truth (``if not self.head_dim:``) on one path and used as
    an int on another is one value: it is true exactly when it is not 0."""
    links = []
    for param in free_params:
        value = param.value
        if isinstance(value, Unknown) and value._int is not None and value._bool is not None:
            links.append(value._bool == (value._int != 0))
    return links


def _int_role(name: str) -> str:
    """How to prefer an int's witness value: strides and dilations small, an axis the last
    (``channel_axis=-1``), others ordinary."""
    lowered = name.lower()
    if "axis" in lowered:
        return "axis"
    return "stride" if any(word in lowered for word in ("stride", "dilation", "pool")) else "int"


WITNESS_BATCH = 2  # the batch size of a witness's inputs, where it gives them one


def _witness_value(param: FreeParam, model, batch=None):
    return _witness_of(param.value, model, batch)


def _witness_of(value, model, batch=None):
    """A free value as the witness gives it: an int, a bool, an input shape (of batch size
    ``batch``), a list."""
    if isinstance(value, Unknown) and _passed_as_list(value, model):
        used = {i: _witness_of(item, model, batch) for i, item in (value._items or {}).items()}
        length = _evaluate(value._length, model) if value._length is not None else max(used, default=-1) + 1
        fill = next((v for v in used.values() if v is not None), 1)
        return [used.get(i, fill) if used.get(i) is not None else fill for i in range(max(length or 0, 0))]
    if isinstance(value, Unknown):
        if value._tensor is not None and value.used_as == "shape":  # the shape of an Input made from it
            return [_evaluate(d, model) for d in _witness_dims(value._tensor)]
        if value._tensor is not None:
            return {"shape": [batch] + [_evaluate(d, model) for d in _witness_dims(value._tensor)]}
        if value._int is not None:
            return _evaluate(value._int, model)
        if value._bool is not None:
            return bool(z3.is_true(model.eval(value._bool, model_completion=True)))
        if value._str is not None:
            chosen = model.eval(value._str, model_completion=True)
            return chosen.as_string() if z3.is_string_value(chosen) else None
        return _placeholder(value.label)
    if S.is_sym(value):
        if z3.is_bool(value):
            return bool(z3.is_true(model.eval(value, model_completion=True)))
        return _evaluate(value, model)
    if isinstance(value, tuple) and value and all(isinstance(item, Unknown) for item in value):
        return [_witness_of(item, model, batch) for item in value]  # inputs passed as one sequence
    return _MISSING


# values for arguments the failing path never reads but a caller must still pass: Keras
# validates some of them on construction (a Dropout rate must be a number)
_PLACEHOLDERS = (
    (("dropout", "rate"), 0.0),
    (("eps",), 1e-6),
    (("activation",), "relu"),
    (("initializer_range", "stddev"), 0.02),  # a number an initializer is made with
    (("initializer",), "glorot_uniform"),
    (("use_bias", "center", "scale"), True),
    # counts and widths the layers a path never built still take: one head (or expert,
    # group) divides any width, and a width of 64 is what the witnesses' inputs use
    (("heads", "experts", "groups"), 1),
    (("intermediate", "_dim", "units"), 64),
)


def _passed_as_list(value: Unknown, model) -> bool:
    """Does the witness pass a list?  Where the path asked ``isinstance(x, list)``, as its
    answer says; else where the code used the value as a sequence."""
    if value._sequence is not None:
        return bool(z3.is_true(model.eval(value._sequence, model_completion=True)))
    return value._items is not None


def _placeholder(name: str):
    """A valid value for a parameter the path never read, by what its name says it is."""
    lowered = name.lower().rsplit("[", 1)[0]
    for words, value in _PLACEHOLDERS:
        if any(word in lowered for word in words):
            return value
    return None


SEQUENCE = 16  # the length a witness gives the other axis of an input whose rank the code never fixed


def _witness_dims(tensor: Tensor) -> tuple:
    """The dims a witness gives a free input; one whose rank the code never fixed is a
    sequence of channel vectors (a rank Dense, normalisation and attention layers take)."""
    if tensor.known or tensor.channels_last and tensor.least_dims(SEQUENCE) is not None:
        return tensor.least_dims(SEQUENCE)  # its last axes as the code read them
    channels = tensor.channels_dim()
    return (SEQUENCE, channels) if tensor.channels_last else (channels, SEQUENCE)


def _evaluate(dim, model):
    if dim is None:
        return None
    if not S.is_sym(dim):
        return dim
    result = model.eval(dim, model_completion=True)
    if z3.is_rational_value(result) and not z3.is_int_value(result):
        return float(result.as_fraction())  # a free float (``se_ratio``)
    return result.as_long() if z3.is_int_value(result) else None


def caller_line(module, call) -> int:
    return module.start(call).line


def _file_name(module, main) -> str:
    import os

    if module is None or module is main or not module.path:
        return ""
    return os.path.basename(module.path)


def _chain_text(entry, chain) -> str:
    if not chain:
        return ""
    steps = " -> ".join(
        f"{site.function}() at {site.file + ' ' if site.file else ''}line {site.line}" for site in chain
    )
    return f" (called {entry + '() -> ' if entry else ''}{steps})"


def _when_text(decisions) -> str:
    """The decisions of a finding's path as its message gives them: the branches on the
    backend the code runs on (``keras.config.backend() == "tensorflow"``) as the one backend
    the analysis runs code as."""
    chosen = [text for text in decisions if "backend()" not in text]
    backend = " on the TensorFlow backend" if len(chosen) < len(decisions) else ""
    return (" when " + " and ".join(chosen) if chosen else "") + ("," if chosen and backend else "") + backend


def _example_text(args: dict, decisions, defaults: dict) -> str:
    """The witness as the message shows it: values that differ from the defaults."""
    shown = []
    mentioned = " ".join(decisions)
    for name, value in args.items():
        if f"{name}=" in mentioned or (name in defaults and defaults[name] == value
                                        and type(defaults[name]) is type(value)):
            continue
        if isinstance(value, dict) and "shape" in value:
            shape = ", ".join("None" if d is None else str(d) for d in value["shape"])
            shown.append(f"{name}: ({shape})")
        else:
            shown.append(f"{name}={value!r}")
    return f" (e.g. {', '.join(shown)})" if shown else ""


_MERGE_LAYERS = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}
_MERGE_FUNCTIONS = {name.lower() for name in _MERGE_LAYERS}


def merge_sites(module: cst.Module) -> list:
    """The calls in a module that apply a Keras merge, found by name alone."""
    return [node for node, _ in merge_sites_with_scope(module)]


def merge_sites_with_scope(module: cst.Module) -> list:
    """(call, the innermost function holding it or None) for each merge written in a module."""
    sites = []
    stack = [(module, None)]  # (node, the innermost function holding it)
    while stack:
        node, function = stack.pop()
        if type(node) is cst.FunctionDef:
            function = node
        elif type(node) is cst.Call and _names_a_merge(node.func):
            sites.append((node, function))
        stack.extend((child, function) for child in reversed(frontend.children(node)))
    return sites


def _names_a_merge(func) -> bool:
    """Is a call of ``func`` a merge: ``Add(...)([...])``, ``layers.add([...])``?"""
    if type(func) is cst.Call:
        name = frontend.dotted_name(func.func) or ""
        return name.rsplit(".", 1)[-1] in _MERGE_LAYERS
    parts = (frontend.dotted_name(func) or "").split(".")
    return len(parts) > 1 and parts[-1] in _MERGE_FUNCTIONS and parts[-2] in ("layers", "KL", "L")


_LATER = re.compile("\0([0-9]+)\0")
MAX_NESTING = 100  # deeper syntax trees are not analysed (KSL901): parsers and walks recurse


def analyse_text(text: str, options: Options | None = None, path: str | None = None, tree=None,
                 started: float | None = None):
    """Findings for one module's source text.

    The text is never executed.  ``path`` (where the text lives, if anywhere)
    lets imports of the user's own modules be read from the project; ``tree``
    is the standard library's syntax tree of ``text`` when the caller has it
    (flake8 does).  Syntax errors give no findings: flake8 reports them itself.
    The time budget counts from ``started`` (a ``time.monotonic()`` reading:
    when the caller began on this file), else from now.  A file too large to
    parse within what is left of it, or at all, is not parsed (KSL901).
    """
    started = time.monotonic() if started is None else started
    if not mentions_keras(text):
        return [], None
    budget = (options or Options()).time_budget_s
    note = too_large_to_read(text, budget - (time.monotonic() - started), budget, parsed=tree is not None)
    if note is None:
        if tree is None:
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
                return [], None
        facts = read_syntax(tree)
        note = f"syntax nested deeper than {MAX_NESTING} levels" if facts.depth > MAX_NESTING else \
            too_large_to_parse(facts.nodes, budget - (time.monotonic() - started), budget)
    if note is not None:
        analysis = Analysis(cst.Module(body=[]), options, path)
        analysis.note_budget(note)
        return [], analysis
    module = frontend.parse(text)
    if module is None:
        return [], None
    analysis = Analysis(module, options, path, tree, started, facts)
    return analysis.run(), analysis


__all__ = ["Analysis", "Options", "analyse_text", "ListValue", "Tensor"]


class _Decided:
    """What an analysis had decided before an entry point ran: merge outcomes, what blocked
    them, joins read unread and budget notes, restored (findings and their merges apart) when
    the entry point runs again."""

    def __init__(self, analysis):
        self.outcomes = dict(analysis.outcomes)
        self.blocked = dict(analysis.blocked)
        self.unread = dict(analysis.unread_merges)
        self.notes = Counter(analysis.budget_notes)
        self.reached_since: list = []  # the merges reached since (set by the restore)

    def restore_all_but_findings(self, analysis) -> None:
        found = {id(draft.node) for draft in analysis.drafts.values()}
        self.reached_since = [node for node in analysis.outcomes if node not in self.outcomes]
        for node, outcome in list(analysis.outcomes.items()):
            if id(node) in found and outcome == "flagged":
                continue
            if node in self.outcomes:
                analysis.outcomes[node] = self.outcomes[node]
            else:
                del analysis.outcomes[node]
            if node in self.blocked:
                analysis.blocked[node] = self.blocked[node]
            else:
                analysis.blocked.pop(node, None)
        analysis.unread_merges = dict(self.unread)
        kept = Counter({note: count for note, count in analysis.budget_notes.items()
                        if note in analysis.import_notes or "(imports)" in note})
        analysis.budget_notes = Counter(self.notes) | kept
