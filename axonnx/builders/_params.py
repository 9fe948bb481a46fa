"""Shared pieces of the layer builders: parameter specs and shape checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axonnx.errors import ShapeError
from axonnx.node import Node, ParamSpec

Initializer = str | dict[str, Any] | Callable

CONV_KERNEL_INIT = {"name": "glorot_uniform", "in_axis": 1, "out_axis": 0}
"""Glorot for kernels in the ONNX layout (out, in // groups, *window)."""


def weight(name: str, shape: tuple[int, ...], initializer: Initializer) -> ParamSpec:
    """A trainable parameter spec."""
    return ParamSpec(name, tuple(int(d) for d in shape), initializer)


def state(name: str, shape: tuple[int, ...], initializer: Initializer) -> ParamSpec:
    """A non-trainable state spec (e.g. running statistics)."""
    return ParamSpec(name, tuple(int(d) for d in shape), initializer, kind="state")


def known_dim(x: Node, axis: int, layer: str, hint: str) -> int:
    """The size of `x`'s `axis`, which the layer needs at build time."""
    check_rank(x, axis + 1 if axis >= 0 else -axis, layer, hint)
    size = x.shape[axis]
    if size is None:
        raise ShapeError(
            f"{layer}: expected a known size on axis {axis}, got shape {x.shape}. {hint}"
        )
    return size


def check_rank(x: Node, minimum: int, layer: str, hint: str, maximum: int | None = None) -> None:
    """Raise `ShapeError` unless `minimum <= rank(x) <= maximum`."""
    if x.shape is None:
        raise ShapeError(f"{layer}: the input's shape is unknown. {hint}")
    rank = len(x.shape)
    if rank < minimum or (maximum is not None and rank > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ShapeError(f"{layer}: expected input of rank {bound}, got shape {x.shape}. {hint}")


def channel_count(x: Node, channels: str, layer: str) -> int:
    """Number of channels of a spatial input (first or last axis after the batch)."""
    if channels not in ("first", "last"):
        raise ValueError(f"{layer}: expected channels 'first' or 'last', got {channels!r}")
    check_rank(x, 3, layer, "Spatial layers take (batch, *spatial, channels) inputs.")
    return known_dim(
        x, 1 if channels == "first" else -1, layer, "The channel dimension must be known."
    )


def with_activation(node: Node, activation: str | None) -> Node:
    """`node` followed by an activation layer when one is named."""
    if activation is None:
        return node
    from axonnx.builders.activations import activation as activate

    return activate(node, activation)
