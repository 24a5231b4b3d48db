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

from . import provenance, rounding

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


def free_real(name: str) -> z3.ArithRef:
    """A float a caller chooses (``se_ratio``), exact as a rational."""
    return z3.Real(name)


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
    return term_id(value) if isinstance(value, z3.ExprRef) else (type(value), value)


def term_id(term) -> int:
    """z3's id of a term (``term.get_id()``, without its wrapper's error check): equal
    terms share one while either lives."""
    return _ast_id(term.ctx.ref(), term.ast)


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
    rest = cofactor(a, b)
    if rest is not None:  # an exact division: ``(h * w * c) // c`` is ``h * w``
        return rest
    if isinstance(b, int) and b < 0:
        # Python rounds down; z3's division keeps the remainder at least 0, which is the same
        # only for a positive divisor: a // b == (-a) // (-b)
        return (-_as_int_term(a)) / (-b)
    return _as_int_term(a) / _as_int_term(b)


@_memoised
def mod(a, b):
    if not is_sym(a) and not is_sym(b):
        return a % b
    if cofactor(a, b) is not None:  # ``(h * w * c) % c``: nothing is left over
        return 0
    if isinstance(b, int) and b < 0:
        # Python's remainder takes the divisor's sign: a - b * (a // b)
        term = _as_int_term(a)
        return term - b * ((-term) / (-b))
    return _as_int_term(a) % _as_int_term(b)


def _factors(term) -> list:
    """The factors of a product of integers, nested products flattened (``(h * w) * c``)."""
    if is_sym(term) and z3.is_mul(term):
        return [f for child in term.children() for f in _factors(child)]
    if is_sym(term) and z3.is_app_of(term, z3.Z3_OP_UMINUS):  # ``-c``: -1 times c
        return [z3.IntVal(-1)] + _factors(term.arg(0))
    return [term]


def cofactor(a, b):
    """``a / b`` where the integer ``b`` divides the symbolic integer ``a`` as one of its
    factors (each of ``b``'s factors one of ``a``'s, its number dividing ``a``'s number): the
    product of ``a``'s other factors; else None.  For a ``b`` of 0 Python raises before the
    quotient matters (a division the analysed code checks on its own)."""
    if not (is_sym(a) and isinstance(a, z3.ArithRef) and a.is_int()):
        return None
    if isinstance(b, bool) or not (isinstance(b, int) or (is_sym(b) and isinstance(b, z3.ArithRef) and b.is_int())):
        return None
    number, left = 1, []
    for factor in _factors(a):
        if z3.is_int_value(factor):
            number *= factor.as_long()
        else:
            left.append(factor)
    divisor = 1
    for factor in _factors(b):
        if not is_sym(factor) or z3.is_int_value(factor):
            divisor *= factor if not is_sym(factor) else factor.as_long()
            continue
        position = next((i for i, f in enumerate(left) if f.eq(factor)), None)
        if position is None:
            return None
        del left[position]
    if divisor == 0 or number % divisor:
        return None
    quotient = number // divisor
    for factor in left:
        quotient = mul(quotient, factor)
    return quotient


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


def is_real(value) -> bool:
    """Is ``value`` a symbolic real number (a float worked out from sizes)?"""
    return is_sym(value) and isinstance(value, z3.ArithRef) and not value.is_int()


def integer_difference(a, b):
    """An integer term of the sign of ``a - b`` for real terms and numbers ``a`` and ``b``
    (``a < b`` is then that term ``< 0``), or None when their difference is of another form."""
    scaled = rounding.scaled_integer(to_real(a) - to_real(b))
    return None if scaled is None else scaled[0]


def truncate(value):
    """Python's ``int()`` of a number: toward zero."""
    if is_real(value):
        scaled = rounding.scaled_integer(value)
        if scaled is not None:
            numerator, denominator = scaled
            if denominator == 1:
                return numerator
            return z3.If(numerator >= 0, numerator / denominator, -((-numerator) / denominator))
        return z3.If(value >= 0, z3.ToInt(value), -z3.ToInt(-value))
    return to_int(value)


def round_half_even(value):
    """Python's ``round()`` of a number: to the nearest integer, a half to the even one."""
    if not is_real(value):
        return round(value) if not is_sym(value) else value
    scaled = rounding.scaled_integer(value)
    if scaled is not None:
        numerator, denominator = scaled
        if denominator == 1:
            return numerator
        doubled = 2 * numerator + denominator  # 2 * denominator * (value + 1/2)
        nearest = doubled / (2 * denominator)
        return z3.If(z3.And(doubled % (2 * denominator) == 0, nearest % 2 == 1), nearest - 1, nearest)
    nearest = z3.ToInt(value + 0.5)
    return z3.If(z3.And(z3.ToReal(nearest) == value + 0.5, nearest % 2 == 1), nearest - 1, nearest)


def to_int(value):
    """A symbolic number's floor, a concrete one's ``int()`` (a flag: 0 or 1)."""
    if is_sym(value):
        if isinstance(value, z3.ArithRef) and not value.is_int():
            floor = rounding.floor_of(value)
            return z3.ToInt(value) if floor is None else floor
        if isinstance(value, z3.BoolRef):
            return z3.If(value, 1, 0)
        return value
    return int(value)


def ceil(value):
    if is_sym(value):
        if isinstance(value, z3.ArithRef) and not value.is_int():
            return -to_int(-value)
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
    return terms[0] if len(terms) == 1 else _connect(z3.Z3_mk_and, z3.And, terms)


def disj(*terms):
    terms = [t for t in terms if t is not False]
    if any(t is True for t in terms):
        return True
    if not terms:
        return False
    return terms[0] if len(terms) == 1 else _connect(z3.Z3_mk_or, z3.Or, terms)


def _connect(make, python, terms):
    """``python(*terms)`` (z3's ``And`` or ``Or``), made by z3's C function ``make`` directly
    when every term is a boolean term (the same term: z3's Python function first converts
    and checks each argument, which costs more than making the term)."""
    if not all(isinstance(t, z3.BoolRef) for t in terms):
        return python(*terms)
    ctx = terms[0].ctx
    if any(t.ctx is not ctx for t in terms):
        return python(*terms)
    arguments = (z3.Ast * len(terms))(*[t.ast for t in terms])
    return z3.BoolRef(make(ctx.ref(), len(terms), arguments), ctx)


# z3's resource count per millisecond of a query's limit: a query gives up after that many of
# z3's steps, the same on a fast machine and a loaded one (a time limit made answers, and so
# findings, change with the load); the time limit stays, several times longer, as a backstop
# for the work z3 does not count
RLIMIT_PER_MS = 1500
TIME_BACKSTOP = 2


def new_solver(ctx):
    """A z3 solver for the analysis's questions, with z3's Groebner-basis step of nonlinear
    arithmetic turned off.  On keras-hub's models the questions it spent most time on were
    ones z3 gave up on anyway, each running to the time backstop (a Swin stage's layers: 20
    of their 23 s, on divisions and remainders by sizes); without it that file takes 4 s,
    and no merge's outcome and no finding changed on any of the 668 files."""
    solver = z3.Solver(ctx=ctx)
    solver.set("smt.arith.nl.grobner", False)
    return solver


def limit_query(solver, limit_ms: int, left_ms: int | None = None, backstop_ms: int | None = None) -> None:
    """Limit ``solver``'s next checks to ``limit_ms`` worth of z3's steps, and to at most
    ``left_ms`` (the time left to the file) of time.  ``backstop_ms``: the time limit, where
    not ``TIME_BACKSTOP`` times ``limit_ms`` (a short query keeps its solver's backstop: on a
    loaded machine the clock, not the count of steps, would otherwise decide it)."""
    solver.set("rlimit", max(1, limit_ms) * RLIMIT_PER_MS)
    backstop = TIME_BACKSTOP * max(1, limit_ms) if backstop_ms is None else backstop_ms
    solver.set("timeout", backstop if left_ms is None else max(1, min(backstop, left_ms)))


class QueryContext:
    """A z3 context of one file's own, where its questions to the solver are asked.

    z3 numbers its terms in the order they are made, and how far it gets within a step
    limit on a nonlinear question depends on those numbers.  Terms are made in the one
    context all analyses share, so the numbers, and with them which questions z3 answers,
    would depend on the files analysed before in the same process (a flake8 worker's share
    of the files).  Each question is asked on copies made here instead: their numbers depend
    on this file's questions alone.  Only ``_QUERIES`` holds it (a context takes about 16 MB):
    it goes as the next file begins."""

    __slots__ = ("ctx", "solver", "models", "_copies")

    def __init__(self):
        self.ctx = z3.Context()
        self.solver = None  # the incremental solver of the file's questions, with what it
        self.models = None  # keeps beside it (both made by solver.Solver on its first question)
        self._copies: dict = {}  # a term's id -> (the term, its copy here): the term kept alive

    def copy(self, term, key=None):
        """``term``'s copy here (``key``: its id, when the caller has it)."""
        key = term_id(term) if key is None else key
        found = self._copies.get(key)
        if found is None:
            found = self._copies[key] = (term, term.translate(self.ctx))
        return found[1]


_QUERIES: list = []  # the current file's QueryContext, once a question was asked


def query_context() -> QueryContext:
    if not _QUERIES:
        _QUERIES.append(QueryContext())
    return _QUERIES[0]


def valid(term, timeout_ms: int) -> bool:
    """Does the boolean term ``term`` hold whatever its variables are (proven within the steps
    :func:`limit_query` allows for ``timeout_ms``)?  A settled answer is kept per term and file.  Each question gets a
    solver of its own (a solver used incrementally gives up on more nonlinear terms)."""
    key = (valid, term_id(term), timeout_ms)
    found = _TERMS.get(key)
    if found is not None:
        return found[0]
    queries = query_context()
    asked = queries.copy(term)
    for model in reversed(_COUNTER_MODELS):
        # values that made an earlier term false, tried first: paths joined pairwise at a
        # call's return ask about one condition after another, most refuted by the same values
        if z3.is_false(model.eval(asked, model_completion=True)):
            _TERMS[key] = (False, term)
            return False
    solver = new_solver(queries.ctx)
    limit_query(solver, timeout_ms)
    solver.add(z3.Not(asked))
    verdict = solver.check()
    if verdict == z3.sat:
        _COUNTER_MODELS.append(solver.model())
        if len(_COUNTER_MODELS) > _COUNTER_MODELS_KEPT:
            del _COUNTER_MODELS[0]
    if verdict != z3.unknown:  # "gave up" may change with more time: never kept
        _TERMS[key] = (verdict == z3.unsat, term)
    return verdict == z3.unsat


_COUNTER_MODELS: list = []  # the values of the last few terms :func:`valid` found false, newest last
_COUNTER_MODELS_KEPT = 4


def is_flag_test(term) -> bool:
    """Is ``term`` a test of one value a caller chooses by itself: a flag, its negation, or
    one value against a number or a string (``dropout > 0``, ``sr_ratio != 1``,
    ``activation == "gelu"``), not sizes against each other (``filters != input_filters``)?"""
    if z3.is_not(term):
        term = term.arg(0)
    if z3.is_const(term) and z3.is_bool(term) and not z3.is_true(term) and not z3.is_false(term):
        return term.decl().name().isidentifier()  # (not what a value is: ``isinstance(x, list)``)
    if not (z3.is_eq(term) or z3.is_le(term) or z3.is_lt(term) or z3.is_ge(term) or z3.is_gt(term)
            or z3.is_distinct(term)) or term.num_args() != 2:
        return False
    sides = [_unconverted(side) for side in term.children()]
    numbers = [side for side in sides if _literal(side)]
    names = [side for side in sides if z3.is_const(side) and not _literal(side)]
    return len(numbers) == 1 and len(names) == 1 and names[0].decl().name().isidentifier()


def _literal(term) -> bool:
    """A number or a string written in the code (``0.0``, ``"gelu"``)."""
    return z3.is_int_value(term) or z3.is_rational_value(term) or z3.is_string_value(term)


def _unconverted(term):
    while z3.is_app_of(term, z3.Z3_OP_TO_REAL) or z3.is_app_of(term, z3.Z3_OP_TO_INT):
        term = term.arg(0)
    return term


def neg(term):
    if isinstance(term, bool):
        return not term
    # both sides of every branch negate its condition again: built once (kept beside its term)
    key = (neg, term_id(term))
    found = _TERMS.get(key)
    if found is None:
        found = _TERMS[key] = (z3.Not(term), term)
    return found[0]


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


_BATCH: list = []  # the file's batch size, once read
_RUN_TIME: set = set()  # the names of sizes read at run time (the batch size's among them)


def batch_size():
    """What ``ops.shape(x)[0]`` reads while a model is built: Keras does not know the batch size,
    but the backend holds it as a value (a tensor in TensorFlow, a symbolic dimension in JAX)
    that arithmetic takes; one number nobody knows, the same for every tensor of the file."""
    if not _BATCH:
        _BATCH.append(run_time_size(" (the batch size)"))
    return _BATCH[0]


def run_time_size(label: str = " (a size known at run time)"):
    """What ``ops.shape(x)[i]`` reads of an axis Keras does not know (a sequence's length): the
    backend's value while the model is built, a number nobody knows."""
    size = opaque_int(label)
    _RUN_TIME.add(size.decl().name())
    return size


def from_run_time(value) -> bool:
    """Is ``value`` worked out from sizes ``ops.shape(x)`` read of axes Keras does not know
    (``b // windows``, or such a size itself)?  Keras knows no such size when it builds: a shape
    given it has None there."""
    return bool(_RUN_TIME) and is_sym(value) and not _RUN_TIME.isdisjoint(variables(value))


def reset_caches() -> None:
    """Forget memoised term facts (called once per analysed file)."""
    provenance.reset()
    _BATCH.clear()
    _RUN_TIME.clear()
    _QUERIES.clear()
    _VARIABLES.clear()
    _KEEP_ALIVE.clear()
    _TERMS.clear()
    _COUNTER_MODELS.clear()


def variables(term) -> frozenset:
    """Names of the uninterpreted constants in a term (memoised per subterm)."""
    if not isinstance(term, z3.ExprRef):
        return frozenset()
    ctx = term.ctx_ref()
    root = term.as_ast()
    key = _ast_id(ctx, root)
    found = _VARIABLES.get(key)
    if found is not None:
        return found
    # the subterms are walked through z3's C interface directly: wrapping each in a
    # Python object (``children()``) costs far more than the walk.  Their ids stay valid
    # while the root lives, and the root is kept alive beside the table.
    _KEEP_ALIVE.append(term)
    # iterative post-order walk, so deep terms cannot overflow the stack
    stack = [(root, key, False)]
    while stack:
        node, node_key, expanded = stack.pop()
        if node_key in _VARIABLES:
            continue
        kind = _ast_kind(ctx, node)
        if kind != z3.Z3_APP_AST and kind != z3.Z3_NUMERAL_AST:  # a quantifier or its variable
            _VARIABLES[node_key] = frozenset()
            continue
        count = _num_args(ctx, node)
        if count == 0:
            decl = _app_decl(ctx, node)
            if _decl_kind(ctx, decl) == z3.Z3_OP_UNINTERPRETED:
                _VARIABLES[node_key] = frozenset((_symbol_name(ctx, _decl_name(ctx, decl)),))
            else:
                _VARIABLES[node_key] = frozenset()
            continue
        if not expanded:
            children = [_app_arg(ctx, node, i) for i in range(count)]
            stack.append((node, node_key, True))
            for child in children:
                child_key = _ast_id(ctx, child)
                if child_key not in _VARIABLES:
                    stack.append((child, child_key, False))
            continue
        _VARIABLES[node_key] = frozenset().union(
            *(_VARIABLES[_ast_id(ctx, _app_arg(ctx, node, i))] for i in range(count)))
    return _VARIABLES[key]


def _symbol_name(ctx, symbol) -> str:
    if z3.Z3_get_symbol_kind(ctx, symbol) == z3.Z3_INT_SYMBOL:
        return "k!%s" % z3.Z3_get_symbol_int(ctx, symbol)
    return z3.Z3_get_symbol_string(ctx, symbol)


def unchecked(wrapper):
    """z3's C function behind one of its Python wrappers, called without the error check
    the wrapper adds after each call: for functions that only read a live term, which
    cannot fail.  The wrapper itself where z3 is laid out otherwise."""
    defaults = getattr(wrapper, "__defaults__", None) or ()
    return getattr(defaults[-1], "f", wrapper) if defaults else wrapper


_ast_id = unchecked(z3.Z3_get_ast_id)
_ast_kind = unchecked(z3.Z3_get_ast_kind)
_num_args = unchecked(z3.Z3_get_app_num_args)
_app_arg = unchecked(z3.Z3_get_app_arg)
_app_decl = unchecked(z3.Z3_get_app_decl)
_decl_kind = unchecked(z3.Z3_get_decl_kind)
_decl_name = unchecked(z3.Z3_get_decl_name)


def is_opaque_name(name: str) -> bool:
    return name.startswith(OPAQUE_PREFIX)


def names_opaque(term) -> bool:
    """Does ``term`` depend on a size or flag nothing in the analysed code determines?"""
    return is_sym(term) and any(is_opaque_name(name) for name in variables(term))


def nobodys(term) -> bool:
    """Is ``term`` a term computed from a size or flag nobody knows, with no conditional in it
    (a broadcast ``hidden_dim if ?1 == 1 else ?1`` is known where ``hidden_dim`` is not 1)?"""
    if not names_opaque(term):
        return False
    pending, seen = [term], set()
    while pending:
        node = pending.pop()
        if node.get_id() in seen or not z3.is_app(node):
            continue
        seen.add(node.get_id())
        if node.decl().kind() == z3.Z3_OP_ITE:
            return False
        pending.extend(node.children())
    return True


def is_opaque_leaf(term) -> bool:
    """Is ``term`` a size or flag nobody knows, by itself (not a sum or product with one)?"""
    return z3.is_const(term) and is_opaque_name(term.decl().name())


# ---------------------------------------------------------------- display
#
# Sizes are shown as Python in the user's names.  The analyser's own modelling
# never shows: a size Keras broadcasts (``b if a == 1 else a``) reads as
# ``max(a, b)``, which is exact wherever the merge succeeded; a conditional the
# caller can decide (``decide``) shows only the side that holds; sums and
# products are collected (``x - 2*k + 2`` rather than ``x - (k + 1) + 1 - (k + 1) + 1``)
# when that is shorter.

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
_ATOM = 9
_MAX_MONOMIALS = 16  # a product of sums that expands further is shown as written


MAX_SHOWN = 240  # longer renderings are cut: a message must stay readable


def show(value, decide=None) -> str:
    """Render a value as Python-like source in the user's names.

    ``decide(condition)`` may answer True, False or None (not known) for the
    condition of a conditional size; a decided conditional shows one side.
    """
    if value is None:
        return "None"
    if not is_sym(value):
        return repr(value)
    if decide is None:
        text = _show(value)[0]
    else:
        text = _Renderer(decide).show(resolve(value, decide))[0]
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "\u2026"


def resolve(term, decide):
    """``term`` with every conditional whose condition ``decide`` settles replaced by its side."""
    if not is_sym(term):
        return term
    memo: dict = {}

    def walk(node):
        key = node.get_id()
        if key in memo:
            return memo[key]
        result = node
        if z3.is_app(node) and node.num_args():
            if node.decl().kind() == z3.Z3_OP_ITE:
                verdict = decide(node.arg(0))
                if verdict is True:
                    result = walk(node.arg(1))
                elif verdict is False:
                    result = walk(node.arg(2))
            if result is node:
                children = [walk(c) for c in node.children()]
                if any(not c.eq(o) for c, o in zip(children, node.children())):
                    result = node.decl()(*children)
        memo[key] = result
        return result

    try:
        return walk(term)
    except (RecursionError, z3.Z3Exception):
        return term


def conditionals(term) -> list:
    """The conditions of the conditional sizes in ``term``, outermost first, each once."""
    if not is_sym(term):
        return []
    found, seen, stack = [], set(), [term]
    while stack:
        node = stack.pop()
        if node.get_id() in seen or not z3.is_app(node):
            continue
        seen.add(node.get_id())
        if node.decl().kind() == z3.Z3_OP_ITE and not _is_broadcast(node):
            condition = node.arg(0)
            if not any(condition.eq(c) for c in found):
                found.append(condition)
        stack.extend(reversed(node.children()))
    return found


_ORDER = {z3.Z3_OP_LE: "min", z3.Z3_OP_LT: "min", z3.Z3_OP_GE: "max", z3.Z3_OP_GT: "max"}


def _min_or_max(condition, then, otherwise):
    """``"min"`` for ``a if a <= b else b`` (or ``b if a > b else a`` ...), ``"max"`` for the
    other way round, else None."""
    kind = _ORDER.get(condition.decl().kind()) if z3.is_app(condition) else None
    if kind is None or condition.num_args() != 2:
        return None
    left, right = condition.children()
    if then.eq(left) and otherwise.eq(right):
        return kind
    if then.eq(right) and otherwise.eq(left):
        return "max" if kind == "min" else "min"
    return None


def _is_broadcast(term) -> bool:
    """``b if a == 1 else a``: the size of an element-wise merge of ``a`` and ``b``."""
    condition, _, otherwise = term.children()
    if not z3.is_eq(condition):
        return False
    left, right = condition.children()
    return z3.is_int_value(right) and right.as_long() == 1 and left.eq(otherwise)


_SHOWN: dict = {}


def _show(term) -> tuple[str, int]:
    """Memoised per subterm: shared subterms (a size used on both sides of a
    conditional) would otherwise be rendered once per path through the term."""
    key = term.get_id()
    found = _SHOWN.get(key)
    if found is None or found[0] is not term and not found[0].eq(term):
        found = (term, _DEFAULT.render(term))
        _SHOWN[key] = found
        if len(_SHOWN) > 20000:
            _SHOWN.clear()
            _SHOWN[key] = found
    return found[1]


def _render(term) -> tuple[str, int]:
    return _DEFAULT.render(term)


class _Renderer:
    """Renders terms; ``decide`` settles conditionals (None: show them as written)."""

    def __init__(self, decide=None, memo: dict | None = None):
        self.decide = decide
        self.memo = {} if memo is None else memo

    def show(self, term) -> tuple[str, int]:
        if self is _DEFAULT:
            return _show(term)
        key = term.get_id()
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.render(term)
        return found

    def wrap(self, term, prec: int) -> str:
        text, own = self.show(term)
        return f"({text})" if own < prec else text

    def render(self, term) -> tuple[str, int]:
        if z3.is_int_value(term):
            return str(term.as_long()), _ATOM
        if z3.is_rational_value(term):
            return str(term.as_fraction()), _ATOM
        if z3.is_true(term):
            return "True", _ATOM
        if z3.is_false(term):
            return "False", _ATOM
        if z3.is_const(term):
            name = term.decl().name()
            if is_opaque_name(name):
                return "?", _ATOM
            return name.lstrip(DYNAMIC_PREFIX), _ATOM
        kind = term.decl().kind()
        args = term.children()
        if kind == z3.Z3_OP_TO_REAL:
            return self.show(args[0])
        if kind == z3.Z3_OP_TO_INT:
            return f"int({self.show(args[0])[0]})", _ATOM
        if kind == z3.Z3_OP_NOT:
            inner = args[0]
            if z3.is_eq(inner):
                a, b = inner.children()
                return f"{self.wrap(a, 0)} != {self.wrap(b, 0)}", 0
            return f"not {self.wrap(inner, -1)}", -1
        if kind == z3.Z3_OP_UMINUS:
            return f"-{self.wrap(args[0], 3)}", 3
        if kind == z3.Z3_OP_ITE:
            return self._conditional(term)
        if kind in (z3.Z3_OP_ADD, z3.Z3_OP_SUB, z3.Z3_OP_MUL):
            written = self._arithmetic(kind, args)
            collected = self._collected(term)
            if collected is not None and (len(collected[0]) <= 0.9 * len(written[0]) or (
                    len(collected[0]) < len(written[0]) and collected[1] >= 2)):
                return collected
            return written
        if kind in (z3.Z3_OP_IDIV, z3.Z3_OP_DIV) and z3.is_int_value(args[1]) and args[1].as_long() == 1:
            return self.show(args[0])  # a stride of 1 that a decided conditional left behind
        if kind in (z3.Z3_OP_AND, z3.Z3_OP_OR):
            # and inside or (and the reverse) is always parenthesised: nobody should need
            # Python's precedence table to read a condition
            symbol, prec = _BINARY[kind]
            return symbol.join(self.wrap(arg, -1) for arg in args), prec
        if kind in _BINARY:
            symbol, prec = _BINARY[kind]
            text = self.wrap(args[0], prec)
            for arg in args[1:]:
                text += symbol + self.wrap(arg, prec + 1)
            return text, prec
        return str(term), _ATOM

    def _conditional(self, term) -> tuple[str, int]:
        condition, then, otherwise = term.children()
        verdict = self.decide(condition) if self.decide is not None else None
        if verdict is True:
            return self.show(then)
        if verdict is False:
            return self.show(otherwise)
        if _is_broadcast(term):
            # exact wherever Keras accepted the merge: equal sizes, or one of them 1
            return f"max({self.show(otherwise)[0]}, {self.show(then)[0]})", _ATOM
        extreme = _min_or_max(condition, then, otherwise)
        if extreme is not None:  # ``a if a <= b else b``: a slice bound clamped to its axis
            return f"{extreme}({self.show(then)[0]}, {self.show(otherwise)[0]})", _ATOM
        return f"{self.wrap(then, -3)} if {self.wrap(condition, -3)} else {self.wrap(otherwise, -3)}", -4

    def _arithmetic(self, kind, args) -> tuple[str, int]:
        symbol, prec = _BINARY[kind]
        parts = [self.wrap(args[0], prec)]
        for arg in args[1:]:
            if kind == z3.Z3_OP_ADD and z3.is_int_value(arg) and arg.as_long() < 0:
                parts.append(f" - {-arg.as_long()}")
            elif kind == z3.Z3_OP_ADD:
                parts.append(symbol + self.wrap(arg, prec))
            else:  # the right operand of - and of * (a*(b//c) is not a*b//c)
                parts.append(symbol + self.wrap(arg, prec + 1))
        return "".join(parts), prec

    # ------------------------------------------------------------- collected sums
    def _collected(self, term) -> tuple[str, int] | None:
        """The sum of products ``term`` equals, like terms collected, or None."""
        atoms: list = []  # first appearance order
        polynomial = _polynomial(term, atoms)
        if polynomial is None:
            return None
        order = {atom.get_id(): i for i, atom in enumerate(atoms)}
        by_id = {atom.get_id(): atom for atom in atoms}
        monomials = [(key, c) for key, c in polynomial.items() if c != 0]
        monomials.sort(key=lambda item: (not item[0], sorted(order[k] for k in item[0])))
        if not monomials:
            return "0", _ATOM
        parts = []
        if len(monomials) == 1 and monomials[0][0] and abs(monomials[0][1]) != 1:
            # one product: the number last, as people write it (``(h + 1)//2*4``)
            key, coefficient = monomials[0]
            factors = sorted(key, key=order.get)
            body = self.wrap(by_id[factors[0]], 2) + "".join("*" + self.wrap(by_id[k], 3) for k in factors[1:])
            body += f"*{abs(coefficient)}"
            return (f"-{body}", 1) if coefficient < 0 else (body, 2)
        for index, (key, coefficient) in enumerate(monomials):
            factors = [by_id[k] for k in sorted(key, key=order.get)]
            magnitude = abs(coefficient)
            if not factors:
                body, own = str(magnitude), _ATOM
            elif magnitude == 1:
                body = self.wrap(factors[0], 2) + "".join("*" + self.wrap(f, 3) for f in factors[1:])
                own = 2 if len(factors) > 1 else self.show(factors[0])[1]
            else:
                body, own = str(magnitude) + "".join("*" + self.wrap(f, 3) for f in factors), 2
            if index == 0:
                if coefficient < 0:
                    parts.append("-" + (body if own >= 3 else f"({body})"))
                else:
                    parts.append(body if own >= 1 or len(monomials) == 1 else f"({body})")
            else:
                sign = " - " if coefficient < 0 else " + "
                parts.append(sign + (body if own > 1 else f"({body})"))
        if len(monomials) == 1:
            key, coefficient = monomials[0]
            own = _ATOM if not key and coefficient >= 0 else (2 if key and abs(coefficient) != 1 or len(key) > 1
                                                               else (3 if coefficient < 0 else
                                                                     self.show(by_id[key[0]])[1]))
            return parts[0], own
        return "".join(parts), 1


_DEFAULT = _Renderer()


def _polynomial(term, atoms: list) -> dict | None:
    """``term`` as {sorted atom ids: integer coefficient}; None past the size limit or for reals."""
    if not z3.is_int(term):
        return None

    def atom(node):
        if not any(node.eq(a) for a in atoms):
            atoms.append(node)
        found = next(a for a in atoms if node.eq(a))
        return {(found.get_id(),): 1}

    def walk(node):
        if z3.is_int_value(node):
            return {(): node.as_long()}
        if not z3.is_app(node) or z3.is_const(node):
            return atom(node)
        kind = node.decl().kind()
        args = node.children()
        if kind == z3.Z3_OP_ADD:
            return _sum([walk(a) for a in args])
        if kind == z3.Z3_OP_SUB:
            first, *rest = [walk(a) for a in args]
            return _sum([first] + [_scale(p, -1) for p in rest])
        if kind == z3.Z3_OP_UMINUS:
            return _scale(walk(args[0]), -1)
        if kind == z3.Z3_OP_MUL:
            product = {(): 1}
            for a in args:
                product = _product(product, walk(a))
                if len(product) > _MAX_MONOMIALS:
                    raise OverflowError
            return product
        return atom(node)

    try:
        return walk(term)
    except (OverflowError, RecursionError):
        return None


def _sum(polynomials) -> dict:
    total: dict = {}
    for polynomial in polynomials:
        for key, coefficient in polynomial.items():
            total[key] = total.get(key, 0) + coefficient
    if len(total) > _MAX_MONOMIALS:
        raise OverflowError
    return total


def _scale(polynomial, factor) -> dict:
    return {key: c * factor for key, c in polynomial.items()}


def _product(a, b) -> dict:
    out: dict = {}
    for ka, ca in a.items():
        for kb, cb in b.items():
            key = tuple(sorted(ka + kb))
            out[key] = out.get(key, 0) + ca * cb
    return out
