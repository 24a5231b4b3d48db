"""Merge checks: is every pair of merged dims provably compatible on this path?

Keras accepts an element-wise merge when each aligned pair of dims is equal,
or one of them is ``None`` (unknown until data flows) or 1 (broadcast);
``Concatenate`` needs every dim but the concat axis to agree.  For each pair
the path condition either proves compatibility, admits a failing input (a
finding, with a witness), or leaves it open (undecided: silent).  The path
then continues assuming the merge succeeded, as it must have for Keras to
get further.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import libcst as cst
import z3

from . import provenance
from . import symbolic as S
from .solver import candidates_for
from .values import choose_common_rank, shared_frame


@dataclass
class Draft:
    """A finding before positions are known."""

    code: str
    node: object
    fields: dict
    decisions: tuple
    chain: tuple
    witness_args: dict
    entry: str | None
    module: object = None
    extra: dict = field(default_factory=dict)


def _raw_input_dim(term) -> bool:
    """Is this dim an input's own size, untouched by the code (``channels(x)``, ``input1.shape[1]``)?"""
    if not S.is_sym(term) or not z3.is_const(term) or term.decl().kind() != z3.Z3_OP_UNINTERPRETED:
        return False
    name = term.decl().name()
    return name.startswith("channels(") or ".shape[" in name


def caller_contract(a, b) -> bool:
    """Two inputs' own sizes, merged as they came: that they agree is the caller's contract
    (``def difference(a, b): return a - b``), not something this code gets wrong."""
    return _raw_input_dim(a) and _raw_input_dim(b) and not a.eq(b)


def _fail_term(a, b, role=None):
    """Keras rejects the pair exactly when they differ and neither is 1 (it broadcasts); the
    axes a concatenation does not join must be equal, 1 or not."""
    if not S.is_sym(a) and not S.is_sym(b):
        return a != b if role == "concat" else a != b and a != 1 and b != 1
    if S.is_sym(a) and S.is_sym(b) and a.eq(b):
        return False
    if role == "concat":
        return S.ne(a, b)
    return S.conj(S.ne(a, b), S.ne(a, 1), S.ne(b, 1))


def aligned_pairs(kind, first, other, axis):
    """(role, axis index, dim of first, dim of other) for each compared axis."""
    if first.known and not other.known:
        other.with_rank(first.rank)
    elif other.known and not first.known:
        first.with_rank(other.rank)
    if not first.known and not other.known and shared_frame([first, other]) is None:
        choose_common_rank([first, other])  # inputs of two callers' choosing: one rank for both
    if not first.known or not other.known:
        frame = shared_frame([first, other]) if kind == "elementwise" or axis == -1 else None
        if frame is not None:
            # one root, one rank: the axes before the tails are the same ones; the tails line up
            tails = frame[2]
            if kind != "elementwise":  # joined on the last axis: the others must be equal
                return [("concat", None, a, b) for a, b in list(zip(*tails))[:-1]]
            return [("channels" if k == len(tails[0]) - 1 else "spatial", None, a, b)
                    for k, (a, b) in enumerate(zip(*tails))]
        if kind == "elementwise" and first.rank != 0 and other.rank != 0:  # a scalar has no channels
            return [("channels", None, first.channels_dim(), other.channels_dim())]
        return []
    pairs = []
    # a free input takes the layout of the layers that produced the other side
    channels_last = next((t.channels_last for t in (first, other) if not t.free), first.channels_last)
    if kind == "elementwise":
        rank = min(first.rank, other.rank)
        longest = max(first.rank, other.rank)  # the index is the axis of the broadcast result
        channel_position = rank - 1 if channels_last else 0
        for i in range(rank):
            a = first.dims[first.rank - rank + i]
            b = other.dims[other.rank - rank + i]
            role = "channels" if i == channel_position else "spatial"
            pairs.append((role, longest - rank + i, a, b))
    else:
        if first.rank != other.rank:
            return []
        for i in range(first.rank):
            if i != axis:
                pairs.append(("concat", i, first.dims[i], other.dims[i]))
    return pairs


def dead_path(st) -> bool:
    """Did Keras refuse something earlier on this path (a condition that is plainly false)?
    Then the merge is never reached there: nothing is recorded, not a proof."""
    return any(condition.term is False for condition in st.pc)


def check_merge(analysis, st, node, display, kind, tensors, axis=None) -> None:
    if analysis.suppress_checks or dead_path(st):
        return
    if len(tensors) < 2:
        # Keras merges a list of one tensor into that tensor: nothing can disagree
        analysis.record_outcome(node, "proven", st.modules[-1])
        return
    broadcast = kind == "additive"
    kind = "elementwise" if broadcast else kind
    pairs = []
    for other in tensors[1:]:
        pairs.extend(aligned_pairs(kind, tensors[0], other, axis))
    unknown = [t for t in tensors if not t.known]  # after the pairs gave what they could a rank
    # an operand of unknown rank: only its channels are compared, and Keras may still refuse
    # the other axes; a later finding's witness must not lean on this merge (marked once checked)
    partly = bool(unknown) and (len(unknown) < len(tensors) or len({id(t.rank_root()) for t in unknown}) > 1
                                or len({t.rank_offset() for t in unknown}) > 1)
    fails = []
    contract = []  # the caller's to keep: not reported, but Keras got past only if it held
    for role, index, a, b in pairs:
        if a is None or b is None:
            analysis.unsized_merges.add(node)
            continue
        if caller_contract(a, b):
            contract.append(_fail_term(a, b, role))
            continue
        fail = _fail_term(a, b, role)
        if fail is False:
            continue
        fails.append((role, index, a, b, fail))
    if broadcast:
        # only where Keras can never raise: otherwise KSL101/102 already says it
        quiet = [p for p in pairs if p[0] == "channels" and not any(f[0] == "channels" for f in fails)]
        _check_broadcast(analysis, st, node, display, quiet)
    for fail in contract:
        if fail is not False:
            st.add(S.neg(fail))
    mark = (node, st.modules[-1]) if partly else None
    if not fails:
        analysis.record_outcome(node, "proven", st.modules[-1])
        st.unchecked = st.unchecked or mark
        return
    pc = [c.term for c in st.pc]
    tainted = any(c.branch and c.opaque for c in st.pc) or st.unchecked is not None
    outcome = "proven"
    blocked = None  # why the merge is undecided, in words
    if st.unchecked is not None:
        blocked = _unchecked_reason(analysis, st)
    sizes = None
    # a merge of a module this one imports is not counted here, only reported (at the call that
    # leads there), and a failure that hinges on a value nobody knows never is: not asked
    elsewhere = st.modules[-1] is not analysis.main
    for role, index, a, b, fail in fails:
        if elsewhere and (tainted or _depends_on_opaque(fail, st.pc)):
            outcome = "undecided" if outcome == "proven" else outcome
            continue
        if sizes is None:
            sizes = analysis.input_sizes()
        verdict = analysis.solver.check_path(st.pc, [fail] + _sharing(sizes, fail))
        if verdict is False:
            continue
        if verdict is None or tainted or _depends_on_opaque(fail, st.pc):
            outcome = "undecided" if outcome == "proven" else outcome
            # (put in words only where it is kept: the first path that leaves the merge undecided)
            blocked = blocked or (functools.partial(blocker, analysis, fail, st.pc) if verdict is not None
                                  else "the solver ran out of time")
            continue
        # (in a call() Keras runs only on data, the merge fails on the first batch)
        code = "KSL106" if analysis.data_only else _code(kind, role, analysis, st.pc, fail, a, b)
        if not analysis.wants_draft(node, code, st.chain):
            outcome = "flagged"  # already reported, by a path as short as this one
            continue
        # prefer a witness that fails on this dim alone (other kinds of dims agree)
        others = [S.neg(f) for (r, _, _, _, f) in fails if r != role and f is not True]
        witness = analysis.witness(pc + [fail], soft=others)
        if witness is None:
            outcome = "undecided" if outcome == "proven" else outcome
            blocked = blocked or "no input the analyser could write down fails it"
            continue
        outcome = "flagged"
        _report(analysis, st, node, code, display, a, b, _axis_name(role, index, tensors[0]), witness)
    analysis.record_outcome(node, outcome, st.modules[-1], blocked)
    st.unchecked = st.unchecked or mark
    # Keras got past this merge only if it succeeded: continue under that assumption.
    for _, _, _, _, fail in fails:
        if fail is not True:
            st.add(S.neg(fail))
        else:
            st.add(False)


def _unchecked_reason(analysis, st) -> str:
    """Why a merge after ``st.unchecked`` (what an earlier step on the path left unknown to
    the analyser) is not decided, in words."""
    earlier, where = st.unchecked
    if id(earlier) in analysis.keras_tensor_methods:
        return (f"an earlier call on its path ({describe_merge(analysis, earlier, where)}) is a TensorFlow "
                "tensor's method, which Keras 3's symbolic tensors lack")
    if id(earlier) in analysis.none_subscripts:
        return (f"an earlier subscript on its path ({describe_merge(analysis, earlier, where)}) is of a value "
                "that is None there, where Python raises")
    if isinstance(earlier, cst.Subscript):
        # subscripts.py: an index past the rank a free input was given
        return (f"an earlier index on its path ({describe_merge(analysis, earlier, where)}) is past the "
                "rank its input was given, and another rank was not tried")
    if id(earlier) in analysis.unfit_reshapes:
        return (f"an earlier reshape on its path ({describe_merge(analysis, earlier, where)}) gives the "
                "batch's place a size of its own: a batch of another size fails there")
    if earlier in analysis.outcomes:
        return f"an earlier merge on its path ({describe_merge(analysis, earlier, where)}) could not be checked"
    # loops.py: a loop read once for any iteration, over sizes that change between them
    return (f"a loop earlier on its path ({describe_loop(analysis, earlier, where)}) was read for any "
            "iteration at once, and a layer in it may refuse the sizes of one of them")


def _sharing(facts, term) -> list:
    """The facts that name a variable of ``term``."""
    names = S.variables(term)
    return [fact for fact in facts if S.variables(fact) & names]


def check_data_merge(analysis, st, node, display, kind, shadows, reals, axis=None) -> None:
    """KSL106: sizes Keras does not know at build time (None) differ once data flows.

    ``shadows`` are the merge inputs with those sizes as symbols, ``reals``
    what Keras sees; only pairs that Keras skipped at build time are checked.
    """
    if len(shadows) < 2 or len(reals) != len(shadows) or analysis.suppress_checks or dead_path(st):
        return
    kind = "elementwise" if kind == "additive" else kind
    tainted = any(c.branch and c.opaque for c in st.pc) or st.unchecked is not None
    for real, shadow in zip(reals[1:], shadows[1:]):
        if real is None:
            return
        real_pairs = aligned_pairs(kind, reals[0], real, axis)
        shadow_pairs = aligned_pairs(kind, shadows[0], shadow, axis)
        if len(real_pairs) != len(shadow_pairs):
            continue
        for (role, index, ra, rb), (_, _, a, b) in zip(real_pairs, shadow_pairs):
            if (ra is not None and rb is not None) or a is None or b is None or caller_contract(a, b):
                continue
            fail = _fail_term(a, b, role)
            if fail is False or tainted or _depends_on_opaque(fail, st.pc):
                continue  # (what is never reported is not asked of the solver)
            if analysis.solver.check_path(st.pc, [fail]) is not True:
                continue
            if not analysis.wants_draft(node, "KSL106", st.chain):
                return
            witness = analysis.witness([c.term for c in st.pc] + [fail], with_data=True, inputs=st.inputs)
            if witness is not None:
                _report(analysis, st, node, "KSL106", display, a, b, _axis_name(role, index, reals[0]), witness)
                return


def _check_broadcast(analysis, st, node, display, pairs) -> None:
    """KSL105: Keras silently broadcasts a 1-channel input of Add/Subtract/Average."""
    for role, index, a, b in pairs:
        if role != "channels" or a is None or b is None or caller_contract(a, b):
            continue
        widened = S.disj(S.conj(S.eq(a, 1), S.ne(b, 1)), S.conj(S.eq(b, 1), S.ne(a, 1)))
        if widened is False or any(c.branch and c.opaque for c in st.pc) or st.unchecked is not None \
                or _depends_on_opaque(widened, st.pc):
            continue  # (what is never reported is not asked of the solver)
        if analysis.solver.check_path(st.pc, [widened]) is not True:
            continue
        if not analysis.wants_draft(node, "KSL105", st.chain):
            return
        witness = analysis.witness([c.term for c in st.pc] + [widened])
        if witness is None:
            continue
        _report(analysis, st, node, "KSL105", display, a, b, "channel", witness)
        return


def _report(analysis, st, node, code, display, a, b, axis, witness) -> None:
    """Record a finding: the sizes as the user reads them for the failing case (see
    shown_sizes), whether they can ever be equal, and what the message's example needs."""
    from .shown_sizes import data_names, shown_sizes

    failure = _failure(code, a, b)
    shown = shown_sizes(analysis, st.pc, failure, a, b, witness, st.inputs)
    one = S.disj(S.eq(a, 1), S.eq(b, 1))
    fields = {
        "merge": display, "left": shown.left, "right": shown.right,
        "axis": "channel axis" if axis == "channel" else axis,
        "never": code != "KSL105" and _never_equal(analysis, st.pc, a, b),
        "one_possible": analysis.solver.check_path(st.pc, [one]) is not False,
        "names": shown.names,
        "defaults": analysis.entry_defaults(),
        "data_names": data_names(st.inputs),
    }
    analysis.record_draft(Draft(
        code=code,
        node=node,
        fields=fields,
        decisions=tuple(st.decisions) + tuple(n for n in shown.notes if n not in st.decisions),
        chain=st.chain,
        witness_args=witness,
        entry=analysis.entry_name,
        module=st.modules[-1],
        # KSL105/KSL106 say the model builds: their witness must be one whose whole build completes
        extra={"defaults": analysis.entry_defaults(),
               **({"pending": ([c.term for c in st.pc] + shown.assumptions, failure)}
                  if code in ("KSL105", "KSL106") else {})},
    ))


def _failure(code, a, b):
    """When the merge fails (KSL105: when it broadcasts one channel)."""
    if code == "KSL105":
        return S.disj(S.conj(S.eq(a, 1), S.ne(b, 1)), S.conj(S.eq(b, 1), S.ne(a, 1)))
    return _fail_term(a, b, "concat" if code == "KSL104" else None)


def _code(kind, role, analysis, conditions, fail, a=None, b=None) -> str:
    """KSL101 when the channel counts can never be equal on this path (sizes are at least 1;
    a count of 1 that Keras broadcasts does not make them equal), else KSL102."""
    if kind == "concat":
        return "KSL104"
    if role == "spatial":
        return "KSL103"
    if fail is True or _never_equal(analysis, conditions, a, b):
        return "KSL101"
    return "KSL102"


def _never_equal(analysis, conditions, a, b) -> bool:
    """Can ``a`` and ``b`` never be equal on this path, for sizes of at least 1?"""
    if a is None or b is None:
        return False
    if not S.is_sym(a) and not S.is_sym(b):
        return a != b
    positive = [size >= 1 for size in (a, b) if S.is_sym(size)]
    return analysis.solver.refutes(conditions, [S.eq(a, b), *positive])


def _axis_name(role, index, tensor=None) -> str:
    """``channel axis`` or ``spatial axis N`` (N counts the batch axis as 0, as Keras's ``axis=`` does);
    ``axis N`` of a tensor with no batch axis (a weight, ``ops.arange``, what an einsum made of them)."""
    if role == "channels":
        return "channel axis"
    if index is None:
        return "axis"
    if tensor is not None and not tensor.batched:
        return f"axis {index}"
    if tensor is not None and tensor.known and index == (tensor.rank - 1 if tensor.channels_last else 0):
        return "channel axis"
    return f"spatial axis {index + 1}"


def blocker(analysis, fail, conditions) -> str:
    """What keeps a failure term from being decided, in words: the opaque value it
    depends on (through the path conditions that share its variables), or the
    undecidable condition the path took."""
    names = _cone(fail, conditions)
    for name in sorted(names):
        origin = provenance.ORIGINS.get(name)
        if origin is not None:
            return describe_origin(analysis, origin)
    for condition in conditions:
        if condition.branch and condition.opaque:
            for name in sorted(condition.names):
                origin = provenance.ORIGINS.get(name)
                if origin is not None:
                    return "the path depends on " + describe_origin(analysis, origin, "condition")
    return "it depends on a value the analyser cannot read"


def _when_read(describe):
    """``describe(analysis, ...)`` as a stand-in its words replace only where they are read
    (Analysis.later_words): a line number costs the positions of a statement's code."""
    @functools.wraps(describe)
    def later(analysis, *args):
        return analysis.later_words(functools.partial(describe, analysis, *args))
    return later


@_when_read
def describe_merge(analysis, node, module) -> str:
    """``Add() at line 40`` (of another file, when it is); ``shape[3] at line 40`` for an index."""
    from .calls import merge_display

    try:
        line = (module or analysis.main).start(node).line
    except (KeyError, AttributeError):
        return "an earlier merge"
    where = f" of {os.path.basename(module.path)}" if module is not None and module is not analysis.main \
        and getattr(module, "path", None) else ""
    return f"{merge_display((module or analysis.main).tree, node)} at line {line}{where}"


@_when_read
def describe_loop(analysis, iterable, module) -> str:
    """``for ... in enumerate(filters) at line 40``: a loop, by what it iterates over."""
    module = module or analysis.main
    try:
        line = module.start(iterable).line
    except (KeyError, AttributeError):
        return "a loop"
    text = " ".join(module.tree.code_for_node(iterable).split())
    text = text if len(text) <= 40 else text[:39] + "\u2026"
    where = f" of {os.path.basename(module.path)}" if module is not analysis.main and getattr(module, "path", None) else ""
    return f"for ... in {text} at line {line}{where}"


@_when_read
def describe_origin(analysis, origin, what: str = "output") -> str:
    """``the output of ops.einsum(...) (line 40) is unknown``."""
    node, module = origin.node, origin.module
    try:
        line = module.start(node).line if module is not None else analysis.main.start(node).line
    except (KeyError, AttributeError):
        line = None
    where = f"line {line}" if line else "an unknown line"
    if module is not None and module is not analysis.main and getattr(module, "path", None):
        where += f" of {os.path.basename(module.path)}"
    code = _short_code(analysis, node, module)
    if what == "condition":
        return f"the condition {code} ({where}), which the analyser cannot decide"
    reason = origin.reason.strip()
    detail = f" ({reason})" if reason and reason not in code else ""
    return f"the output of {code} ({where}) is unknown{detail}"


def _short_code(analysis, node, module) -> str:
    tree = module.tree if module is not None else analysis.module
    try:
        code = tree.code_for_node(node.func if hasattr(node, "func") else node)
    except (AttributeError, TypeError):
        return "a value"
    code = " ".join(code.split())
    return f"`{code[:40]}{'...' if len(code) > 40 else ''}`"


def _cone(fail, conditions) -> set:
    """The opaque variables among those of ``fail`` and of the path conditions that share
    them (its cone of influence)."""
    names = set(S.variables(fail)) if S.is_sym(fail) else set()
    related = [c for c in conditions if c.names]
    changed = True
    while changed:
        changed = False
        for condition in related:
            if condition.names & names and not condition.names <= names:
                names |= condition.names
                changed = True
    return {n for n in names if S.is_opaque_name(n)}


def _depends_on_opaque(fail, conditions) -> bool:
    """Does the failure hinge on a value nothing in the analysed code determines?"""
    if S.names_opaque(fail):
        return True  # no need to follow the conditions
    return bool(_cone(fail, conditions))


def preference_groups(free_params, soft):
    """Witness preferences: the merge's other dims agree, then ordinary values."""
    groups = [[term] for term in soft if not isinstance(term, bool)]
    for name, value, default, role in free_params:
        if isinstance(value, z3.ExprRef):
            groups.append(candidates_for(value, default, role))
    return groups
