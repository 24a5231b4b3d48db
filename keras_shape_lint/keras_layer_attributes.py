"""The public attributes every Keras 3 layer has (``keras.layers.Layer``'s methods and
properties, and what its constructor sets): ``hasattr(self.block, "build")`` is true of
any layer, and false of the ``lambda x: x`` code puts in a layer's place."""

KERAS_LAYER_ATTRIBUTES = frozenset((
    "add_loss", "add_metric", "add_variable", "add_weight", "autocast", "build", "build_from_config",
    "built", "call", "compute_dtype", "compute_mask", "compute_output_shape", "compute_output_spec",
    "count_params", "dtype", "dtype_policy", "from_config", "get_build_config", "get_config",
    "get_weights", "input", "input_dtype", "input_spec", "load_own_variables", "losses", "metrics",
    "metrics_variables", "name", "non_trainable_variables", "non_trainable_weights", "output", "path",
    "quantization_mode", "quantize", "quantized_build", "quantized_call", "save_own_variables",
    "set_weights", "stateless_call", "supports_masking", "symbolic_call", "trainable",
    "trainable_variables", "trainable_weights", "variable_dtype", "variables", "weights",
))
