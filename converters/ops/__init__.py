"""ONNX op specs, one module per op family; importing this package registers them all."""

from axonnx.converters.ops import (  # noqa: F401
    control,
    elementwise,
    gradient,
    indexing,
    linalg,
    misc,
    nn_attention,
    nn_conv,
    nn_norm,
    nn_pool,
    nn_recurrent,
    quantization,
    random,
    reduce,
    sequence,
    shape,
    signal,
    strings,
    traditional_ml,
)
