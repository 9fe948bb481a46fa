"""Tests of saving and loading models: lossless round trips and safe loading."""

import builtins
import json
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import save_file

import axonnx as ax
import axonnx.serialization as serialization


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _mlp():
    x = ax.input("x", shape=(None, 6))
    return x.dense(8, activation="relu").dropout(rate=0.5).dense(3, activation="softmax")


def _cnn():
    x = ax.input("img", shape=(None, 8, 8, 2))
    y = x.conv(4, 3, padding="same").batch_norm().relu().max_pool(2)
    return y.flatten().dense(3)


def _lstm():
    seq, (h, _) = ax.input("seq", shape=(None, 5, 3)).lstm(4)
    last = h.transpose((1, 0, 2)).flatten()
    return ax.concatenate([last.dense(2), seq.flatten().dense(2)])


def _constant_container():
    x = ax.input("x", shape=(None, 3))
    offset = ax.constant(np.array([[1.0, -2.0, 0.5]], np.float32))
    ids = ax.constant(np.array([3, 1, 2], np.int64))
    return ax.container(
        {
            "sum": ax.add(x, ax.layer(_tile_like, [offset, x])),
            "pair": (x.dense(2), ax.layer(_gather_last, [x, ids])),
        }
    )


def _tile_like(v, like):
    return jnp.broadcast_to(v, like.shape)


def _gather_last(x, ids):
    return jnp.take(x, ids - 1, axis=-1)


MODELS = {
    "mlp": (_mlp, (4, 6)),
    "cnn": (_cnn, (2, 8, 8, 2)),
    "lstm": (_lstm, (3, 5, 3)),
    "constant_container": (_constant_container, (2, 3)),
}


def _trained_like_state(model):
    """A state whose values differ from a fresh init (so a load cannot re-init them)."""
    state = ax.init(model, seed=7)
    bump = lambda v: v + jnp.asarray(0.125, v.dtype)  # noqa: E731
    return ax.ModelState(
        jax.tree_util.tree_map(bump, state.params), jax.tree_util.tree_map(bump, state.state)
    )


def _assert_trees_identical(a, b):
    flat_a, tree_a = jax.tree_util.tree_flatten(a)
    flat_b, tree_b = jax.tree_util.tree_flatten(b)
    assert tree_a == tree_b
    for u, v in zip(flat_a, flat_b, strict=True):
        assert np.asarray(u).dtype == np.asarray(v).dtype
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_round_trip_bit_for_bit(tmp_path, kind):
    make, shape = MODELS[kind]
    model = make()
    state = _trained_like_state(model)
    path = tmp_path / f"{kind}.axonnx"
    ax.save(path, model, state)
    loaded, loaded_state = ax.load(path, allow_custom=kind == "constant_container")
    _assert_trees_identical(state, loaded_state)
    data = _data(*shape)
    _assert_trees_identical(
        ax.build(model)[1](state, data), ax.build(loaded)[1](loaded_state, data)
    )
    assert ax.summary(loaded) == ax.summary(model)


def test_round_trip_keeps_init_and_train_mode(tmp_path):
    model = _cnn()
    ax.save(tmp_path / "m.axonnx", model)
    loaded, state = ax.load(tmp_path / "m.axonnx")
    assert state is None
    _assert_trees_identical(ax.init(model, seed=3), ax.init(loaded, seed=3))
    data = _data(4, 8, 8, 2)
    fresh = ax.init(model)
    out, new = ax.build(model, mode="train")[1](fresh, data)
    out2, new2 = ax.build(loaded, mode="train")[1](fresh, data)
    _assert_trees_identical((out, new), (out2, new2))


def test_round_trip_keeps_policy_and_names(tmp_path):
    x = ax.input("x", shape=(None, 4))
    model = ax.apply_policy(
        ax.namespace(x.dense(3, name="proj"), "body").dense(2), ax.policy("float32", "bfloat16")
    )
    state = ax.init(model)
    ax.save(tmp_path / "p.axonnx", model, state)
    loaded, loaded_state = ax.load(tmp_path / "p.axonnx")
    assert ax.summary(loaded) == ax.summary(model)
    _assert_trees_identical(state, loaded_state)


def test_round_trip_of_non_native_dtypes(tmp_path):
    x = ax.input("x", shape=(None, 3))
    model = x.dense(2)
    state = ax.init(model)
    state = state._replace(
        params=jax.tree_util.tree_map(lambda v: v.astype(jnp.bfloat16) + 0.5, state.params)
    )
    ax.save(tmp_path / "b.axonnx", model, state)
    _, loaded_state = ax.load(tmp_path / "b.axonnx")
    _assert_trees_identical(state, loaded_state)


# ---------------------------------------------------------------- custom layers


def _double(x):
    return 2 * x


def test_custom_layer_needs_allow_custom(tmp_path):
    model = ax.layer(_double, [ax.input("x", shape=(None, 3))])
    ax.save(tmp_path / "c.axonnx", model, ax.init(model))
    with pytest.raises(ax.UnsafeFileError, match="_double.*allow_custom=True"):
        ax.load(tmp_path / "c.axonnx")
    loaded, state = ax.load(tmp_path / "c.axonnx", allow_custom=True)
    data = _data(2, 3)
    np.testing.assert_array_equal(ax.build(loaded)[1](state, data), 2 * data)


def test_custom_initializer_reference_needs_allow_custom(tmp_path):
    model = ax.input("x", shape=(None, 3)).dense(2, kernel_initializer=_ones_initializer)
    ax.save(tmp_path / "i.axonnx", model)
    with pytest.raises(ax.UnsafeFileError, match="_ones_initializer"):
        ax.load(tmp_path / "i.axonnx")
    loaded, _ = ax.load(tmp_path / "i.axonnx", allow_custom=True)
    np.testing.assert_array_equal(ax.init(loaded).params["dense_0"]["kernel"], np.ones((3, 2)))


def _ones_initializer(key, shape, dtype):
    return jnp.ones(shape, dtype)


def test_lambda_layer_cannot_be_saved(tmp_path):
    x = ax.input("x", shape=(None, 3))
    model = ax.add(ax.layer(lambda v: v * 2, [x]), ax.layer(lambda v: v + 1, [x]))
    data = _data(2, 3)
    np.testing.assert_allclose(ax.build(model)[1](ax.init(model), data), 3 * data + 1)
    with pytest.raises(ax.InvalidModelError, match="lambda or local function.*module level"):
        ax.save(tmp_path / "l.axonnx", model)
    assert not (tmp_path / "l.axonnx").exists()
    assert os.listdir(tmp_path) == []


def test_lambda_initializer_cannot_be_saved(tmp_path):
    model = ax.input("x", shape=(None, 3)).dense(2, kernel_initializer=lambda k, s, d: None)
    with pytest.raises(ax.InvalidModelError, match="module-level function"):
        ax.save(tmp_path / "l.axonnx", model)


def test_file_refers_to_arbitrary_code(tmp_path):
    model = ax.layer(_double, [ax.input("x", shape=(None, 3))])
    path = tmp_path / "evil.axonnx"
    ax.save(path, model)
    _rewrite_header(path, lambda text: text.replace(f"{__name__}:_double", "os:system"))
    with pytest.raises(ax.UnsafeFileError, match="'os:system'"):
        ax.load(path)


# ---------------------------------------------------------------- atomic writes


def test_save_leaves_no_temporary_file(tmp_path):
    ax.save(tmp_path / "m.axonnx", _mlp())
    ax.save(tmp_path / "m.axonnx", _mlp())
    assert os.listdir(tmp_path) == ["m.axonnx"]


def test_failing_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.axonnx"
    model = _mlp()
    state = ax.init(model)
    ax.save(path, model, state)
    before = path.read_bytes()

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        ax.save(path, _cnn(), None)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.axonnx"]
    monkeypatch.undo()
    _, loaded = ax.load(path)
    _assert_trees_identical(state, loaded)


def test_save_creates_parent_folders(tmp_path):
    ax.save(tmp_path / "a" / "b" / "m.axonnx", _mlp())
    assert (tmp_path / "a" / "b" / "m.axonnx").is_file()


# ---------------------------------------------------------------- bad files


def _rewrite_header(path, change):
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    metadata["axonnx"] = change(metadata["axonnx"])
    save_file(tensors, str(path), metadata=metadata)


def test_non_model_files_raise_invalid_model(tmp_path):
    garbage = tmp_path / "garbage.axonnx"
    garbage.write_bytes(os.urandom(256))
    with pytest.raises(ax.InvalidModelError, match="not an axonnx model file"):
        ax.load(garbage)
    text = tmp_path / "text.axonnx"
    text.write_text("hello")
    with pytest.raises(ax.InvalidModelError):
        ax.load(text)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.ones(3, np.float32)}, str(plain))
    with pytest.raises(ax.InvalidModelError, match="no axonnx header"):
        ax.load(plain)
    with pytest.raises(ax.InvalidModelError, match="no such file"):
        ax.load(tmp_path / "missing.axonnx")


def test_wrong_format_version(tmp_path):
    path = tmp_path / "m.axonnx"
    ax.save(path, _mlp())
    _rewrite_header(path, lambda text: text.replace('"axonnx/1"', '"axonnx/99"'))
    with pytest.raises(ax.InvalidModelError, match="unsupported format 'axonnx/99'"):
        ax.load(path)


def test_malformed_graph_is_invalid_model(tmp_path):
    path = tmp_path / "m.axonnx"
    ax.save(path, _mlp())

    def break_parents(text):
        header = json.loads(text)
        header["graph"]["nodes"][1]["parents"] = [99]
        return json.dumps(header)

    _rewrite_header(path, break_parents)
    with pytest.raises(ax.InvalidModelError):
        ax.load(path)


def test_unknown_op_is_invalid_model(tmp_path):
    path = tmp_path / "m.axonnx"
    ax.save(path, _mlp())
    _rewrite_header(path, lambda text: text.replace('"op": "relu"', '"op": "no_such_op"'))
    with pytest.raises(ax.InvalidModelError, match="unknown op 'no_such_op'"):
        ax.load(path)


def test_pickle_payload_is_refused(tmp_path):
    path = tmp_path / "pickled.axonnx"
    path.write_bytes(pickle.dumps({"graph": [1, 2, 3], "params": np.ones(3)}))
    with pytest.raises(ax.InvalidModelError):
        ax.load(path)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    path = tmp_path / "m.axonnx"
    model = _constant_container()
    ax.save(path, model, ax.init(model))

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    imported = []
    real_import = builtins.__import__

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy)
    loaded, state = ax.load(path, allow_custom=True)
    monkeypatch.undo()
    assert not [name for name in imported if "pickle" in name]
    assert state is not None and loaded.op == "container"


def test_missing_custom_function_is_invalid_model(tmp_path):
    model = ax.layer(_double, [ax.input("x", shape=(None, 3))])
    path = tmp_path / "gone.axonnx"
    ax.save(path, model)
    _rewrite_header(path, lambda text: text.replace(f"{__name__}:_double", f"{__name__}:_gone"))
    with pytest.raises(ax.InvalidModelError, match="cannot import .*_gone"):
        ax.load(path, allow_custom=True)
