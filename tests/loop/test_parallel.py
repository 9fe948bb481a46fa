"""Data parallelism: 4 CPU devices (in a subprocess) give the single-device result."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import axonnx as ax

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np, optax
    import axonnx as ax

    def batches():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 6)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[(x[:, :3] * [1, -1, 2]).argmax(-1)]
        return [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]

    model = ax.input("x", shape=(None, 6)).dense(16, activation="relu").batch_norm().dense(3)
    loop = ax.Loop.trainer(model, "mean_squared_error", optax.adam(1e-2)).metric("accuracy")
    parallel = sys.argv[1] == "parallel"
    state, loop_state = loop.run(batches(), epochs=3, progress=False, return_loop_state=True,
                                 data_parallel=parallel)
    leaf = state.params["dense_0"]["kernel"]
    out = {"devices": len(jax.devices()),
           "sharding": [leaf.sharding.is_fully_replicated, len(leaf.sharding.device_set)],
           "params": jax.tree.map(lambda a: np.asarray(a).tolist(), state.params),
           "state": jax.tree.map(lambda a: np.asarray(a).tolist(), state.state),
           "history": loop_state.history}
    print(json.dumps(out))
    """
)


def _run(mode: str, devices: int) -> dict:
    env = dict(
        os.environ,
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        JAX_PLATFORMS="cpu",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_four_devices_match_one_device():
    parallel = _run("parallel", 4)
    single = _run("single", 1)
    assert parallel["devices"] == 4 and single["devices"] == 1
    assert parallel["sharding"] == [True, 4]  # parameters replicated on the 4 devices
    for key in ("params", "state"):
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
            parallel[key],
            single[key],
        )
    for a, b in zip(parallel["history"], single["history"], strict=True):
        assert a == pytest.approx(b, rel=1e-5)


def test_batch_not_divisible_by_devices_is_named():
    from axonnx.loop.parallel import DataParallel

    fake = DataParallel(jax.devices() * 1)
    fake.devices = fake.devices * 3  # pretend three local devices
    with pytest.raises(ValueError, match=r"multiple of 3.*got shape \(4, 2\)"):
        fake.shard(np.zeros((4, 2), np.float32))


def test_one_device_data_parallel_equals_plain_run():
    model = ax.input("x", shape=(None, 2)).dense(1)
    data = [(np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32))] * 3
    import optax

    loop = ax.Loop.trainer(model, "mean_squared_error", optax.sgd(0.1))
    a = loop.run(data, progress=False, data_parallel=True)
    b = loop.run(data, progress=False)
    jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
