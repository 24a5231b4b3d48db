"""One path of symbolic execution: variables, path condition, call chain.

A :class:`State` is forked at every branch both of whose sides are
feasible.  Forking copies the frames and every mutable container reachable
from them (with a memo, so aliases stay aliases), which keeps the paths
independent.
"""

from __future__ import annotations

from dataclasses import replace as _replace

from . import symbolic as S
from .syntax_facts import read_syntax
from .values import (ABSENT, DictValue, FunctionValue, Guarded, Imported, InstanceValue, LayerValue, ListValue, Partial,
                     RepeatedList, Tensor, Unknown, opaque, set_on_some_paths)


class Condition:
    """A conjunct of the path condition, with its variables cached."""

    __slots__ = ("term", "_names", "branch", "_id")

    def __init__(self, term, branch: bool = False):
        self.term = term
        self._names = None
        self.branch = branch
        self._id = None

    @property
    def names(self) -> frozenset:
        if self._names is None:
            self._names = S.variables(self.term)
        return self._names

    @property
    def ident(self) -> int:
        """z3's id of the term (the term is held here, so it stays its own)."""
        if self._id is None:
            self._id = S.term_id(self.term)
        return self._id

    @property
    def opaque(self) -> bool:
        return any(S.is_opaque_name(n) for n in self.names)


# id of a path condition -> (the condition, the ids of its terms), for the latest few: a path adds
# its assumptions one after another, each time to the condition the last one made
_HELD: dict = {}
_HELD_KEPT = 256


def _term_ids(pc: tuple) -> frozenset:
    """z3's ids of the terms of the path condition ``pc``."""
    found = _HELD.get(id(pc))
    if found is not None and found[0] is pc:
        return found[1]
    ids = frozenset(c.ident for c in pc if S.is_sym(c.term))
    _remember(pc, ids)
    return ids


def _remember(pc: tuple, ids: frozenset) -> None:
    if len(_HELD) >= _HELD_KEPT:
        _HELD.clear()
    _HELD[id(pc)] = (pc, ids)


class ModuleInfo:
    """A module the analysis executes: its tree, file, and global scope.

    ``scope`` is None for the module being analysed, whose globals are the
    path's own ``frames[0]`` (copied when the path forks); imported modules
    keep one shared scope.
    """

    __slots__ = ("tree", "path", "scope", "loader", "generators", "_positions", "_lines", "_statements", "_owner")

    def __init__(self, tree, path=None, scope=None, loader=None, syntax=None, generators=None):
        self.tree = tree
        self.path = path
        self.scope = scope
        self.loader = loader
        # the standard library's tree of the same text (or the text, read into one here): the
        # names of the functions that yield (their calls are opaque), unless given, and the
        # first line of each top-level statement, so that a node's position needs only the code
        # of the statement holding it, not the whole module's
        if isinstance(syntax, str) or (syntax is None and generators is None):
            syntax = _read_tree(syntax if syntax is not None else tree.code)
        if generators is None:
            generators = generator_names(syntax)
        self.generators = generators
        self._lines = [stmt.lineno for stmt in syntax.body] if syntax is not None else None
        self._statements: dict = {}  # top-level statement index -> (positions, line offset), once placed
        self._owner = None  # id of each node -> the index of its top-level statement
        self._positions = None

    def positions(self):
        if self._positions is None:
            from .frontend import positions

            self._positions = positions(self.tree)
        return self._positions

    def start(self, node):
        """Where ``node`` starts (line from 1, column from 0)."""
        from libcst.metadata import CodePosition

        from .frontend import statement_index, statement_positions

        if self._positions is None and self._lines is not None:
            if self._owner is None:
                self._owner = statement_index(self.tree)
            index = self._owner.get(id(node))
            if index is not None:
                if index not in self._statements:
                    self._statements[index] = statement_positions(self.tree, self._lines, index)
                placed = self._statements[index]
                if placed is not None and node in placed[0]:
                    found, offset = placed
                    return CodePosition(found[node].start.line + offset, found[node].start.column)
        return self.positions()[node].start


def generator_names(syntax) -> frozenset:
    """Names of the functions (and lambdas: never) whose own body yields."""
    if isinstance(syntax, str):
        syntax = _read_tree(syntax)
    return read_syntax(syntax).generators if syntax is not None else frozenset()


def _read_tree(text: str):
    """The standard library's syntax tree of ``text``, or None."""
    import ast

    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


DECLARED = "\0declared"  # a frame's ``global`` and ``nonlocal`` names: (globals, nonlocals)


class State:
    __slots__ = ("frames", "closures", "modules", "pc", "decisions", "chain", "flow", "retval", "unchecked", "inputs")

    def __init__(self, module_scope: dict, module: ModuleInfo | None = None):
        self.frames: list[dict] = [module_scope]
        self.closures: list[tuple] = [()]
        self.modules: list = [module]
        self.pc: tuple = ()
        self.decisions: tuple = ()
        self.chain: tuple = ()
        self.flow = None
        self.retval = None
        # a merge this path went through without its inputs being read (nothing assumed there):
        # a later finding's witness could fail at that merge first
        self.unchecked = None
        # the data-time shadows of the Inputs with unknown sizes this path made, in order (what
        # a KSL106 witness gives data for)
        self.inputs: tuple = ()

    # -- variables -------------------------------------------------------
    @property
    def globals(self) -> dict:
        return self.frames[0]

    @property
    def locals(self) -> dict:
        return self.frames[-1]

    def lookup(self, name: str):
        """Local, enclosing, global; raises KeyError when unbound."""
        frame = self.frames[-1]
        if name in frame:
            return frame[name]
        for scope in self.closures[-1]:
            if name in scope:
                return scope[name]
        return self.module_scope[name]

    @property
    def module_scope(self) -> dict:
        module = self.modules[-1]
        return self.frames[0] if module is None or module.scope is None else module.scope

    def assign(self, name: str, value) -> None:
        frame = self.frames[-1]
        declared = frame.get(DECLARED)
        if declared is not None and name in declared[1]:  # ``nonlocal name``
            scope = next((s for s in self.closures[-1] if name in s), None)
            if scope is not None:
                scope[name] = value
                return
        elif declared is not None and name in declared[0]:  # ``global name``
            self.module_scope[name] = value
            return
        frame[name] = value

    def declare(self, names, nonlocal_: bool) -> None:
        """``global`` or ``nonlocal`` names in the running function: assignments to them go to
        the module's scope, or to the enclosing function's."""
        frame = self.frames[-1]
        if len(self.frames) == 1:
            return  # at a module's top level they change nothing
        found = frame.get(DECLARED, ((), ()))
        frame[DECLARED] = (found[0], found[1] + tuple(names)) if nonlocal_ else (found[0] + tuple(names), found[1])

    def push(self, frame: dict, closure: tuple, module) -> None:
        """Enter a function (or class body): new locals, its closure and module."""
        self.frames.append(frame)
        self.closures.append(closure)
        self.modules.append(module)

    def pop(self) -> dict:
        self.closures.pop()
        self.modules.pop()
        return self.frames.pop()

    # -- path condition --------------------------------------------------
    def add(self, term, decision: str | None = None, branch: bool = False) -> None:
        """Conjoin ``term`` to the path condition (a branch taken, or an assumption)."""
        if term is True:
            return
        if not branch and not decision and S.is_sym(term):
            held = _term_ids(self.pc)
            ident = S.term_id(term)
            if ident in held:
                return  # assumed already (each Dense of ``2 * c`` units assumes ``2 * c >= 1``)
            self.pc = self.pc + (Condition(term, branch),)
            _remember(self.pc, held | {ident})
            return
        self.pc = self.pc + (Condition(term, branch),)
        if decision:
            self.decisions = self.decisions + (decision,)

    # -- forking ----------------------------------------------------------
    def fork(self, memo: dict | None = None) -> "State":
        """An independent copy of this path.  ``memo`` maps ids of the values copied so
        far to their copies; one given here can also map a container to the value that
        stands for it in the copy, and shows the caller every copy made."""
        memo = {} if memo is None else memo
        twin = State.__new__(State)
        twin.frames = [_copy_dict(frame, memo) for frame in self.frames]
        twin.closures = [tuple(memo.get(id(s), s) for s in chain) for chain in self.closures]
        twin.modules = list(self.modules)
        twin.pc = self.pc
        twin.decisions = self.decisions
        twin.chain = self.chain
        twin.flow = self.flow
        twin.retval = _copy_value(self.retval, memo)
        twin.unchecked = self.unchecked
        twin.inputs = self.inputs
        return twin


def _copy_dict(mapping: dict, memo: dict) -> dict:
    key = id(mapping)
    if key in memo:
        return memo[key]
    copied: dict = {}
    memo[key] = copied
    for name, value in mapping.items():
        copied[name] = _copy_value(value, memo)
    return copied


def _copy_value(value, memo: dict):
    kind = _KINDS.get(type(value))
    if kind is None:
        kind = _KINDS[type(value)] = _kind_of(value)
    if kind == "plain":
        return value
    if kind == "repeated":
        key = id(value)
        if key not in memo:
            twin = memo[key] = RepeatedList([], None, value.count)
            twin.items = [_copy_value(v, memo) for v in value.items]
            twin.item = _copy_value(value.item, memo)
            twin.tail = [_copy_value(v, memo) for v in value.tail]
            twin.spoiled = value.spoiled
        return memo[key]
    if kind == "list" or kind == "dict" or kind == "instance":
        key = id(value)
        if key in memo:
            return memo[key]
        if kind == "list":
            twin = ListValue()
            memo[key] = twin
            twin.items = [_copy_value(v, memo) for v in value.items]
        elif kind == "dict":
            twin = DictValue()
            memo[key] = twin
            twin.items = {k: _copy_value(v, memo) for k, v in value.items.items()}
        else:
            twin = InstanceValue(value.cls)
            memo[key] = twin
            twin.attrs = {k: _copy_value(v, memo) for k, v in value.attrs.items()}
        return twin
    if kind == "layer":
        # each path builds its own copy of a layer (the first input it sees sizes its weights),
        # and of the layers its configuration holds (a Sequential's, a wrapper's)
        key = id(value)
        if key not in memo:
            config = value.config
            if any(type(v) not in _SCALARS for v in config.values()) and _holds_layers(config):
                twin = memo[key] = _shallow(value)
                twin.config = {k: _copy_configured(v, memo) for k, v in config.items()}
            else:
                memo[key] = _shallow(value)
        return memo[key]
    if kind == "tuple":
        return tuple(_copy_value(v, memo) for v in value) if value else value
    if kind == "guarded":
        key = id(value)
        if key not in memo:
            twin = memo[key] = Guarded(None)
            twin.alternatives = [(guard, texts, _copy_value(v, memo)) for guard, texts, v in value.alternatives]
        return memo[key]
    if kind == "partial":
        func, args = _copy_value(value.func, memo), _copy_value(value.args, memo)
        kwargs = {k: _copy_value(v, memo) for k, v in value.kwargs.items()}
        if func is value.func and args is value.args and all(kwargs[k] is v for k, v in value.kwargs.items()):
            return value
        return Partial(func, args, kwargs)
    if value.closure or value.bound_self is not None:  # a function
        remapped = tuple(memo.get(id(s), s) for s in value.closure)
        bound = _copy_value(value.bound_self, memo)
        if any(a is not b for a, b in zip(remapped, value.closure)) or bound is not value.bound_self:
            return _shallow(value, closure=remapped, bound_self=bound)
    return value


_KINDS: dict = {}  # type of a value -> how a fork copies it (what _kind_of says of its instances)


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _copy_configured(value, memo: dict):
    """A value of a layer's configuration as a fork copies it: a Python list or dict of layers
    (a Sequential's) item by item, anything else as :func:`_copy_value` does."""
    if type(value) is list:
        return [_copy_configured(v, memo) for v in value]
    if type(value) is dict:
        return {k: _copy_configured(v, memo) for k, v in value.items()}
    return _copy_value(value, memo)


def _holds_layers(config: dict) -> bool:
    """Does a layer's configuration hold a layer, an instance or a container of them (what a
    path may build or change)?"""
    pending = list(config.values())
    while pending:
        value = pending.pop()
        if isinstance(value, (LayerValue, InstanceValue)):
            return True
        if isinstance(value, (tuple, list)):
            pending.extend(value)
        elif isinstance(value, (ListValue, RepeatedList)):
            return True
        elif isinstance(value, DictValue):
            pending.extend(value.items.values())
        elif isinstance(value, dict):
            pending.extend(value.values())
    return False


def own_copy(value, before: "State", after: "State"):
    """``value``, worked out on the path ``before``, as the path ``after`` (split off from it
    since) holds it: a layer, an instance or a bound method made before the split (``layers.
    Dense(8)`` in ``layers.Dense(8)(helper(x))``, the helper returning two paths) is each
    path's own, as it would have been had the split come first, and what it refers to that
    ``before`` holds is ``after``'s copy of it.  Plain values are themselves."""
    if not _changeable(value):
        return value
    return _copy_value(value, corresponding(before, after))


def _kind(value) -> str:
    """How a fork copies ``value`` (:func:`_kind_of`, kept per type)."""
    kind = _KINDS.get(type(value))
    if kind is None:
        kind = _KINDS[type(value)] = _kind_of(value)
    return kind


def _changeable(value) -> bool:
    """Does ``value`` hold anything a path may change (what a fork copies): not a plain value,
    a function closing over nothing, or a tuple of those (a shape)?"""
    kind = _kind(value)
    if kind == "plain":
        return False
    if kind == "function":
        return bool(value.closure) or value.bound_self is not None
    if kind == "tuple":
        return any(_changeable(item) for item in value)
    return True


def corresponding(before: "State", after: "State", apart: dict | None = None) -> dict:
    """Ids of the scopes, containers, instances and layers ``before``'s frames (but the
    module's) and scopes closed over hold -> what ``after`` holds in their place: the memo of
    the fork that made ``after`` from ``before``, as far as the two still agree.  ``apart``:
    id of an instance or a scope of ``before`` -> names of its attributes or variables not
    followed (where what ``after`` holds is no copy of it)."""
    memo: dict = {}
    pending = []
    for mine, theirs in zip(before.frames[1:], after.frames[1:]):
        pending.append((mine, theirs))
    for mine, theirs in zip(before.closures[-1], after.closures[-1]):
        pending.append((mine, theirs))
    while pending:
        a, b = pending.pop()
        if a is b or type(a) is not type(b) or id(a) in memo:
            continue
        if type(a) is dict:
            memo[id(a)] = b
            skipped = apart.get(id(a), ()) if apart else ()
            pending.extend((a[k], b[k]) for k in a.keys() & b.keys() if k not in skipped)
            continue
        kind = _kind(a)
        if kind == "plain":
            continue
        if kind == "tuple":
            pending.extend(zip(a, b))
        elif kind == "function":
            pending.append((a.bound_self, b.bound_self))
            pending.extend(zip(a.closure, b.closure))
        elif kind == "partial":
            pending.extend(((a.func, b.func), (a.args, b.args)))
        else:
            memo[id(a)] = b
            if kind in ("list", "repeated"):
                pending.extend(zip(a.items, b.items))
            elif kind == "dict":
                pending.extend((a.items[k], b.items[k]) for k in a.items.keys() & b.items.keys())
            elif kind == "instance":
                skipped = apart.get(id(a), ()) if apart else ()
                pending.extend((a.attrs[k], b.attrs[k]) for k in a.attrs.keys() & b.attrs.keys() if k not in skipped)
            elif kind == "guarded" and len(a.alternatives) == len(b.alternatives):
                pending.extend((x[-1], y[-1]) for x, y in zip(a.alternatives, b.alternatives))
    return memo


def _kind_of(value) -> str:
    if isinstance(value, RepeatedList):
        return "repeated"
    if isinstance(value, ListValue):
        return "list"
    if isinstance(value, DictValue):
        return "dict"
    if isinstance(value, InstanceValue):
        return "instance"
    if isinstance(value, LayerValue):
        return "layer"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, FunctionValue):
        return "function"
    if isinstance(value, Partial):
        return "partial"
    if isinstance(value, Guarded):
        return "guarded"
    return "plain"


def _shallow(value, **changes):
    """``dataclasses.replace(value, **changes)`` for a dataclass whose fields are all set by
    its ``__init__`` and that has no ``__post_init__`` (a copy of its attributes: the same
    object, made without calling ``__init__``, which is slow)."""
    cls = type(value)
    names = _PLAIN_DATACLASSES.get(cls)
    if names is None:
        fields = getattr(cls, "__dataclass_fields__", None)
        plain = (fields is not None and not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")
                 and all(f.init for f in fields.values()))
        names = _PLAIN_DATACLASSES[cls] = tuple(fields) if plain else ()
    if not names:
        return _replace(value, **changes)
    twin = object.__new__(cls)
    attributes, original = twin.__dict__, value.__dict__
    for name in names:
        attributes[name] = original[name]
    attributes.update(changes)
    return twin


_PLAIN_DATACLASSES: dict = {}  # dataclass -> its fields' names, () when _shallow cannot copy it


def merge_renamed(states: list, dead=None) -> list:
    """:func:`merge_paths`, then the paths left that differ only in which values nobody
    knows they hold (:func:`join_renamed`) joined too."""
    return merge_paths(merge_paths(states, dead), dead, join_renamed)


def merge_paths(states: list, dead=None, join=None) -> list:
    """Join paths that reached the same values by different branches.

    Two paths whose variables all hold equivalent values differ only in their
    path conditions; one path with the disjunction of those conditions stands
    for both, so the code after the branch runs once instead of twice.
    ``dead``, if given, returns the local names nothing reads any more: paths
    that differ only there are joined too, and those names are forgotten.
    ``join(kept, path, dead)`` joins two paths where they are alike (else None):
    :func:`_join` unless given.
    """
    join = join or _join
    if len(states) < 2:
        return states
    merged: list = []
    for st in states:
        # each path is tried against the last few kept ones only: a join saves work and is
        # never needed, and trying every pair of many distinct paths costs their square
        for index in range(max(len(merged) - _JOIN_WINDOW, 0), len(merged)):
            kept = merged[index]
            joined = join(kept, st, dead)
            if joined is not None:
                merged[index] = joined
                break
        else:
            merged.append(st)
    return merged


_JOIN_WINDOW = 16  # kept paths a new one is tried against (merge_paths)


def widen_results(results: list, origin, since: int) -> list:
    """A call's ``(state, value)`` results, joined (with their values) when the paths
    parted only on undecidable conditions taken after the first ``since`` conditions."""
    if len(results) < 2:
        return results
    apart = [(st, value) for st, value in results
             if st.flow is not None or not all(_undecided_branch(c) for c in st.pc[since:])]
    undecided = [(st, value) for st, value in results if not any(st is s for s, _ in apart)]
    if len(undecided) < 2:
        return results
    first, value = undecided[0]
    memo: dict = {}
    for st, other in undecided[1:]:
        value = _widen_value(value, other, memo, origin)
    joined = widen([st for st, _ in undecided], origin)
    if len(joined) != 1 or joined[0] is not first:
        return results
    return [(first, value)] + apart


def join_results(results: list) -> list:
    """A call's ``(state, value)`` results, those that returned the same value on paths whose
    variables are all alike joined into one (:func:`merge_paths` with the value compared too):
    nothing later code can read tells them apart, so the disjunction of their conditions
    stands for both and the caller goes on once instead of once per path.  Joined paths are
    tried again (two joined on one flag may then part only on another)."""
    while True:
        kept: list = []
        for st, value in results:
            for position, (other, known) in enumerate(kept):
                if _alike_results(known, value, {}, {}) and (
                        _join(other, st, conditions=_parted_on_opaque) is not None
                        # (or a tensor alike but for the layers a caller's flag chose, each path
                        # reading its own: guarded again)
                        or (isinstance(value, Tensor) and _same(known, value, {})
                            and guarded_join(other, st) is not None)):
                    # a merge left unchecked on either path may fail before anything after the call
                    other.unchecked = other.unchecked or st.unchecked
                    break
                either = _either_size(other, known, st, value)
                if either is not None:
                    kept[position] = (other, either)
                    other.unchecked = other.unchecked or st.unchecked
                    break
            else:
                kept.append((st, value))
        if len(kept) == len(results) or len(kept) < 2:
            return kept
        results = kept


def _either_size(a: "State", x, b: "State", y):
    """One size for a call that returned ``x`` on ``a`` and ``y`` on ``b``, paths alike but for
    conditions on sizes that between them cover every case (``if new_x < 0.9 * x: new_x +=
    divisor``): ``x if <a's conditions> else y``, and ``a`` standing for both, assuming only
    what both assumed; else None (``a`` unchanged).  Exact: each input takes the size its
    own path returned."""
    if not (S.is_int_like(x) and S.is_int_like(y)) or _same(x, y, {}):
        return None
    common = _shared_conditions(a, b)
    only_a, only_b = a.pc[common:], b.pc[common:]
    if not only_a or not only_b or any(S.is_opaque_name(n) for c in only_a + only_b for n in c.names):
        return None  # (a branch on a value nobody knows keeps its path apart, as it taints it)
    on_a = S.conj(*[c.term for c in only_a])
    if not _always(S.disj(on_a, S.conj(*[c.term for c in only_b]))):
        return None
    if _join(a, b, conditions=lambda _a, _b: True) is None:
        return None
    a.pc = a.pc[:common]
    a.decisions = _common_decisions(a, b)
    return S.ite(on_a, x, y)


def _alike_results(x, y, renamed: dict, back: dict) -> bool:
    """Two results a caller cannot tell apart: the same value, or values nobody knows and
    nothing has read yet (each of one side always meeting the same one of the other), in
    tuples alike."""
    if _fresh_opaque(x) and _fresh_opaque(y):
        return renamed.setdefault(id(x), y) is y and back.setdefault(id(y), x) is x
    if type(x) is tuple and type(y) is tuple:
        return len(x) == len(y) and all(_alike_results(i, j, renamed, back) for i, j in zip(x, y))
    return _same(x, y, {})


def widen(states: list, origin) -> list:
    """Join the paths out of a branch on an undecidable condition into one.

    Values both sides agree on stay; containers of the same shape are joined item by
    item; anything else becomes an opaque value from ``origin``.  The joined path
    holds the disjunction of what each side assumed (kept tainted when the sides
    assumed something, so that no witness relies on a branch nobody can choose).
    Paths that returned, broke or run in another call stay apart.
    """
    joinable = [st for st in states if st.flow is None]
    rest = [st for st in states if st.flow is not None]
    if len(joinable) < 2:
        return states
    first = joinable[0]
    kept = [first]
    for st in joinable[1:]:
        if st.chain != first.chain or st.modules != first.modules or len(st.frames) != len(first.frames):
            kept.append(st)
            continue
        memo: dict = {}
        for fa, fb in zip(first.frames, st.frames):
            for name in set(fa) | set(fb):
                if name in fa and name in fb:
                    fa[name] = _widen_value(fa[name], fb[name], memo, origin)
                else:
                    fa.pop(name, None)  # bound on one side only: unbound after the join
        # when the sides assumed something beyond the undecidable branch, keep which side
        # assumed what (a condition that stays tainted)
        _join_conditions(first, st, lambda rest: any(not _undecided_branch(c) for c in rest))
    return kept + rest


def widen_overflow(states: list, origin) -> list:
    """Paths past the path budget, joined as :func:`widen` joins them: those running as one,
    and those that left the same call or loop alike (by ``return``, ``break`` or ``continue``)
    as one each, the values they return joined too."""
    out = widen([st for st in states if st.flow is None], origin)
    for flow in ("return", "break", "continue"):
        left = [st for st in states if st.flow == flow]
        if len(left) < 2:
            out.extend(left)
            continue
        for st in left:
            st.flow = None
        kept = widen(left, origin)
        first, memo = left[0], {}
        apart = {id(st) for st in kept}
        for st in left[1:]:
            if id(st) not in apart:  # joined into the first
                first.retval = _widen_value(first.retval, st.retval, memo, origin)
        for st in kept:
            st.flow = flow
        out.extend(kept)
    return out


def _shared_conditions(a: "State", b: "State") -> int:
    """How many conditions the paths' conditions begin with alike (those before they parted)."""
    common = 0
    for ca, cb in zip(a.pc, b.pc):
        if ca is not cb:
            break
        common += 1
    return common


def _join_conditions(a: "State", b: "State", needed=None) -> None:
    """Give ``a`` the path condition and decisions ``a`` and ``b`` share, and the disjunction
    of what each assumed beyond them (unless ``needed(those conditions)`` says it does not matter)."""
    common = _shared_conditions(a, b)
    rest = a.pc[common:] + b.pc[common:]
    if _complements(a.pc[common:], b.pc[common:]):
        either = True  # the two sides of one branch: nothing assumed beyond what both held
    else:
        either = S.disj(S.conj(*[c.term for c in a.pc[common:]]), S.conj(*[c.term for c in b.pc[common:]]))
    a.pc = a.pc[:common]
    if either is not True and (needed is None or needed(rest)):
        a.pc = a.pc + (Condition(either, branch=any(c.branch for c in rest)),)
    a.decisions = _common_decisions(a, b)


def _complements(only_a: tuple, only_b: tuple) -> bool:
    """Are two paths' own conditions one condition and its negation (the two sides of a branch)?"""
    return (len(only_a) == 1 and len(only_b) == 1
            and S.term_id(only_b[0].term) == S.term_id(S.neg(only_a[0].term)))


def _undecided_branch(condition: Condition) -> bool:
    """The condition of a branch on opaque values only (what a widening joins over)."""
    names = condition.names
    return condition.branch and bool(names) and all(S.is_opaque_name(n) for n in names)


def _widen_value(a, b, memo: dict, origin):
    """One value for ``a`` on one path and ``b`` on the other (``a`` updated in place
    where it is a container both share the shape of)."""
    if _same(a, b, {}):
        return a
    key = (id(a), id(b))
    if key in memo:
        return memo[key]
    memo[key] = a
    if isinstance(a, InstanceValue) and isinstance(b, InstanceValue) and a.cls is b.cls:
        for name in set(a.attrs) | set(b.attrs):
            if name in a.attrs and name in b.attrs:
                a.attrs[name] = _widen_value(a.attrs[name], b.attrs[name], memo, origin)
            else:
                a.attrs[name] = set_on_some_paths()
        return a
    if isinstance(a, ListValue) and isinstance(b, ListValue) and len(a.items) == len(b.items):
        a.items = [_widen_value(x, y, memo, origin) for x, y in zip(a.items, b.items)]
        return a
    if isinstance(a, DictValue) and isinstance(b, DictValue) and a.items.keys() == b.items.keys():
        for name in a.items:
            a.items[name] = _widen_value(a.items[name], b.items[name], memo, origin)
        return a
    if (isinstance(a, Tensor) and isinstance(b, Tensor) and a.known and b.known and a.rank == b.rank
            and a.channels_last == b.channels_last and a.batched == b.batched):
        dims = tuple(x if _same(x, y, {}) else (None if x is None or y is None else S.opaque_int(origin=origin))
                     for x, y in zip(a.dims, b.dims))
        tensor = Tensor(dims, channels_last=a.channels_last)
        tensor.batched = a.batched
        tensor.origin = origin
        memo[key] = tensor
        return tensor
    value = opaque(origin.reason)
    value.origin = origin
    memo[key] = value
    return value


def _join(a: State, b: State, dead=None, conditions=None):
    if a.flow is not None or b.flow is not None or a.chain != b.chain:
        return None
    if len(a.frames) != len(b.frames) or a.modules != b.modules:
        return None
    # functions defined on these paths close over these very frames, which the
    # loops below compare: a pair of them counts as equal while that happens
    memo: dict = {(id(fa), id(fb)): True for fa, fb in zip(a.frames, b.frames)}
    # the locals first: where two paths differ, it is mostly there (the outer frames,
    # the module's globals among them, are long and mostly alike)
    local_a, local_b = a.frames[-1], b.frames[-1]
    differ = local_a.keys() ^ local_b.keys()
    if differ and dead is None:
        return None
    # the name two paths differed on last time is compared first: the paths a branch in a
    # loop makes differ on the same names each time (the answer is the same in any order)
    hint = _DIFFER_HINT[0]
    if (dead is None and hint in local_a and hint in local_b
            and not _same(local_a[hint], local_b[hint], memo)
            and (conditions is not None or not _unknown_either(local_a[hint], local_b[hint]))):
        return None
    forgettable = None
    unknown = []  # locals that hold a number nobody knows on each path, each its own
    for k in local_a.keys() & local_b.keys():
        if not _same(local_a[k], local_b[k], memo):
            if conditions is None and _unknown_either(local_a[k], local_b[k]):
                unknown.append(k)
                continue
            _DIFFER_HINT[0] = k
            if dead is None:
                return None  # the first difference decides: no need to compare the rest
            forgettable = dead() if forgettable is None else forgettable
            if k not in forgettable:
                return None
            differ.add(k)
    if differ and (dead is None or not differ <= dead()):
        return None
    for fa, fb in zip(a.frames[:-1], b.frames[:-1]):
        if fa.keys() != fb.keys() or not all(_same(fa[k], fb[k], memo) for k in fa):
            return None
    if conditions is None and _tainted_apart(a, b):
        return None
    for name in differ:
        local_a.pop(name, None)
    if conditions is not None:  # a narrower join, which may refuse
        return a if conditions(a, b) else None
    for name in unknown:
        local_a[name] = _unknown_of(local_a[name], local_b[name])
    _join_conditions(a, b)
    return a


def _unknown_either(x, y) -> bool:
    """Do ``x`` and ``y`` both stand for a number nobody knows (``np.asarray(waveform)`` on one
    path, that times a flag's rate on the other)?  Nothing read later can be proven of either,
    nor witnessed: one number nobody knows stands for both.  (Two objects nobody knows, neither
    read as a number, stay apart: which of them a path holds is what ``is`` asks.)"""
    first = _nobody_knows(x)  # (most differing values are known: the second is seldom read)
    second = first and _nobody_knows(y)
    return bool(second) and "number" in (first, second)


def _nobody_knows(value):
    """What ``value`` is, if nobody knows it: ``"number"`` (a size or rate computed from values
    nobody knows, or an object read as such a number), ``"object"`` (an object nobody knows, no
    view of it taken); else None."""
    if type(value) is Guarded:  # (each flag's own value, none of them known)
        kinds = [held is not ABSENT and _nobody_knows(held) for _, _, held in value.alternatives]
        return None if not all(kinds) else "number" if "number" in kinds else "object"
    if S.is_sym(value):
        numeric = S.is_int_like(value) or (hasattr(value, "is_real") and value.is_real())
        return "number" if numeric and S.nobodys(value) else None
    if (isinstance(value, Unknown) and not value.free and value._tensor is None and value._str is None
            and value._items is None and value._length is None and value._sequence is None
            and value.used_as in (None, "int") and not value.config and not value.input
            and (value._bool is None or S.nobodys(value._bool))):
        if value._int is None:
            return "object"
        return "number" if S.nobodys(value._int) else None
    return None


def _unknown_of(x, y):
    """One value nobody knows, for ``x`` on one path and ``y`` on another."""
    if S.is_int_like(x) and S.is_int_like(y):
        return S.opaque_int()
    return opaque("a value nobody knows that paths joined here computed each their own way")


def _tainted_apart(a: State, b: State) -> bool:
    """Does one of the paths, and not the other, hang on a branch on a value nobody knows
    since they parted?  Joined, the other would too, and a check refuses to flag a merge on
    such a path: it keeps what it knows apart."""
    common = _shared_conditions(a, b)
    tainted = [any(c.branch and c.opaque for c in st.pc[common:]) for st in (a, b)]
    return tainted[0] != tainted[1]


def guarded_join(a: State, b: State, dead=None):
    """Join the two paths out of a branch on a condition a caller chooses (a flag, a rate)
    whose values are alike but for attributes of the instances they hold (``if use_norm:
    self.norm = Norm()``): each such attribute holds each path's value under that path's
    conditions (:class:`Guarded`), and the joined path assumes what both did.  Exact: reading
    the attribute parts the path again.  An object both paths hold stays one object (what
    differs in it is guarded inside it), and one guarded stays one wherever it is held.
    ``a`` is the joined path, or None (both unchanged) where anything else differs."""
    if a.flow is not None or b.flow is not None or a.chain != b.chain:
        return None
    if len(a.frames) != len(b.frames) or a.modules != b.modules:
        return None
    if len(a.frames) < 2 or a.frames[-1] is a.module_scope:
        return None  # a module's own code: its scope is every path's (forks do not copy it)
    common = _shared_conditions(a, b)
    only_a, only_b = a.pc[common:], b.pc[common:]
    if not only_a or not only_b or any(S.is_opaque_name(n) for c in only_a + only_b for n in c.names):
        return None  # (a branch on a value nobody knows is widen's)
    if not S.is_flag_test(only_a[0].term) or not S.is_flag_test(only_b[0].term):
        return None  # a branch on sizes (``if filters != input_filters``): read again soon after
    walk = _Apart({(id(fa), id(fb)): True for fa, fb in zip(a.frames, b.frames)})
    local_a, local_b = a.frames[-1], b.frames[-1]
    forgotten = dead() if dead is not None else frozenset()
    differ = {name for name in local_a.keys() ^ local_b.keys() if name in forgotten}
    locals_apart = [name for name in local_a.keys() ^ local_b.keys() if name not in forgotten]
    unknown = []  # locals that hold a number nobody knows on each path (see _join)
    for name in local_a.keys() & local_b.keys():
        mark = len(walk.journal)
        if not walk.alike(local_a[name], local_b[name]):
            walk.undo(mark)
            if name in forgotten:
                differ.add(name)
            elif _unknown_either(local_a[name], local_b[name]):
                unknown.append(name)
            else:
                locals_apart.append(name)
    for fa, fb in zip(a.frames[:-1], b.frames[:-1]):
        # (the instance a constructor is making rides in a frame of its caller's too)
        if fa.keys() != fb.keys() or not all(walk.alike(fa[k], fb[k]) for k in fa):
            return None
    for name in locals_apart:  # a local the two bound differently (or one of them only)
        if any(_read_soon(frame.get(name)) for frame in (local_a, local_b)):
            return None  # (a tensor or a size: read again at once, the path would part there)
        walk.guard_local(local_a, local_b, name)
    if not walk.guards:
        return None  # alike: the plain join's
    guard_a, guard_b = tuple(c.term for c in only_a), tuple(c.term for c in only_b)
    kept = len(_common_decisions(a, b))
    texts_a, texts_b = a.decisions[kept:], b.decisions[kept:]
    ours = None
    for mine, theirs, slots in walk.guards.values():
        alternatives = _guarded(guard_b, texts_b, theirs)
        if any(_changeable(held) for _, _, held in alternatives):
            # what ``b``'s value refers to that ``a`` holds too is ``a``'s copy of it
            ours = ours if ours is not None else walk.correspondence(b, a)
            alternatives = [(guard, texts, _copy_value(held, ours)) for guard, texts, held in alternatives]
        guarded = Guarded(_guarded(guard_a, texts_a, mine) + alternatives)
        for owner, _, name in slots:
            (owner.attrs if type(owner) is InstanceValue else owner)[name] = guarded
    for name in differ:
        local_a.pop(name, None)
    for name in unknown:
        local_a[name] = _unknown_of(local_a[name], local_b[name])
    _join_conditions(a, b)
    a.unchecked = a.unchecked or b.unchecked
    return a


def _read_soon(value) -> bool:
    """A tensor or a size: what the code after a branch reads at once (guarded, the path
    would part again there, and the join only cost work)."""
    return isinstance(value, Tensor) or (S.is_int_like(value) and not isinstance(value, bool))


class _Apart:
    """Two paths' values compared for :func:`guarded_join`: ``kept`` pairs stay the first
    path's object, ``guards`` pairs (``(id(mine), id(theirs))`` -> [mine, theirs, slots]) are
    held by attributes (each ``(owner, the other path's owner, name)``) that will hold both,
    guarded.  ``journal`` lets a failed comparison be undone."""

    def __init__(self, memo: dict):
        self.memo = memo
        self.kept: set = set()
        self.guards: dict = {}
        self.journal: list = []

    def undo(self, mark: int) -> None:
        while len(self.journal) > mark:
            kind, key = self.journal.pop()
            if kind == "kept":
                self.kept.discard(key)
            elif kind == "guard":
                del self.guards[key]
            else:
                self.guards[key][2].pop()

    def alike(self, x, y) -> bool:
        """Are ``x`` and ``y`` alike but for attributes of instances they hold?"""
        if _same(x, y, self.memo):
            return True
        if type(x) is not type(y):
            return False
        key = (id(x), id(y))
        if key in self.guards:
            return False  # held by an attribute, guarded: not here too
        if key in self.kept:
            return True
        self.kept.add(key)
        self.journal.append(("kept", key))
        if type(x) is InstanceValue:
            return x.cls is y.cls and all(self.slot(x, y, name) for name in x.attrs.keys() | y.attrs.keys())
        if type(x) is ListValue:
            return len(x.items) == len(y.items) and all(self.alike(i, j) for i, j in zip(x.items, y.items))
        if type(x) is RepeatedList:
            return (x.spoiled == y.spoiled and _same(x.count, y.count, self.memo) and len(x.items) == len(y.items)
                    and len(x.tail) == len(y.tail) and self.alike(x.item, y.item)
                    and all(self.alike(i, j) for i, j in zip(x.items + x.tail, y.items + y.tail)))
        if type(x) is DictValue:
            return x.items.keys() == y.items.keys() and all(self.alike(x.items[k], y.items[k]) for k in x.items)
        if type(x) is tuple:
            return len(x) == len(y) and all(self.alike(i, j) for i, j in zip(x, y))
        return False

    def slot(self, x, y, name: str) -> bool:
        """The attribute ``name`` of ``x`` and of ``y``: alike, or to be guarded."""
        mine, theirs = x.attrs.get(name, ABSENT), y.attrs.get(name, ABSENT)
        if mine is not ABSENT and theirs is not ABSENT:
            if _same(mine, theirs, self.memo):
                return True
            if name.startswith("__"):
                return False  # what the analysis keeps of the instance itself
            key = (id(mine), id(theirs))
            if key not in self.guards:
                mark = len(self.journal)
                if self.alike(mine, theirs):
                    return True
                self.undo(mark)
        elif name.startswith("__"):
            return False
        key = (id(mine), id(theirs))
        if key in self.kept:
            return False  # one object both hold elsewhere: not guarded here
        if key not in self.guards:
            self.guards[key] = [mine, theirs, []]
            self.journal.append(("guard", key))
        self.guards[key][2].append((x, y, name))
        self.journal.append(("slot", key))
        return True

    def guard_local(self, mine: dict, theirs: dict, name: str) -> None:
        """The local ``name`` of the two frames, each path's own value, to be guarded."""
        value, other = mine.get(name, ABSENT), theirs.get(name, ABSENT)
        key = (id(value), id(other))
        if key not in self.guards:
            self.guards[key] = [value, other, []]
        self.guards[key][2].append((mine, theirs, name))

    def correspondence(self, b: "State", a: "State") -> dict:
        """What ``b`` holds -> ``a``'s copy of it, but for the guarded values (each path's own)."""
        apart: dict = {}
        for _, _, slots in self.guards.values():
            for _, owner, name in slots:
                apart.setdefault(id(owner), set()).add(name)
        ours = corresponding(b, a, apart)
        for mine, theirs, _ in self.guards.values():
            ours.pop(id(theirs), None)
        return ours


def _guarded(guard: tuple, texts: tuple, value) -> list:
    """``value``'s alternatives under ``guard`` (those whose conditions contradict it left
    out), each with the texts of the decisions that took its path."""
    if not isinstance(value, Guarded):
        return [(guard, texts, value)]
    out = []
    for inner, inner_texts, held in value.alternatives:
        combined = guard + tuple(t for t in inner if all(S.term_id(t) != S.term_id(g) for g in guard))
        if len(combined) > len(guard) and (_contradictory(combined) or _always(S.neg(S.conj(*combined)))):
            continue  # (``dropout > 0`` where ``not dropout`` was taken)
        out.append((combined, texts + tuple(t for t in inner_texts if t not in texts), held))
    return out


def _contradictory(terms: tuple) -> bool:
    """Do ``terms`` hold a condition and its negation (as branches write them)?"""
    ids = {S.term_id(t) for t in terms}
    return any(S.term_id(S.neg(t)) in ids for t in terms)


_DIFFER_HINT = [None]  # the local name the last two paths compared differed on (see _join)


def _parted_on_opaque(a: State, b: State) -> bool:
    """Give ``a`` the conditions both paths hold, when beyond those the two cover every way
    their own branches go, or (both already hanging on an undecidable branch) assumed only
    things about values nobody knows, joined into one condition; else False (``a`` unchanged).
    No size is assumed less than before, and no path is newly tainted by a branch on a value
    nobody knows (a check refuses to flag a merge on such a path)."""
    common = _shared_conditions(a, b)
    held = {c.term.get_id() for c in b.pc[common:]}
    mine = {c.term.get_id() for c in a.pc[common:]}
    shared = tuple(c for c in a.pc[common:] if c.term.get_id() in held)
    only_a = [c for c in a.pc[common:] if c.term.get_id() not in held]
    only_b = [c for c in b.pc[common:] if c.term.get_id() not in mine]
    either = S.disj(S.conj(*[c.term for c in only_a]), S.conj(*[c.term for c in only_b]))
    if either is not True and _always(either):
        either = True  # the two paths cover every way their branches go: nothing is assumed
    if either is not True:
        if not all(c.names and all(S.is_opaque_name(n) for n in c.names) for c in only_a + only_b):
            return False  # a size or a flag one of them assumed would be weakened
        if not all(any(c.branch and c.opaque for c in st.pc) for st in (a, b)):
            return False  # the joined path would hang on an undecidable branch one of them never took
    a.pc = a.pc[:common] + shared + (() if either is True else (Condition(either, branch=True),))
    a.decisions = _common_decisions(a, b)
    return True


def _common_decisions(a: State, b: State) -> tuple:
    """The branch decisions two joined paths took alike, up to the first they took apart."""
    kept = 0
    for da, db in zip(a.decisions, b.decisions):
        if da != db:
            break
        kept += 1
    return a.decisions[:kept]


def _always(term) -> bool:
    """Does ``term`` (about values nobody knows) hold whatever they are?"""
    return S.valid(term, timeout_ms=50)


def _same(x, y, memo: dict, loop=None) -> bool:
    if x is y:
        # an opaque value in the same place on both sides is renamed to itself (so no other
        # value of ``after`` stands for it elsewhere)
        if loop is not None and S.is_sym(x):
            return loop.itself(x)
        if loop is None or type(x) is not Unknown:
            # (a tensor whose rank is not known yet keeps its rank's root likewise: _same_root)
            return loop is None or getattr(x, "dims", ()) is not None or loop.keep(x.rank_root())
        return loop.keep(x)
    key = (id(x), id(y))
    if key in memo:
        return memo[key]
    memo[key] = True  # cycles: assume equal while comparing
    result = _compare(x, y, memo, loop)
    memo[key] = result
    return result


class _LoopComparison:
    """How two states one loop iteration apart are compared: sizes by their value on
    the path (``equal_terms``), and lists may have grown by an equal item (``grown``)."""

    grows = True  # a list of ``after`` may hold one item more

    def __init__(self, equal_terms, covering=frozenset(), first=False):
        self.equal_terms = equal_terms
        # the loop's first iteration: a list may grow by any item (there is no previous one)
        self.first = first
        # names of sizes, and ids of unknown values, in ``before`` that stand for any size
        # (a widened loop state)
        self.covering = covering
        self.grown: list = []
        self.sources: list = []  # the list of ``before`` each grown list of ``after`` is
        self.renamed: dict = {}  # id of an opaque value of ``before`` -> the one of ``after`` in its place
        self.renamed_back: dict = {}

    def apart(self) -> "_LoopComparison":
        """A comparison of two values on their own: the same sizes, lists grown into the
        same record, its own renaming."""
        other = _LoopComparison(self.equal_terms, self.covering)
        other.grown, other.sources = self.grown, self.sources
        return other

    def rename(self, x, y) -> bool:
        """May the opaque value ``y`` of ``after`` stand where ``x`` stands in ``before``?  Two
        values nobody knows and nothing has read yet, made by the same code, are told apart
        only by which places hold them: each iteration making its own is the same state, as
        long as one of ``before`` always meets the same one of ``after`` (and back)."""
        if not (_fresh_opaque(x) and _fresh_opaque(y) and x.reason == y.reason and x.used_as == y.used_as
                and x.config == y.config and _made_at(x) is _made_at(y)):
            return False
        return self.keep(x, y)

    def itself(self, term) -> bool:
        """May the size or flag ``term``, the very same on both sides, stand for itself?"""
        return True

    def keep(self, x, y=None) -> bool:
        """Record that ``y`` (``x`` itself by default) of ``after`` stands where ``x`` stands
        in ``before``: False when either already stands for another."""
        y = x if y is None else y
        return self.renamed.setdefault(id(x), y) is y and self.renamed_back.setdefault(id(y), x) is x


class _Renaming(_LoopComparison):
    """How two paths are compared that may each have made their own values nobody knows
    (one path per flag through blocks whose outputs layers nobody knows gave): equal where
    one path's such values stand where the other's do, one for one, in values and in the
    terms of sizes alike."""

    grows = False

    def __init__(self):
        super().__init__(self._terms)

    def rename(self, x, y) -> bool:
        return (_fresh_opaque(x) and _fresh_opaque(y) and x.used_as == y.used_as and x.config == y.config
                and self.keep(x, y))

    def itself(self, term) -> bool:
        return self._terms(term, term)

    def _pair(self, one: str, other: str) -> bool:
        return self.renamed.setdefault(one, other) == other and self.renamed_back.setdefault(other, one) == one

    def _terms(self, x, y) -> bool:
        """The same term but for the names of sizes and flags nobody knows (one for one)."""
        if not (S.is_sym(x) and S.is_sym(y)):
            return False
        pending = [(x, y)]
        while pending:
            a, b = pending.pop()
            if a.eq(b):
                # the same term on both: each of its values nobody knows stands for itself
                if not all(self._pair(name, name) for name in S.variables(a) if S.is_opaque_name(name)):
                    return False
                continue
            if S.is_opaque_leaf(a) and S.is_opaque_leaf(b):
                if not self._pair(a.decl().name(), b.decl().name()):
                    return False
                continue
            if a.num_args() == 0 or a.num_args() != b.num_args() or not a.decl().eq(b.decl()):
                return False
            pending.extend(zip(a.children(), b.children()))
        return True


def join_renamed(a: "State", b: "State", dead=None):
    """``a`` standing for both paths, when ``b`` holds what ``a`` holds up to which values
    nobody knows are where (:class:`_Renaming`), but for the locals ``dead()`` names (as
    :func:`_join` reads it); else None.
    The joined condition keeps what each path assumed on its own half, ``b``'s of its own
    values, which nothing else names: ``a``'s values then stand for ``b``'s assuming no more
    of them than either did (a size nobody knows may be any, so no merge is proven or
    flagged that one of the two paths would not have been)."""
    if a.flow is not None or b.flow is not None or a.chain != b.chain:
        return None
    if len(a.frames) != len(b.frames) or a.modules != b.modules:
        return None
    renaming = _Renaming()
    memo: dict = {(id(fa), id(fb)): True for fa, fb in zip(a.frames, b.frames)}
    local, theirs = a.frames[-1], b.frames[-1]
    dead = dead() if dead is not None else frozenset()
    for fa, fb in zip(a.frames, b.frames):
        keys = fa.keys() | fb.keys()
        if fa is local:
            keys -= dead
        if not all(k in fa and k in fb and _same(fa[k], fb[k], memo, renaming) for k in keys):
            return None
    for name in dead & local.keys():
        if name not in theirs or not _same(local[name], theirs[name], {}):
            local.pop(name)
    _join_conditions(a, b)
    a.unchecked = a.unchecked or b.unchecked
    return a


def _fresh_opaque(value) -> bool:
    """An opaque value no view of which was taken (no size, tensor or truth value of it is
    on any path)."""
    return (isinstance(value, Unknown) and not value.free and value._tensor is None and value._int is None
            and value._bool is None and value._str is None and value._items is None and value._length is None)


def _made_at(value):
    return value.origin.node if value.origin is not None else None


def loop_fixpoint(before: "State", after: "State", ignored: frozenset, equal_terms, sources=None, covering=None,
                  first=False):
    """Is ``after`` (one loop iteration later) the same path as ``before``, but for the
    names in ``ignored`` and lists that grew by one item equal to their previous last?

    ``equal_terms(a, b)`` says whether two size terms are equal on the path.  Returns
    the grown lists of ``after`` with their item (``[(list, item)]``) when it is, else
    None.  Then every later iteration does the same again.  ``sources``, if given, is
    filled with the list of ``before`` that each grown list was, in the same order;
    a size of ``before`` named in ``covering`` stands for any size of ``after``.  ``first``: the
    loop's first iteration, after which a list may have grown by any item.
    """
    if len(before.frames) != len(after.frames) or before.modules != after.modules:
        return None
    loop = _LoopComparison(equal_terms, covering or frozenset(), first)
    memo: dict = {(id(fa), id(fb)): True for fa, fb in zip(before.frames, after.frames)}
    for fa, fb in zip(before.frames, after.frames):
        keys = (fa.keys() | fb.keys()) - ignored if fb is after.frames[-1] else fa.keys() | fb.keys()
        if not all(k in fa and k in fb and _same(fa[k], fb[k], memo, loop) for k in keys):
            return None
    if sources is not None:
        sources.extend(loop.sources)
    return loop.grown


def _weightless(x: LayerValue, y: LayerValue) -> bool:
    """Two Keras layers of a kind none of whose weights the analysis sizes from a first input
    (``Softmax``, ``Dropout``; not ``Dense`` or a convolution), one built and the other not:
    nothing of a first input is kept to check a later call against, so no later call tells
    them apart (a block that called its softmax on one path and a fused op on the other
    leaves the same block)."""
    from .layers.weights import WEIGHT_AXES

    return WEIGHT_AXES.get(getattr(x.model, "name", None)) is None and all(
        built is None or built == (None, {}) for built in (x.built, y.built))


def _same_root(x, y, memo, loop) -> bool:
    """The tensors of unknown rank whose rank others take (:meth:`Tensor.rank_root`) of two
    values: the same one, or, one loop iteration apart, two that nothing tells apart but their
    identity (each iteration's output of a layer nobody knows, with the same sizes read from its
    end), the one of ``after`` standing for the one of ``before`` as opaque values do."""
    if loop is None:
        return x is y
    if x is not y and not (x.dims is None and y.dims is None and x.channels_last == y.channels_last
                           and x.free == y.free and x.dtype == y.dtype and x.shadow is None and y.shadow is None
                           and (x._channels is None) == (y._channels is None) and len(x._tail) == len(y._tail)):
        return False
    if x is not y and not ((x._channels is None or _same(x._channels, y._channels, memo, loop))
                           and all(_same(i, j, memo, loop) for i, j in zip(x._tail, y._tail))):
        return False
    return loop.keep(x, y)


def _compare(x, y, memo, loop=None) -> bool:
    if loop is not None and loop.covering:
        if S.is_sym(x) and x.decl().name() in loop.covering:
            if S.is_bool_like(x):
                return S.is_bool_like(y)  # a widened flag covers any flag
            return S.is_int_like(y) and not isinstance(y, bool)  # a widened size covers any size
        if isinstance(x, Unknown) and id(x) in loop.covering:  # any number (a size, a float), tuple, tensor or value
            return (isinstance(y, (Unknown, float, tuple, Tensor)) or (S.is_int_like(y) and not isinstance(y, bool))
                    or (S.is_sym(y) and hasattr(y, "is_real") and y.is_real()))
    if loop is not None and isinstance(x, Unknown) and isinstance(y, Unknown) and loop.rename(x, y):
        return True
    if type(x) is not type(y):
        if loop is None:
            return False
        # a size the iteration computed for any index, against the number it was before
        if S.is_int_like(x) and S.is_int_like(y) and not isinstance(x, bool) and not isinstance(y, bool):
            return loop.equal_terms(x, y)
        # a flag the iteration computed for any index (``i == 0``), against the one it was before
        return S.is_bool_like(x) and S.is_bool_like(y) and loop.equal_terms(x, y)
    if isinstance(x, (int, float, str, bool)):
        return x == y
    if S.is_sym(x):
        # z3 makes each term once: the same term is the same pointer (what ``x.eq(y)`` asks)
        if x.ast.value == y.ast.value:
            return loop is None or loop.itself(x)
        return loop is not None and loop.equal_terms(x, y)
    if isinstance(x, (tuple, list)):  # a list: what a layer's configuration holds (Sequential's layers)
        return len(x) == len(y) and all(_same(i, j, memo, loop) for i, j in zip(x, y))
    if isinstance(x, ListValue):
        if loop is not None and loop.grows and len(y.items) == len(x.items) + 1 and (x.items or loop.first):
            # one iteration appended an item equal to the one the iteration before appended, or
            # any item in the loop's first iteration (the new item is compared with the last one
            # on its own: the same value of ``before`` meets its own copy in the list and the
            # new item's value, which is no renaming)
            if all(_same(i, j, memo, loop) for i, j in zip(x.items, y.items)) and (loop.first or _same(
                    x.items[-1], y.items[-1], {}, loop.apart())):
                loop.grown.append((y, y.items[-1]))
                loop.sources.append(x)
                return True
            return False
        return len(x.items) == len(y.items) and all(_same(i, j, memo, loop) for i, j in zip(x.items, y.items))
    if isinstance(x, RepeatedList):
        if x.spoiled and y.spoiled:  # lists nothing can be read of (not even their length)
            return True
        return (not x.spoiled and not y.spoiled and len(x.items) == len(y.items) and _same(x.count, y.count, memo)
                and _same(x.item, y.item, memo, loop) and len(x.tail) == len(y.tail)
                and all(_same(i, j, memo, loop) for i, j in zip(x.items + x.tail, y.items + y.tail)))
    if isinstance(x, dict):  # a scope a function closes over (it may hold that function: memo)
        return x.keys() == y.keys() and all(_same(x[k], y[k], memo, loop) for k in x)
    if isinstance(x, DictValue):
        return x.items.keys() == y.items.keys() and all(_same(x.items[k], y.items[k], memo, loop) for k in x.items)
    if isinstance(x, InstanceValue):
        return x.cls is y.cls and x.attrs.keys() == y.attrs.keys() and all(
            _same(x.attrs[k], y.attrs[k], memo, loop) for k in x.attrs)
    if isinstance(x, FunctionValue):
        # a copy made when a path forked: the same code over equivalent scopes
        return (x.node is y.node and x.module is y.module and x.is_lambda == y.is_lambda
                and len(x.closure) == len(y.closure)
                and all(_same(i, j, memo, loop) for i, j in zip(x.closure, y.closure))
                and _same(x.bound_self, y.bound_self, memo, loop)
                and _same(x.defaults, y.defaults, memo, loop))
    if isinstance(x, LayerValue):
        return (x.model is y.model and x.call_node is y.call_node and _same(x.config, y.config, memo, loop)
                and (_same(x.built, y.built, memo, loop) or _weightless(x, y)))
    if isinstance(x, Imported):
        return x.qualname == y.qualname
    if isinstance(x, Guarded):
        return len(x.alternatives) == len(y.alternatives) and all(
            len(g) == len(h) and all(S.term_id(i) == S.term_id(j) for i, j in zip(g, h)) and _same(v, w, memo, loop)
            for (g, _, v), (h, _, w) in zip(x.alternatives, y.alternatives))
    if isinstance(x, Partial):
        return (_same(x.func, y.func, memo, loop) and _same(x.args, y.args, memo, loop)
                and _same(x.kwargs, y.kwargs, memo, loop))
    if isinstance(x, Tensor):
        # ``known`` first gives a tensor whose rank follows a source of known rank that rank
        if x.known != y.known:
            return False
        if x.dims is None and y.dims is None and x.channels_last == y.channels_last:
            # ranks not known yet: the same rank (one root) and the same channels
            return (_same_root(x.rank_root(), y.rank_root(), memo, loop)
                    and x._channels is not None and y._channels is not None
                    and x.dtype == y.dtype and _same(x._channels, y._channels, memo, loop)
                    and x._drop == y._drop and len(x._tail) == len(y._tail)
                    and all(_same(i, j, memo, loop) for i, j in zip(x._tail, y._tail)))
        if x.dims is None or y.dims is None or x.channels_last != y.channels_last or x.free != y.free \
                or x.batched != y.batched:
            return False
        if x.dtype != y.dtype or (x.shadow is None) != (y.shadow is None):
            return False
        if x.shadow is not None and not _same(x.shadow, y.shadow, memo, loop):
            return False
        return len(x.dims) == len(y.dims) and all(_same(i, j, memo, loop) for i, j in zip(x.dims, y.dims))
    from .dtypes import DType, DTypePolicy

    if isinstance(x, DTypePolicy):  # ``self.dtype_policy``, made anew at each read
        return _same(x.dtype, y.dtype, memo, loop)
    if isinstance(x, DType):
        return _same(x.name, y.name, memo, loop) and _same(x.domain, y.domain, memo, loop)
    return False
