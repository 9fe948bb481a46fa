"""The operator schemas of `onnx.defs`, read once per (op, domain, opset).

`schema_of` keeps what the schema check needs of an `OpSchema`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import onnx

__all__ = ["Formal", "Schema", "onnx_schema", "schema_of"]

_VARIADIC = onnx.defs.OpSchema.FormalParameterOption.Variadic
_SINGLE = onnx.defs.OpSchema.FormalParameterOption.Single


@functools.lru_cache(maxsize=4096)
def onnx_schema(op_type: str, opset: int, domain: str = "") -> onnx.defs.OpSchema | None:
    """`onnx.defs.get_schema(op_type, opset, domain)`, the newest schema at or below
    `opset`, looked up once per (op, opset, domain); None where onnx.defs has none."""
    try:
        return onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None


@dataclass(frozen=True)
class Formal:
    """One formal input or output of a schema."""

    name: str
    type_str: str
    variadic: bool
    single: bool
    homogeneous: bool


@dataclass(frozen=True)
class Schema:
    """What the checks need of an `OpSchema`, read once per (op, domain, opset)."""

    name: str
    since: int
    attributes: Mapping[str, int]  # name → AttributeProto type
    required: tuple[str, ...]
    inputs: tuple[Formal, ...]
    outputs: tuple[Formal, ...]
    input_range: tuple[int, int]
    output_range: tuple[int, int]
    allowed: Mapping[str, frozenset[str]]  # type variable → allowed type strings
    singles: tuple[int, ...]  # positions of the inputs that must not be empty


@functools.lru_cache(maxsize=4096)
def schema_of(op_type: str, domain: str, opset: int) -> Schema | None:
    """The schema onnx.defs has for the op at `opset`; None if unknown or deprecated."""
    schema = onnx_schema(op_type, opset, domain)
    if schema is None or schema.deprecated:
        return None

    def formals(params) -> tuple[Formal, ...]:
        return tuple(
            Formal(p.name, p.type_str, p.option == _VARIADIC, p.option == _SINGLE, p.is_homogeneous)
            for p in params
        )

    attributes = {name: int(a.type.value) for name, a in schema.attributes.items()}
    return Schema(
        schema.name,
        schema.since_version,
        attributes,
        tuple(name for name, a in schema.attributes.items() if a.required),
        formals(schema.inputs),
        formals(schema.outputs),
        (schema.min_input, schema.max_input),
        (schema.min_output, schema.max_output),
        {c.type_param_str: frozenset(c.allowed_type_strs) for c in schema.type_constraints},
        tuple(i for i, p in enumerate(schema.inputs) if p.option == _SINGLE),
    )
