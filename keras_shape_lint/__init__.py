"""keras-shape-lint: prove Keras merges shape-compatible, or find the input that breaks them."""

__version__ = "0.1.0"
