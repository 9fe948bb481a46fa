"""Training-step time: axonnx `Loop.trainer` vs. the same model in plain JAX + optax,
and vs. PyTorch eager (CPU), for an MNIST-sized MLP and CNN; and, with `--imported`,
torchvision models imported from their ONNX export against the same module in PyTorch.

    python benchmarks/train_step.py [--steps 100] [--repeats 7] [--no-torch]
    python benchmarks/train_step.py --imported mobilenet_v3_large resnet50 --batch 8 \
        --steps 3 --repeats 5                  # needs torch + torchvision (/work/venv-torch)

Each measurement runs `steps` steps on pre-made batches after a warm-up (compilation
excluded) and waits for the device at the end; the implementations are measured in
turn, `repeats` times (interleaved, so drifts in machine load hit all of them), and
the median time per step is reported with its ratio to plain JAX. Not a test.

`--imported NAME`: torchvision's `NAME(weights=None)` with perturbed random weights
(`benchmarks/make_zoo_vision.py`), exported by the TorchScript exporter with its
BatchNormalization nodes kept (`keep_batch_norm`), imported by `ax.import_onnx`, and
trained by `ax.Loop.trainer` (the Loop's compiled step, batch-norm statistics from
the batch, dropout on); PyTorch trains the very module that was exported, in
`train()` mode. Both: SGD (learning rate 0.01, momentum 0.9), mean cross-entropy of
the logits against integer labels, the same NCHW batches, 2 threads each.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

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


# -- imported torchvision models ----------------------------------------------------------

MOMENTUM = 0.9
SGD_RATE = 0.01
EXPORTS = Path("/tmp/axonnx-train-step")


def torchvision_module(name: str):
    """torchvision's `name` with random perturbed weights (eval mode, as exported)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_zoo_vision as zoo

    return zoo._ready(getattr(zoo.torchvision().models, name)(weights=None))


def export_module(name: str, module) -> Path:
    """The TorchScript ONNX export of `module`, batch-norm nodes kept (cached)."""
    import make_zoo_vision as zoo
    import torch

    path = EXPORTS / f"{name}_bn.onnx"
    if not path.exists():
        EXPORTS.mkdir(parents=True, exist_ok=True)
        axes = {"pixel_values": zoo.IMAGE_AXES, "logits": zoo.IMAGE_AXES}
        with torch.no_grad():
            zoo.mm.export_torchscript(
                module,
                (zoo._image(224),),
                path,
                inputs=["pixel_values"],
                outputs=["logits"],
                axes=axes,
                keep_batch_norm=True,
            )
    return path


def image_batches(steps: int, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        (
            rng.normal(size=(batch, 3, 224, 224)).astype(np.float32),
            rng.integers(0, 1000, batch).astype(np.int32),
        )
        for _ in range(steps)
    ]


def imported_axonnx_runner(path: Path, data: list):
    """`steps` steps of `Loop.trainer` on the imported model, from its imported weights."""
    loss = functools.partial(ax.losses.sparse_categorical_cross_entropy, from_logits=True)
    model, state = ax.import_onnx(path)
    model = model["logits"]  # the graph's one output, as the node the loss reads
    loop = ax.Loop.trainer(model, loss, optax.sgd(SGD_RATE, momentum=MOMENTUM))
    loop.run(data[:1], initial_state=state, progress=False)  # compile

    def run() -> float:
        start = time.perf_counter()
        jax.block_until_ready(loop.run(data, initial_state=state, progress=False))
        return time.perf_counter() - start

    return run


def imported_torch_runner(module, data: list):
    """The same steps on the exported module in PyTorch eager, `train()` mode."""
    import torch

    module = module.train()
    optimizer = torch.optim.SGD(module.parameters(), lr=SGD_RATE, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    tensors = [(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))) for x, y in data]

    def run() -> float:
        start = time.perf_counter()
        for x, y in tensors:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(module(x), y).backward()
            optimizer.step()
        return time.perf_counter() - start

    run()  # warm-up
    return run


def measure_imported(name: str, steps: int, repeats: int, batch: int) -> dict:
    """Median ms per step of axonnx's Loop and PyTorch on torchvision's `name`."""
    import torch

    torch.set_num_threads(2)
    module = torchvision_module(name)
    path = export_module(name, module)
    data = image_batches(steps, batch)
    runners = {
        "axonnx": imported_axonnx_runner(path, data),
        "torch": imported_torch_runner(module, data),
    }
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeats):
        for k, run in runners.items():
            times[k].append(run() / steps * 1e3)
    return {k: statistics.median(t) for k, t in times.items()}


def imported_table(results: dict[str, dict], device: str) -> str:
    rows = [
        f"Device: {device}; median ms per training step (SGD with momentum, cross-entropy).",
        "",
        "| model | batch | axonnx Loop.trainer | PyTorch eager | axonnx / PyTorch |",
        "|---|---|---|---|---|",
    ]
    for key, r in results.items():
        name, batch = key
        rows.append(
            f"| {name} | {batch} | {r['axonnx']:.1f} | {r['torch']:.1f} | "
            f"{r['axonnx'] / r['torch']:.2f} |"
        )
    return "\n".join(rows)


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
    parser.add_argument("--batch", type=int, nargs="+", default=[128])
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--imported", nargs="+", metavar="TORCHVISION_MODEL")
    args = parser.parse_args()
    device = f"{jax.devices()[0].device_kind} ({jax.default_backend()})"
    if args.imported:
        results = {}
        for name in args.imported:
            for batch in args.batch:
                results[name, batch] = measure_imported(name, args.steps, args.repeats, batch)
                print(name, batch, results[name, batch], flush=True)
        print(imported_table(results, device))
        return
    with_torch = not args.no_torch and jax.default_backend() == "cpu"
    results = {
        f"{kind} (batch {batch})": measure(kind, args.steps, args.repeats, with_torch, batch)
        for kind in ("mlp", "cnn")
        for batch in args.batch
    }
    print(table(results, device))


if __name__ == "__main__":
    main()
