"""Chained builder methods: `x.dense(128).relu()` is `ax.relu(ax.dense(x, 128))`.

Each method is the builder function itself, listed here by name so that every
method can be found by searching for it.
"""

from axonnx.builders import activations as act
from axonnx.builders import combinators as comb
from axonnx.builders import conv, linear, normalization, recurrent
from axonnx.builders.core import getitem
from axonnx.node import Node
from axonnx.summary import summary

Node.__getitem__ = getitem  # one output of several: x[0], model["logits"]
Node.__repr__ = summary

Node.activation = act.activation
Node.celu = act.celu
Node.elu = act.elu
Node.exp = act.exp
Node.gelu = act.gelu
Node.hard_sigmoid = act.hard_sigmoid
Node.hard_silu = act.hard_silu
Node.hard_tanh = act.hard_tanh
Node.leaky_relu = act.leaky_relu
Node.linear = act.linear
Node.log_sigmoid = act.log_sigmoid
Node.log_softmax = act.log_softmax
Node.log_sumexp = act.log_sumexp
Node.mish = act.mish
Node.relu = act.relu
Node.relu6 = act.relu6
Node.selu = act.selu
Node.sigmoid = act.sigmoid
Node.silu = act.silu
Node.softmax = act.softmax
Node.softplus = act.softplus
Node.softsign = act.softsign
Node.tanh = act.tanh

Node.flatten = comb.flatten
Node.pad = comb.pad
Node.reshape = comb.reshape
Node.split = comb.split
Node.transpose = comb.transpose

Node.bilinear = linear.bilinear
Node.dense = linear.dense
Node.embedding = linear.embedding

Node.adaptive_avg_pool = conv.adaptive_avg_pool
Node.adaptive_lp_pool = conv.adaptive_lp_pool
Node.adaptive_max_pool = conv.adaptive_max_pool
Node.avg_pool = conv.avg_pool
Node.conv = conv.conv
Node.conv_transpose = conv.conv_transpose
Node.depthwise_conv = conv.depthwise_conv
Node.global_avg_pool = conv.global_avg_pool
Node.global_lp_pool = conv.global_lp_pool
Node.global_max_pool = conv.global_max_pool
Node.lp_pool = conv.lp_pool
Node.max_pool = conv.max_pool
Node.resize = conv.resize
Node.separable_conv2d = conv.separable_conv2d
Node.separable_conv3d = conv.separable_conv3d

Node.alpha_dropout = normalization.alpha_dropout
Node.batch_norm = normalization.batch_norm
Node.dropout = normalization.dropout
Node.feature_alpha_dropout = normalization.feature_alpha_dropout
Node.group_norm = normalization.group_norm
Node.instance_norm = normalization.instance_norm
Node.layer_norm = normalization.layer_norm
Node.rms_norm = normalization.rms_norm
Node.spatial_dropout = normalization.spatial_dropout

Node.conv_lstm = recurrent.conv_lstm
Node.gru = recurrent.gru
Node.lstm = recurrent.lstm
Node.multi_head_attention = recurrent.multi_head_attention
