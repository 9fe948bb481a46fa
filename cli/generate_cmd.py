"""`axonnx run MODEL --generate N --prompt-ids 1,2,3`: greedy decoding of a decoder step
with a KV cache (`axonnx.generate`), printing the new token ids and the speed."""

from __future__ import annotations

import click

from axonnx.generation import generate
from axonnx.node import Node
from axonnx.state import ModelState

__all__ = ["parse_ids", "run_generate"]


def parse_ids(text: str | None) -> list[int]:
    """`"1,2,3"` → `[1, 2, 3]`."""
    items = [item.strip() for item in (text or "").split(",")]
    if not all(item.isdigit() for item in items):
        raise click.BadParameter(
            f"expected comma-separated token ids, e.g. 1,2,3, got {text!r}",
            param_hint="--prompt-ids",
        )
    return [int(item) for item in items]


def run_generate(
    model: Node, state: ModelState, prompt: list[int], new_tokens: int, capacity: int | None
) -> str:
    """Generate `new_tokens` after `prompt`; the ids (comma-separated) and a timing line."""
    result = generate(model, state, [prompt], max_new_tokens=new_tokens, capacity=capacity)
    ids = ",".join(str(t) for t in result.tokens[0].tolist())
    timed = max(new_tokens - 2, 0)
    speed = f"{result.tokens_per_second:.1f} tokens/s" if timed else "too few to time"
    return (
        f"{ids}\n"
        f"prefill ({len(prompt)} prompt tokens) and first step, with compilation: "
        f"{result.prefill_seconds:.2f} s; decode: {timed} steps, {speed}"
    )
