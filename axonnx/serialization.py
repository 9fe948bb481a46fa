"""Saving and loading models: the graph as JSON and every tensor in one safetensors file.

The file is a standard safetensors file: its header holds the graph (JSON) and its
tensors hold parameters, state and constants. Loading never unpickles and never
imports code, unless the caller allows the custom-layer functions the graph names.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from axonnx.errors import AxonnxError, InvalidModelError, UnsafeFileError
from axonnx.files import write_atomically
from axonnx.node import Node, ParamSpec, topological_order
from axonnx.op_table import get_op, register_op, registered_ops
from axonnx.policy import Policy
from axonnx.state import ModelState
from axonnx.subgraph import Subgraph

__all__ = ["load", "save"]

FORMAT = "axonnx/1"
_NATIVE = {
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
}


class TreeWriter:
    """Collects tensors while the graph is turned into JSON."""

    def __init__(self):
        self.tensors: dict[str, np.ndarray] = {}
        self.layout: dict[str, Any] = {}

    def tensor(self, value: Any) -> dict:
        array = np.asarray(value)
        if array.dtype == object:
            return {"__strings__": array.astype(str).tolist(), "shape": list(array.shape)}
        key = f"t{len(self.tensors)}"
        dtype = array.dtype.name
        if dtype not in _NATIVE:
            array = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        self.tensors[key] = np.ascontiguousarray(array)
        return {"__tensor__": key, "dtype": dtype, "shape": list(np.shape(value))}

    def value(self, value: Any) -> Any:
        if isinstance(value, np.ndarray | jax.Array):
            return self.tensor(value)
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return {"__tuple__": [self.value(v) for v in value]}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {"__dict__": [[self.value(k), self.value(v)] for k, v in value.items()]}
        if isinstance(value, Subgraph):
            return {
                "__subgraph__": self.graph(value.model),
                "inputs": list(value.inputs),
                "captures": list(value.captures),
            }
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if callable(value):
            return {"__ref__": _reference(value)}
        raise InvalidModelError(f"save: cannot store a value of type {type(value).__name__}")

    def graph(self, model: Node) -> dict:
        order = topological_order(model)
        index = {n.id: i for i, n in enumerate(order)}
        nodes = [self.node(n, index) for n in order]
        return {"nodes": nodes, "output": index[model.id]}

    def node(self, node: Node, index: dict[int, int]) -> dict:
        if node.op.startswith("layer:") and "<" in node.op:
            raise InvalidModelError(
                f"save: layer {node.name or node.op!r} wraps a lambda or local function, "
                "which cannot be saved by reference. Define it at module level."
            )
        return {
            "op": node.op,
            "parents": [index[p.id] for p in node.parents],
            "params": [self.param(s) for s in node.params],
            "options": self.value(dict(node.options)),
            "name": node.name,
            "policy": list(node.policy) if node.policy else None,
            "shape": self.value(node.shape),
            "dtype": self.value(node.dtype),
            "meta": self.value(dict(node.meta)),
        }

    def param(self, spec: ParamSpec) -> dict:
        return {
            "name": spec.name,
            "shape": list(spec.shape),
            "dtype": spec.dtype,
            "kind": spec.kind,
            "initializer": self.value(spec.initializer),
            "meta": self.value(dict(spec.meta)),
        }


def _reference(fn: Any) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if module is None or "<" in qualname:
        raise InvalidModelError(
            f"save: {fn!r} is not a module-level function, so it cannot be saved by reference. "
            "Define it at module level."
        )
    return f"{module}:{qualname}"


def save(path: str | os.PathLike, model: Node, state: ModelState | None = None) -> None:
    """Save `model` and its `state` to one file, atomically (write, then rename).

    >>> ax.save("mlp.axonnx", model, state)       # doctest: +SKIP
    """
    writer = TreeWriter()
    header = {"format": FORMAT, "graph": writer.graph(model)}
    if state is not None:
        header["params"] = writer.value(_as_plain(state.params))
        header["state"] = writer.value(_as_plain(state.state))
    write_tensors_atomically(Path(path), writer.tensors, {"axonnx": json.dumps(header)})


def _as_plain(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, tree)


def write_tensors_atomically(path: Path, tensors: dict, metadata: dict) -> None:
    """Write `tensors` and `metadata` as one safetensors file, atomically."""
    write_atomically(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))


class TreeReader:
    """Rebuilds values and graphs from the JSON header and the tensors."""

    def __init__(self, tensors: dict[str, np.ndarray], allow_custom: bool):
        self.tensors, self.allow_custom = tensors, allow_custom

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__tensor__" in value:
            return self.tensor(value)
        if "__strings__" in value:
            return np.array(value["__strings__"], dtype=object).reshape(value["shape"])
        if "__tuple__" in value:
            return tuple(self.value(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {self.value(k): self.value(v) for k, v in value["__dict__"]}
        if "__subgraph__" in value:
            return Subgraph(
                self.graph(value["__subgraph__"]), tuple(value["inputs"]), tuple(value["captures"])
            )
        if "__ref__" in value:
            return self.reference(value["__ref__"])
        raise InvalidModelError(f"load: unknown value encoding {sorted(value)}")

    def tensor(self, spec: dict) -> np.ndarray:
        array = self.tensors.get(spec["__tensor__"])
        if array is None:
            raise InvalidModelError(f"load: tensor {spec['__tensor__']!r} is missing")
        try:
            dtype = jnp.dtype(spec["dtype"])
            if array.dtype != dtype:
                array = array.view(dtype)
            return array.reshape(spec["shape"])
        except (TypeError, ValueError) as error:
            raise InvalidModelError(f"load: tensor {spec['__tensor__']!r}: {error}") from error

    def reference(self, ref: str) -> Any:
        if not self.allow_custom:
            raise UnsafeFileError(
                f"load: the model refers to code {ref!r}; pass allow_custom=True to import it "
                "(only for files you trust)"
            )
        module, _, qualname = ref.partition(":")
        try:
            target = importlib.import_module(module)
            for part in qualname.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as error:
            raise InvalidModelError(f"load: cannot import {ref!r}: {error}") from error
        return target

    def graph(self, graph: dict) -> Node:
        nodes: list[Node] = []
        for item in graph["nodes"]:
            self.check_op(item["op"])
            nodes.append(
                Node(
                    item["op"],
                    tuple(nodes[i] for i in item["parents"]),
                    tuple(self.param(p) for p in item["params"]),
                    self.value(item["options"]),
                    name=item["name"],
                    policy=Policy(*item["policy"]) if item["policy"] else None,
                    shape=self.value(item["shape"]),
                    dtype=self.value(item["dtype"]),
                    meta=self.value(item["meta"]),
                )
            )
        return nodes[graph["output"]]

    def param(self, item: dict) -> ParamSpec:
        return ParamSpec(
            item["name"],
            tuple(item["shape"]),
            self.value(item["initializer"]),
            item["dtype"],
            item["kind"],
            self.value(item["meta"]),
        )

    def check_op(self, op: str) -> None:
        if op.startswith("layer:"):
            # Asked even when this process has the function already: whether a file
            # loads must not depend on what ran before.
            register_op(op, self.reference(op.removeprefix("layer:")), folds=False)
            return
        if op in registered_ops() or op in ("input", "param"):
            return
        get_op(op)


def load(path: str | os.PathLike, *, allow_custom: bool = False) -> tuple[Node, ModelState | None]:
    """Load a model saved with `save`: returns `(model, state)`.

    Custom `ax.layer` functions named in the file are imported only with
    `allow_custom=True`; otherwise `UnsafeFileError` names them.
    """
    tensors, header = _read(Path(path))
    reader = TreeReader(tensors, allow_custom)
    try:
        model = reader.graph(header["graph"])
        if "params" not in header:
            return model, None
        return model, ModelState(
            _to_jax(reader.value(header["params"])), _to_jax(reader.value(header["state"]))
        )
    except AxonnxError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise InvalidModelError(f"{path}: malformed axonnx model file ({error!r})") from error
    except RecursionError:
        raise InvalidModelError(
            f"{path}: malformed axonnx model file (too deeply nested)"
        ) from None


def _to_jax(tree: Any) -> Any:
    return jax.tree_util.tree_map(jnp.asarray, tree)


def _read(path: Path) -> tuple[dict, dict]:
    if not path.is_file():
        raise InvalidModelError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise InvalidModelError(f"{path}: not an axonnx model file ({error})") from error
    try:
        header = json.loads(metadata["axonnx"])
    except (KeyError, ValueError) as error:
        raise InvalidModelError(f"{path}: not an axonnx model file (no axonnx header)") from error
    except RecursionError:
        raise InvalidModelError(
            f"{path}: malformed axonnx model file (too deeply nested)"
        ) from None
    if header.get("format") != FORMAT:
        raise InvalidModelError(f"{path}: unsupported format {header.get('format')!r}")
    return tensors, header
