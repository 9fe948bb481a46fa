"""The trainer against hand-written optax loops; compilation, options, data forms."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axonnx as ax

XENT = functools.partial(ax.losses.sparse_categorical_cross_entropy, from_logits=True)


def _task(n=64, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int32)
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)]


def _model():
    return ax.input("x", shape=(None, 6)).dense(8, activation="tanh").dense(2)


def _reference(model, batches, optimizer, epochs, loss=XENT):
    """A plain jitted optax loop."""
    init_fn, predict = ax.build(model, mode="train")
    state = init_fn()
    params, opt_state = state.params, optimizer.init(state.params)

    @jax.jit
    def step(params, opt_state, x, y):
        def objective(p):
            out, _ = predict(ax.ModelState(p, state.state), x)
            return loss(y, out)

        grads = jax.grad(objective)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for _ in range(epochs):
        for x, y in batches:
            params, opt_state = step(params, opt_state, x, y)
    return params


def _close(a, b, **tolerance):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, **tolerance), a, b)


@pytest.mark.parametrize("optimizer", [optax.sgd(0.1), optax.adam(1e-2)], ids=["sgd", "adam"])
def test_trainer_matches_hand_written_optax_loop(optimizer):
    model, batches = _model(), _task()
    state = ax.Loop.trainer(model, XENT, optimizer).run(batches, epochs=3, progress=False)
    _close(state.params, _reference(model, batches, optimizer, 3), rtol=1e-5, atol=1e-6)


def test_optimizer_by_name_with_schedule():
    model, batches = _model(), _task()
    schedule = optax.linear_schedule(0.1, 0.0, 8)
    state = ax.Loop.trainer(model, XENT, "sgd", learning_rate=schedule).run(
        batches, epochs=2, progress=False
    )
    expected = _reference(model, batches, optax.sgd(schedule), 2)
    _close(state.params, expected, rtol=1e-5, atol=1e-6)


def test_step_is_traced_once_and_buffers_are_donated():
    traces = []

    def loss(y, logits):
        traces.append(1)
        return XENT(y, logits)

    model, batches = _model(), _task()
    initial = ax.init(model)
    loop = ax.Loop.trainer(model, loss, optax.sgd(0.1)).metric("accuracy")
    _, loop_state = loop.run(
        batches, epochs=3, initial_state=initial, progress=False, return_loop_state=True
    )
    assert len(traces) == 1  # 12 steps, one trace
    loop.run(batches, epochs=1, initial_state=initial, progress=False)
    assert len(traces) == 1  # the compiled step is cached on the loop value
    # the user's state is copied, not donated; the loop's own carry is donated
    assert not initial.params["dense_0"]["kernel"].is_deleted()
    old = loop_state.carry
    loop._compiled(None)(loop_state, batches[0])
    assert old.params["dense_0"]["kernel"].is_deleted()


def test_gradient_accumulation_equals_one_big_batch():
    model, batches = _model(), _task(n=64, batch=8)
    big = [
        (np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]))
        for a, b in zip(batches[::2], batches[1::2])
    ]
    accumulated = ax.Loop.trainer(model, XENT, optax.sgd(0.5), accumulate=2).run(
        batches, progress=False
    )
    _close(accumulated.params, _reference(model, big, optax.sgd(0.5), 1), rtol=1e-5, atol=1e-6)


def test_gradient_clipping_bounds_each_update():
    model, batches = _model(), _task()
    initial = ax.init(model)
    state = ax.Loop.trainer(model, XENT, optax.sgd(1.0), clip_norm=1e-3).run(
        batches[:1], initial_state=initial, progress=False
    )
    deltas = jax.tree.map(lambda a, b: a - b, state.params, initial.params)
    norm = optax.tree.norm(deltas)
    assert 0 < float(norm) <= 1e-3 * 1.0001


def test_metrics_are_running_averages_over_the_epoch():
    model, batches = _model(), _task()
    state = ax.init(model)
    result = (
        ax.Loop.evaluator(model, loss=XENT)
        .metric("accuracy")
        .run(batches, initial_state=state, progress=False)
    )
    per_batch = [(np.argmax(ax.predict(model, state, x), -1) == y).mean() for x, y in batches]
    losses = [float(XENT(y, ax.predict(model, state, x))) for x, y in batches]
    assert result["accuracy"] == pytest.approx(np.mean(per_batch), abs=1e-6)
    assert result["loss"] == pytest.approx(np.mean(losses), rel=1e-5)


def test_custom_metric_function_and_name_clash():
    model, batches = _model(), _task()
    state = ax.init(model)

    def mean_prediction(y_true, y_pred):
        return jnp.mean(y_pred)

    result = (
        ax.Loop.evaluator(model)
        .metric(mean_prediction)
        .run(batches, initial_state=state, progress=False)
    )
    expected = np.mean([np.mean(ax.predict(model, state, x)) for x, _ in batches])
    assert result == {"mean_prediction": pytest.approx(expected, abs=1e-6)}
    with pytest.raises(ValueError, match="'accuracy' is taken"):
        ax.Loop.evaluator(model).metric("accuracy").metric("accuracy")


def test_data_as_function_of_epoch_and_iteration_limit():
    model, batches = _model(), _task()
    seen = []

    def data(epoch):
        seen.append(epoch)
        return iter(batches)

    state = ax.Loop.trainer(model, XENT, optax.sgd(0.1)).run(
        data, epochs=2, iterations=2, progress=False
    )
    assert seen == [0, 1]
    expected = _reference(model, batches[:2], optax.sgd(0.1), 2)
    _close(state.params, expected, rtol=1e-5, atol=1e-6)


def test_dict_inputs_and_custom_loop():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(None, 3))
    model = ax.add(a, b).dense(1)
    x = {"a": np.ones((4, 3), np.float32), "b": np.zeros((4, 3), np.float32)}
    y = np.ones((4, 1), np.float32)
    state = ax.Loop.trainer(model, "mean_squared_error", optax.sgd(0.1)).run(
        [(x, y)] * 20, progress=False
    )
    assert float(jnp.abs(ax.predict(model, state, x) - 1).max()) < 1e-2

    def count(carry, batch):
        return carry + jnp.sum(batch), {}

    start = jnp.zeros(())
    total = ax.Loop.loop(count).run([np.ones(3)] * 4, initial_state=start, progress=False)
    assert float(total) == 12.0 and float(start) == 0.0  # the initial value is not donated


def test_bad_batch_names_the_fix():
    with pytest.raises(TypeError, match=r"pair \(inputs, targets\)"):
        ax.Loop.trainer(_model(), XENT, optax.sgd(0.1)).run([np.ones((2, 6))], progress=False)


def test_unknown_optimizer_name_names_the_fix():
    with pytest.raises(ValueError, match="learning_rate="):
        ax.Loop.trainer(_model(), XENT, "adam")
