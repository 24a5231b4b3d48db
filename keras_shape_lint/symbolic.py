"""Integer and boolean arithmetic over concrete Python values and z3 terms.

Concrete values stay plain Python ints and bools; only when a symbolic
operand is involved does an operation build a z3 term.  Every function here
accepts both kinds and returns the simplest kind that is exact.

Free variables (a caller may choose them) are named after the user's own
names (``filters``, ``channels(x)``).  Opaque variables (values nothing in
the analysed code determines) carry names that start with ``?``; a
disequality that depends on one is never reported.
"""

from __future__ import annotations

import itertools

import z3

from . import provenance

OPAQUE_PREFIX = "?"
# sizes Keras leaves unknown (None) until data flows: chosen by the data, not the code
DYNAMIC_PREFIX = "~"
_opaque_ids = itertools.count(1)


def is_sym(value) -> bool:
    return isinstance(value, z3.ExprRef)


def is_int_like(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, z3.ArithRef) and value.is_int()
    )


def is_bool_like(value) -> bool:
    return isinstance(value, bool) or isinstance(value, z3.BoolRef)


def free_int(name: str) -> z3.ArithRef:
    return z3.Int(name)


def free_str(name: str) -> z3.SeqRef:
    """A string a caller chooses (``block_type``), compared with the literals the code names."""
    return z3.String(name)


def free_bool(name: str) -> z3.BoolRef:
    return z3.Bool(name)


def dynamic_int(name: str) -> z3.ArithRef:
    return z3.Int(DYNAMIC_PREFIX + name)


def opaque_int(label: str = "", origin=None) -> z3.ArithRef:
    """A size nothing in the analysed code determines; ``origin`` says where it came from
    (else the call being evaluated now)."""
    name = f"{OPAQUE_PREFIX}{next(_opaque_ids)}{label}"
    provenance.register(name, origin or provenance.here())
    return z3.Int(name)


def opaque_bool(label: str = "", origin=None) -> z3.BoolRef:
    name = f"{OPAQUE_PREFIX}{next(_opaque_ids)}{label}"
    provenance.register(name, origin or provenance.here())
    return z3.Bool(name)


def to_real(value):
    if is_sym(value):
        return z3.ToReal(value) if value.is_int() else value
    return z3.RealVal(value)


_TERMS: dict = {}  # (operation, operand keys) -> (result, operands): one z3 term per question


def _operand_key(value):
    return value.get_id() if isinstance(value, z3.ExprRef) else (type(value), value)


def _memoised(operation):
    """Build each symbolic result once per file.

    Networks apply the same arithmetic to the same sizes again and again (every
    entry point rebuilds them); z3 terms are slow to build from Python, so a
    result is looked up by its operands' ids.  The entry keeps the operands
    alive, so their ids cannot be reused while it exists.  Concrete operands
    skip the table.
    """

    def run(a, b):
        if not isinstance(a, z3.ExprRef) and not isinstance(b, z3.ExprRef):
            return operation(a, b)
        try:
            key = (operation, _operand_key(a), _operand_key(b))
            found = _TERMS.get(key)
        except TypeError:  # an unhashable operand
            return operation(a, b)
        if found is None:
            found = _TERMS[key] = (operation(a, b), a, b)
        return found[0]

    run.__name__ = operation.__name__
    run.__doc__ = operation.__doc__
    run.__wrapped__ = operation
    return run


def _is_const(value, number) -> bool:
    return not is_sym(value) and not isinstance(value, bool) and value == number


@_memoised
def add(a, b):
    if _is_const(b, 0):
        return a
    if _is_const(a, 0):
        return b
    if is_sym(a) and not is_sym(b) and isinstance(b, int) and b < 0:
        return a - (-b)
    if is_sym(a) and _is_sum_with_const(a) and not is_sym(b):
        return _fold_const(a, b)
    return a + b


@_memoised
def sub(a, b):
    if _is_const(b, 0):
        return a
    if is_sym(a) and _is_sum_with_const(a) and not is_sym(b) and isinstance(b, (int,)):
        return _fold_const(a, -b)
    return a - b


def _is_sum_with_const(term) -> bool:
    if not z3.is_app(term) or term.num_args() != 2:
        return False
    kind = term.decl().kind()
    return kind in (z3.Z3_OP_ADD, z3.Z3_OP_SUB) and z3.is_int_value(term.arg(1))


def _fold_const(term, delta):
    """``(e + c) + delta`` as ``e + (c + delta)``, keeping displayed sizes short."""
    head, const = term.arg(0), term.arg(1).as_long()
    total = const + delta if term.decl().kind() == z3.Z3_OP_ADD else -const + delta
    if total == 0:
        return head
    return head + total if total > 0 else head - (-total)


@_memoised
def mul(a, b):
    if _is_const(b, 1):
        return a
    if _is_const(a, 1):
        return b
    return a * b


@_memoised
def floordiv(a, b):
    if _is_const(b, 1):
        return a
    if not is_sym(a) and not is_sym(b):
        return a // b
    return _as_int_term(a) / _as_int_term(b)


@_memoised
def mod(a, b):
    if not is_sym(a) and not is_sym(b):
        return a % b
    return _as_int_term(a) % _as_int_term(b)


@_memoised
def truediv(a, b):
    if not is_sym(a) and not is_sym(b):
        return a / b
    return to_real(a) / to_real(b)


@_memoised
def ceildiv(a, b):
    if _is_const(b, 1):
        return a
    if not is_sym(a) and not is_sym(b):
        return -(-a // b)
    return sub(add(_as_int_term(a), b), 1) / _as_int_term(b)


def to_int(value):
    """Python's ``int()``: truncation toward zero (floor for the sizes seen here)."""
    if is_sym(value):
        if isinstance(value, z3.ArithRef) and not value.is_int():
            return z3.ToInt(value)
        if isinstance(value, z3.BoolRef):
            return z3.If(value, 1, 0)
        return value
    return int(value)


def ceil(value):
    if is_sym(value):
        if isinstance(value, z3.ArithRef) and not value.is_int():
            return -z3.ToInt(-value)
        return value
    import math

    return math.ceil(value)


@_memoised
def maximum(a, b):
    if not is_sym(a) and not is_sym(b):
        return max(a, b)
    return z3.If(a >= b, a, b)


@_memoised
def minimum(a, b):
    if not is_sym(a) and not is_sym(b):
        return min(a, b)
    return z3.If(a <= b, a, b)


@_memoised
def eq(a, b):
    if not is_sym(a) and not is_sym(b):
        return a == b
    return _coerce_eq(a, b, True)


@_memoised
def ne(a, b):
    if not is_sym(a) and not is_sym(b):
        return a != b
    return _coerce_eq(a, b, False)


def _coerce_eq(a, b, equal):
    if isinstance(a, z3.BoolRef) or isinstance(b, z3.BoolRef):
        a, b = _as_bool_term(a), _as_bool_term(b)
    term = a == b
    return term if equal else z3.Not(term)


def conj(*terms):
    terms = [t for t in terms if t is not True]
    if any(t is False for t in terms):
        return False
    if not terms:
        return True
    return terms[0] if len(terms) == 1 else z3.And(*terms)


def disj(*terms):
    terms = [t for t in terms if t is not False]
    if any(t is True for t in terms):
        return True
    if not terms:
        return False
    return terms[0] if len(terms) == 1 else z3.Or(*terms)


def neg(term):
    if isinstance(term, bool):
        return not term
    return z3.Not(term)


def ite(cond, a, b):
    if isinstance(cond, bool):
        return a if cond else b
    if isinstance(a, bool) or isinstance(b, bool):
        return z3.If(cond, _as_bool_term(a), _as_bool_term(b))
    return z3.If(cond, a, b)


def _as_int_term(value):
    if is_sym(value):
        return value
    return z3.IntVal(value)


def _as_bool_term(value):
    if isinstance(value, z3.BoolRef):
        return value
    if is_sym(value):
        return value != 0
    return z3.BoolVal(bool(value))


_VARIABLES: dict = {}
_KEEP_ALIVE: list = []


def reset_caches() -> None:
    """Forget memoised term facts (called once per analysed file)."""
    provenance.reset()
    _VARIABLES.clear()
    _KEEP_ALIVE.clear()
    _TERMS.clear()


def variables(term) -> frozenset:
    """Names of the uninterpreted constants in a term (memoised per subterm)."""
    if not is_sym(term):
        return frozenset()
    key = term.get_id()
    found = _VARIABLES.get(key)
    if found is not None:
        return found
    # iterative post-order walk, so deep terms cannot overflow the stack
    stack = [(term, False)]
    while stack:
        node, expanded = stack.pop()
        node_key = node.get_id()
        if node_key in _VARIABLES:
            continue
        if z3.is_const(node):
            kind = node.decl().kind()
            names = frozenset((node.decl().name(),)) if kind == z3.Z3_OP_UNINTERPRETED else frozenset()
            _VARIABLES[node_key] = names
            _KEEP_ALIVE.append(node)
            continue
        children = node.children()
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in children if child.get_id() not in _VARIABLES)
            continue
        names = frozenset().union(*(_VARIABLES[c.get_id()] for c in children)) if children else frozenset()
        _VARIABLES[node_key] = names
        _KEEP_ALIVE.append(node)
    return _VARIABLES[key]


def is_opaque_name(name: str) -> bool:
    return name.startswith(OPAQUE_PREFIX)


# ---------------------------------------------------------------- display

_BINARY = {
    z3.Z3_OP_ADD: (" + ", 1),
    z3.Z3_OP_SUB: (" - ", 1),
    z3.Z3_OP_MUL: ("*", 2),
    z3.Z3_OP_IDIV: ("//", 2),
    z3.Z3_OP_DIV: ("/", 2),
    z3.Z3_OP_MOD: ("%", 2),
    z3.Z3_OP_EQ: (" == ", 0),
    z3.Z3_OP_LE: (" <= ", 0),
    z3.Z3_OP_LT: (" < ", 0),
    z3.Z3_OP_GE: (" >= ", 0),
    z3.Z3_OP_GT: (" > ", 0),
    z3.Z3_OP_AND: (" and ", -2),
    z3.Z3_OP_OR: (" or ", -3),
}


MAX_SHOWN = 240  # longer renderings are cut: a message must stay readable


def show(value) -> str:
    """Render a value as Python-like source in the user's names."""
    if value is None:
        return "None"
    if not is_sym(value):
        return repr(value)
    text = _show(value)[0]
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "\u2026"


_SHOWN: dict = {}


def _show(term) -> tuple[str, int]:
    """Memoised per subterm: shared subterms (a size used on both sides of a
    conditional) would otherwise be rendered once per path through the term."""
    key = term.get_id()
    found = _SHOWN.get(key)
    if found is None or found[0] is not term and not found[0].eq(term):
        found = (term, _render(term))
        _SHOWN[key] = found
        if len(_SHOWN) > 20000:
            _SHOWN.clear()
            _SHOWN[key] = found
    return found[1]


def _render(term) -> tuple[str, int]:
    if z3.is_int_value(term):
        return str(term.as_long()), 9
    if z3.is_rational_value(term):
        return str(term.as_fraction()), 9
    if z3.is_true(term):
        return "True", 9
    if z3.is_false(term):
        return "False", 9
    if z3.is_const(term):
        name = term.decl().name()
        if is_opaque_name(name):
            return "?", 9
        return name.lstrip(DYNAMIC_PREFIX), 9
    kind = term.decl().kind()
    args = term.children()
    if kind in (z3.Z3_OP_TO_REAL,):
        return _show(args[0])
    if kind == z3.Z3_OP_TO_INT:
        return f"int({_show(args[0])[0]})", 9
    if kind == z3.Z3_OP_NOT:
        inner = args[0]
        if z3.is_eq(inner):
            a, b = inner.children()
            return f"{_wrap(a, 0)} != {_wrap(b, 0)}", 0
        return f"not {_wrap(inner, -1)}", -1
    if kind == z3.Z3_OP_UMINUS:
        return f"-{_wrap(args[0], 3)}", 3
    if kind == z3.Z3_OP_ITE:
        c, a, b = args
        return f"{_wrap(a, -3)} if {_wrap(c, -3)} else {_wrap(b, -3)}", -4
    if kind in _BINARY:
        symbol, prec = _BINARY[kind]
        if kind == z3.Z3_OP_ADD:
            parts = [_wrap(args[0], prec)]
            for arg in args[1:]:
                if z3.is_int_value(arg) and arg.as_long() < 0:
                    parts.append(f" - {-arg.as_long()}")
                else:
                    parts.append(symbol + _wrap(arg, prec))
            return "".join(parts), prec
        right_prec = prec + 1 if kind in (z3.Z3_OP_SUB, z3.Z3_OP_IDIV, z3.Z3_OP_DIV, z3.Z3_OP_MOD) else prec
        text = _wrap(args[0], prec)
        for arg in args[1:]:
            text += symbol + _wrap(arg, right_prec)
        return text, prec
    return str(term), 9


def _wrap(term, prec: int) -> str:
    text, own = _show(term)
    return f"({text})" if own < prec else text
