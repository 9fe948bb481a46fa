"""Smoke tests: one small model per layer family learns synthetic data with optax."""

import jax
import numpy as np
import optax
import pytest

import axonnx as ax

STEPS = 30


def _fit(model, x, y, optimizer, *, loss_fn, steps=STEPS):
    """Train with a plain jitted step; return the inference-mode loss before and after."""
    init_fn, train_predict = ax.build(model, mode="train")
    _, infer_predict = ax.build(model)
    state = init_fn()
    opt_state = optimizer.init(state.params)

    @jax.jit
    def step(params, model_state, opt_state, key):
        def objective(p):
            out, new_state = train_predict(ax.ModelState(p, model_state), x, key=key)
            return loss_fn(y, out), new_state

        (loss, new_state), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_state, opt_state, loss

    evaluate = jax.jit(lambda s: loss_fn(y, infer_predict(s, x)))
    before = float(evaluate(state))
    params, model_state = state.params, state.state
    for key in jax.random.split(jax.random.key(0), steps):
        params, model_state, opt_state, loss = step(params, model_state, opt_state, key)
        assert np.isfinite(float(loss))
    after = float(evaluate(ax.ModelState(params, model_state)))
    return before, after


def _logits_loss(y, logits):
    return ax.losses.sparse_categorical_cross_entropy(y, logits, from_logits=True)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _mlp_task():
    x = _rng().normal(size=(64, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model = ax.input("x", shape=(None, 8)).dense(16, activation="relu").dense(2)
    return model, x, y


def _cnn_task():
    x = _rng().normal(size=(32, 8, 8, 1)).astype(np.float32) * 0.1
    y = np.arange(32) % 2
    x[y == 0, :, :4] += 1.0  # class 0: bright left half, class 1: bright right half
    x[y == 1, :, 4:] += 1.0
    model = (
        ax.input("img", shape=(None, 8, 8, 1))
        .conv(4, 3, padding="same")
        .batch_norm()
        .relu()
        .max_pool(2)
        .avg_pool(2)
        .flatten()
        .dense(2)
    )
    return model, x, y.astype(np.int32)


def _sequence_data():
    x = _rng().normal(size=(32, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.int32)
    return x, y


def _lstm_task():
    x, y = _sequence_data()
    _, (h, _) = ax.input("seq", shape=(None, 6, 2)).lstm(8)
    return h.transpose((1, 0, 2)).flatten().dense(2), x, y


def _gru_task():
    x, y = _sequence_data()
    _, h = ax.input("seq", shape=(None, 6, 2)).gru(8, direction="bidirectional")
    return h.transpose((1, 0, 2)).flatten().dense(2), x, y


def _attention_task():
    x = _rng().normal(size=(32, 5, 8)).astype(np.float32)
    y = (x[:, :, 0].mean(1) > 0).astype(np.int32)
    tokens = ax.input("tokens", shape=(None, 5, 8))
    attended = ax.add(tokens, ax.multi_head_attention(tokens, num_heads=2)).layer_norm()
    return attended.flatten().dense(2), x, y


def _embedding_task():
    ids = _rng().integers(0, 10, size=(48, 6)).astype(np.int32)
    y = (ids[:, 0] % 2).astype(np.int32)
    model = ax.input("ids", shape=(None, 6), dtype="int32").embedding(10, 4).flatten().dense(2)
    return model, ids, y


TASKS = {
    "mlp": _mlp_task,
    "cnn_batch_norm_pool": _cnn_task,
    "lstm": _lstm_task,
    "gru": _gru_task,
    "attention": _attention_task,
    "embedding": _embedding_task,
}


@pytest.mark.parametrize("family", sorted(TASKS))
def test_loss_falls(family):
    model, x, y = TASKS[family]()
    before, after = _fit(model, x, y, optax.adam(3e-2), loss_fn=_logits_loss)
    assert after < 0.7 * before, (before, after)


def test_batch_norm_statistics_move_while_training():
    model, x, y = _cnn_task()
    init_fn, predict_fn = ax.build(model, mode="train")
    state = init_fn()
    _, new_state = predict_fn(state, x)
    assert not np.allclose(new_state["batch_norm_0"]["mean"], state.state["batch_norm_0"]["mean"])


def test_seed_readme_model_trains_with_adamw():
    x = _rng(1).normal(size=(64, 784)).astype(np.float32)
    teacher = _rng(2).normal(size=(784, 10)).astype(np.float32)
    labels = np.argmax(x @ teacher, axis=-1)
    y = np.eye(10, dtype=np.float32)[labels]
    model = (
        ax.input("x", shape=(None, 784))
        .dense(128, activation="relu")
        .dropout(rate=0.5)
        .dense(10, activation="softmax")
    )
    before, after = _fit(
        model, x, y, optax.adamw(1e-3), loss_fn=ax.losses.categorical_cross_entropy
    )
    assert after < 0.5 * before, (before, after)
