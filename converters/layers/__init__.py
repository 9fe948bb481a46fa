"""Built-in layers and their ONNX mapping, one module per layer family.

Each module holds a family's import rule (`layer_mapping.import_rule`: an ONNX pattern
-> the layer) beside its export rule (`onnx_writer.exporter`: the layer -> ONNX nodes),
so one mapping lives in one place. Importing this package registers them all;
`axonnx.converters.layer_rules` (import) and `axonnx.converters.onnx_export` do.
"""

from axonnx.converters.layers import (
    activations,
    attention,
    combinators,
    convolution,
    linear,
    normalization,
    pooling,
    recurrent,
)

__all__ = [
    "activations",
    "attention",
    "combinators",
    "convolution",
    "linear",
    "normalization",
    "pooling",
    "recurrent",
]
