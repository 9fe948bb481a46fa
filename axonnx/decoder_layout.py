"""Which inputs and outputs of an imported decoder step hold the KV cache.

A decoder step exported with a cache takes `input_ids`, `attention_mask`, usually
`position_ids`, and per layer a past key and value; it returns the logits and per layer
the present key and value (the past with this step's entries appended on the sequence
axis). Exporters name these differently:

- Optimum and `torch.onnx.export(dynamo=False, input_names=...)` as usually written:
  `past_key_values.0.key` / `.value` in, `present.0.key` / `.value` out;
- `torch.onnx.export(dynamo=True)` from a list of (key, value) tuples:
  `past_key_values_0_0` / `past_key_values_0_1` in, and outputs named after the nodes
  that made them (`linear_14`, `cat_7`, ...).

Outputs named `logits` and `present...` are matched by name; otherwise the first output
is the logits and the next ones the present key and value of each layer, in the order
of the past inputs (the order both PyTorch exporters write).

onnxruntime GenAI's layout (its model builder) uses the same names but attends with
com.microsoft GroupQueryAttention, whose `seqlens_k` (each row's total length - 1) and
`total_sequence_length` the graph computes from `attention_mask` (ReduceSum - 1, and
its Shape). That op may share the past and present buffers: a past of `max_sequence_length`
slots, the new keys and values written in place at `seqlens_k + 1 - sequence_length`,
the present as long as the past. Such a step is `shared_buffer`: the mask spans the
cache's slots (1 for those holding tokens, this step's included), the present is the
next step's past, and positions come from the mask when there is no `position_ids`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axonnx.errors import InvalidModelError
from axonnx.node import Node
from axonnx.plan import plan

__all__ = ["DecoderLayout", "decoder_layout"]

_PAST = re.compile(r"past_key_values[._](\d+)[._](key|value|0|1)$")
_PRESENT = re.compile(r"present[._](\d+)[._](key|value|0|1)$")
_PART = {"key": 0, "0": 0, "value": 1, "1": 1}
_SHARED_BUFFER_OPS = ("com.microsoft::GroupQueryAttention@",)


@dataclass(frozen=True)
class DecoderLayout:
    """The names of a decoder step's inputs and outputs.

    Attributes:
        input_ids: the token ids input, (batch, sequence).
        attention_mask: the mask input, (batch, past + sequence); 1 marks a valid slot.
        position_ids: the positions input, (batch, sequence); `None` if the step has none.
        past: per layer, the (key, value) cache inputs, each (batch, heads, past, head_dim).
        cache_shapes: per layer, the (heads, head_dim) of its cache.
        cache_dtype: the cache's dtype (NumPy name, e.g. `"float32"`).
        logits: the logits output, (batch, sequence, vocabulary).
        present: per layer, the (key, value) outputs, each (batch, heads, past + sequence,
            head_dim), or (batch, heads, past, head_dim) with `shared_buffer`.
        shared_buffer: the step attends with GroupQueryAttention: the mask covers the
            past's slots, and the present is the past with this step's entries written in
            place.
    """

    input_ids: str
    attention_mask: str
    position_ids: str | None
    past: tuple[tuple[str, str], ...]
    cache_shapes: tuple[tuple[int, int], ...]
    cache_dtype: str
    logits: str
    present: tuple[tuple[str, str], ...]
    shared_buffer: bool = False


def decoder_layout(model: Node) -> DecoderLayout:
    """Find the token, mask, position and cache inputs and the logits and cache outputs of
    an imported decoder step (see the module's docstring for the names recognised)."""
    laid_out = plan(model)
    inputs = {laid_out.names[n.id]: n for n in laid_out.inputs}
    for required in ("input_ids", "attention_mask"):
        if required not in inputs:
            raise InvalidModelError(
                f"generate: expected a decoder with inputs input_ids and attention_mask, "
                f"got inputs {sorted(inputs)}."
            )
    past = _pairs(sorted(inputs), _PAST, "inputs")
    outputs = list(model.meta.get("onnx_outputs") or ())
    return DecoderLayout(
        input_ids="input_ids",
        attention_mask="attention_mask",
        position_ids="position_ids" if "position_ids" in inputs else None,
        past=past,
        cache_shapes=tuple(_cache_shape(inputs[key]) for key, _ in past),
        cache_dtype=str(inputs[past[0][0]].options.get("dtype", "float32")),
        logits="logits" if "logits" in outputs else _first(outputs),
        present=_present(outputs, len(past)),
        shared_buffer=any(n.op.startswith(_SHARED_BUFFER_OPS) for n in laid_out.order),
    )


def _pairs(names: list[str], pattern: re.Pattern, what: str) -> tuple[tuple[str, str], ...]:
    """(key, value) names per layer, in layer order, from names matching `pattern`."""
    found: dict[int, list] = {}
    for name in names:
        match = pattern.match(name)
        if match:
            found.setdefault(int(match[1]), [None, None])[_PART[match[2]]] = name
    if not found or sorted(found) != list(range(len(found))):
        raise InvalidModelError(
            f"generate: expected cache {what} past_key_values.<layer>.key/value (or "
            f"past_key_values_<layer>_0/1) for layers 0, 1, ..., got {names}."
        )
    if any(None in found[i] for i in found):
        raise InvalidModelError(f"generate: each layer needs a key and a value, got {names}.")
    return tuple(tuple(found[i]) for i in range(len(found)))


def _present(outputs: list[str], layers: int) -> tuple[tuple[str, str], ...]:
    """Present (key, value) per layer: by name, else the outputs after the logits."""
    if any(_PRESENT.match(name) for name in outputs):
        return _pairs(outputs, _PRESENT, "outputs")
    if len(outputs) != 1 + 2 * layers:
        raise InvalidModelError(
            f"generate: expected the logits and a present key and value for each of "
            f"{layers} layers ({1 + 2 * layers} outputs), got {outputs}."
        )
    rest = outputs[1:]
    return tuple((rest[2 * i], rest[2 * i + 1]) for i in range(layers))


def _first(outputs: list[str]) -> str:
    if not outputs:
        raise InvalidModelError("generate: expected an imported ONNX decoder (with named outputs)")
    return outputs[0]


def _cache_shape(node: Node) -> tuple[int, int]:
    shape = tuple(node.shape or ())
    if len(shape) != 4 or not all(isinstance(d, int) for d in (shape[1], shape[3])):
        raise InvalidModelError(
            f"generate: expected a cache input of shape (batch, heads, past, head_dim) with "
            f"fixed heads and head_dim, got {shape}."
        )
    return shape[1], shape[3]
