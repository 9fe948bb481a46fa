"""Checkpoints: atomic, pickle-free files; a resumed run equals an uninterrupted one."""

import json
import struct

import jax
import numpy as np
import optax
import pytest

import axonnx as ax
from axonnx.errors import InvalidModelError


def _data(epoch):
    """Shuffled per epoch from a seed: the same batches on every run."""
    rng = np.random.default_rng(100 + epoch)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x[:, :3]).argmax(-1)]
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)]


MODEL = (
    ax.input("x", shape=(None, 5))
    .dense(16, activation="relu")
    .dropout(rate=0.3)
    .batch_norm()
    .dense(3, activation="softmax")
)


TRAINER = ax.Loop.trainer(MODEL, "categorical_cross_entropy", optax.adamw(1e-2)).metric(
    "accuracy"
)  # adding handlers keeps the compiled step: one compilation for this file


def _trainer():
    return TRAINER


class Killed(Exception):
    pass


def _kill_at(iteration):
    def kill(state):
        if state.iteration == iteration:
            raise Killed

    return kill


def test_resume_mid_epoch_gives_bit_identical_parameters(tmp_path):
    path = str(tmp_path / "run.ckpt")
    full, full_state = _trainer().run(_data, epochs=3, progress=False, return_loop_state=True)
    interrupted = _trainer().checkpoint(path, event="iteration_completed", every=3)
    with pytest.raises(Killed):  # killed at iteration 8, last checkpoint at 6 (epoch 2, batch 1)
        interrupted.handle("iteration_completed", _kill_at(8)).run(_data, epochs=3, progress=False)
    resumed, state = interrupted.run(
        _data, epochs=3, resume=path, progress=False, return_loop_state=True
    )
    jax.tree.map(np.testing.assert_array_equal, resumed.params, full.params)
    jax.tree.map(np.testing.assert_array_equal, resumed.state, full.state)
    assert state.iteration == 15 and state.epoch == 3
    assert state.history == full_state.history  # metrics resumed too


def test_checkpoint_is_safetensors_with_json_header_and_no_temporary_files(tmp_path):
    _trainer().checkpoint(str(tmp_path / "e{epoch}.ckpt")).run(_data, epochs=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1.ckpt", "e2.ckpt"]
    raw = (tmp_path / "e2.ckpt").read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    info = json.loads(header["__metadata__"]["axonnx_checkpoint"])
    assert info["format"] == "axonnx-checkpoint/1"
    assert info["info"]["epoch"] == 2 and info["info"]["epoch_iteration"] == 0
    assert b"pickle" not in raw and b"\x80\x04" not in raw[: 8 + size]
    assert ".params['dense_0']['kernel']" in info["trees"]["carry"]


def test_resume_after_an_epoch_boundary_continues_with_the_next_epoch(tmp_path):
    path = str(tmp_path / "run.ckpt")
    full = _trainer().run(_data, epochs=2, progress=False)
    _trainer().checkpoint(path).run(_data, epochs=1, progress=False)
    resumed = _trainer().run(_data, epochs=2, resume=path, progress=False)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, full.params)


def test_checkpoint_of_another_model_is_rejected_by_name(tmp_path):
    path = str(tmp_path / "run.ckpt")
    _trainer().checkpoint(path).run(_data, progress=False)
    other = ax.input("x", shape=(None, 5)).dense(3, activation="softmax")
    loop = ax.Loop.trainer(other, "categorical_cross_entropy", optax.adamw(1e-2))
    with pytest.raises(InvalidModelError, match=r"dense_0'\]\['bias'\]: expected \(3,\)"):
        loop.run(_data, resume=path, progress=False)
    with pytest.raises(InvalidModelError, match="no such checkpoint"):
        loop.run(_data, resume=str(tmp_path / "missing"), progress=False)
