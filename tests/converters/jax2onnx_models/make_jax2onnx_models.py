"""Generate the jax2onnx test models (random weights, nothing downloaded).

Run with a Python that has jax2onnx and flax (they pin their own jax; keep them out of
the project's environment):

    python -m venv /work/venv-j2o && /work/venv-j2o/bin/pip install jax2onnx flax
    /work/venv-j2o/bin/python tests/converters/jax2onnx_models/make_jax2onnx_models.py

Writes, beside this script:
- `mlp.onnx`: a Flax NNX MLP, x (B, 16) -> (B, 4) (Linear, GELU, Linear, ReLU, Linear).
- `transformer_block.onnx`: a pre-norm Flax NNX transformer block, x (B, 8, 32) ->
  (B, 8, 32): LayerNorm, 4-head self-attention, residual, LayerNorm, GELU MLP, residual.
jax2onnx names the initializers `const_0`, `const_1`, `const_12`, ...
"""

from __future__ import annotations

from pathlib import Path

import jax
import onnx
from flax import nnx
from jax2onnx import to_onnx

HERE = Path(__file__).resolve().parent


class MLP(nnx.Module):
    """Three dense layers with GELU and ReLU between them."""

    def __init__(self, rngs: nnx.Rngs):
        self.first = nnx.Linear(16, 32, rngs=rngs)
        self.second = nnx.Linear(32, 32, rngs=rngs)
        self.last = nnx.Linear(32, 4, rngs=rngs)

    def __call__(self, x):
        return self.last(jax.nn.relu(self.second(jax.nn.gelu(self.first(x)))))


class TransformerBlock(nnx.Module):
    """Pre-norm encoder block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, width: int, heads: int, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(width, rngs=rngs)
        self.attention = nnx.MultiHeadAttention(
            num_heads=heads, in_features=width, decode=False, rngs=rngs
        )
        self.norm2 = nnx.LayerNorm(width, rngs=rngs)
        self.up = nnx.Linear(width, 4 * width, rngs=rngs)
        self.down = nnx.Linear(4 * width, width, rngs=rngs)

    def __call__(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.down(jax.nn.gelu(self.up(self.norm2(x))))


def _randomize(module: nnx.Module, seed: int) -> None:
    """Give every parameter random values (biases and norm scales are 0/1 at init)."""
    state = nnx.state(module, nnx.Param)
    leaves, tree = jax.tree_util.tree_flatten(state)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    noisy = [v + 0.1 * jax.random.normal(k, v.shape, v.dtype) for v, k in zip(leaves, keys)]
    nnx.update(module, jax.tree_util.tree_unflatten(tree, noisy))


def main() -> None:
    mlp = MLP(nnx.Rngs(0))
    _randomize(mlp, 1)
    block = TransformerBlock(32, 4, nnx.Rngs(2))
    _randomize(block, 3)
    for name, module, shape in [
        ("mlp", mlp, ("B", 16)),
        ("transformer_block", block, ("B", 8, 32)),
    ]:
        proto = to_onnx(module, [shape], model_name=name)
        onnx.checker.check_model(proto)
        onnx.save(proto, HERE / f"{name}.onnx")


if __name__ == "__main__":
    main()
