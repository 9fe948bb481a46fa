"""Tests of the graph-node builders: shapes, chained methods, names and shape errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axonnx as ax
from axonnx.node import Node, topological_order


def _run(model, *arrays):
    """Run `model` in inference mode on arrays."""
    init_fn, predict_fn = ax.build(model)
    inputs = arrays[0] if len(arrays) == 1 else tuple(arrays)
    return jax.jit(predict_fn)(init_fn(), inputs)


def _ones(shape, batch=3):
    return np.ones(tuple(batch if d is None else d for d in shape), np.float32)


# ---------------------------------------------------------------- single-input builders

# (builder name, input shape, args, kwargs, expected output shape), shapes by hand.
SINGLE = [
    ("dense", (None, 5), (4,), {}, (None, 4)),
    ("dense", (None, 7, 5), (4,), {"use_bias": False}, (None, 7, 4)),
    ("conv", (None, 9, 9, 2), (4, 3), {}, (None, 7, 7, 4)),
    ("conv", (None, 9, 9, 2), (4, 3), {"padding": "same", "strides": 2}, (None, 5, 5, 4)),
    ("conv", (None, 2, 9), (4, 3), {"channels": "first"}, (None, 4, 7)),
    ("conv_transpose", (None, 4, 4, 2), (3, 2), {"strides": 2}, (None, 8, 8, 3)),
    ("depthwise_conv", (None, 8, 8, 3), (2, 3), {}, (None, 6, 6, 6)),
    ("separable_conv2d", (None, 8, 8, 3), (1, 3), {}, (None, 6, 6, 3)),
    ("separable_conv3d", (None, 5, 5, 5, 2), (1, 3), {}, (None, 3, 3, 3, 2)),
    ("max_pool", (None, 8, 8, 3), (2,), {}, (None, 4, 4, 3)),
    ("avg_pool", (None, 8, 8, 3), (2,), {}, (None, 4, 4, 3)),
    ("lp_pool", (None, 8, 8, 3), (2,), {}, (None, 4, 4, 3)),
    ("adaptive_avg_pool", (None, 8, 8, 3), ((2, 4),), {}, (None, 2, 4, 3)),
    ("adaptive_max_pool", (None, 8, 8, 3), (2,), {}, (None, 2, 2, 3)),
    ("adaptive_lp_pool", (None, 8, 8, 3), (2,), {}, (None, 2, 2, 3)),
    ("global_avg_pool", (None, 8, 8, 3), (), {}, (None, 3)),
    ("global_max_pool", (None, 8, 8, 3), (), {}, (None, 3)),
    ("global_lp_pool", (None, 8, 8, 3), (), {}, (None, 3)),
    ("resize", (None, 4, 4, 3), ((8, 6),), {}, (None, 8, 6, 3)),
    ("batch_norm", (None, 4, 4, 3), (), {}, (None, 4, 4, 3)),
    ("layer_norm", (None, 6, 5), (), {}, (None, 6, 5)),
    ("group_norm", (None, 4, 4, 6), (3,), {}, (None, 4, 4, 6)),
    ("instance_norm", (None, 4, 4, 3), (), {}, (None, 4, 4, 3)),
    ("dropout", (None, 5), (), {"rate": 0.3}, (None, 5)),
    ("alpha_dropout", (None, 5), (), {}, (None, 5)),
    ("spatial_dropout", (None, 4, 4, 3), (), {}, (None, 4, 4, 3)),
    ("feature_alpha_dropout", (None, 4, 4, 3), (), {}, (None, 4, 4, 3)),
    ("flatten", (None, 2, 3, 4), (), {}, (None, 24)),
    ("reshape", (None, 12), ((3, -1),), {}, (None, 3, 4)),
    ("transpose", (None, 2, 3), ((0, 2, 1),), {}, (None, 3, 2)),
    ("pad", (None, 3, 4), ([(1, 2), (0, 1)],), {}, (None, 6, 5)),
    ("multi_head_attention", (None, 6, 8), (), {"num_heads": 2}, (None, 6, 8)),
]

ACTIVATIONS = [
    "celu",
    "elu",
    "exp",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]


@pytest.mark.parametrize(
    ("builder", "shape", "args", "kwargs", "expected"),
    SINGLE,
    ids=[f"{row[0]}-{i}" for i, row in enumerate(SINGLE)],
)
def test_single_input_builder_shape(builder, shape, args, kwargs, expected):
    x = ax.input("x", shape=shape)
    node = getattr(ax, builder)(x, *args, **kwargs)
    assert node.shape == expected
    assert node.dtype == "float32"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_builders_shape_and_values(name):
    x = ax.input("x", shape=(None, 4))
    node = getattr(ax, name)(x)
    assert node.shape == (None, 4)
    assert node.op == name
    data = np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)
    expected = getattr(ax.activations, name)(jnp.asarray(data))
    np.testing.assert_array_equal(_run(node, data), expected)


def test_log_sumexp_reduces_last_axis():
    node = ax.log_sumexp(ax.input("x", shape=(None, 4)))
    assert node.shape == (None, 1)
    data = np.arange(8, dtype=np.float32).reshape(2, 4)
    expected = np.log(np.exp(data).sum(-1, keepdims=True))
    np.testing.assert_allclose(_run(node, data), expected, rtol=1e-6)


def test_activation_by_name_and_options():
    x = ax.input("x", shape=(None, 3))
    node = ax.activation(x, "leaky_relu", alpha=0.5)
    data = np.array([[-2.0, 0.0, 3.0]], np.float32)
    np.testing.assert_allclose(_run(node, data), [[-1.0, 0.0, 3.0]])
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        ax.activation(x, "nope")


def test_dense_activation_option_appends_activation_node():
    node = ax.input("x", shape=(None, 3)).dense(2, activation="relu")
    assert node.op == "relu"
    assert node.parents[0].op == "dense"


def test_embedding_shape_and_lookup():
    ids = ax.input("ids", shape=(None, 5), dtype="int32")
    node = ids.embedding(11, 4)
    assert node.shape == (None, 5, 4)
    state = ax.init(node)
    data = np.array([[0, 3, 10, 3, 1]], np.int32)
    table = np.asarray(state.params["embedding_0"]["table"])
    np.testing.assert_array_equal(ax.predict(node, state, data), table[data])


def test_bilinear_shape():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(None, 4))
    node = ax.bilinear(a, b, 2)
    assert node.shape == (None, 2)
    assert _run(node, _ones((None, 3)), _ones((None, 4))).shape == (3, 2)


@pytest.mark.parametrize(("builder", "n_gates"), [("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize(("direction", "dirs"), [("forward", 1), ("bidirectional", 2)])
def test_recurrent_shapes(builder, n_gates, direction, dirs):
    seq, final = getattr(ax, builder)(ax.input("x", shape=(None, 7, 3)), 5, direction=direction)
    assert seq.shape == (None, 7, dirs, 5)
    if builder == "lstm":
        assert final.shape == ((dirs, None, 5), (dirs, None, 5))
    else:
        assert final.shape == (dirs, None, 5)
    kernel = seq.parents[0].params[0]
    assert kernel.shape == (dirs, 3, n_gates * 5)


def test_multi_output_nodes_unpack():
    seq, (h, c) = ax.input("x", shape=(None, 4, 2)).lstm(3)
    assert (h.shape, c.shape) == ((1, None, 3), (1, None, 3))
    with pytest.raises(IndexError, match="below 2"):
        seq.parents[0][1][2]


def test_conv_lstm_shapes():
    seq, (h, c) = ax.conv_lstm(ax.input("x", shape=(None, 4, 6, 6, 2)), 3, 3)
    assert seq.shape == (None, 4, 6, 6, 3)
    assert h.shape == c.shape == (None, 6, 6, 3)


# ---------------------------------------------------------------- multi-input combinators


def test_add_subtract_multiply_values():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(None, 3))
    da = np.array([[1.0, 2.0, 3.0]], np.float32)
    db = np.array([[4.0, -1.0, 0.5]], np.float32)
    out = _run(ax.container((ax.add(a, b, a), ax.subtract(a, b), ax.multiply(a, b))), da, db)
    np.testing.assert_array_equal(out[0], da + db + da)
    np.testing.assert_array_equal(out[1], da - db)
    np.testing.assert_array_equal(out[2], da * db)


def test_add_rejects_mismatched_shapes():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(None, 4))
    with pytest.raises(ax.ShapeError, match=r"add: expected inputs of one shape.*\(None, 4\)"):
        ax.add(a, b)


def test_concatenate_and_stack():
    a, b = ax.input("a", shape=(None, 3)), ax.input("b", shape=(None, 2))
    assert ax.concatenate([a, b]).shape == (None, 5)
    assert ax.stack([a, a], axis=1).shape == (None, 2, 3)
    da, db = np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32)
    out = _run(ax.concatenate([a, b]), da, db)
    np.testing.assert_array_equal(out, np.concatenate([da, db], -1))
    with pytest.raises(ax.ShapeError, match="concatenate"):
        ax.concatenate([a, ax.input("c", shape=(None, 2, 2))])


def test_split_and_getitem():
    x = ax.input("x", shape=(None, 6))
    parts = ax.split(x, 3)
    assert [p.shape for p in parts] == [(None, 2)] * 3
    data = np.arange(12, dtype=np.float32).reshape(2, 6)
    out = _run(ax.container(parts), data)
    for got, want in zip(out, np.split(data, 3, axis=-1), strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ax.ShapeError, match="divisible by 4"):
        ax.split(x, 4)
    with pytest.raises(ax.ShapeError, match="single output"):
        x[0]


def test_cond_selects_branch():
    x = ax.input("x", shape=(None, 3))
    positive = ax.layer(_all_positive, [x])
    node = ax.cond(positive, x.relu(), x.tanh())
    assert node.shape == (None, 3)
    up, down = np.array([[1.0, 2.0, 3.0]], np.float32), np.array([[1.0, -2.0, 3.0]], np.float32)
    np.testing.assert_array_equal(_run(node, up), up)
    np.testing.assert_allclose(_run(node, down), np.tanh(down), rtol=1e-6)


def _all_positive(x):
    return jnp.all(x > 0)


# ---------------------------------------------------------------- core builders


def test_input_param_constant_container_namespace():
    x = ax.input("x", shape=(None, 3), dtype="int32")
    assert (x.op, x.name, x.shape, x.dtype) == ("input", "x", (None, 3), "int32")
    p = ax.param("w", (2, 3), initializer="ones", trainable=False)
    assert p.shape == (2, 3) and p.params[0].kind == "state"
    c = ax.constant(np.zeros((2, 2), np.int64))
    assert (c.shape, c.dtype) == ((2, 2), "int64")
    y = ax.input("y", shape=(None, 2))
    box = ax.container({"a": y, "b": [y, (y,)]})
    assert box.shape == {"a": (None, 2), "b": [(None, 2), ((None, 2),)]}
    assert ax.namespace(y.dense(3), "body").shape == (None, 3)


def test_container_getitem_by_key():
    y = ax.input("y", shape=(None, 2))
    box = ax.container({"a": y, "b": y.dense(5)})
    assert box["b"].shape == (None, 5)


# ---------------------------------------------------------------- chained methods

METHOD_CASES = [
    (name, shape, args, kwargs)
    for name, shape, args, kwargs, _ in SINGLE
    if name != "multi_head_attention"
]
METHOD_CASES += [(name, (None, 4), (), {}) for name in ACTIVATIONS]
METHOD_CASES += [
    ("split", (None, 4), (2,), {}),
    ("lstm", (None, 3, 2), (4,), {}),
    ("gru", (None, 3, 2), (4,), {}),
    ("conv_lstm", (None, 2, 4, 4, 2), (3, 3), {}),
    ("embedding", (None, 3), (7, 2), {}),
    ("multi_head_attention", (None, 6, 8), (), {"num_heads": 2}),
]


def _signature(node):
    if isinstance(node, tuple):
        return tuple(_signature(n) for n in node)
    return [
        (n.op, n.shape, n.dtype, n.params, dict(n.options))
        for n in topological_order(node)
        if n.op != "constant"
    ]


@pytest.mark.parametrize(
    ("method", "shape", "args", "kwargs"),
    METHOD_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(METHOD_CASES)],
)
def test_chained_method_equals_function(method, shape, args, kwargs):
    x = ax.input("x", shape=shape, dtype="int32" if method == "embedding" else "float32")
    chained = getattr(x, method)(*args, **kwargs)
    functional = getattr(ax, method)(x, *args, **kwargs)
    assert _signature(chained) == _signature(functional)


def test_chained_model_predicts_like_function_form():
    x = ax.input("x", shape=(None, 4))
    chained = x.dense(3).relu().dense(2).softmax()
    functional = ax.softmax(ax.dense(ax.relu(ax.dense(x, 3)), 2))
    data = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(_run(chained, data), _run(functional, data))
    assert ax.init(chained).params.keys() == ax.init(functional).params.keys()


def test_every_single_input_builder_has_a_method():
    single = (
        {row[0] for row in SINGLE}
        | set(ACTIVATIONS)
        | {"activation", "embedding", "lstm", "gru", "conv_lstm", "split", "log_sumexp"}
    )
    missing = [name for name in sorted(single) if not callable(getattr(Node, name, None))]
    assert missing == []


# ---------------------------------------------------------------- names


def _names(model):
    from axonnx.plan import plan

    laid_out = plan(model)
    return [laid_out.names[n.id] for n in laid_out.order]


def test_automatic_names_in_topological_order():
    x = ax.input("x", shape=(None, 4))
    model = x.dense(3).relu().dense(2).relu()
    assert _names(model) == ["x", "dense_0", "relu_0", "dense_1", "relu_1"]
    assert set(ax.init(model).params) == {"dense_0", "dense_1"}


def test_automatic_names_follow_creation_order_in_branches():
    x = ax.input("x", shape=(None, 4))
    left = x.dense(3)
    right = x.dense(3)
    model = ax.add(right, left)
    names = dict(zip([id(n) for n in topological_order(model)], _names(model), strict=True))
    assert names[id(left)] == "dense_0"
    assert names[id(right)] == "dense_1"


def test_user_names_are_kept_and_skipped_by_numbering():
    x = ax.input("x", shape=(None, 4))
    model = x.dense(3, name="dense_0").dense(2).dense(1, name="head")
    assert _names(model) == ["x", "dense_0", "dense_1", "head"]
    assert set(ax.init(model).params) == {"dense_0", "dense_1", "head"}


def test_duplicate_user_names_raise():
    x = ax.input("x", shape=(None, 4))
    model = x.dense(3, name="same").dense(2, name="same")
    with pytest.raises(ax.InvalidModelError, match="'same'"):
        ax.init(model)


def test_names_are_stable_across_builds():
    model = ax.input("x", shape=(None, 4)).dense(3).dense(2)
    assert _names(model) == _names(model)


# ---------------------------------------------------------------- shape errors


def test_dense_on_rank_one_input_names_layer_and_shape():
    with pytest.raises(ax.ShapeError) as error:
        ax.input("x", shape=(784,)).dense(10)
    assert "dense: expected input of rank >= 2, got shape (784,)" in str(error.value)
    assert "batch dimension" in str(error.value)


def test_dense_on_unknown_features_raises():
    with pytest.raises(ax.ShapeError, match=r"dense: expected a known size on axis -1"):
        ax.input("x", shape=(None, None)).dense(10)


@pytest.mark.parametrize(
    ("builder", "shape", "args", "message"),
    [
        ("conv", (None, 8), (4, 3), "conv: expected input of rank >= 3"),
        ("max_pool", (None, 8), (2,), "max_pool: expected input of rank >= 3"),
        ("lstm", (None, 8), (4,), r"lstm: expected input of rank in \[3, 3\]"),
        ("gru", (None, 2, 3, 8), (4,), r"gru: expected input of rank in \[3, 3\]"),
        ("layer_norm", (None, None), (), "layer_norm: expected a known size"),
        ("batch_norm", (None, 4, None), (), "batch_norm: expected a known size"),
    ],
)
def test_shape_errors_name_the_layer(builder, shape, args, message):
    with pytest.raises(ax.ShapeError, match=message):
        getattr(ax, builder)(ax.input("x", shape=shape), *args)


def test_inference_error_names_user_layer_name():
    x = ax.input("x", shape=(None, 6))
    with pytest.raises(ax.ShapeError, match="my_reshape"):
        ax.reshape(x, (4, 4), name="my_reshape")


def test_node_is_immutable():
    x = ax.input("x", shape=(None, 3))
    with pytest.raises(AttributeError):
        x.name = "y"
    with pytest.raises(TypeError):
        x.options["shape"] = (1,)
