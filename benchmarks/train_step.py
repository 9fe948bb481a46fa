"""Training-step time: axonnx `Loop.trainer` vs. the same model in plain JAX + optax,
and vs. PyTorch eager (CPU), for an MNIST-sized MLP and CNN.

    python benchmarks/train_step.py [--steps 100] [--repeats 7] [--no-torch]

Each measurement runs `steps` steps on pre-made batches after a warm-up (compilation
excluded) and waits for the device at the end; the implementations are measured in
turn, `repeats` times (interleaved, so drifts in machine load hit all of them), and
the median time per step is reported with its ratio to plain JAX. Not a test.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import axonnx as ax

LEARNING_RATE = 1e-3


# -- the models, three times ------------------------------------------------------------


def axonnx_model(kind: str) -> ax.Node:
    if kind == "mlp":
        return ax.input("x", shape=(None, 784)).dense(128, activation="relu").dense(10)
    return (
        ax.input("x", shape=(None, 28, 28, 1))
        .conv(8, 3, padding="same", activation="relu")
        .max_pool(2)
        .conv(16, 3, padding="same", activation="relu")
        .max_pool(2)
        .flatten()
        .dense(10)
    )


def jax_init(kind: str, key: jax.Array) -> dict:
    glorot = jax.nn.initializers.glorot_uniform()
    k = jax.random.split(key, 3)
    if kind == "mlp":
        return {
            "w1": glorot(k[0], (784, 128)),
            "b1": jnp.zeros(128),
            "w2": glorot(k[1], (128, 10)),
            "b2": jnp.zeros(10),
        }
    return {
        "c1": glorot(k[0], (3, 3, 1, 8)),
        "d1": jnp.zeros(8),
        "c2": glorot(k[1], (3, 3, 8, 16)),
        "d2": jnp.zeros(16),
        "w": glorot(k[2], (7 * 7 * 16, 10)),
        "b": jnp.zeros(10),
    }


def _conv(x, kernel, bias):
    y = jax.lax.conv_general_dilated(
        x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return jax.nn.relu(y + bias)


def _pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def jax_apply(kind: str, p: dict, x: jax.Array) -> jax.Array:
    if kind == "mlp":
        return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    h = _pool(_conv(_pool(_conv(x, p["c1"], p["d1"])), p["c2"], p["d2"]))
    return h.reshape(h.shape[0], -1) @ p["w"] + p["b"]


def torch_model(kind: str):
    import torch.nn as nn

    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(7 * 7 * 16, 10),
    )


# -- one timed run per implementation ---------------------------------------------------


def batches(kind: str, steps: int, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    shape = (batch, 784) if kind == "mlp" else (batch, 28, 28, 1)
    return [
        (rng.normal(size=shape).astype(np.float32), rng.integers(0, 10, batch).astype(np.int32))
        for _ in range(steps)
    ]


def axonnx_runner(kind: str, data: list):
    loss = functools.partial(ax.losses.sparse_categorical_cross_entropy, from_logits=True)
    model = axonnx_model(kind)
    loop = ax.Loop.trainer(model, loss, optax.adam(LEARNING_RATE))
    state = ax.init(model)
    loop.run(data[:2], initial_state=state, progress=False)  # compile

    def run() -> float:
        start = time.perf_counter()
        out = loop.run(data, initial_state=state, progress=False)
        jax.block_until_ready(out)
        return time.perf_counter() - start

    return run


def jax_runner(kind: str, data: list):
    optimizer = optax.adam(LEARNING_RATE)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, opt_state, x, y):
        def objective(p):
            logits = jax_apply(kind, p, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(objective)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    initial = jax_init(kind, jax.random.key(0))

    def run() -> float:
        start = time.perf_counter()
        params = jax.tree.map(jnp.array, initial)
        opt_state = optimizer.init(params)
        for x, y in data:
            params, opt_state = step(params, opt_state, x, y)
        jax.block_until_ready(params)
        return time.perf_counter() - start

    run()  # compile
    return run


def torch_runner(kind: str, data: list):
    import torch

    model = torch_model(kind)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()
    tensors = [
        (
            torch.from_numpy(x if kind == "mlp" else x.transpose(0, 3, 1, 2).copy()),
            torch.from_numpy(y.astype(np.int64)),
        )
        for x, y in data
    ]

    def run() -> float:
        start = time.perf_counter()
        for x, y in tensors:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()
        return time.perf_counter() - start

    run()  # warm-up
    return run


# -- measurement ------------------------------------------------------------------------


def measure(kind: str, steps: int, repeats: int, with_torch: bool, batch: int) -> dict:
    data = batches(kind, steps, batch)
    runners = {"axonnx": axonnx_runner(kind, data), "jax": jax_runner(kind, data)}
    if with_torch:
        runners["torch"] = torch_runner(kind, data)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            times[name].append(run() / steps * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def table(results: dict[str, dict], device: str) -> str:
    rows = [
        f"Device: {device}; median ms per training step (Adam, batch as given).",
        "",
        "| model | axonnx Loop | JAX + optax | axonnx / JAX | PyTorch eager (CPU) "
        "| axonnx / PyTorch |",
        "|---|---|---|---|---|---|",
    ]
    for kind, r in results.items():
        torch_ms = r.get("torch")
        rows.append(
            f"| {kind} | {r['axonnx']:.3f} | {r['jax']:.3f} | {r['axonnx'] / r['jax']:.3f} | "
            + (f"{torch_ms:.3f} | {r['axonnx'] / torch_ms:.3f} |" if torch_ms else "– | – |")
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    with_torch = not args.no_torch and jax.default_backend() == "cpu"
    results = {
        f"{kind} (batch {args.batch})": measure(
            kind, args.steps, args.repeats, with_torch, args.batch
        )
        for kind in ("mlp", "cnn")
    }
    print(table(results, f"{jax.devices()[0].device_kind} ({jax.default_backend()})"))


if __name__ == "__main__":
    main()
