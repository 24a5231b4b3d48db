"""How a finding shows the two sizes it compares.

The sizes are z3 terms; what the user reads is Python in their own names, for
the case that fails:

* a conditional size (``2 if downsample else 1``) shows the side the failing
  case takes.  When the path alone settles the condition nothing more is said;
  when only the failure does (the sizes differ only if ``downsample``), the
  condition joins the path condition (``when downsample=True``); when either side
  fails, the witness's side is shown and named the same way;
* a size Keras broadcasts reads ``max(a, b)`` unless the failing case settles it;
* the parameters the sizes and their path condition depend on (a short message
  shows only those in its example).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import z3

from . import symbolic as S
from .solver import relevant
from .values import Unknown

MAX_SETTLED = 8  # conditionals settled per finding; any further ones show as written


@dataclass
class ShownSizes:
    left: str
    right: str
    #: conditions the failing case needs beyond the path condition, as the message says them
    notes: list = field(default_factory=list)
    #: the parameters the sizes depend on
    names: list = field(default_factory=list)
    #: the conditions behind ``notes``, as terms (a witness solved again must keep them)
    assumptions: list = field(default_factory=list)


def shown_sizes(analysis, conditions, failure, a, b, witness: dict, inputs=()) -> ShownSizes:
    solver = analysis.solver
    pins = witness_terms(analysis, witness, inputs)
    settled: dict = {}
    assumed = [failure]
    notes = []

    def ask(condition, extra):
        can_hold = solver.check_path(conditions, extra + [condition])
        can_fail = solver.check_path(conditions, extra + [S.neg(condition)])
        if can_fail is False and can_hold is not False:
            return True
        if can_hold is False and can_fail is not False:
            return False
        return None

    def decide(condition):
        key = condition.get_id()
        if key not in settled:  # a broadcast size: settled by the failing case, or max()
            settled[key] = ask(condition, assumed)
        return settled[key]

    def known(condition):
        return settled.get(condition.get_id())

    for _ in range(MAX_SETTLED):
        pending = [c for term in (a, b) for c in S.conditionals(S.resolve(term, known))
                   if c.get_id() not in settled]
        if not pending:
            break
        condition = pending[0]
        verdict = ask(condition, [])
        if verdict is None:
            verdict = ask(condition, assumed)
            if verdict is None:  # either side fails: take the witness's
                verdict = solver.check_path(conditions, assumed + pins + [condition]) is not False
            notes.append(condition_text(condition, verdict))
            assumed.append(condition if verdict else S.neg(condition))
        settled[condition.get_id()] = verdict
    left, right = S.resolve(a, decide), S.resolve(b, decide)
    shown = ShownSizes(S.show(left, decide), S.show(right, decide), notes, assumptions=assumed[1:])
    names = set()
    for term in [left, right, *relevant(conditions, [failure])]:
        names |= {parameter_name(n) for n in S.variables(term) if not S.is_opaque_name(n)}
    shown.names = sorted(names)
    return shown


def condition_text(condition, holds: bool) -> str:
    """A settled condition as a path condition reads: ``downsample=True``, ``stride != 1``."""
    if z3.is_not(condition):
        return condition_text(condition.arg(0), not holds)
    if z3.is_const(condition) and z3.is_bool(condition):
        return f"{S.show(condition)}={holds}"
    return S.show(condition if holds else S.neg(condition))


def parameter_name(variable: str) -> str:
    """``channels(x)`` and ``x.shape[1]`` -> ``x``; ``filters`` -> ``filters``."""
    variable = variable.lstrip(S.DYNAMIC_PREFIX)
    found = re.match(r"channels\((\w+)\)", variable) or re.match(r"(\w+)", variable)
    return found.group(1) if found else variable


def witness_terms(analysis, witness: dict, inputs=()) -> list:
    """The witness as equations over the entry's free values (and the data's sizes)."""
    chosen = {**(witness.get("args") or {}), **(witness.get("call") or {})}
    terms = []
    for param in analysis.free_params:
        if param.name not in chosen:
            continue
        value, pick = param.value, chosen[param.name]
        if isinstance(value, Unknown):
            if value._tensor is not None and isinstance(pick, dict):
                tensor = value._tensor
                dims = tensor.dims if tensor.known else (tensor.channels_dim(),)
                terms += [d == v for d, v in zip(dims, pick["shape"][1:]) if S.is_sym(d) and v is not None]
            elif value._int is not None and isinstance(pick, int) and not isinstance(pick, bool):
                terms.append(value._int == pick)
            elif value._bool is not None and isinstance(pick, bool):
                terms.append(value._bool == pick)
        elif S.is_sym(value) and isinstance(pick, (int, bool)):
            terms.append(value == pick)
    for shadow, shape in zip(inputs, witness.get("data") or ()):
        terms += [d == v for d, v in zip(shadow.dims, shape[1:]) if S.is_sym(d) and v is not None]
    return terms


def data_names(inputs) -> list:
    """What a message calls the data fed to each of a path's ``inputs`` (their shadows)."""
    return [shadow.label or f"input {n}" for n, shadow in enumerate(inputs, 1)]
