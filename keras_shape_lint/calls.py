"""Call dispatch: user functions, classes, Keras layers and APIs, builtins."""

from __future__ import annotations

import functools
from dataclasses import replace

import libcst as cst

from . import call_memo, keras_api, layers, ops
from . import symbolic as S
from .checks import dead_path, describe_origin
from .classes import (BASE_LAYER, base_declares_output, bind_method, build_base_on_call, catalogue_base,
                      dataclass_fields, inherited_call, init_base, init_dataclass, lookup_class_attribute,
                      rank_build_inputs)
from .frontend import binding_targets, target_names, walk
from .provenance import Origin
from .state import _same, join_results, own_copy, widen_results
from .layer_context import LayerContext
from .layers.core import POSITIVE_INT_ARGUMENTS
from .layers.merging import MERGES
from .layers.weights import WEIGHT_AXES
from .methods import call_method
from .ops._common import AxisChoice, split_on_axis
from .pybuiltins import LIBRARY
from .values import (
    BoundMethod,
    batch_first,
    BuiltinValue,
    ClassValue,
    DictValue,
    FunctionValue,
    Imported,
    InstanceValue,
    LayerValue,
    ListValue,
    Partial,
    RepeatedList,
    Results,
    ShapeOf,
    Tensor,
    Unknown,
    from_full_dims,
    full_dims,
    opaque,
)


MAX_RECURSION = 6  # rounds of one function a recursion on concrete arguments may run


class Calls:
    def __init__(self, interp):
        self.interp = interp
        self.analysis = interp.analysis
        # calls kept for a later call that would do the same (call_memo.py); the analysis
        # holds them, so that a loop's iteration taken back takes back those it kept
        self._memo: dict = self.analysis.kept_calls

    # ------------------------------------------------------------ dispatch
    def call(self, func, args, kwargs, st, node) -> list:
        if isinstance(func, FunctionValue):
            return self.call_user(func, args, kwargs, st, node)
        if isinstance(func, Imported):
            return self.call_imported(func.qualname, args, kwargs, st, node)
        if isinstance(func, LayerValue):
            if self._refuses_none(func.model.not_none_on_call, func.config, func.call_node):
                return []  # Keras raises TypeError on the layer's first call: no path goes on
            if args:
                inputs, rest = args[0], list(args[1:])
            else:
                kwargs = dict(kwargs)
                inputs, rest = kwargs.pop("inputs", kwargs.pop("query", None)), []
            return self.apply_layer_paths(func, inputs, st, node, kwargs, rest)
        if isinstance(func, BuiltinValue):
            return _as_results(st, func.fn(self, st, args, kwargs, node))
        if isinstance(func, Partial):
            return self.call(func.func, [*func.args, *args], {**func.kwargs, **kwargs}, st, node)
        if isinstance(func, BoundMethod):
            return _as_results(st, call_method(self, func, args, kwargs, st, node))
        if isinstance(func, ClassValue):
            return self.instantiate(func, args, kwargs, st, node)
        if isinstance(func, InstanceValue):
            return self.call_instance(func, args, kwargs, st, node)
        if isinstance(func, Unknown):
            func.mark("callable")
            return [(st, opaque("call of an unknown value"))]
        return [(st, opaque("call of a non-callable"))]

    def call_imported(self, qualname, args, kwargs, st, node) -> list:
        model = layers.lookup(qualname)
        if model is not None:
            cfg = model.bind(args, kwargs)
            if cfg is None:
                return [(st, opaque(f"{qualname} with missing arguments"))]
            if self._refuses_none(model.not_none, cfg, node, model.params):
                return []  # Keras raises making the layer: no path goes on
            for name in POSITIVE_INT_ARGUMENTS.get(model.name, ()):
                if isinstance(cfg.get(name), Unknown):  # a caller passed an int, or Keras raised here
                    st.add(cfg[name].as_int() >= 1)
            return [(st, LayerValue(model, cfg, node))]
        model = layers.lookup_functional(qualname)
        if model is not None:
            inputs = args[0] if args else kwargs.pop("inputs", None)
            cfg = model.bind(args[1:], kwargs)
            if cfg is None:
                return [(st, opaque(f"{qualname} with missing arguments"))]
            refused = model.not_none + model.not_none_on_call
            if self._refuses_none(refused, cfg, node, [("inputs", None)] + model.params):  # (inputs first)
                return []
            return self.apply_layer_paths(LayerValue(model, cfg, node), inputs, st, node, {})
        function = ops.lookup(qualname)
        if function is not None and args and isinstance(args[0], RepeatedList) and not args[0].spoiled:
            join = _JOINS.get(qualname.rsplit(".", 1)[-1])
            axis = None if join is None else (args[join[0]] if len(args) > join[0] else kwargs.get("axis", join[1]))
            if isinstance(axis, int) and not isinstance(axis, bool):
                # ``ops.concatenate(branches, axis=-1)`` of a list a loop built: as the layer
                return self._with_copies(args[0], axis, st, lambda s, listed: self.call_imported(
                    qualname, [listed, *args[1:]], kwargs, s, node))
        if function is not None:
            defaulted = None if function.accepts_none else self._none_default(node, args)
            if defaulted is not None:
                # a tensor function given a parameter left at its None default for its tensor
                # (``ops.reshape(mask, ...)``): Keras raises there, and no path goes on; that
                # default is one no caller can keep (see Analysis._run_entry)
                self.interp.rejected.add(defaulted)
                return []
            try:
                # run as a layer is, so the data-time shadows of tensor arguments follow
                result = self._apply(function.as_layer, kwargs, tuple(args), st, node, f"{function.name}()")
                if _needs_rank(result) and any([_choose_rank(a) for a in [*args, *kwargs.values()]]):
                    # a free input whose rank nothing fixed: the function runs on the rank a caller gives it
                    result = self._apply(function.as_layer, kwargs, tuple(args), st, node, f"{function.name}()")
            except AxisChoice as choice:  # a free axis: one path for each value Keras accepts
                paths = split_on_axis(choice, args, kwargs, st, self.interp,
                                      lambda s, a, k: self.call_imported(qualname, a, k, s, node))
                return paths if paths is not None else [(st, opaque(f"{function.name} of a free axis"))]
            return [(st, result)]
        handler = keras_api.FUNCTIONS.get(qualname)
        if handler is not None:
            return _as_results(st, handler(self, st, args, kwargs, node))

        handler = LIBRARY.get(qualname)
        if handler is not None:
            return _as_results(st, handler(self, st, args, kwargs, node))
        self.analysis.note_opaque(qualname)
        for value in [*args, *kwargs.values()]:
            if isinstance(value, Unknown) and value.free:
                value.unread()
        last = qualname.rsplit(".", 1)[-1]
        if qualname.startswith("keras.") and last[:1].isupper():
            # an unmodelled Keras layer: applying it gives an opaque tensor
            model = _UNMODELLED.get(qualname)
            if model is None:  # one model per name, so two such layers compare equal
                model = _UNMODELLED[qualname] = layers.LayerModel(last, [], _opaque_layer)
            return [(st, LayerValue(model, {}, node))]
        return [(st, opaque(qualname))]

    def _refuses_none(self, names, cfg, node, params=()) -> bool:
        """Is one of the parameters ``names`` None in ``cfg`` (Keras raises)?  The name the
        call passes it by (``axis=channel_axis``, ``axis=self.channel_axis``, or in the place of
        one of the layer's ``params``: ``Dense(self.units)``) is noted as a default no caller
        can keep, so an entry whose every path ends here runs again with that parameter free
        (see Analysis._run_entry)."""
        refused = [name for name in names if name in cfg and cfg[name] is None]
        if not refused:
            return False
        positional = [name for name, _ in params]
        for position, argument in enumerate(node.args if isinstance(node, cst.Call) else ()):
            keyword = argument.keyword.value if argument.keyword is not None else (
                positional[position] if argument.star == "" and position < len(positional) else None)
            if keyword not in refused:
                continue
            value = argument.value
            if type(value) is cst.Name:
                self.interp.refused_none.add(value.value)
            elif type(value) is cst.Attribute and type(value.value) is cst.Name and value.value.value == "self":
                self.interp.refused_none.add(value.attr.value)
        self.interp.rejected.update(self.interp.refused_none)
        return True

    def _none_default(self, node, args) -> str | None:
        """The name of the running function's parameter that ``node`` passes as its first
        argument, when that parameter has the default None and holds it; else None.  (A None
        the analysis itself gives, an unknown size of a shape, is no such value.)"""
        if not args or args[0] is not None or not isinstance(node, cst.Call) or not node.args:
            return None
        first = node.args[0].value
        function = self.interp.scopes[-1] if self.interp.scopes else None
        if type(first) is not cst.Name or not isinstance(function, cst.FunctionDef):
            return None
        params = function.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            if param.name.value == first.value:
                default = param.default
                if type(default) is not cst.Name or default.value != "None":
                    return None
                return None if first.value in self._rebound(function) else first.value
        return None

    def _rebound(self, function) -> frozenset:
        """The names ``function``'s body assigns (a parameter among them may no longer hold
        its default), worked out once; passing a name through a call first (``mask =
        ops.reshape(mask, ...)``) is none of them: that call is given what the name held."""
        return self.interp.node_fact("rebound", function, _rebound_names)

    # --------------------------------------------------------------- layers
    def apply_layer_paths(self, layer: LayerValue, inputs, st, node, kwargs, args=()) -> list:
        """:meth:`apply_layer` as paths: a merge of a list a loop built (``items``, then
        ``count`` copies of one item) runs once where the loop added none and once where it
        added some, the copies standing in as one tensor (see :func:`merge_stand_in`)."""
        if not isinstance(inputs, RepeatedList) or inputs.spoiled or layer.model.name not in MERGES:
            return [(st, self.apply_layer(layer, inputs, st, node, kwargs, args))]
        axis = layer.config.get("axis", -1) if layer.model.name == "Concatenate" else None
        return self._with_copies(inputs, axis, st, lambda s, listed: [
            (s, self.apply_layer(layer, listed, s, node, kwargs, args))])

    def _with_copies(self, repeated: RepeatedList, axis, st, run) -> list:
        """``run(state, list)`` where the loop that built ``repeated`` added no copy of its
        item, and where it added some (the copies as one stand-in, joined on ``axis`` when
        that is not None); a merge of an empty list has no path (Keras raises)."""
        out = []
        for s, some in self.interp.branch(st, repeated.count >= 1):
            items = list(repeated.items)
            if some:
                items.append(merge_stand_in(repeated.item, repeated.count, axis))
            items.extend(repeated.tail)
            if items:
                out.extend(run(s, ListValue(items)))
        return out

    def apply_layer(self, layer: LayerValue, inputs, st, node, kwargs, args=()) -> object:
        """``layer(inputs, *args, **kwargs)``: the call's other arguments reach the model
        as ``ctx.call_args`` and ``ctx.call_kwargs`` (``value=`` of attention, ``mask=``)."""
        if isinstance(inputs, Tensor) and not inputs.batched:
            inputs = batch_first(inputs)  # Keras takes a weight's first axis for the batch axis
        result = self._apply(layer.model, layer.config, inputs, st, node, self.display(layer), list(args), kwargs,
                             built=layer.built is not None)
        if isinstance(inputs, Unknown):
            inputs = inputs._tensor  # the tensor the layer saw, if it took it for one
        if isinstance(inputs, Tensor):
            self.keep_build(layer, inputs, st)
        layer.mark_built()
        return result

    def apply_layer_shape(self, layer: LayerValue, x: Tensor, st, node):
        """What ``layer`` gives for ``x`` without applying it: no build is kept."""
        return self._apply(layer.model, layer.config, x, st, node, self.display(layer))

    def keep_build(self, layer: LayerValue, x: Tensor, st) -> None:
        """The first input a layer sees sizes its weights; a later input must agree on
        those axes, or Keras raises there (the path goes on only where they agree)."""
        axes_of = WEIGHT_AXES.get(layer.model.name)
        if axes_of is None:
            return
        channels_last = self.analysis.options.data_format != "channels_first"
        if layer.built is None and not x.known:
            # rank unknown yet: weights sized by the last axis alone (Dense, a channels-last
            # convolution) are sized by the channel size of a channels-last tensor
            if x.channels_last and axes_of(layer.config, None, channels_last) == [-1]:
                layer.built = (None, {-1: x.channels_dim()})
            return
        if layer.built is None:
            axes = axes_of(layer.config, x.rank, channels_last)
            if axes is None or not all(0 <= p < x.rank for p in axes):
                return  # a rank these weights cannot be sized from: Keras says so, not this
            layer.built = (x.rank, {p - x.rank: x.dims[p] for p in axes})
            return
        if not x.known:
            # rank unknown yet: the last axis is the channel axis of a channels-last tensor
            if x.channels_last and list(layer.built[1]) == [-1] and layer.built[1][-1] is not None:
                st.add(S.eq(x.channels_dim(), layer.built[1][-1]))
            return
        for back, size in layer.built[1].items():
            if -back > x.rank:
                st.add(False)
            elif size is not None and x.dims[back] is not None:
                st.add(S.eq(x.dims[back], size))

    def merge_operator(self, symbol, tensors, st, node, display=None):
        model = layers.lookup("python.<operator>")
        return self._apply(model, {}, tuple(tensors), st, node, display or f"`{symbol}`")

    def _apply(self, model, cfg, inputs, st, node, display, call_args=(), call_kwargs=None, built=False):
        ctx = LayerContext(self, st, node, display, call_args=call_args, call_kwargs=call_kwargs, built=built)
        try:
            result = model.apply(ctx, cfg, inputs)
        except (ArithmeticError, TypeError, ValueError, AttributeError, IndexError, KeyError) as error:
            self.analysis.note_internal(f"{model.name}: {type(error).__name__}: {error}")
            return ctx.opaque(f"{model.name} transfer failed")
        checked = model.name in MERGES and not self.analysis.suppress_checks and not dead_path(st)
        if checked and ctx.unchecked:
            # reached, but its inputs were too little known to check (on this path: another
            # path's proof says nothing of this one)
            self.analysis.record_outcome(node, "undecided", st.modules[-1],
                                         ctx.why_unchecked or functools.partial(self._unread, inputs))
        if checked and ctx.unchecked and st.unchecked is None:
            st.unchecked = (node, st.modules[-1])
        shadows = _shadows(inputs)
        if shadows is not None and isinstance(result, Tensor) and result.shadow is None:
            # the same layer on the data-time sizes (the merge checks there are KSL106)
            shadow_ctx = LayerContext(self, st, node, display, real=inputs, call_args=call_args,
                                      call_kwargs=call_kwargs)
            try:
                shadow = model.apply(shadow_ctx, cfg, shadows)
            except (ArithmeticError, TypeError, ValueError, AttributeError, IndexError, KeyError):
                shadow = None
            if isinstance(shadow, Tensor) and shadow.known and shadow is not result:
                result.shadow = shadow
        return result

    def _unread(self, inputs) -> str:
        """Why a merge's inputs could not be checked: the first of them nobody could read."""
        items = inputs.items if isinstance(inputs, ListValue) else list(inputs) if isinstance(inputs, tuple) else [inputs]
        for item in items:
            origin = getattr(item, "origin", None)
            if origin is not None:
                return describe_origin(self.analysis, origin)
        for item in items:
            if isinstance(item, Tensor) and not item.known:
                return "the rank of its inputs is unknown"
        return "its inputs are not tensors the analyser can read"

    def display(self, layer: LayerValue) -> str:
        """How a merge is named in messages: ``Add()``, ``layers.add()``."""
        node = layer.call_node
        if node is None:
            return layer.model.name
        return merge_display(self.analysis.module, node)

    # ---------------------------------------------------------- user code
    def call_user(self, fn: FunctionValue, args, kwargs, st, node) -> list:
        idiom = keras_api.BY_NAME.get(fn.name)
        if idiom is not None:
            return _as_results(st, idiom(self, st, args, kwargs, node))
        budget = self.analysis.budget
        if len(st.chain) >= budget.max_call_depth:
            self.analysis.note_budget("call depth")
            return [(st, opaque("call depth"))]
        active = sum(1 for entry in st.chain if entry[2] is fn.node)
        if active >= 2 and (active >= MAX_RECURSION or call_memo.concrete_key(
                replace(fn, closure=(), bound_self=None), args, kwargs) is None):
            # a recursion on concrete arguments runs a few rounds (a helper halving a size);
            # one on symbolic arguments, or deeper, could go on for any depth: its result is unknown
            self.analysis.note_opaque("recursion")
            return [(st, opaque(f"recursive call of {fn.name}"))]
        if fn.name == "build" and isinstance(fn.bound_self, InstanceValue) and fn.bound_self.cls.keras_base:
            # Keras wraps a layer's own build(): once called, even by hand (``self.mlp.build(shape)``
            # in the build() of the layer holding it), the layer is built, and its first call does
            # not build it again with the shape it is called on
            fn.bound_self.attrs["__built__"] = True
        frame = bind_arguments(fn, args, kwargs)
        if frame is None and _takes_no_keyword(fn, kwargs):
            return []  # Python raises TypeError there: no path goes on
        if frame is None:
            return [(st, opaque(f"call of {fn.name} with unexpected arguments"))]
        if fn.module is not None and fn.name in fn.module.generators:
            return [(st, opaque("generator"))]
        key = names = None
        # (a second call could find what the first one changed)
        if (not self.analysis.globals_rebound and not fn.closure and fn.bound_self is None and not fn.is_lambda
                and all(call_memo.fingerprint(value) is not None for value in fn.defaults.values())
                and self.interp.node_fact("changes only its own", fn.node, call_memo.changes_only_its_own)):
            key = call_memo.concrete_key(fn, args, kwargs)
            if key is None:
                key, names = call_memo.symbolic_key(fn, args, kwargs, st, self.analysis)
        if key is not None and key in self._memo:
            value, assumed = self._memo[key]
            for term in assumed:  # what the call assumed of its arguments' sizes, assumed again
                st.add(term)
            return [(st, call_memo.fresh(value))]
        pc_before, decisions_before, unchecked_before, inputs_before = st.pc, st.decisions, st.unchecked, st.inputs
        saved_chain = st.chain
        self.analysis.entered.add(id(fn.node))
        caller_module = st.modules[-1]
        st.push(frame, fn.closure, fn.module if fn.module is not None else caller_module)
        st.chain = saved_chain + ((fn.qualname or fn.name, node, fn.node, caller_module),)
        if fn.is_lambda:
            results = self.interp.eval(fn.node.body, st)
        else:
            self.interp.scopes.append(fn.node)
            try:
                states = self.interp.exec_suite(fn.node.body, [st])
            finally:
                self.interp.scopes.pop()
            results = [(s, s.retval if s.flow == "return" else None) for s in states]
        out = []
        for s, value in results:
            s.pop()
            s.chain = saved_chain
            s.flow = None
            s.retval = None
            out.append((s, value))
        if len(out) > 1:
            # paths that return the same value and leave the caller's variables alike go on as
            # one, under the disjunction of their conditions (as after an ``if``)
            out = join_results(out)
        if len(out) > 1:
            # paths that parted on conditions nothing decides go on as one
            out = widen_results(out, Origin(f"the result of {fn.name}() on an undecidable path", node,
                                            caller_module), len(pc_before))
        if (key is not None and len(out) == 1 and out[0][0] is st and st.decisions == decisions_before
                and st.unchecked is unchecked_before and st.inputs is inputs_before):
            # (a call that made an Input is run again: the path must learn of the Input it makes)
            assumed = call_memo.assumed(pc_before, st.pc, names)
            if assumed is not None and call_memo.storable(out[0][1], names, call_memo.lists_within(
                    [*args, *kwargs.values(), *st.frames[0].values(),
                     *(fn.module.scope.values() if fn.module is not None and fn.module.scope else ())])):
                # a copy: the caller may yet take views of the value it got
                self._memo[key] = (call_memo.fresh(out[0][1]), assumed)
                if assumed:
                    # a later call on a path that knows what this one assumed does the same
                    after, _ = call_memo.symbolic_key(fn, args, kwargs, st, self.analysis)
                    if after is not None:
                        self._memo[after] = self._memo[key]
        return out

    def instantiate(self, cls: ClassValue, args, kwargs, st, node) -> list:
        instance = InstanceValue(cls)
        init = lookup_class_attribute(cls, "__init__")
        if init is None and catalogue_base(cls) is not None:
            init_base(self, st, instance, args, kwargs, node)  # the catalogue layer's __init__
            return [(st, instance)]
        if not isinstance(init, FunctionValue):
            fields = dataclass_fields(cls)
            if fields is None:
                return [(st, instance)]
            init_dataclass(instance, fields, args, kwargs)
            init = lookup_class_attribute(cls, "__post_init__")
            if not isinstance(init, FunctionValue):
                return [(st, instance)]
            args, kwargs = [], {}
        return self._holding(st, instance, lambda s, held: [
            r for r, _ in self.call_user(bind_method(init, held), args, kwargs, s, node)])

    def _declared_output(self, instance: InstanceValue, args, kwargs, st, node):
        """The output ``compute_output_shape(input_shape)`` (or ``compute_output_spec(...)``)
        declares for this call, or None."""
        declare = lookup_class_attribute(instance.cls, "compute_output_shape")
        base = instance.attrs.get(BASE_LAYER)
        if declare is None and isinstance(base, LayerValue) and base_declares_output(instance.cls):
            # the catalogue base's own compute_output_shape(): what its layer model gives
            memo: dict = {}
            probe = st.fork(memo)
            return _one_tensor(self.call(memo.get(id(base), base), args, kwargs, probe, node))
        spec = lookup_class_attribute(instance.cls, "compute_output_spec")
        if not isinstance(declare, FunctionValue) and isinstance(spec, FunctionValue):
            # compute_output_spec() takes the call's own arguments and gives the output itself
            return _one_tensor(self.call_user(bind_method(spec, instance), args, kwargs, st.fork(), node))
        if not isinstance(declare, FunctionValue):
            return None
        call = lookup_class_attribute(instance.cls, "call")
        if isinstance(call, FunctionValue):
            shapes = _build_arguments(declare, call, args, kwargs)  # passed as Keras passes build()'s
        else:
            shapes = [_input_shape(args[0] if args else kwargs.get("inputs"))]
        # asked on a copy of the path: the caller goes on with ``st`` whatever the call did to
        # its copy (a copy whose paths all ended, or were joined into another, would otherwise
        # be left inside the call)
        probe = st.fork()
        results = self.call_user(bind_method(declare, instance), shapes, {}, probe, node)
        if len(results) != 1 or results[0][0] is not probe:
            return None
        return _shape_as_tensor(results[0][1])

    def _declared_call(self, instance: InstanceValue, call: FunctionValue, args, kwargs, st, node) -> list:
        """A layer whose class declares ``compute_output_shape()`` (or ``compute_output_spec()``),
        called on Keras inputs: Keras builds its output from that method and does not run
        ``call()``, which only data goes through.  ``call()`` is run on a copy of the path, its
        merges checked as the data's (KSL106), what it assumes and builds staying there; the
        path goes on with the declared output, which the merges after the layer meet while
        Keras builds the model.  Where the declaration cannot be read, what ``call()`` gives
        stands in for it, as far as its paths agree."""
        memo: dict = {}
        probe = st.fork(memo)
        probe_args = [own_copy(value, st, probe) for value in args]
        probe_kwargs = {name: own_copy(value, st, probe) for name, value in kwargs.items()}
        self.analysis.data_only += 1
        try:
            results = self.call_user(bind_method(call, memo.get(id(instance), instance)), probe_args, probe_kwargs,
                                     probe, node)
        finally:
            self.analysis.data_only -= 1
        if not results:
            # call() raises on every path: no data goes through, and the entry's defaults that
            # sent it there are tried freed (Analysis._run_entry), as for a layer without a declaration
            return []
        # asked after call(), which gives the inputs the ranks it reads them with (a free input's
        # rank, once chosen, is every path's)
        declared = self._declared_output(instance, args, kwargs, st, node)
        if declared is None or not declared.known or any(S.names_opaque(size) for size in declared.dims):
            # a declaration the analyser cannot read (or of sizes nobody knows): what call()
            # gives stands in, as far as its paths agree
            value = _agreed([value for _, value in results],
                            f"{instance.cls.name}.compute_output_shape() not understood")
            return [(st, own_copy(value, results[0][0], st))]
        return [(st, declared)]

    def _holding(self, st, value, action) -> list:
        """Run ``action(state, value)``; each resulting path gets its own copy of ``value``.

        A path that forks copies what its frames hold, so ``value`` rides in a
        frame of its own while ``action`` runs.
        """
        st.push({"held": value}, st.closures[-1], st.modules[-1])
        out = []
        for s in action(st, value):
            held = s.frames[-1]["held"]
            s.pop()
            out.append((s, held))
        return out

    def call_instance(self, instance: InstanceValue, args, kwargs, st, node) -> list:
        cls = instance.cls
        if cls.keras_base:
            call = lookup_class_attribute(cls, "call")
            build = lookup_class_attribute(cls, "build")
            base = instance.attrs.get(BASE_LAYER)
            inherited = inherited_call(instance)
            if inherited is not None:
                # the catalogue layer's own call, on the configuration its __init__ was given
                return self.call(inherited, args, kwargs, st, node)
            if not isinstance(call, FunctionValue):
                declared = self._declared_output(instance, args, kwargs, st, node)
                return [(st, declared if declared is not None else opaque(f"{cls.name} without call()"))]
            held = [(st, instance)]
            if build is None and base is not None and not _is_built(instance) and not build_base_on_call(
                    self, st, instance, call, args, kwargs, node):
                return []  # Keras's build raises: no path goes on
            if isinstance(build, FunctionValue) and not _is_built(instance):
                instance.attrs["__built__"] = True
                shapes = _build_arguments(build, call, args, kwargs)
                rank_build_inputs(instance, shapes)
                held = self._holding(st, instance, lambda s, inst: [
                    r for r, _ in self.call_user(bind_method(build, inst), shapes, {}, s, node)])
            if node is None and _declares_undefined_shape(lookup_class_attribute(cls, "compute_output_shape")):
                # the entry layer on Keras inputs: Keras builds its output from what its own
                # compute_output_shape() returns, and a None among the shapes is none
                # ("Undefined shapes are not supported"): no model around it builds
                self.analysis.note_opaque(f"{cls.name}.compute_output_shape() declares no shape Keras can build")
                return []
            if "training" in kwargs and _takes_no_keyword(call, {"training": None}):
                # Keras passes ``training`` on only to a call() that takes it
                kwargs = {name: value for name, value in kwargs.items() if name != "training"}
            out = []
            # (on data, as in a call() that only data goes through, every layer runs its call())
            declares = not self.analysis.data_only and (
                any(isinstance(lookup_class_attribute(cls, name), FunctionValue)
                    for name in ("compute_output_shape", "compute_output_spec"))
                or isinstance(base, LayerValue) and base_declares_output(cls))
            for s, inst in held:
                if declares:
                    out.extend(self._declared_call(inst, call, args, kwargs, s, node))
                    continue
                for s2, value in self.call_user(bind_method(call, inst), args, kwargs, s, node):
                    if _unread(value):
                        # call() could not be read: the shape the layer declares, if it does
                        declared = self._declared_output(inst, args, kwargs, s2, node)
                        value = declared if declared is not None else value
                    out.append((s2, value))
            return out
        dunder = lookup_class_attribute(cls, "__call__")
        if isinstance(dunder, FunctionValue):
            return self.call_user(bind_method(dunder, instance), args, kwargs, st, node)
        return [(st, opaque(f"call of {cls.name} instance"))]


def merge_stand_in(item, count, axis=None):
    """One input for ``count`` (at least 1) equal inputs ``item`` of a merge: the item
    itself for an element-wise merge (``axis`` None); for a concatenation on ``axis`` (of the
    whole shape), the item with ``count`` times its size there (what concatenating the copies
    gives); None (an input nobody can read) where that axis is not known."""
    if axis is None or count == 1:
        return item
    if not isinstance(item, Tensor) or not item.known or not isinstance(axis, int) or isinstance(axis, bool):
        return None
    dims = full_dims(item)
    position = axis if axis >= 0 else len(dims) + axis
    if not 0 <= position < len(dims) or dims[position] is None:
        return None
    dims[position] = S.mul(count, dims[position])
    return from_full_dims(dims, item.batched, item.channels_last, item.dtype)


# functions that join a list of tensors along an axis: (position of the axis argument, its default)
_JOINS = {"concatenate": (1, 0), "concat": (1, None)}


def _build_arguments(build: FunctionValue, call: FunctionValue, args, kwargs) -> list:
    """What Keras passes ``build``: the first input's shape, or, when ``build`` takes one
    shape per input (``build(self, query_shape, value_shape)``), each input's by name."""
    wanted = [p.name.value for p in list(build.node.params.posonly_params) + list(build.node.params.params)][1:]
    if len(wanted) <= 1:
        return [_input_shape(args[0] if args else kwargs.get("inputs"))]
    names = [p.name.value for p in list(call.node.params.posonly_params) + list(call.node.params.params)][1:]
    given = dict(zip(names, args))
    given.update(kwargs)
    out = []
    for position, name in enumerate(wanted):
        key = name[: -len("_shape")] if name.endswith("_shape") else None
        value = given.get(key) if key in given else (args[position] if position < len(args) else None)
        out.append(_input_shape(value) if value is not None else None)
    return out


def _needs_rank(result) -> bool:
    """Did a tensor function give up for want of an input's rank?"""
    origin = getattr(result, "origin", None)
    return isinstance(result, Tensor) and origin is not None and "unknown rank" in origin.reason


def _choose_rank(value) -> bool:
    if isinstance(value, Unknown) and value.free and value._tensor is not None:
        value = value._tensor
    if isinstance(value, (list, tuple)):
        return any([_choose_rank(v) for v in value])
    if isinstance(value, ListValue):
        return any([_choose_rank(v) for v in value.items])
    return isinstance(value, Tensor) and value.choose_rank()


def _unread(value) -> bool:
    """Is ``value`` a result nothing could be read about (an opaque tensor or value)?"""
    if isinstance(value, Unknown):
        return not value.free
    return isinstance(value, Tensor) and not value.known and value._source is None and value.origin is not None


def _one_tensor(results):
    """The tensor a method gave on its one path, or None (several paths, or no tensor)."""
    value = results[0][1] if len(results) == 1 else None
    return value if isinstance(value, Tensor) and not _unread(value) else None


def _agreed(values: list, reason: str):
    """What the values agree on: the value itself where all are alike, item by item for
    tuples of one length (a layer's output and its cache), else a value nobody knows."""
    first = values[0]
    if all(_same(first, other, {}) for other in values[1:]):
        return first
    if isinstance(first, tuple) and all(isinstance(v, tuple) and len(v) == len(first) for v in values):
        return tuple(_agreed([v[i] for v in values], reason) for i in range(len(first)))
    return opaque(reason)


def _is_built(instance: InstanceValue) -> bool:
    """Has this layer been built (by its first call, or by ``build`` called directly)?"""
    return bool(instance.attrs.get("__built__")) or instance.attrs.get("built") is True


def _rebound_names(function) -> frozenset:
    """The plain names ``function``'s body binds, but where a statement only passes the name
    through a call before rebinding it (:func:`_passes_through`)."""
    passed_through = {id(node.targets[0].target) for node in walk(function.body) if _passes_through(node)}
    return frozenset(name for target in binding_targets(function.body) if id(target) not in passed_through
                     for name in target_names(target) or ())


def _passes_through(node) -> bool:
    """``name = f(name, ...)``: the name's value goes through a call before it is rebound."""
    if type(node) is not cst.Assign or len(node.targets) != 1 or type(node.targets[0].target) is not cst.Name:
        return False
    value = node.value
    return (type(value) is cst.Call and bool(value.args) and value.args[0].keyword is None
            and type(value.args[0].value) is cst.Name and value.args[0].value.value == node.targets[0].target.value)


def _declares_undefined_shape(declare) -> bool:
    """Does ``compute_output_shape`` return its input shape next to a None (``return
    input_shape, None``)?  Keras reads a tuple whose first item is no size as several shapes,
    each of which must be one: it raises there ("Undefined shapes are not supported").  Read
    from the syntax alone: running the method would type the entry's free values."""
    if not isinstance(declare, FunctionValue) or declare.is_lambda:
        return False
    params = [*declare.node.params.posonly_params, *declare.node.params.params]
    if len(params) < 2:  # (self, input_shape)
        return False
    shape_name = params[1].name.value
    found = []

    class _Returns(cst.CSTVisitor):
        def visit_FunctionDef(self, node):
            return node is declare.node  # not into nested functions

        def visit_Return(self, node):
            value = node.value
            if type(value) in (cst.Tuple, cst.List) and len(value.elements) > 1:
                items = [element.value for element in value.elements]
                first_is_shape = type(items[0]) is cst.Name and items[0].value == shape_name
                if first_is_shape and any(type(i) is cst.Name and i.value == "None" for i in items[1:]):
                    found.append(node)

    declare.node.visit(_Returns())
    return bool(found)


def _shape_as_tensor(shape):
    """A shape ``compute_output_shape`` returned (batch axis first) as a tensor, or None."""
    if isinstance(shape, ShapeOf):
        return shape.tensor  # an input's own shape (its rank perhaps not known yet): that input's
    dims = keras_api.batch_shape_dims(shape)
    return Tensor(dims) if dims is not None else None


def _input_shape(inputs):
    """What ``build(input_shape)`` receives for the inputs a layer is called on."""
    if isinstance(inputs, Unknown):
        inputs = inputs.as_tensor()
    if isinstance(inputs, Tensor):
        return ShapeOf(inputs)
    if isinstance(inputs, (ListValue, tuple)):
        items = inputs.items if isinstance(inputs, ListValue) else inputs
        items = [t.as_tensor() if isinstance(t, Unknown) and t.free else t for t in items]
        return ListValue([ShapeOf(t) if isinstance(t, Tensor) else opaque("input shape") for t in items])
    return opaque("input shape")


def _takes_no_keyword(fn: FunctionValue, kwargs) -> bool:
    """Is a keyword argument passed that ``fn`` has no parameter for (and no ``**kwargs``)?"""
    params = fn.node.params
    if params.star_kwarg is not None:
        return False
    named = {p.name.value for p in list(params.params) + list(params.kwonly_params)}
    return any(isinstance(name, str) and name not in named for name in kwargs)


def bind_arguments(fn: FunctionValue, args, kwargs) -> dict | None:
    params = fn.node.params
    positional = list(params.posonly_params) + list(params.params)
    if fn.bound_self is not None:
        args = [fn.bound_self] + list(args)
    kwargs = dict(kwargs)
    frame = {}
    for index, param in enumerate(positional):
        name = param.name.value
        if index < len(args):
            frame[name] = args[index]
        elif name in kwargs:
            frame[name] = kwargs.pop(name)
        elif name in fn.defaults:
            frame[name] = fn.defaults[name]
        else:
            frame[name] = opaque(f"missing argument {name}")
    extra = list(args[len(positional):])
    star = params.star_arg
    if isinstance(star, cst.Param):
        frame[star.name.value] = tuple(extra)
    elif extra:
        return None
    for param in params.kwonly_params:
        name = param.name.value
        if name in kwargs:
            frame[name] = kwargs.pop(name)
        elif name in fn.defaults:
            frame[name] = fn.defaults[name]
        else:
            frame[name] = opaque(f"missing argument {name}")
    if params.star_kwarg is not None:
        frame[params.star_kwarg.name.value] = DictValue(kwargs)
    elif kwargs:
        return None
    return frame


def _shadows(inputs):
    """The inputs with each tensor replaced by its data-time shadow; None if none has one."""
    if isinstance(inputs, Tensor):
        return inputs.shadow
    items = inputs.items if isinstance(inputs, ListValue) else inputs if isinstance(inputs, tuple) else None
    if not items or not any(isinstance(t, Tensor) and t.shadow is not None for t in items):
        return None
    replaced = [t.shadow if isinstance(t, Tensor) and t.shadow is not None else t for t in items]
    return ListValue(replaced) if isinstance(inputs, ListValue) else tuple(replaced)


_UNMODELLED: dict = {}  # qualified name -> the model of an unmodelled Keras layer (or initializer ...)


def _opaque_layer(ctx, cfg, inputs):
    return ctx.opaque("unmodelled layer")


def _as_results(st, value) -> list:
    if isinstance(value, Results):
        return list(value)
    return [(st, value)]


def merge_display(module, node) -> str:
    """A merge as messages name it: ``Add()`` for ``layers.Add(...)``, ``add()`` for ``layers.add``."""
    func = node.func if isinstance(node, cst.Call) else node
    if isinstance(func, cst.Call):
        func = func.func
    if isinstance(func, cst.Attribute):
        return func.attr.value + "()"
    if isinstance(func, cst.Name):
        return func.value + "()"
    return module.code_for_node(func)[:40]
