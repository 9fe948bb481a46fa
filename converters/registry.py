"""One ONNX op, one place: the registry of op specs shared by import and export.

An op spec holds the JAX implementation of an ONNX operator with ONNX semantics
(inputs positional in ONNX order, absent optional inputs as `None`; attributes
keyword-only with ONNX spelling and defaults), the since-versions it covers, and,
only where a built-in layer exists, rules to import it as that layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from axonnx.converters.op_schemas import onnx_schema
from axonnx.op_table import register_op

__all__ = ["OpSpec", "onnx_op", "op_name", "resolve", "spec_of", "specs"]


@dataclass(frozen=True)
class OpSpec:
    """How one ONNX operator (for some since-versions) maps to axonnx.

    Attributes:
        op_type: ONNX operator name, e.g. `"Conv"`.
        domain: ONNX domain, `""` for the default one.
        versions: the since-versions this implementation covers.
        fn: JAX/NumPy implementation with ONNX semantics.
        static_inputs: input positions that must be known while tracing (shapes, axes,
            sizes); initializers feeding them stay constants.
        weight_inputs: input positions that hold weights; float initializers there
            become trainable parameters.
        prepare: `prepare(importer, node_proto, options)` adds import-time options, for
            ops that refer to other parts of the graph by name (Gradient).
        data_dependent: the output shape depends on input values (NonZero, Unique):
            the op runs only on concrete values, i.e. outside `jax.jit`.
    """

    op_type: str
    domain: str
    versions: tuple[int, ...]
    fn: Callable
    static_inputs: tuple[int, ...] = ()
    weight_inputs: tuple[int, ...] = ()
    data_dependent: bool = False
    prepare: Callable | None = None


# ops that read only their inputs' shapes, a sequence's length or an optional's presence
_READS_NO_VALUES = {("", "Shape"), ("", "Size"), ("", "SequenceLength"), ("", "OptionalHasElement")}

_SPECS: dict[tuple[str, str, int], OpSpec] = {}
_VERSIONS: dict[tuple[str, str], list[int]] = {}  # (domain, op type) -> since-versions
_BY_NAME: dict[str, OpSpec] = {}


def op_name(domain: str, op_type: str, version: int) -> str:
    """The axonnx op name of an ONNX op version: `onnx::Conv@11`, `com.microsoft::Gelu@1`."""
    return f"{domain or 'onnx'}::{op_type}@{version}"


def onnx_op(
    op_type: str,
    *versions: int,
    domain: str = "",
    static_inputs: tuple[int, ...] = (),
    weight_inputs: tuple[int, ...] = (),
    data_dependent: bool = False,
    prepare: Callable | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator registering an ONNX op implementation for the given since-versions.

    >>> @onnx_op("Relu", 6, 13, 14)
    ... def relu(X):
    ...     return jnp.maximum(X, 0)
    """

    def register(fn: Callable) -> Callable:
        for version in versions:
            spec = OpSpec(
                op_type,
                domain,
                tuple(versions),
                fn,
                static_inputs,
                weight_inputs,
                data_dependent,
                prepare,
            )
            _SPECS[(domain, op_type, version)] = spec
            _VERSIONS.setdefault((domain, op_type), []).append(version)
            register_op(
                op_name(domain, op_type, version),
                fn,
                broadcasts=True,
                data_dependent=data_dependent,
                contextual=False,
                static_inputs=static_inputs,
                reads_values=(domain, op_type) not in _READS_NO_VALUES,
            )
            _BY_NAME[op_name(domain, op_type, version)] = spec
        return fn

    return register


def resolve(domain: str, op_type: str, opset: int) -> tuple[OpSpec | None, int | None]:
    """The spec for `op_type` in a model importing `domain` at `opset`, and the
    since-version that opset selects; `(None, version)` when unimplemented, and
    `(None, None)` when ONNX itself has no such op at that opset."""
    schema = onnx_schema(op_type, opset, domain)
    if schema is None:
        version = max((v for v in _VERSIONS.get((domain, op_type), ()) if v <= opset), default=None)
        return (_SPECS[(domain, op_type, version)], version) if version else (None, None)
    version = schema.since_version
    return _SPECS.get((domain, op_type, version)), version


def spec_of(op: str) -> OpSpec | None:
    """The spec behind an axonnx op name such as `onnx::Conv@11`, if it is an ONNX op."""
    return _BY_NAME.get(op)


def specs() -> dict[tuple[str, str, int], OpSpec]:
    """All registered specs keyed by (domain, op type, since-version)."""
    return dict(_SPECS)
