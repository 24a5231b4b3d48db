"""Definitions: ``import``, ``def`` (with its decorators) and ``class`` statements.

A mixin of :class:`keras_shape_lint.interpreter.Interpreter`.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import libcst as cst

from . import keras_api, layers, ops
from .frontend import dotted_name, normalise
from .state import State
from .values import (
    ClassValue,
    FunctionValue,
    Imported,
    LazyImport,
    ListValue,
    ModuleValue,
    opaque,
)


class Definitions:
    def stmt_Import(self, stmt, st):
        for alias in stmt.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None:
                local = self._project_module(st, full, 0)
                st.assign(alias.asname.name.value, local or Imported(normalise(full)))
            else:
                # ``import pkg.layers`` binds the package ``pkg`` (its submodules are found
                # through it), when ``pkg.layers`` is the user's own module
                head = full.split(".")[0]
                own = head == full or self._project_module(st, full, 0) is not None
                local = self._project_module(st, head, 0) if own else None
                st.assign(head, local or Imported(normalise(head)))
        return [st]

    def stmt_ImportFrom(self, stmt, st):
        level = len(stmt.relative)
        base = dotted_name(stmt.module) if stmt.module is not None else None
        if isinstance(stmt.names, cst.ImportStar):
            self._import_star(st, base, level)
            return [st]
        for alias in stmt.names:
            name = alias.name.value if type(alias.name) is cst.Name else dotted_name(alias.name)
            bound = alias.asname.name.value if alias.asname is not None else name
            qualname = normalise(f"{base}.{name}") if base else name
            if level == 0 and base and is_modelled(qualname):
                st.assign(bound, Imported(qualname))
                continue
            # a submodule of the project (``from . import blocks``), or a member of one
            value = self._project_module(st, f"{base}.{name}" if base else name, level)
            if value is None:
                module = self._project_module(st, base, level) if (base or level) else None
                if module is not None:
                    value = LazyImport(module.loader, module.path, name)
            if value is None:
                value = opaque(f"relative import {name}") if level else Imported(qualname)
            st.assign(bound, value)
        return [st]

    def _import_star(self, st, base, level) -> None:
        """``from keras.ops import *`` binds the names the analyser models there; ``from .ops
        import *`` of the user's module binds its ``__all__``, else its names without a leading
        underscore.  Any other module's names stay unbound."""
        if level == 0 and base:
            members = modelled_members(normalise(base))
            if members:
                for name in members:
                    st.assign(name, Imported(normalise(f"{base}.{name}")))
                return
        module = self._project_module(st, base, level) if (base or level) else None
        value = module.resolve() if module is not None else None
        if not isinstance(value, ModuleValue):
            return
        scope = value.info.scope
        listed = scope.get("__all__")
        listed = listed.items if isinstance(listed, ListValue) else listed
        if isinstance(listed, (list, tuple)) and all(type(name) is str for name in listed):
            names = [name for name in listed if name in scope]
        else:
            names = [name for name in scope if not name.startswith("_")]
        for name in names:
            st.assign(name, scope[name])

    def _project_module(self, st, dotted, level):
        """The user's module that an import names (read when first used), or None."""
        module = st.modules[-1]
        loader = module.loader if module is not None else None
        if loader is None:
            return None
        path = loader.resolve(dotted, level)
        return LazyImport(loader, path) if path is not None else None

    def stmt_FunctionDef(self, stmt, st):
        fn = self.make_function(stmt, st)
        value = fn
        for decorator in reversed(stmt.decorators):
            value = self.decorate(value, decorator.decorator, stmt, st)
        if value is not fn:
            self.analysis.undecorated[id(stmt)] = fn
        st.assign(stmt.name.value, value)
        return [st]

    def decorate(self, value, decorator, stmt, st):
        """What ``@decorator`` makes of ``value``.

        The method kinds are marked on the function; a decorator of the user's
        project runs (``functools.wraps`` wrappers are followed through); any
        other decorator (``tf.function``, ``jax.jit``, an export or
        registration, one that cannot be read) leaves the function as written:
        it is still the user's code.
        """
        name = dotted_name(decorator.func if isinstance(decorator, cst.Call) else decorator) or ""
        if not isinstance(value, FunctionValue):
            return value
        if name in _METHOD_KINDS:
            return replace(value, kind=_METHOD_KINDS[name])
        if name.endswith((".setter", ".deleter", ".getter")):
            # the property keeps its getter; assigning the attribute stores the value itself
            existing = st.locals.get(stmt.name.value)
            return existing if isinstance(existing, FunctionValue) and existing.kind == "property" else value
        if name in _PASS_THROUGH:
            return value
        if isinstance(decorator, cst.Call):
            # a decorator factory runs only when it is the user's own code
            factory = self.eval(decorator.func, st)
            if len(factory) != 1 or not isinstance(factory[0][1], (FunctionValue, ClassValue)):
                return value
        results = self.eval(decorator, st)
        if len(results) != 1 or not isinstance(results[0][1], FunctionValue):
            return value
        applied = self.calls.call(results[0][1], [value], {}, st, decorator)
        result = applied[0][1] if len(applied) == 1 else None
        if isinstance(result, (FunctionValue, ClassValue)):
            return result
        return value

    def make_function(self, node, st: State, is_lambda: bool = False) -> FunctionValue:
        defaults = {}
        params = node.params
        for param in list(params.posonly_params) + list(params.params) + list(params.kwonly_params):
            if param.default is not None:
                results = self.eval(param.default, st)
                defaults[param.name.value] = results[0][1] if results else opaque()
        closure = st.closures[-1]
        if len(st.frames) > 1:
            closure = (st.frames[-1],) + closure
        name = "<lambda>" if is_lambda else node.name.value
        return FunctionValue(node, name, closure, defaults, is_lambda, module=st.modules[-1])

    def stmt_ClassDef(self, stmt, st):
        bases = []
        keras_base = ""
        for arg in stmt.bases:
            results = self.eval(arg.value, st)
            base = results[0][1] if results else opaque()
            bases.append(base)
            if isinstance(base, Imported):
                keras_base = keras_base or normalise(base.qualname)
            elif isinstance(base, ClassValue) and base.keras_base:
                keras_base = keras_base or base.keras_base
            elif dotted_name(arg.value):
                pass
        cls = ClassValue(stmt, stmt.name.value, tuple(bases), {}, keras_base)
        # run the class body in its own frame; methods see module globals
        st.push({}, st.closures[-1], st.modules[-1])
        states = self.exec_suite(stmt.body, [st])
        body_state = states[0] if states else st
        cls.attrs = body_state.pop()
        for other in states[1:]:
            other.pop()
        for method in cls.attrs.values():
            if isinstance(method, FunctionValue):
                method.qualname = f"{cls.name}.{method.name}"
        for s in states or [st]:
            s.assign(stmt.name.value, cls)
        return states or [st]


_METHOD_KINDS = {"staticmethod": "static", "classmethod": "class", "property": "property",
                 "functools.cached_property": "property", "cached_property": "property"}


_PASS_THROUGH = frozenset({"functools.wraps", "wraps"})


@functools.lru_cache(maxsize=256)
def modelled_members(module: str) -> tuple:
    """The names the analyser models directly in a Keras module: what ``from module import *``
    binds (``keras.ops`` -> ``reshape``, ``concatenate`` ...)."""
    prefix = module + "."
    found = {name[len(prefix):].split(".")[0] for table in (keras_api.FUNCTIONS, ops.OPS, layers.REGISTRY,
                                                            layers.FUNCTIONAL)
             for name in table if name.startswith(prefix)}
    return tuple(sorted(found))


def is_modelled(qualname: str) -> bool:
    """Is this Keras name (or a module holding such names) one the analyser models?"""
    if (qualname in keras_api.FUNCTIONS or qualname in ops.OPS or layers.lookup(qualname)
            or layers.lookup_functional(qualname)):
        return True
    prefix = qualname + "."
    return any(name.startswith(prefix) for table in (keras_api.FUNCTIONS, ops.OPS) for name in table)
