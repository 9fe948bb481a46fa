"""Spatial vocabulary shared by the convolution and pooling rules: ONNX's `auto_pad`/`pads`
<-> the layers' `padding`, in both directions, and per-axis attribute lists."""

from __future__ import annotations

import numpy as np

from axonnx.converters.onnx_writer import Writer
from axonnx.errors import UnsupportedOpError
from axonnx.layers._spatial import padding_pairs
from axonnx.node import Node

__all__ = ["ints", "padding_attrs", "padding_option", "per_axis", "spatial_sizes", "unsupported"]


def padding_option(attrs: dict, spatial: int):
    """The `padding` option of a layer from ONNX `auto_pad`/`pads` attributes."""
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return "same" if auto_pad == "SAME_UPPER" else "same_lower"
    if auto_pad == "VALID":
        return "valid"
    pads = list(attrs.get("pads", [0] * 2 * spatial))
    return tuple((pads[i], pads[i + spatial]) for i in range(spatial))


def per_axis(value, n: int) -> list[int]:
    return [int(value)] * n if isinstance(value, int) else [int(v) for v in value]


def unsupported(w: Writer, node: Node, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{w.plan.where(node)}: cannot export to ONNX: {why}")


def padding_attrs(padding, n: int) -> dict:
    if isinstance(padding, str) and padding.lower() == "valid":
        return {"pads": [0] * 2 * n}
    if isinstance(padding, str):
        return {"auto_pad": "SAME_UPPER" if padding.lower() == "same" else "SAME_LOWER"}
    pairs = padding_pairs(padding, n)
    return {"pads": [p[0] for p in pairs] + [p[1] for p in pairs]}


def spatial_sizes(w: Writer, node: Node) -> list[int]:
    shape = node.parents[0].shape
    spatial = shape[2:] if node.options.get("channels") == "first" else shape[1:-1]
    if any(d is None for d in spatial):
        raise unsupported(w, node, f"it needs known spatial sizes, got input shape {shape}")
    return list(spatial)


def ints(w: Writer, *lists: list[int]) -> list[str]:
    return [w.constant(np.array(values, np.int64), "ints") for values in lists]
