"""Statements other than loops and definitions: assignment, ``if``, ``return``, ``with``, ``try``.

A mixin of :class:`keras_shape_lint.interpreter.Interpreter`: each ``stmt_<Node>`` method maps
one state to the states after the statement.
"""

from __future__ import annotations

import libcst as cst

from . import symbolic as S
from .frontend import walk
from .liveness import dead_after_ifs
from .provenance import Origin
from .state import State, _copy_value, guarded_join, merge_paths, widen
from .subscripts import leading_sizes, plain_index
from .values import (
    ClassValue,
    DictValue,
    InstanceValue,
    ListValue,
    RepeatedList,
    ShapeOf,
    Slice,
    Unknown,
    dict_key,
    hashable,
    opaque,
)


class Statements:
    def stmt_Expr(self, stmt, st):
        return [s for s, _ in self.eval(stmt.value, st)]

    def stmt_Pass(self, stmt, st):
        return [st]

    def stmt_Assign(self, stmt, st):
        out = []
        # what the value is about to be called (``image = keras.Input(...)``), for messages
        target = stmt.targets[0].target if len(stmt.targets) == 1 else None
        self.naming = (stmt.value, target.value if type(target) is cst.Name else None)
        for s, value in self.eval(stmt.value, st):
            states = [s]
            for target in stmt.targets:
                states = [r for t in states for r in self.assign(target.target, value, t)]
            out.extend(states)
        return out

    def stmt_AnnAssign(self, stmt, st):
        if stmt.value is None:
            return [st]
        return [r for s, v in self.eval(stmt.value, st) for r in self.assign(stmt.target, v, s)]

    def stmt_AugAssign(self, stmt, st):
        out = []
        op = type(stmt.operator).__name__.replace("Assign", "")
        for s, current in self.eval(stmt.target, st):
            for s2, value in self.eval(stmt.value, s):
                if isinstance(current, ListValue) and op == "Add":
                    current.items.extend(self.iterate_concrete(value) or [])
                    out.append(s2)
                    continue
                for s3, result in self.binary(op, current, value, s2, stmt):
                    out.extend(self.assign(stmt.target, result, s3))
        return out

    def stmt_Return(self, stmt, st):
        if stmt.value is None:
            st.flow, st.retval = "return", None
            return [st]
        out = []
        for s, value in self.eval(stmt.value, st):
            s.flow, s.retval = "return", value
            out.append(s)
        return out

    def stmt_Raise(self, stmt, st):
        return []  # a path that raises never reaches a later merge

    def stmt_Assert(self, stmt, st):
        out = []
        for s, value in self.eval(stmt.test, st):
            for s2, taken in self.branch(s, self.truth(value)):
                if taken:
                    out.append(s2)
        return out

    def stmt_Break(self, stmt, st):
        st.flow = "break"
        return [st]

    def stmt_Continue(self, stmt, st):
        st.flow = "continue"
        return [st]

    def stmt_Global(self, stmt, st):
        st.declare([item.name.value for item in stmt.names], nonlocal_=type(stmt) is cst.Nonlocal)
        if type(stmt) is cst.Global:
            self.analysis.globals_rebound = True  # a call's result may now change between calls
        return [st]

    stmt_Nonlocal = stmt_Global

    def stmt_Del(self, stmt, st):
        """``del items[i]``, ``del items[i:j]``, ``del table[key]`` (other targets change nothing
        a shape depends on)."""
        targets = [e.value for e in stmt.target.elements] if type(stmt.target) is cst.Tuple else [stmt.target]
        states = [st]
        for target in targets:
            if type(target) is not cst.Subscript or len(target.slice) != 1:
                continue
            out = []
            for s in states:
                for s2, obj in self.eval(target.value, s):
                    for s3, keys in self.eval_slices(target.slice, s2):
                        delete_item(self.again(target.value, s3, obj, s2), keys[0])
                        out.append(s3)
            states = out
        return states

    def stmt_If(self, stmt, st):
        out = []
        unsettled = []  # the paths out of a branch nothing can decide (the test's value opaque)
        for s, value in self.eval(stmt.test, st):
            truth = self.truth(value)
            sides = []
            for s2, taken in self.branch(s, truth, stmt.test):
                if isinstance(truth, bool) and self._asks_backend(stmt):
                    # the analysis runs the code as on TensorFlow (keras.config.backend()): a
                    # finding past this branch says so, as another backend takes other code
                    s2.decisions = s2.decisions + (self.decision_texts(stmt.test, s2)[0 if taken else 1],)
                if taken:
                    after = self.exec_suite(stmt.body, [s2])
                elif stmt.orelse is None:
                    after = [s2]
                elif type(stmt.orelse) is cst.If:
                    after = self.stmt_If(stmt.orelse, s2)
                else:
                    after = self.exec_suite(stmt.orelse.body, [s2])
                if isinstance(truth, bool):
                    self.note_decided(stmt, taken, after)
                sides.append(after)
            if _undecidable(truth):
                unsettled.extend(path for after in sides for path in after)
                continue
            if len(sides) == 2 and len(sides[0]) == 1 and len(sides[1]) == 1 and not self._in_loop(stmt):
                # a flag the caller chooses, that made some attributes one way or the other
                # (``if use_norm: self.norm = Norm()``): one path on, the attributes guarded
                joined = guarded_join(sides[0][0], sides[1][0], lambda: self.dead_after(stmt))
                if joined is not None:
                    sides = [[joined]]
            for after in sides:
                out.extend(after)
        unsettled = merge_paths(unsettled, lambda: self.dead_after(stmt))
        if len(unsettled) > 1:
            # a condition nothing can decide (no caller chooses it): one path goes on, holding
            # what both sides agree on, instead of every later branch doubling the pair (the
            # paths on which the test was decided stay apart: they know more)
            unsettled = widen(unsettled, Origin("a value that depends on an undecidable condition", stmt.test,
                                                st.modules[-1]))
        out = merge_paths(out + unsettled, lambda: self.dead_after(stmt))
        return self.cap(out, stmt)

    def note_decided(self, stmt, taken: bool, after: list) -> None:
        """An ``if`` whose test no free value decided: if it sent the path to a raise, or kept
        it from merges, the names its test reads may hold a default a caller would change
        (see :meth:`Analysis._run_past_defaults`)."""
        if not after and (taken or type(stmt.orelse) is not cst.If):
            self.rejected.update(self._test_names(stmt))
        skipped = stmt.body if not taken else stmt.orelse
        if skipped is not None:
            merges = self._merges_in(skipped)
            if merges:
                self.passed_over.append((self._test_names(stmt), merges))

    def _in_loop(self, stmt) -> bool:
        """Is ``stmt`` inside a loop of the function being run (where what it guards would
        differ from one iteration to the next)?"""
        function = self.scopes[-1] if self.scopes else None
        return id(stmt) in self.node_fact("ifs in loops", function, _ifs_in_loops)

    def _asks_backend(self, stmt) -> bool:
        """Does the test of ``stmt`` call ``backend()`` (``keras.config.backend()``,
        ``keras.backend.backend()``, ``K.backend()``)?"""
        return self.node_fact("asks backend", stmt, lambda found: any(
            (type(call.func) is cst.Attribute and call.func.attr.value == "backend")
            or (type(call.func) is cst.Name and call.func.value == "backend") for call in _calls_in(found.test)))

    def _test_names(self, stmt) -> frozenset:
        key = ("test names", id(stmt))
        found = self._node_facts.get(key)
        if found is None:
            found = self._node_facts[key] = (stmt, frozenset(_names_in(stmt.test)))
        return found[1]

    def _merges_in(self, suite) -> tuple:
        """The merges of the analysed file written inside ``suite``, and those of the file's
        module-level functions it names (``block_fn = apply_basic_block``: the block a setting
        chooses, called after the ``if``)."""
        key = ("merges in", id(suite))
        found = self._node_facts.get(key)
        if found is None:
            sites = self.analysis.merge_nodes
            named = [self._module_functions().get(name) for name in _plain_names_in(suite)]
            merges = [n for part in [suite, *filter(None, named)] for n in _calls_in(part) if id(n) in sites]
            found = self._node_facts[key] = (suite, tuple(merges))
        return found[1]

    def _module_functions(self) -> dict:
        """The analysed file's module-level functions by name."""
        module = self.analysis.module
        return self.node_fact("module functions", module, lambda tree: {
            stmt.name.value: stmt for stmt in tree.body if type(stmt) is cst.FunctionDef})

    def dead_after(self, stmt) -> frozenset:
        """Local names nothing reads once ``stmt`` (an ``if``) is done."""
        return self.dead_names(stmt, "dead", dead_after_ifs)

    def dead_names(self, stmt, kind: str, find) -> frozenset:
        """Local names nothing reads once ``stmt`` is done: ``find(function)`` maps each
        statement of the function being run to them, worked out once per function."""
        function = self.scopes[-1] if self.scopes else None
        return self.node_fact(kind, function, find).get(id(stmt), (None, frozenset()))[1]

    def stmt_With(self, stmt, st):
        states = [st]
        for item in stmt.items:
            nxt = []
            for s in states:
                for s2, value in self.eval(item.item, s):
                    if item.asname is not None:
                        nxt.extend(self.assign(item.asname.name, opaque("with-target"), s2))
                    else:
                        nxt.append(s2)
            states = nxt
        return self.exec_suite(stmt.body, states)

    def stmt_Try(self, stmt, st):
        before = st.fork() if stmt.handlers else None
        states = self.exec_suite(stmt.body, [st])
        if stmt.orelse is not None:
            states = self.exec_suite(stmt.orelse.body, states)
        if not states and before is not None:
            # every path raised in the body (``try: self.lookup(...) except AttributeError:``):
            # a handler goes on, from the state the ``try`` began with (where in the body it
            # raised is not kept), its ``as`` name a value nobody knows
            states = []
            for handler in stmt.handlers:
                entered = before.fork()
                if handler.name is not None and type(handler.name.name) is cst.Name:
                    entered.assign(handler.name.name.value, opaque("an exception"))
                states.extend(self.exec_suite(handler.body, [entered]))
        if stmt.finalbody is not None:
            states = self.exec_suite(stmt.finalbody.body, states)
        return states

    stmt_TryStar = stmt_Try

    def assign(self, target, value, st: State) -> list:
        if type(target) is cst.Name:
            st.assign(target.value, value)
            return [st]
        if type(target) in (cst.Tuple, cst.List):
            elements = target.elements
            starred = [i for i, e in enumerate(elements) if type(e) is cst.StarredElement]
            if isinstance(value, ShapeOf) and not value.tensor.known and not starred:
                value.tensor.with_rank(len(elements) - 1)
            if isinstance(value, ShapeOf) and not value.tensor.known and starred:
                # ``batch, length, *rest = ops.shape(x)``: x has at least as many axes as names
                # around the star (a free input gets that rank; any other keeps its own)
                value.tensor.choose_rank(max(2, len(elements) - 2))
                if not value.tensor.known:
                    return self._assign_parts(elements, _unknown_rank_shape_parts(value, len(elements), starred[0]),
                                              st)
            items = self.iterate_concrete(value)
            if items is None and isinstance(value, RepeatedList) and not value.spoiled and not value.tail \
                    and not starred:
                # ``a, b = parts`` of a list whose length is a size: Python raises unless it is 2
                fits = [s for s, taken in self.branch(st, S.eq(S.add(value.count, len(value.items)), len(elements)))
                        if taken]
                if not fits or len(value.items) > len(elements):
                    return []
                st = fits[0]
                more = len(elements) - len(value.items)
                items = list(value.items) + [_copy_value(value.item, {}) for _ in range(more)]
            if items is None and _free_sequence(value) and not starred:
                # a sequence the caller passes, unpacked into that many names: each item free
                st.add(value.length() == len(elements))
                items = [value.item(index) for index in range(len(elements))]
            if items is None:
                if isinstance(value, Unknown):
                    items = [opaque("unpacked unknown") for _ in elements]
                else:
                    items = [opaque("unpacked value") for _ in elements]
                starred = []
            if starred:
                k = starred[0]
                after = len(elements) - k - 1
                if len(items) < len(elements) - 1:
                    return []
                parts = items[:k] + [ListValue(items[k: len(items) - after])] + items[len(items) - after:]
            else:
                if len(items) != len(elements):
                    return []
                parts = items
            return self._assign_parts(elements, parts, st)
        if type(target) is cst.Attribute:
            out = []
            for s, obj in self.eval(target.value, st):
                if isinstance(obj, (InstanceValue, ClassValue)):
                    obj.attrs[target.attr.value] = value
                out.append(s)
            return out
        if type(target) is cst.Subscript:
            out = []
            for s, obj in self.eval(target.value, st):
                if len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
                    for s2, key in self.eval(target.slice[0].slice.value, s):
                        self.store_item(self.again(target.value, s2, obj, s), key, value)
                        out.append(s2)
                elif len(target.slice) == 1 and isinstance(obj, ListValue):
                    for s2, keys in self.eval_slices(target.slice, s):
                        into = self.again(target.value, s2, obj, s)
                        if not store_slice(into, keys[0], self.iterate_concrete(value)) \
                                and type(target.value) is cst.Name:
                            s2.assign(target.value.value, opaque("a list assigned through a slice"))
                        out.append(s2)
                else:
                    out.append(s)
            return out
        return [st]

    def _assign_parts(self, elements, parts, st: State) -> list:
        states = [st]
        for element, part in zip(elements, parts):
            states = [r for s in states for r in self.assign(element.value, part, s)]
        return states

    def store_item(self, obj, key, value) -> None:
        if isinstance(obj, DictValue) and not S.is_sym(key) and hashable(key):
            obj.items[dict_key(key)] = value
        elif isinstance(obj, ListValue) and isinstance(key, int) and -len(obj.items) <= key < len(obj.items):
            obj.items[key] = value
        elif isinstance(obj, RepeatedList) and not obj.spoiled:
            if plain_index(key) and -len(obj.tail) <= key < 0:
                obj.tail[key] = value  # ``outputs[-1] = resize(outputs[-1])``
            elif plain_index(key) and 0 <= key < len(obj.items):
                obj.items[key] = value
            else:
                obj.spoiled = True  # one copy no longer like the others, or an index nobody knows


def _plain_slice(key) -> slice | None:
    """A Python slice of ``key`` where its bounds are plain numbers (or left out)."""
    if not isinstance(key, Slice):
        return None
    bounds = (key.lower, key.upper, key.step)
    if not all(bound is None or plain_index(bound) for bound in bounds):
        return None
    return slice(*bounds)


def store_slice(listed: ListValue, key, items) -> bool:
    """``listed[i:j] = items`` as Python does it, where the bounds and the items are known: True.
    Else False, and the list's items are forgotten (the caller forgets the list itself where a
    name holds it, since its length may change too)."""
    window = _plain_slice(key)
    try:
        if window is not None and items is not None:
            listed.items[window] = list(items)
            return True
    except ValueError:  # an extended slice given another number of items: Python raises
        pass
    listed.forget_items("an item of a list assigned through a slice")
    return False


def delete_item(obj, key) -> None:
    """``del obj[key]`` for a list or a dict, where the key is known."""
    if isinstance(obj, DictValue) and not S.is_sym(key) and hashable(key):
        obj.items.pop(dict_key(key), None)
    elif isinstance(obj, ListValue) and plain_index(key) and -len(obj.items) <= key < len(obj.items):
        del obj.items[key]
    elif isinstance(obj, ListValue) and _plain_slice(key) is not None:
        del obj.items[_plain_slice(key)]


def _undecidable(truth) -> bool:
    """A branch condition made of opaque values only: no input a caller chooses decides it."""
    if truth is None:
        return True
    if not S.is_sym(truth):
        return False
    names = S.variables(truth)
    return bool(names) and all(S.is_opaque_name(n) for n in names)


def _calls_in(node) -> list:
    return [found for found in walk(node) if type(found) is cst.Call]


def _plain_names_in(node) -> set:
    """The plain names ``node`` mentions anywhere."""
    return {found.value for found in walk(node) if type(found) is cst.Name}


def _names_in(node) -> set:
    """The plain names an expression reads (``stage_type`` in ``stage_type not in (...)``),
    and those of the attributes it reads of ``self`` (where a constructor keeps its arguments)."""
    names = set()

    class Reader(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            names.add(name.value)

        def visit_Attribute(self, attribute: cst.Attribute) -> bool:
            if isinstance(attribute.value, cst.Name) and attribute.value.value == "self":
                names.add(attribute.attr.value)
            attribute.value.visit(self)  # ``obj.x``: the object's name, not the attribute's
            return False

    node.visit(Reader())
    return names


def _free_sequence(value) -> bool:
    return isinstance(value, Unknown) and value.free and value.used_as in (None, "list")


def _unknown_rank_shape_parts(shape: ShapeOf, count: int, star: int) -> list:
    """What ``count`` names, the one at ``star`` starred, take from the shape of a tensor of
    unknown rank: the batch size first (which Keras never knows), sizes nothing here knows
    for the other leading axes, the last axes' own sizes after the star, and an unknown list
    for the starred name."""
    after = count - star - 1
    leading = list(leading_sizes(star))
    trailing = [shape.tensor.axis_from_end(k) for k in range(after, 0, -1)]
    trailing = [S.opaque_int("<a last axis of a tensor of unknown rank>") if size is None else size
                for size in trailing]
    return leading + [opaque("the middle sizes of a shape of unknown rank")] + trailing


def _ifs_in_loops(function) -> frozenset:
    """The ids of the ``if`` statements inside a ``for`` or ``while`` of ``function``."""
    if function is None:
        return frozenset()
    found = set()
    for loop in walk(function):
        if type(loop) in (cst.For, cst.While):
            found.update(id(node) for node in walk(loop.body) if type(node) is cst.If)
    return frozenset(found)
