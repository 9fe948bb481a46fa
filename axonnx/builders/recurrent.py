"""Recurrent and attention layer builders."""

from __future__ import annotations

from axonnx import layers
from axonnx.builders._params import Initializer, check_rank, known_dim, weight
from axonnx.builders.core import getitem, make
from axonnx.node import Node
from axonnx.op_table import register_op

__all__ = ["conv_lstm", "gru", "lstm", "multi_head_attention"]

_SEQ_HINT = "Recurrent layers take (batch, time, features) inputs."


def _directions(direction: str) -> int:
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ValueError(
            f"expected direction 'forward', 'reverse' or 'bidirectional', got {direction!r}"
        )
    return 2 if direction == "bidirectional" else 1


def _sequence_node(op: str, x: Node, params: list, options: dict, name: str | None):
    """A recurrent node, split into its `(outputs, state)` nodes."""
    node = make(op, (x,), params, options, name=name)
    return getitem(node, 0), getitem(node, 1)


def _recurrent(
    op: str,
    x: Node,
    units: int,
    gates: int,
    direction: str,
    kernel_initializer: Initializer,
    recurrent_initializer: Initializer,
    name: str | None,
) -> tuple[Node, Node]:
    check_rank(x, 3, op, _SEQ_HINT, maximum=3)
    features = known_dim(x, -1, op, _SEQ_HINT)
    dirs = _directions(direction)
    params = [
        weight("input_kernel", (dirs, features, gates * units), kernel_initializer),
        weight("hidden_kernel", (dirs, units, gates * units), recurrent_initializer),
        weight("bias", (dirs, 2 * gates * units), "zeros"),
    ]
    return _sequence_node(op, x, params, {"direction": direction}, name)


def lstm(
    x: Node,
    units: int,
    *,
    direction: str = "forward",
    kernel_initializer: Initializer = "glorot_uniform",
    recurrent_initializer: Initializer = "orthogonal",
    name: str | None = None,
) -> tuple[Node, Node]:
    """An LSTM over (batch, time, features) with ONNX's gate order (i, o, f, c).

    Returns `(outputs, (h, c))` nodes: outputs are (batch, time, directions, units).

    >>> import axonnx as ax
    >>> seq, state = ax.input("x", shape=(None, 10, 8)).lstm(16)
    >>> seq.shape
    (None, 10, 1, 16)
    """
    return _recurrent(
        "lstm", x, units, 4, direction, kernel_initializer, recurrent_initializer, name
    )


def gru(
    x: Node,
    units: int,
    *,
    direction: str = "forward",
    kernel_initializer: Initializer = "glorot_uniform",
    recurrent_initializer: Initializer = "orthogonal",
    name: str | None = None,
) -> tuple[Node, Node]:
    """A GRU over (batch, time, features) with ONNX's gate order (z, r, h).

    Returns `(outputs, h)` nodes: outputs are (batch, time, directions, units).

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 5, 3)).gru(4)[0].shape
    (None, 5, 1, 4)
    """
    return _recurrent(
        "gru", x, units, 3, direction, kernel_initializer, recurrent_initializer, name
    )


def conv_lstm(
    x: Node,
    units: int,
    kernel_size: int,
    *,
    strides: int = 1,
    kernel_initializer: Initializer = "glorot_uniform",
    name: str | None = None,
) -> tuple[Node, Node]:
    """A convolutional LSTM over (batch, time, *spatial, channels) frames.

    Returns `(outputs, (h, c))` nodes.

    >>> import axonnx as ax
    >>> ax.input("x", shape=(None, 3, 6, 6, 2)).conv_lstm(4, 3)[0].shape
    (None, 3, 6, 6, 4)
    """
    check_rank(x, 4, "conv_lstm", "Frames are (batch, time, *spatial, channels).")
    channels = known_dim(x, -1, "conv_lstm", "The channel dimension must be known.")
    window = (kernel_size,) * (len(x.shape) - 3)
    params = [
        weight("input_kernel", (*window, channels, 4 * units), kernel_initializer),
        weight("hidden_kernel", (*window, units, 4 * units), kernel_initializer),
        weight("bias", (4 * units,), "zeros"),
    ]
    return _sequence_node("conv_lstm", x, params, {"strides": strides}, name)


def _attention(
    query,
    key_input,
    value,
    *rest,
    num_heads,
    causal,
    has_mask,
    dropout_rate=0.0,
    key=None,
    mode="inference",
):
    mask, params = (rest[0], rest[1:]) if has_mask else (None, rest)
    return layers.multi_head_attention(
        query,
        key_input,
        value,
        *params,
        num_heads=num_heads,
        mask=mask,
        causal=causal,
        dropout_rate=dropout_rate,
        key=key,
        mode=mode,
    )


def multi_head_attention(
    query: Node,
    key_value: Node | None = None,
    *,
    num_heads: int,
    mask: Node | None = None,
    causal: bool = False,
    dropout_rate: float = 0.0,
    kernel_initializer: Initializer = "glorot_uniform",
    name: str | None = None,
) -> Node:
    """Multi-head attention of `query` over `key_value` (self-attention when `None`).

    `mask` is a boolean node broadcastable to (batch, heads, q_len, k_len), True where
    attention is allowed. Parameters: `q/k/v/o_kernel` (dim, dim) and their biases.

    >>> import axonnx as ax
    >>> x = ax.input("x", shape=(None, 16, 64))
    >>> ax.multi_head_attention(x, num_heads=4).shape
    (None, 16, 64)
    """
    key_value = query if key_value is None else key_value
    dim = known_dim(query, -1, "multi_head_attention", "The model dimension must be known.")
    kv_dim = known_dim(key_value, -1, "multi_head_attention", "The model dimension must be known.")
    params = [
        weight("q_kernel", (dim, dim), kernel_initializer),
        weight("k_kernel", (kv_dim, dim), kernel_initializer),
        weight("v_kernel", (kv_dim, dim), kernel_initializer),
        weight("o_kernel", (dim, dim), kernel_initializer),
    ]
    params += [weight(f"{p}_bias", (dim,), "zeros") for p in "qkvo"]
    inputs = (query, key_value, key_value) + ((mask,) if mask is not None else ())
    options = {
        "num_heads": num_heads,
        "causal": causal,
        "has_mask": mask is not None,
        "dropout_rate": dropout_rate,
    }
    return make("multi_head_attention", inputs, params, options, name=name)


register_op("lstm", layers.lstm)
register_op("gru", layers.gru)
register_op("conv_lstm", layers.conv_lstm)
register_op("multi_head_attention", _attention)
