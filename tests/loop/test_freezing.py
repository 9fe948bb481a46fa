"""Freezing: selection by namespace, name pattern and layer type; frozen values never move."""

import functools

import jax
import numpy as np
import optax
import pytest

import axonnx as ax
from axonnx.freezing import frozen_paths, merge_params, split_params

XENT = functools.partial(ax.losses.sparse_categorical_cross_entropy, from_logits=True)


def _model():
    x = ax.input("x", shape=(None, 4))
    body = ax.namespace(x.dense(8, activation="relu").layer_norm().dense(8), "body")
    return body.dense(2, name="head")


def _batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x.sum(-1) > 0).astype(np.int32)
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]


def _show(paths):
    return sorted("/".join(p) for p in paths)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (
            {},
            [
                "body/dense_0/bias",
                "body/dense_0/kernel",
                "body/dense_1/bias",
                "body/dense_1/kernel",
                "body/layer_norm_0/bias",
                "body/layer_norm_0/scale",
                "head/bias",
                "head/kernel",
            ],
        ),
        (
            {"namespace": "body", "op": "dense"},
            [
                "body/dense_0/bias",
                "body/dense_0/kernel",
                "body/dense_1/bias",
                "body/dense_1/kernel",
            ],
        ),
        ({"name": "layer_norm_*"}, ["body/layer_norm_0/bias", "body/layer_norm_0/scale"]),
        ({"name": "body/dense_1"}, ["body/dense_1/bias", "body/dense_1/kernel"]),
        ({"namespace": "nowhere"}, []),
    ],
)
def test_selectors(selector, expected):
    assert _show(frozen_paths(ax.freeze(_model(), **selector))) == expected


def test_unfreeze_and_names_stay_put():
    model = _model()
    frozen = ax.unfreeze(ax.freeze(model), op="layer_norm")
    assert _show(frozen_paths(frozen)) == [
        "body/dense_0/bias",
        "body/dense_0/kernel",
        "body/dense_1/bias",
        "body/dense_1/kernel",
        "head/bias",
        "head/kernel",
    ]
    assert jax.tree.structure(ax.init(frozen)) == jax.tree.structure(ax.init(model))


def test_names_pinned_when_a_later_branch_is_frozen():
    x = ax.input("x", shape=(None, 3))
    a = x.dense(2)
    c = a.dense(2)
    b = x.dense(2)  # created after c: numbered after it, although ready before it
    model = ax.add(c, b)
    before = ax.init(model)
    after = ax.init(ax.freeze(model, name="dense_0"))
    jax.tree.map(np.testing.assert_array_equal, after.params, before.params)


def test_frozen_values_are_bit_identical_and_the_rest_matches_a_masked_optax_loop():
    model = ax.freeze(_model(), namespace="body", op="dense")
    initial = ax.init(model)
    optimizer = optax.adam(1e-2)
    state, loop_state = ax.Loop.trainer(model, XENT, optimizer).run(
        _batches(), epochs=2, initial_state=initial, progress=False, return_loop_state=True
    )
    for layer in ("dense_0", "dense_1"):
        jax.tree.map(
            np.testing.assert_array_equal,
            state.params["body"][layer],
            initial.params["body"][layer],
        )
    # no optimizer state for frozen parameters
    mu = loop_state.carry.opt_state[0].mu
    assert set(mu) == {"body", "head"} and set(mu["body"]) == {"layer_norm_0"}

    # reference: optax.masked over the full tree, by hand
    mask = jax.tree.map(lambda _: True, initial.params)
    for layer in ("dense_0", "dense_1"):
        mask["body"][layer] = jax.tree.map(lambda _: False, mask["body"][layer])
    masked = optax.chain(
        optax.masked(optimizer, mask),
        optax.masked(optax.set_to_zero(), jax.tree.map(lambda m: not m, mask)),
    )
    _, predict = ax.build(model, mode="train")
    params, opt_state = initial.params, masked.init(initial.params)

    @jax.jit
    def step(params, opt_state, x, y):
        grads = jax.grad(lambda p: XENT(y, predict(ax.ModelState(p, {}), x)[0]))(params)
        updates, opt_state = masked.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for _ in range(2):
        for x, y in _batches():
            params, opt_state = step(params, opt_state, x, y)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), state.params, params
    )


def test_split_and_merge_are_inverse():
    params = {"a": {"k": 1, "b": 2}, "c": {"d": {"e": 3}}}
    trainable, fixed = split_params(params, {("a", "k"), ("c", "d", "e")})
    assert trainable == {"a": {"b": 2}} and fixed == {"a": {"k": 1}, "c": {"d": {"e": 3}}}
    assert merge_params(trainable, fixed) == params
