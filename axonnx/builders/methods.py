"""Chained builder methods: `x.dense(128).relu()` is `ax.relu(ax.dense(x, 128))`.

Each method is the builder function itself, listed here by name so that every
method can be found by searching for it.
"""

from axonnx.builders import activations as act
from axonnx.builders import combinators as comb
from axonnx.node import Node

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
