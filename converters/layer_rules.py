"""ONNX patterns that are built-in axonnx layers, recognised on import.

The rules live with their layer family in `axonnx.converters.layers` (import and export
side by side); importing that package registers them in `layer_mapping`'s table.
"""

from __future__ import annotations

from axonnx.converters import layers
from axonnx.converters.layer_mapping import layer_for, match_layer

__all__ = ["layer_for", "match_layer"]

_FAMILIES = layers
"""Imported for the `@import_rule` registrations of every layer family."""
