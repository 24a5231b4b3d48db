"""What a catalogue layer's class gives the user classes that subclass it.

A user class may subclass a Keras layer and write its own ``call`` from the
pieces the base class sets up: the attributes its ``__init__`` stores (the
configuration), the sublayers its ``build`` creates from the input shapes, and
private methods (``MultiHeadAttention._compute_attention``).  :data:`BASES`
maps a layer model's name (as :func:`keras_shape_lint.layers.layer` registers
it) to a :class:`BaseClass` that states those facts; the interpreter reads
them for a subclass instance and knows no layer by name.

- ``init(ctx, cfg)`` -> ``{attribute: value}``: what ``__init__`` stores,
  ``cfg`` being the constructor's arguments bound to the layer model's
  parameters.  Keras's refusals become assumptions (``ctx.assume``).
- ``build(ctx, attrs, shapes)`` -> :class:`Built`, or None when the shapes are
  not understood: ``shapes`` maps the build parameters (``build_params``) to
  the input tensors (non-batch dims, None where Keras passes none), ``attrs``
  the instance's attributes as they stand (a subclass may have changed them).
- ``declares_output``: the layer's own ``compute_output_shape()`` gives what the layer model
  computes; a subclass that writes its own ``call()`` is built from it (Keras does not run
  that ``call()`` until data comes).
- ``methods``: name -> :class:`Method` (a parameter named ``*_shape`` receives
  the tensor the shape stands for).  A method's ``apply(ctx, attrs,
  args)`` gets the call's arguments bound to its parameters and returns a
  :class:`Built` too: the result, and the attributes it sets on the instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from . import bind_params


@dataclass
class Built:
    """What a base-class step gives: attributes set on the instance, the sublayers it
    builds with the input each one is built on, and a result (for a method)."""

    attrs: dict = field(default_factory=dict)
    builds: list = field(default_factory=list)  # (LayerValue, Tensor it is built on)
    result: Any = None


@dataclass
class Method:
    params: list  # (name, default or REQUIRED), after self
    apply: Callable

    def bind(self, args, kwargs) -> dict | None:
        return bind_params(self.params, list(args), dict(kwargs))


@dataclass
class BaseClass:
    init: Callable
    build: Callable | None = None
    build_params: tuple = ()
    methods: dict = field(default_factory=dict)
    # the rank (batch axis excluded) a free input of unknown rank is given when the layer is
    # built, by the base's build or a subclass's own: the shapes Keras passes build have a rank
    input_rank: int | None = None
    # the layer defines compute_output_shape(): Keras builds a subclass's output from it, without
    # running the subclass's call(), and the layer model's output is what it declares
    declares_output: bool = False


BASES: dict[str, BaseClass] = {}

# the Keras layers that keep Layer's own compute_output_shape() and compute_output_spec() (as
# of Keras 3.15): Keras builds a subclass of one by running its call() on symbolic tensors.
# Every other Keras layer declares its output, and Keras builds a subclass from that
# declaration, without running the subclass's call()
KERAS_TRACED = frozenset({"Layer", "InputLayer", "Wrapper", "GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells",
                          "TFSMLayer", "JaxLayer", "FlaxLayer", "Pipeline"})
# the Keras layers with a compute_output_spec() of their own, which Keras calls with a
# subclass's call() arguments: a keyword it lacks raises TypeError while the model is built
# (MultiHeadAttention's has no ``cache``).  Not modelled: a subclass of one is run as before
KERAS_OWN_SPEC = frozenset({
    "Add", "AdditiveAttention", "Attention", "Average", "CategoryEncoding", "Concatenate", "Discretization", "Dot",
    "Embedding", "Equalization", "Flatten", "GroupQueryAttention", "Hashing", "Identity", "IntegerLookup", "Maximum",
    "Minimum", "MultiHeadAttention", "Multiply", "Permute", "RandomGrayscale", "Reshape", "ReversibleEmbedding",
    "StringLookup", "Subtract", "TextVectorization"})


def base_class(model_name: str, base: BaseClass) -> BaseClass:
    BASES[model_name] = base
    return base


# a layer with no entry: its __init__ stores nothing the analyser reads, and a subclass
# that leaves call alone is the layer itself on the configuration it was given
PLAIN = BaseClass(init=lambda ctx, cfg: Built())


def declares_output(keras_base: str, model_name: str) -> bool:
    """Does the catalogue layer a class subclasses (``keras_base``, as normalised) declare its
    output, so that Keras builds the subclass from it without running the subclass's call()?"""
    if lookup_base(model_name).declares_output:
        return True
    return (keras_base == f"keras.layers.{model_name}" and model_name not in KERAS_TRACED
            and model_name not in KERAS_OWN_SPEC)


def lookup_base(model_name: str) -> BaseClass:
    return BASES.get(model_name, PLAIN)
