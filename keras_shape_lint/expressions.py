"""Expressions: names, literals, calls, operators, comparisons and subscripts.

A mixin of :class:`keras_shape_lint.interpreter.Interpreter`: each ``ex_<Node>`` method maps
one state to ``[(state, value), ...]``.
"""

from __future__ import annotations

import math
import string

import libcst as cst

from . import provenance
from .provenance import Origin
from . import symbolic as S
from .attributes import MISSING, get_attribute
from .operators import binary_operation, compare
from .pybuiltins import BUILTINS
from .state import own_copy, widen_results
from .statements import _undecidable
from .subscripts import RAISES, subscript
from .values import (
    ABSENT,
    ELLIPSIS,
    Guarded,
    Imported,
    DictValue,
    LazyImport,
    ListValue,
    ShapeOf,
    Slice,
    Tensor,
    UNKNOWN_PART,
    UnknownText,
    dict_key,
    Unknown,
    hashable,
    opaque,
    opaque_of_truth,
    spread_shape,
)


class Expressions:
    def ex_Name(self, node, st):
        name = node.value
        try:
            value = st.lookup(name)
        except KeyError:
            pass
        else:
            if isinstance(value, Guarded):  # bound one way or another on paths joined before
                scope = next(d for d in (st.frames[-1], *st.closures[-1], st.module_scope) if name in d)
                shared = not any(scope is frame for frame in st.frames)
                return [(s, _constant(held)) for s, held in self.unguard(
                    st, lambda memo: scope if memo is None else memo.get(id(scope), scope), name, value, shared)]
            return [(st, _constant(value.resolve() if isinstance(value, LazyImport) else value))]

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
        # Mostly names and messages, whose text no shape depends on: a part that is not a
        # known string is written "\u2026" (UnknownText), which keeps ``name is None``
        # and ``name + "_bn"`` decidable.  Known parts give the real text (an einsum equation
        # put together from letters: ``f"{input_str},{kernel_str}->{output_str}"``).
        parts, reals = [], []
        known = True
        for part in node.parts:
            if type(part) is cst.FormattedStringText:
                parts.append(part.value)
                reals.append(part.value)
                continue
            text, real = self._formatted_part(part, st)
            known = known and text is not None
            parts.append(UNKNOWN_PART if text is None else text)
            reals.append(real)
        text = "".join(parts)
        if known:
            return [(st, text)]
        return [(st, UnknownText(text, None if None in reals else "".join(reals)))]

    def _formatted_part(self, part, st) -> tuple:
        """The text of one ``{...}`` of an f-string, where it is a local's known string written
        without a format, else None; and the text Python makes of it, where that is known.  A
        number's text is not kept: the layers a loop makes are alike whatever their names
        (``f"block_{i}"``), and the loop is read once for them all; its real text is."""
        expression = part.expression
        plain = part.format_spec is None and part.conversion is None
        value = None
        if type(expression) is cst.Name:
            try:
                value = st.lookup(expression.value)
            except KeyError:
                return None, None
            if plain and type(value) is str:
                return value, value
        elif _arithmetic(expression):
            # ``f"block{i + 1}"``: the text is not kept, but a caller must pass a number there
            results = self.eval(expression, st)
            value = results[0][1] if len(results) == 1 else None
        if plain and type(value) in (int, bool, float):
            return None, str(value)
        if plain and isinstance(value, UnknownText):
            return None, value.real
        return None, None

    def ex_Ellipsis(self, node, st):
        return [(st, ELLIPSIS)]

    def _elements(self, elements, st):
        """Evaluate literal elements, expanding ``*starred`` ones."""
        results = [(st, [])]
        for number, element in enumerate(elements):
            nxt = []
            for s, values in results:
                for s2, value in self.eval(element.value, s):
                    if s2 is not s and len(values) == number:  # (no starred element before)
                        values = self.read_again([e.value for e in elements[:number]], s2, values, s)
                    if type(element) is cst.StarredElement:
                        items = self.iterate_concrete(value)
                        if items is None and not values and isinstance(value, ShapeOf):
                            items = [_Spread(value)]  # a shape of unknown rank, first: values.spread_shape
                        elif items is None:
                            return [(s2, None)]
                        nxt.append((s2, values + list(items)))
                    else:
                        nxt.append((s2, values + [value]))
            results = nxt
        return results

    def _arguments_again(self, earlier, st, args, kwargs, read_on):
        """The arguments ``earlier`` gave on ``read_on``, each one (no star) read again, or
        copied, for ``st``."""
        if any(arg.star for arg in earlier):
            return args, kwargs
        args, kwargs = list(args), dict(kwargs)
        positional = 0
        for arg in earlier:
            if arg.keyword is not None:
                kwargs[arg.keyword.value] = self.again(arg.value, st, kwargs[arg.keyword.value], read_on)
            else:
                args[positional] = self.again(arg.value, st, args[positional], read_on)
                positional += 1
        return args, kwargs

    def ex_Tuple(self, node, st):
        return [(s, _built(v, tuple, "tuple")) for s, v in self._elements(node.elements, st)]

    def ex_List(self, node, st):
        return [(s, _built(v, ListValue, "list")) for s, v in self._elements(node.elements, st)]

    def ex_Set(self, node, st):
        # only membership tests matter here: a tuple answers them the same way (its items once
        # each, where they are plain values: ``len({1, 2, 2})`` is 2)
        return [(s, _built(v if v is None else _distinct(v), tuple, "set"))
                for s, v in self._elements(node.elements, st)]

    def ex_Dict(self, node, st):
        results = [(st, {})]
        starred = False
        for number, element in enumerate(node.elements):
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
                    if items is None or S.is_sym(key) or not hashable(key):
                        nxt.append((s2, None))
                        continue
                    earlier = items
                    if s2 is not s and not starred:  # the values before it, read again on the path split off
                        earlier = self._items_again(node.elements[:number], s2, items, s)
                    nxt.append((s2, {**earlier, dict_key(key): value}))
            starred = starred or isinstance(element, cst.StarredDictElement)
            results = nxt
        return [(s, DictValue(items) if items is not None else opaque("dict")) for s, items in results]

    def _items_again(self, elements, st, items: dict, read_on) -> dict:
        """A dict literal's ``items`` so far, each value given by a plain reference read again
        for ``st`` (its key, a literal or a plain reference, read again to find it; a key written
        twice is left as it is)."""
        items, keys = dict(items), []
        for element in elements:
            found = self.eval(element.key, st) if _plain_key(element.key) else []
            keys.append(dict_key(found[0][1]) if len(found) == 1 and hashable(found[0][1]) else None)
        for element, key in zip(elements, keys):
            if key is not None and key in items and keys.count(key) == 1:
                items[key] = self.again(element.value, st, items[key], read_on)
        return items

    def ex_Lambda(self, node, st):
        return [(st, self.make_function(node, st, is_lambda=True))]

    def ex_Attribute(self, node, st):
        out = []
        for s, value in self.eval(node.value, st):
            found = get_attribute(self, s, value, node.attr.value)
            if isinstance(found, Guarded):  # set one way or another on paths joined before
                name = node.attr.value

                def holder(memo, instance=value):
                    return (instance if memo is None else memo.get(id(instance), instance)).attrs

                def unset(path, memo, instance=value, name=name):
                    # where the path never set it: what Python finds then (a class attribute,
                    # Keras's own, one the class may set by a computed name), or AttributeError
                    return get_attribute(self, path, instance if memo is None else memo.get(id(instance), instance),
                                         name)
                out.extend((s2, _constant(held)) for s2, held in self.unguard(s, holder, name, found, unset=unset))
            elif found is not MISSING:  # else Python raises AttributeError: the path ends here
                out.append((s, _constant(found)))
        return out

    def unguard(self, st, holder, name: str, found, shared: bool = False, unset=None):
        """The paths on which ``name`` in ``holder`` (a :class:`Guarded` value there) holds
        each of its values: those the path's conditions allow, each with its guard assumed
        (and the texts of the decisions that made it) and the name bound to that value; none
        where it is ``ABSENT`` (AttributeError, NameError).  ``holder(memo)`` is the dict that
        binds ``name`` on the path a fork with ``memo`` made (on ``st`` itself, with None);
        ``shared``: a scope no fork copies (what a function closes over once its call returned),
        every path's, where the value is read and not bound.  ``unset(path, memo)``: what reading
        it finds where it is ``ABSENT`` (else nothing: the path ends)."""
        pc_ids = {S.term_id(c.term) for c in st.pc}
        allowed = [index for index, (guard, _, _) in enumerate(found.alternatives)
                   if all(S.term_id(t) in pc_ids for t in guard)
                   or self.analysis.solver.check_path(st.pc, list(guard)) is not False]
        out = []
        for position, index in enumerate(allowed):
            if position == len(allowed) - 1:
                s2, binding = st, holder(None)
            else:
                memo: dict = {}
                s2 = st.fork(memo)
                binding = holder(memo)
            current = binding.get(name)
            # bound anew only where the path parts: a path that only reads it stays alike to one
            # that did not (their joins compare the guarded value)
            own = isinstance(current, Guarded) and len(allowed) > 1
            guard, texts, held = (current if isinstance(current, Guarded) else found).alternatives[index]
            if len(allowed) > 1:  # else the path's conditions imply the guard already
                for term in guard:
                    if S.term_id(term) not in pc_ids:
                        s2.add(term, branch=True)
                s2.decisions = s2.decisions + tuple(t for t in texts if t not in s2.decisions)
            if held is ABSENT:
                if shared or unset is None:
                    continue  # (a local never bound: NameError)
                binding.pop(name, None)
                held = unset(s2, None if s2 is st else memo)
                if held is not MISSING:
                    out.append((s2, held))
                continue
            if own and not shared:
                binding[name] = held
            out.append((s2, held))
        return out

    def ex_Call(self, node, st):
        out = []
        for s, func in self.eval(node.func, st):
            paths = self.eval_arguments(node.args, s)
            # each path's own callee, worked out before any path calls it (a layer made before
            # the arguments split the path is built by the first call on it)
            callees = [self.again(node.func, s2, func, s) for s2, _, _ in paths]
            for (s2, args, kwargs), callee in zip(paths, callees):
                # what the callee cannot model is traced to this call
                provenance.STACK.append((node, s2.modules[-1]))
                try:
                    if args is None:
                        out.append((s2, opaque("call with unknown *args")))
                        continue
                    out.extend(self.calls.call(callee, args, kwargs, s2, node))
                finally:
                    provenance.STACK.pop()
        return out

    def again(self, node, st, value, read_on=None):
        """``value``, worked out from ``node`` on the path ``read_on``, for the path ``st``: the
        same where ``st`` is that path; where a later part of the expression split it, a plain
        reference is read again on ``st``, so that a method's list (``self.blocks.append(
        Block(...))``, the block's constructor branching) or an argument's instance is that
        path's own copy, not the first path's.  Any other value made before the split (a layer
        made in the call that applies it) is copied for ``st`` (:func:`own_copy`), as the fork
        copied what the frames hold."""
        if st is read_on:
            return value
        if _plain_reference(node):
            found = self.eval(node, st)
            if len(found) == 1 and found[0][0] is st:
                return found[0][1]
        return own_copy(value, read_on, st) if read_on is not None else value

    def read_again(self, nodes, st, values: list, read_on=None) -> list:
        """``values`` of the first ``nodes``, worked out on ``read_on`` before the path split
        into ``st``: each read again, or copied, for ``st`` (see :meth:`again`)."""
        return [self.again(node, st, value, read_on) for node, value in zip(nodes, values)]

    def eval_arguments(self, arguments, st):
        results = [(st, [], {})]
        for number, arg in enumerate(arguments):
            nxt = []
            for s, args, kwargs in results:
                if args is None:
                    nxt.append((s, None, None))
                    continue
                for s2, value in self.eval(arg.value, s):
                    if s2 is not s:  # the arguments before this one, read again on the path split off
                        args, kwargs = self._arguments_again(arguments[:number], s2, args, kwargs, s)
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
            since = len(s.pc)
            chosen = []
            for s2, taken in self.branch(s, cond, node.test):
                chosen.extend(self.eval(node.body if taken else node.orelse, s2))
            if len(chosen) > 1 and _undecidable(cond):
                # a choice nothing can decide (no caller chooses it), as after an ``if`` on such
                # a test: one path goes on, its value what both sides agree on, instead of every
                # later test doubling the pair
                chosen = widen_results(chosen, Origin("a value that depends on an undecidable condition",
                                                      node.test, s.modules[-1]), since)
            out.extend(chosen)
        return out

    def _has_calls(self, node) -> bool:
        return self.node_fact("calls", node, lambda found: bool(_find_calls(found)))

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
            since = len(s.pc)
            chosen = []
            for s2, right in self.eval(node.right, s):
                right_truth = self.truth(right)
                if S.is_bool_like(left) and S.is_bool_like(right_truth) and S.is_bool_like(right):
                    combined = S.conj(truth, right_truth) if is_and else S.disj(truth, right_truth)
                    chosen.append((s2, combined))
                elif isinstance(right_truth, bool) and right_truth != is_and and isinstance(left, Unknown):
                    # ``hasattr(keras.config, ...) and keras.config.backend() == "jax"``: whichever
                    # operand it is, the value is falsy (``... or True``: truthy), as a test reads it
                    chosen.append((s2, opaque_of_truth(right_truth, "a value whose truth its right operand decides")))
                else:
                    for s3, taken in self.branch(s2, truth):
                        chosen.append((s3, right if taken == is_and else left))
            if len(chosen) > 1 and _undecidable(truth):
                # ``hasattr(keras.config, ...) and keras.config.backend() == "jax"``: nothing
                # decides the left operand, so one path goes on with the value both operands
                # agree on, as a conditional expression on such a test does
                chosen = widen_results(chosen, Origin("a value that depends on an undecidable condition",
                                                      node.left, s.modules[-1]), since)
            out.extend(chosen)
        return out

    def ex_UnaryOperation(self, node, st):
        out = []
        for s, value in self.eval(node.expression, st):
            op = node.operator
            if type(op) is cst.Not:
                truth = self.truth(value)
                out.append((s, S.neg(truth) if truth is not None else opaque("not")))
            elif type(op) is cst.Minus and isinstance(value, Tensor):
                out.append((s, value))  # the same shape, each element negated
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
        if len(node.comparisons) == 1 and type(node.comparisons[0].operator).__name__ in _TENSOR_COMPARISONS:
            # ``x > 0`` on a tensor is an element-wise mask, as keras.ops.greater computes it
            name = _TENSOR_COMPARISONS[type(node.comparisons[0].operator).__name__]
            for s, (left, right) in self.eval_seq([node.left, node.comparisons[0].comparator], st):
                if (isinstance(left, Tensor) or isinstance(right, Tensor)) and not any(
                        v is None or isinstance(v, str) for v in (left, right)):
                    out.extend(self.calls.call_imported(f"keras.ops.{name}", [left, right], {}, s, node))
                else:
                    out.extend(self._compare(node, s, left))
            return out
        for s, left in self.eval(node.left, st):
            out.extend(self._compare(node, s, left))
        return out

    def _compare(self, node, s, left) -> list:
        """A comparison chain on values (not tensors) from its evaluated left side."""
        out = []
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
            out.append((s2, acc if acc is not None else S.opaque_bool(origin=Origin("", node, s2.modules[-1]))))
        return out

    def ex_Subscript(self, node, st):
        out = []
        for s, value in self.eval(node.value, st):
            for s2, keys in self.eval_slices(node.slice, s):
                item = subscript(self, s2, self.again(node.value, s2, value, s), keys, node)
                if item is not RAISES:  # else Python raises: the path ends here
                    out.append((s2, item))
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
                        data_time = any(v is None for v in values)  # a bound Keras learns from data
                        nxt.append((s2, keys + [Slice(lower, upper, step, data_time)]))
            results = nxt
        return results

    def ex_NamedExpr(self, node, st):
        return [(s2, v) for s, v in self.eval(node.value, st) for s2 in self.assign(node.target, v, s)]


# numbers the standard library and numpy name (``coords * (2 * math.pi)``), and the letters
# einsum equations are spelt with (``string.ascii_lowercase[i]``)
_CONSTANTS = {"math.pi": math.pi, "math.e": math.e, "math.tau": math.tau, "math.inf": math.inf,
              "numpy.pi": math.pi, "numpy.e": math.e, "numpy.inf": math.inf,
              **{f"string.{name}": getattr(string, name) for name in (
                  "ascii_lowercase", "ascii_uppercase", "ascii_letters", "digits")}}


def _plain_key(node) -> bool:
    """A literal string or number, or a plain reference: read again with no effect."""
    return type(node) in (cst.SimpleString, cst.Integer) or _plain_reference(node)


def _plain_reference(node) -> bool:
    """A name, an attribute of one (``self.blocks.append``) or an item of one at a literal or
    a name (``stages["a"]``), or ``super()`` or ``super(Cls, self)`` in their place (``super().
    __init__``, bound to this path's own instance): read again at no cost and with no effect
    beyond what reading it does."""
    while type(node) in (cst.Attribute, cst.Subscript):
        if type(node) is cst.Subscript:
            if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index) \
                    or type(node.slice[0].slice.value) not in (cst.SimpleString, cst.Integer, cst.Name):
                return False
        node = node.value
    if type(node) is cst.Call and type(node.func) is cst.Name and node.func.value == "super":
        return all(arg.star == "" and arg.keyword is None and type(arg.value) is cst.Name for arg in node.args)
    return type(node) is cst.Name


def _constant(value):
    if isinstance(value, Imported):
        return _CONSTANTS.get(value.qualname, value)
    return value


def _find_calls(node) -> list:
    found = []

    class _Visitor(cst.CSTVisitor):
        def visit_Call(self, call):
            found.append(call)
            return False

    node.visit(_Visitor())
    return found


_TENSOR_COMPARISONS = {"Equal": "equal", "NotEqual": "not_equal", "LessThan": "less", "LessThanEqual": "less_equal",
                       "GreaterThan": "greater", "GreaterThanEqual": "greater_equal"}


class _Spread:
    """``*ops.shape(x)`` of a tensor of unknown rank, first in a tuple or list being built."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape


def _distinct(items: list) -> list:
    """A set's items, each once, where all are plain Python values (1 and True are one item)."""
    if all(type(item) in (int, float, str, bool, type(None)) for item in items):
        return list(dict.fromkeys(items))
    return items


def _built(items, kind, what):
    """A tuple or list of evaluated items; one that spreads a shape of unknown rank first is
    a shape that follows it (values.spread_shape), else opaque."""
    if items is None:
        return opaque(what)
    if items and isinstance(items[0], _Spread):
        rest = items[1:]
        found = None if any(isinstance(i, _Spread) for i in rest) else spread_shape(items[0].shape, rest)
        return found if found is not None else opaque(what)
    return kind(items)


def _arithmetic(node) -> bool:
    """Arithmetic on names and numbers alone (nothing it runs can fork a path)."""
    if type(node) is cst.BinaryOperation:
        return _arithmetic(node.left) and _arithmetic(node.right)
    if type(node) is cst.UnaryOperation:
        return _arithmetic(node.expression)
    return type(node) in (cst.Name, cst.Integer)
