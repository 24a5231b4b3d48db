"""Loops over plain Python values: summarised by what they may change, not run.

A loop whose body (and, for a ``while``, its test) only computes with numbers, strings
and containers of them, calling nothing but Python builtins and list/dict methods,
can reach no merge: no tensor or layer is in the state it reads, and nothing it calls
could make one.  Running it path by path (a binary search over lengths nobody knows,
nested in a loop over a batch nobody knows) only multiplies paths.  Its effect after
any number of iterations (zero included) is summarised instead: every name it binds
holds a value nobody knows, and so does every list or dict it could reach when it
mutates any; names it only reads keep their values.

Whether a loop qualifies is decided twice: from its syntax (:func:`plain_loop_facts`,
once per loop) and from the values of the names it reads on the path that meets it
(:func:`plain_loop_summary`).  A parameter whose type nobody has learnt yet, a tensor,
a layer, an instance or a function anywhere in those values keeps the loop run as
before, except where the loop only asks whether something is in it (``if a not in
vocabulary``): a membership test compares items, and makes no tensor whatever the
container holds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import libcst as cst

from . import symbolic as S

from .frontend import MUTATING_METHODS, children, target_names
from .provenance import Origin
from .pybuiltins import SymbolicRange
from .state import State
from .values import (ClassValue, DictValue, FunctionValue, Imported, InstanceValue, LayerValue, LazyImport, ListValue,
                     RepeatedList, Unknown, opaque)

# builtins that compute on plain values and call no code of the user's on them
_BUILTINS = frozenset({
    "len", "range", "min", "max", "sum", "abs", "int", "float", "bool", "str", "list", "tuple", "dict", "set",
    "enumerate", "zip", "reversed", "sorted", "isinstance", "any", "all", "divmod", "round", "print",
    "type", "ord", "chr", "repr", "hash", "pow", "bin", "hex", "oct", "format",
})
# methods of lists, dicts, sets and strings (on any other value the loop is not plain)
_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "copy", "index", "count", "keys", "values", "items",
    "get", "setdefault", "update", "add", "sort", "reverse", "join", "split", "strip", "lower", "upper",
    "startswith", "endswith", "replace", "format", "lstrip", "rstrip", "rsplit", "splitlines", "partition",
    "rpartition", "find", "rfind", "isdigit", "isalpha", "isalnum", "isspace", "title", "capitalize", "zfill",
    "encode", "decode", "discard",
})
_MODULES = frozenset({"random", "math", "string"})  # their functions and constants are plain values
_CONSTANTS = frozenset({"True", "False", "None"})
_REJECTED = (cst.Lambda, cst.NamedExpr, cst.Yield, cst.Await, cst.Attribute)
_SMALL = (cst.Pass, cst.Break, cst.Continue)


class _NotPlain(Exception):
    pass


@dataclass(frozen=True)
class PlainLoopFacts:
    reads: frozenset  # every name the loop reads (builtins included), but those of ``containers``
    containers: frozenset  # names it reads only as the container of ``in`` / ``not in``
    attributes: frozenset  # (name, attribute) of each ``name.attribute`` it reads
    modules: frozenset  # names it calls functions of (``random.random()``): Python's random or math
    binds: frozenset  # names it binds in the function's own scope
    local: frozenset  # names its comprehensions bind in their own scope
    mutates: bool  # stores into a subscript, calls a mutating method or updates in place
    returns: bool  # returns from the function it is in
    functions: frozenset = frozenset()  # names it calls that are no builtin's (the user's own functions)


def plain_loop_facts(stmt, dotted: bool = False) -> PlainLoopFacts | None:
    """What the loop ``stmt`` (a ``for``, whose iterable is already evaluated, or a
    ``while``, test included) reads, binds and mutates, when its syntax is that of a plain
    loop; else None.  ``dotted``: calls of functions of modules by a dotted name
    (``keras.ops.ones_like``) are admitted too, their first name among ``modules``."""
    if stmt.orelse is not None:
        return None
    found = _found(dotted)
    try:
        if type(stmt) is cst.For:
            _target(stmt.target, found)
        elif type(stmt) is cst.While:
            _expression(stmt.test, found)
        else:
            return None
        _suite(stmt.body, found)
    except _NotPlain:
        return None
    return _facts(found)


def _found(dotted: bool = False) -> dict:
    return {"reads": set(), "containers": set(), "attributes": set(), "modules": set(), "binds": set(),
            "local": set(), "functions": set(), "mutates": False, "returns": False, "dotted": dotted}


def _facts(found: dict) -> PlainLoopFacts:
    containers = frozenset(found["containers"] - found["reads"] - found["binds"] - found["local"])
    return PlainLoopFacts(frozenset(found["reads"]), containers, frozenset(found["attributes"]),
                          frozenset(found["modules"]),
                          frozenset(found["binds"]), frozenset(found["local"]), found["mutates"],
                          found["returns"], frozenset(found["functions"] - found["binds"] - found["local"]))


def plain_function_facts(node) -> PlainLoopFacts | None:
    """What the body of the function ``node`` reads, binds and mutates, when its syntax is
    that of a plain loop's body (its parameters bound by it); else None."""
    if type(node) is not cst.FunctionDef or node.decorators or node.asynchronous is not None:
        return None
    found = _found()
    params = node.params
    for param in list(params.posonly_params) + list(params.params) + list(params.kwonly_params):
        found["binds"].add(param.name.value)
    for param in (params.star_arg, params.star_kwarg):
        if isinstance(param, cst.Param):
            found["binds"].add(param.name.value)
    try:
        _suite(node.body, found)
    except _NotPlain:
        return None
    return _facts(found)


def _suite(suite, found) -> None:
    for statement in getattr(suite, "body", ()):
        _statement(statement, found)


def _statement(statement, found) -> None:
    kind = type(statement)
    if kind is cst.SimpleStatementLine:
        for small in statement.body:
            _small(small, found)
    elif kind is cst.If:
        _expression(statement.test, found)
        _suite(statement.body, found)
        orelse = statement.orelse
        if type(orelse) is cst.If:
            _statement(orelse, found)
        elif orelse is not None:
            _suite(orelse.body, found)
    elif kind in (cst.For, cst.While):
        if statement.orelse is not None:
            raise _NotPlain
        if kind is cst.For:
            _expression(statement.iter, found)
            _target(statement.target, found)
        else:
            _expression(statement.test, found)
        _suite(statement.body, found)
    else:
        raise _NotPlain


def _small(small, found) -> None:
    kind = type(small)
    if kind is cst.Assign:
        for target in small.targets:
            _target(target.target, found)
        _expression(small.value, found)
    elif kind is cst.AugAssign:
        # ``items += more`` extends a list in place, seen by every alias
        found["mutates"] = True
        _target(small.target, found)
        _expression(small.target, found)
        _expression(small.value, found)
    elif kind is cst.AnnAssign and small.value is not None:
        _target(small.target, found)
        _expression(small.value, found)
    elif kind is cst.Expr:
        _expression(small.value, found)
    elif kind is cst.Return:
        found["returns"] = True
        if small.value is not None:
            _expression(small.value, found)
    elif kind is cst.Raise:
        pass  # the path ends there, as where the loop is run (its exception is never built)
    elif kind not in _SMALL:
        raise _NotPlain


def _target(target, found) -> None:
    kind = type(target)
    if kind is cst.Name:
        found["binds"].add(target.value)
    elif kind in (cst.Tuple, cst.List):
        for element in target.elements:
            _target(element.value, found)
    elif kind is cst.StarredElement:
        _target(target.value, found)
    elif kind is cst.Subscript:
        found["mutates"] = True
        _expression(target, found)
    else:
        raise _NotPlain


def _expression(node, found) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is cst.Name:
            found["reads"].add(current.value)
        elif kind is cst.Comparison:
            stack.append(current.left)
            for target in current.comparisons:
                if type(target.operator) in (cst.In, cst.NotIn) and type(target.comparator) is cst.Name:
                    found["containers"].add(target.comparator.value)
                else:
                    stack.append(target.comparator)
        elif kind is cst.Call:
            func = current.func
            if type(func) is cst.Name and func.value in _BUILTINS:
                found["reads"].add(func.value)
            elif type(func) is cst.Name:
                found["functions"].add(func.value)  # (checked on the path to be a plain function)
            elif type(func) is cst.Attribute and func.attr.value in _METHODS:
                found["mutates"] = found["mutates"] or func.attr.value in MUTATING_METHODS
                stack.append(func.value)
            elif type(func) is cst.Attribute and type(func.value) is cst.Name:
                # a function of a module (checked on the path to be Python's random or math);
                # ``random.shuffle`` shuffles a list in place
                found["modules"].add(func.value.value)
                found["mutates"] = found["mutates"] or func.attr.value == "shuffle"
            elif found["dotted"] and type(func) is cst.Attribute and _dotted_root(func) is not None:
                found["modules"].add(_dotted_root(func))
            else:
                raise _NotPlain
            for argument in current.args:
                stack.append(argument.value)  # not its keyword, which names no value
        elif kind is cst.Attribute and type(current.value) is cst.Name:
            # ``self.start_value``: an attribute the instance holds (checked on the path)
            found["attributes"].add((current.value.value, current.attr.value))
        elif kind in (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp):
            for_in = current.for_in
            while for_in is not None:
                found["local"].update(_target_names(for_in.target))
                for_in = for_in.inner_for_in
            stack.extend(children(current))
        elif kind is cst.CompFor:
            stack.append(current.iter)
            stack.extend(condition.test for condition in current.ifs)
            if current.inner_for_in is not None:
                stack.append(current.inner_for_in)
        elif isinstance(current, _REJECTED):
            raise _NotPlain
        else:
            stack.extend(children(current))


def _dotted_root(node) -> str | None:
    """``a`` of ``a.b.c``, or None when the name is not a chain of plain names."""
    while type(node) is cst.Attribute:
        node = node.value
    return node.value if type(node) is cst.Name else None


def _target_names(target) -> set:
    names = target_names(target)
    if names is None:
        raise _NotPlain
    return names


def plain_value(value, seen: set) -> bool:
    """A number, string, symbolic size or flag, a value nobody knows that is no parameter
    or input still to be typed, or a tuple, list or dict of them."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, range)) or S.is_sym(value):
        return True
    if isinstance(value, SymbolicRange):
        return all(plain_value(bound, seen) for bound in (value.start, value.stop, value.step))
    if isinstance(value, Unknown):
        # (one used as a tensor elsewhere still meets no tensor here: operations on values
        # nobody knows give values nobody knows, and no builtin makes a tensor of one)
        return not (value.free or value.input or value.config)
    if id(value) in seen:
        return True
    seen.add(id(value))
    if isinstance(value, tuple):
        return all(plain_value(item, seen) for item in value)
    if isinstance(value, ListValue):
        return all(plain_value(item, seen) for item in value.items)
    if isinstance(value, RepeatedList):
        return all(plain_value(item, seen) for item in value.items + value.tail) and plain_value(value.item, seen) \
            and plain_value(value.count, seen)
    if isinstance(value, DictValue):
        return all(plain_value(key, seen) and plain_value(item, seen) for key, item in value.items.items())
    return False


def _containers(value, found: dict) -> None:
    """Every list and dict ``value`` holds (itself included), by id."""
    if id(value) in found:
        return
    if isinstance(value, (ListValue, DictValue, RepeatedList)):
        found[id(value)] = value
    if isinstance(value, tuple):
        items = value
    elif isinstance(value, ListValue):
        items = value.items
    elif isinstance(value, RepeatedList):
        items = value.items + [value.item] + value.tail
    elif isinstance(value, DictValue):
        items = list(value.items) + list(value.items.values())
    else:
        return
    for item in items:
        _containers(item, found)


def plain_loop_summary(facts: PlainLoopFacts | None, stmt, st: State, iterable=None,
                       function_facts=plain_function_facts) -> list | None:
    """The paths out of the plain loop ``stmt`` (a ``for`` over ``iterable``) on ``st``, after
    any number of iterations: on past it, and, where it returns, out of the function with a
    value nobody knows; None when it is not one on this path (see the module's documentation).
    ``function_facts(def)``: :func:`plain_function_facts`, as the caller keeps them."""
    if facts is None or st.flow is not None:
        return None
    read: dict = {}
    seen: set = set()
    if not plain_value(iterable, seen):
        return None
    for name in facts.reads:
        value = _looked_up(st, name, facts)
        if value is _OWN:
            continue
        if value is _MISSING:
            return None
        if not plain_value(value, seen):
            return None
        if facts.mutates and name not in st.frames[-1] and isinstance(value, (tuple, ListValue, DictValue,
                                                                              RepeatedList)):
            return None  # a global's or enclosing function's container: not forgotten by a new path
        read[name] = value
    for name in facts.containers:
        try:
            value = st.lookup(name)
        except KeyError:
            continue  # a builtin's name, or unbound: the loop's own test raises there
        if facts.mutates and name not in st.frames[-1] and isinstance(value, (tuple, ListValue, DictValue,
                                                                              RepeatedList)):
            return None  # (see above)
        if isinstance(value, Unknown):
            continue  # whatever it holds, ``in`` compares and makes no tensor
        if not plain_value(value, seen):
            return None
        read[name] = value
    if not _modules_among(st, facts.modules, lambda qualname: qualname in _MODULES):
        return None
    for name, attribute in facts.attributes:
        value = _instance_attribute(st, name, attribute)
        if value is _MISSING or not plain_value(value, seen):
            return None
        if facts.mutates and name not in st.frames[-1]:
            return None  # an instance a global or an enclosing function holds (see above)
        read[f"{name}.{attribute}"] = value
    if facts.functions and not _counted_by_nobody(iterable):
        # run as before: a loop whose count a caller chooses, run count by count, finds what a
        # helper's result does to the sizes after it (none of its paths hangs on a value nobody knows)
        return None
    facts = _with_functions(facts, st, function_facts)
    if facts is None:
        return None
    return _forgotten_paths(facts, st, read, Origin("a value a loop over plain Python values left", stmt,
                                                    st.modules[-1]))


def _counted_by_nobody(iterable) -> bool:
    """Is ``iterable`` a range whose bounds are sizes nobody knows (the rank of a tensor no
    layer the analyser reads gave), or a sequence nobody knows?  Run count by count, such a loop
    would only make paths that hang on a value nobody knows, on which no merge is flagged, and a
    path past the bound that forgets what the loop changes."""
    if isinstance(iterable, Unknown):
        return not (iterable.free or iterable.input or iterable.config)
    if not isinstance(iterable, SymbolicRange):
        return False
    names = set()
    for bound in (iterable.start, iterable.stop, iterable.step):
        if S.is_sym(bound):
            names |= S.variables(bound)
    return bool(names) and all(S.is_opaque_name(name) for name in names)


def _with_functions(facts: PlainLoopFacts, st: State, function_facts) -> PlainLoopFacts | None:
    """``facts``, made to mutate where a function the loop calls may change what it is given;
    None unless each of the user's functions it calls is a plain one on this path
    (:func:`_plain_function`)."""
    mutates = facts.mutates
    for name in facts.functions:
        try:
            function = st.lookup(name)
        except KeyError:
            return None
        changes = _plain_function(function, st, function_facts, set())
        if changes is None:
            return None
        mutates = mutates or changes
    return facts if mutates == facts.mutates else dataclasses.replace(facts, mutates=True)


_MAX_CALL_DEPTH = 4  # plain functions calling plain functions, checked this deep


def _plain_function(function, st: State, function_facts, seen: set):
    """Whether the function ``function`` (what a name a plain loop calls holds on the path)
    may change a list or dict it is given, when it is a plain one: a function of a module's
    own, undecorated, whose body has the syntax of a plain loop's body, whose defaults and the
    globals it reads are plain values (no container of a global's it could change), which
    reads attributes of Python's random, math or string modules only, and calls only builtins
    and such functions.  Given plain values it computes plain values and makes no tensor or
    layer.  None when it is not one."""
    function = _resolved(function)
    if not isinstance(function, FunctionValue) or function.is_lambda or function.closure \
            or function.bound_self is not None or function.kind:
        return None
    module = function.module
    if module is not None and function.name in module.generators:
        return None
    if id(function.node) in seen:
        return False  # (a recursion: what it changes is counted where it was met first)
    if len(seen) >= _MAX_CALL_DEPTH:
        return None
    seen = seen | {id(function.node)}
    facts = function_facts(function.node)
    if facts is None:
        return None
    visited: set = set()
    if not all(plain_value(value, visited) for value in function.defaults.values()):
        return None
    scope = module.scope if module is not None and module.scope is not None else st.frames[0]
    own = facts.binds | facts.local
    mutates = facts.mutates
    for name in (facts.reads | facts.containers) - own:
        value = _resolved(scope.get(name, _MISSING))
        if value is _MISSING:
            if name in _BUILTINS or name in _CONSTANTS:
                continue
            return None
        if name in facts.containers and name not in facts.reads and isinstance(value, Unknown):
            continue  # whatever it holds, ``in`` compares and makes no tensor
        if not plain_value(value, visited):
            return None
        if facts.mutates and isinstance(value, (tuple, ListValue, DictValue, RepeatedList)):
            return None  # a global's container: not forgotten by the loop's summary
    for name in facts.modules | {name for name, _ in facts.attributes if name not in own}:
        value = _resolved(scope.get(name, _MISSING))
        if not (isinstance(value, Imported) and value.qualname in _MODULES):
            return None
    for name in facts.functions:
        callee = scope.get(name, _MISSING)
        changes = None if callee is _MISSING else _plain_function(callee, st, function_facts, seen)
        if changes is None:
            return None
        mutates = mutates or changes
    return mutates


def _resolved(value):
    """``value``, an import of the user's project read (what a name holding one stands for)."""
    return value.resolve() if isinstance(value, LazyImport) else value


def _forgotten_paths(facts: PlainLoopFacts, st: State, read: dict, origin: Origin) -> list:
    """The paths on from ``st`` after any number of iterations of a loop described by
    ``facts``: what it binds, and each list or dict ``read`` reaches when it mutates one, made
    values nobody knows; where it returns, a path out of the function with such a value."""
    memo: dict = {}
    if facts.mutates:
        containers: dict = {}
        for value in read.values():
            _containers(value, containers)
        for key in containers:
            memo[key] = _forgotten(origin)
    summary = st.fork(memo)
    for name in facts.binds:
        summary.assign(name, _forgotten(origin))
    if not facts.returns:
        return [summary]
    returned = summary.fork()
    returned.flow, returned.retval = "return", _forgotten(origin)
    return [summary, returned]


_MISSING = object()
_OWN = object()


def _modules_among(st: State, names, allowed) -> bool:
    """Is each of ``names`` on the path a module that ``allowed(qualname)`` admits?"""
    for name in names:
        try:
            module = st.lookup(name)
        except KeyError:
            return False
        if not (isinstance(module, Imported) and allowed(module.qualname)):
            return False
    return True


def _looked_up(st: State, name: str, facts: PlainLoopFacts):
    """What ``name`` holds on the path; ``_OWN`` for a name the loop binds itself, a builtin or a
    constant the path does not hold, ``_MISSING`` for any other unbound name."""
    try:
        return st.lookup(name)
    except KeyError:
        if name in facts.binds or name in facts.local or name in _BUILTINS or name in _CONSTANTS:
            return _OWN
        return _MISSING


def _instance_attribute(st: State, name: str, attribute: str):
    """The value an instance ``name`` holds as ``attribute`` in its own attributes, when no
    class of the user's it derives from names that attribute (a property could); else
    ``_MISSING``."""
    try:
        instance = st.lookup(name)
    except KeyError:
        return _MISSING
    if not isinstance(instance, InstanceValue) or attribute not in instance.attrs:
        return _MISSING
    classes, seen = [instance.cls], set()
    while classes:
        cls = classes.pop()
        if not isinstance(cls, ClassValue) or id(cls) in seen:
            continue
        seen.add(id(cls))
        if attribute in cls.attrs or "__getattribute__" in cls.attrs or "__getattr__" in cls.attrs:
            return _MISSING
        classes.extend(cls.bases)
    return instance.attrs[attribute]


def _forgotten(origin: Origin) -> Unknown:
    value = opaque(origin.reason)
    value.origin = origin
    return value


# the modules whose functions a loop past its bound may call: Keras's and the libraries it
# computes with, which give new values and change none they are given
_TENSOR_MODULES = ("keras", "tensorflow", "numpy", "math", "random", "tf_keras")


def opaque_loop_facts(stmt) -> PlainLoopFacts | None:
    """The syntax facts of a loop over a sequence nobody knows that :func:`forgotten_past_bound`
    may summarise: a plain loop's, calls of functions of modules by dotted names admitted."""
    return plain_loop_facts(stmt, dotted=True)


def forgotten_past_bound(facts: PlainLoopFacts | None, stmt, st: State,
                         function_facts=plain_function_facts) -> list | None:
    """A loop over a sequence whose length nobody knows (no caller chooses it), still running
    where the analysis stops unrolling it: the paths on after any number of further
    iterations, with what it may change forgotten (as a plain loop's); None when the loop
    could change more than that on this path (it reads an instance, a layer or a function, or
    calls a function of a module that is no library's).  Nothing it found is claimed for the
    iterations not run: its merges are the caller's to leave undecided."""
    if facts is None or st.flow is not None:
        return None
    read: dict = {}
    for name in facts.reads | facts.containers:
        value = _looked_up(st, name, facts)
        if value is _OWN:
            continue
        if value is _MISSING:
            return None
        if isinstance(value, (InstanceValue, ClassValue, LayerValue, FunctionValue)):
            return None
        if facts.mutates and name not in st.frames[-1] and isinstance(value, (tuple, ListValue, DictValue,
                                                                              RepeatedList)):
            return None  # a global's or enclosing function's container (see plain_loop_summary)
        read[name] = value
    if not _modules_among(st, facts.modules, lambda qualname: qualname.split(".")[0] in _TENSOR_MODULES):
        return None
    for name, attribute in facts.attributes:
        if name in facts.binds or name in facts.local:
            continue  # an attribute of something the loop made (``seg.dtype``)
        try:
            value = st.lookup(name)
        except KeyError:
            return None
        if isinstance(value, (InstanceValue, ClassValue, LayerValue, FunctionValue)):
            return None
    facts = _with_functions(facts, st, function_facts)
    if facts is None:
        return None
    return _forgotten_paths(facts, st, read, Origin("a value a loop over a sequence nobody knows left", stmt,
                                                    st.modules[-1]))
