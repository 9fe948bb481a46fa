"""Events, handlers, halting, the non-finite guard, progress display and built-in handlers."""

import functools
import io

import jax
import numpy as np
import optax
import pytest

import axonnx as ax

XENT = functools.partial(ax.losses.sparse_categorical_cross_entropy, from_logits=True)


def _batches(n=4, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n * batch, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, n * batch, batch)]


MODEL = ax.input("x", shape=(None, 3)).dense(2)
SGD = ax.Loop.trainer(MODEL, XENT, optax.sgd(0.1))


def _recorded(loop, *events, every=1):
    log = []
    for event in events:
        loop = loop.handle(
            event, lambda s, e=event: log.append((e, s.epoch, s.epoch_iteration)), every=every
        )
    return loop, log


def test_every_event_fires_in_order():
    loop, log = _recorded(SGD, *ax.loop.EVENTS)
    loop.run(_batches(n=2), epochs=2, progress=False)
    expected = [("started", 0, 0)]
    for epoch in (1, 2):
        expected.append(("epoch_started", epoch, 0))
        for i in (1, 2):
            expected += [("iteration_started", epoch, i), ("iteration_completed", epoch, i)]
        expected.append(("epoch_completed", epoch, 2))
    expected.append(("completed", 2, 2))
    assert log == expected


def test_every_n_counts_iterations_and_epochs():
    loop, log = _recorded(
        SGD,
        "iteration_completed",
        "epoch_completed",
        every=3,
    )
    loop.run(_batches(n=4), epochs=3, progress=False)
    iterations = [(e, i) for name, e, i in log if name == "iteration_completed"]
    assert iterations == [(1, 3), (2, 2), (3, 1), (3, 4)]  # global iterations 3, 6, 9, 12
    assert [e for name, e, _ in log if name == "epoch_completed"] == [3]


def test_handler_halts_the_epoch_then_the_loop():
    def halt_epoch_early(state):
        if state.epoch_iteration == 2:
            state.halt_epoch()

    def halt_in_third(state):
        if state.epoch == 3 and state.epoch_iteration == 1:
            state.halt()

    loop, log = _recorded(
        SGD.handle("iteration_completed", halt_epoch_early).handle(
            "iteration_completed", halt_in_third
        ),
        "epoch_halted",
        "epoch_completed",
        "halted",
        "completed",
    )
    _, state = loop.run(_batches(), epochs=5, progress=False, return_loop_state=True)
    assert log == [("epoch_halted", 1, 2), ("epoch_halted", 2, 2), ("halted", 3, 1)]
    assert state.iteration == 5 and state.status == "halted"


def test_nan_loss_halts_naming_the_iteration_and_keeps_the_last_good_state():
    batches = _batches(n=6)
    bad = list(batches)
    bad[3] = (np.full_like(bad[3][0], np.nan), bad[3][1])
    stream = io.StringIO()
    loop = SGD
    initial = ax.init(MODEL)
    state, loop_state = loop.run(
        bad, epochs=2, initial_state=initial, progress=stream, return_loop_state=True
    )
    assert "NaN or Inf at iteration 4 (epoch 1)" in stream.getvalue()
    assert loop_state.status == "halted" and "iteration 4" in loop_state.message
    good = loop.run(batches[:3], initial_state=initial, progress=False)
    jax.tree.map(np.testing.assert_array_equal, state.params, good.params)


def test_progress_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    SGD.metric("accuracy").run(_batches(), epochs=2, progress=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[1].startswith("Epoch 2/2 [") and "4/4" in lines[1]
    assert "loss: " in lines[1] and "accuracy: " in lines[1]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_redraws_in_place_on_a_terminal(monkeypatch):
    from axonnx.loop.progress import Progress

    monkeypatch.setitem(Progress.__init__.__kwdefaults__, "interval", 0.0)
    stream = _Terminal()
    SGD.run(_batches(), progress=stream)
    text = stream.getvalue()
    assert text.count("\r") >= 4 and "\033[K" in text and text.endswith("\n")
    assert "[" + "=" * 30 + "] 4/4" in text


def test_early_stop_halts_after_patience():
    loop = ax.Loop.trainer(MODEL, XENT, optax.sgd(0.0)).early_stop("loss", patience=2)
    _, state = loop.run(_batches(), epochs=10, progress=False, return_loop_state=True)
    assert state.epoch == 3 and state.status == "halted"  # best at 1, no gain at 2 and 3
    assert "has not improved for 2 epochs" in state.message
    improving = SGD.early_stop("loss", patience=1)
    _, state = improving.run(_batches(), epochs=4, progress=False, return_loop_state=True)
    assert state.epoch == 4 and state.status == "running"


def test_early_stop_names_missing_metric():
    loop = SGD.early_stop("val_accuracy")
    with pytest.raises(KeyError, match="no metric 'val_accuracy'.*validate"):
        loop.run(_batches(), progress=False)


def test_reduce_lr_on_plateau_scales_updates():
    loop = ax.Loop.trainer(MODEL, XENT, optax.sgd(0.0)).reduce_lr_on_plateau(
        "loss", patience=1, factor=0.5
    )
    _, state = loop.run(_batches(), epochs=5, progress=False, return_loop_state=True)
    assert float(state.carry.lr_scale) == 0.5**4  # stalls at epochs 2, 3, 4, 5

    # a scale of 0.25 on sgd(0.4) is sgd(0.1)
    fixed = ax.Loop.trainer(MODEL, XENT, optax.sgd(0.4)).handle(
        "started", lambda s: setattr(s, "carry", s.carry._replace(lr_scale=s.carry.lr_scale / 4))
    )
    reference = SGD
    a = fixed.run(_batches(), progress=False)
    b = reference.run(_batches(), progress=False)
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6), a.params, b.params)


def test_validate_reports_evaluator_metrics_of_the_current_state():
    train, val = _batches(seed=0), _batches(seed=1)
    loop = SGD.metric("accuracy").validate(MODEL, val)
    state, loop_state = loop.run(train, epochs=2, progress=False, return_loop_state=True)
    logits = [ax.predict(MODEL, state, x) for x, _ in val]
    accuracy = np.mean([(np.argmax(z, -1) == y).mean() for z, (_, y) in zip(logits, val)])
    loss = np.mean([float(XENT(y, z)) for z, (_, y) in zip(logits, val)])
    last = loop_state.history[-1]
    assert last["val_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert last["val_loss"] == pytest.approx(loss, rel=1e-5)
    assert set(loop_state.history[0]) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_log_writes_metrics_every_n():
    stream = io.StringIO()
    SGD.log(event="iteration_completed", every=2, file=stream).run(_batches(), progress=False)
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1 iteration 2", "epoch 1 iteration 4"]
    assert all("loss: " in line for line in lines)
