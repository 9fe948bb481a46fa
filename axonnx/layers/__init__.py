"""Functional layers: pure functions of JAX arrays, usable in any `jax.jit`/`jax.grad`."""

from axonnx.layers.attention import dot_product_attention, multi_head_attention
from axonnx.layers.conv_recurrent import conv_lstm, conv_lstm_cell
from axonnx.layers.convolution import (
    conv,
    conv_transpose,
    depthwise_conv,
    separable_conv2d,
    separable_conv3d,
)
from axonnx.layers.linear import bilinear, dense, embedding
from axonnx.layers.normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    rms_norm,
)
from axonnx.layers.padding import pad
from axonnx.layers.pooling import (
    adaptive_avg_pool,
    adaptive_lp_pool,
    adaptive_max_pool,
    avg_pool,
    global_avg_pool,
    global_lp_pool,
    global_max_pool,
    lp_pool,
    max_pool,
)
from axonnx.layers.recurrent import gru, gru_cell, lstm, lstm_cell
from axonnx.layers.regularization import (
    alpha_dropout,
    dropout,
    feature_alpha_dropout,
    spatial_dropout,
)
from axonnx.layers.resizing import resize

__all__ = [
    "adaptive_avg_pool",
    "adaptive_lp_pool",
    "adaptive_max_pool",
    "alpha_dropout",
    "avg_pool",
    "batch_norm",
    "bilinear",
    "conv",
    "conv_lstm",
    "conv_lstm_cell",
    "conv_transpose",
    "dense",
    "depthwise_conv",
    "dot_product_attention",
    "dropout",
    "embedding",
    "feature_alpha_dropout",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "group_norm",
    "gru",
    "gru_cell",
    "instance_norm",
    "layer_norm",
    "lp_pool",
    "lstm",
    "lstm_cell",
    "max_pool",
    "multi_head_attention",
    "pad",
    "resize",
    "rms_norm",
    "separable_conv2d",
    "separable_conv3d",
    "spatial_dropout",
]
