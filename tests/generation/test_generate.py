"""Greedy decoding through `ax.generate` against the same loop through onnxruntime.

The decoders (tests/generation/make_decoders.py, make_optimum.py) are small LLaMA
(grouped-query attention) and GPT-2 causal LMs exported with a KV cache by both PyTorch
exporters and by Optimum; the GQA ones (tests/converters/contrib_models/
make_decoder_models.py) are LLaMA steps in onnxruntime GenAI's layout: com.microsoft
GroupQueryAttention (rotary inside it, or RotaryEmbedding before it) and MatMulNBits
(4- and 8-bit). The reference loop here feeds onnxruntime a cache that grows by one
position a step (the exporters' own usage); axonnx drives the same file with a
fixed-size cache and an attention mask.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

import axonnx as ax
from axonnx.cli.main import main
from axonnx.errors import InvalidModelError

HERE = Path(__file__).resolve().parent
SLOW = pytest.mark.slow  # ~20 s each on a loaded 2-core machine: two of them by default
MODELS = [
    pytest.param("llama_torchscript", marks=SLOW),
    "llama_dynamo",
    pytest.param("llama_optimum", marks=SLOW),
    pytest.param("gpt2_torchscript", marks=SLOW),
    pytest.param("gpt2_dynamo", marks=SLOW),
    "gpt2_optimum",
]
PROMPT = np.array([[5, 17, 42, 99, 3]], np.int64)
CONTRIB = HERE.parent / "converters" / "contrib_models"
GQA_MODELS = [
    "llama_gqa_rotary_int4",
    pytest.param("llama_gqa_rotary_int8", marks=SLOW),
    pytest.param("llama_rotary_embedding_int4", marks=SLOW),
]
GQA_PROMPT = np.array([[5, 17, 42, 9, 3]], np.int64)  # their vocabulary has 64 tokens
NEW_TOKENS = 32
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def ort_greedy(path_or_session, prompt: np.ndarray, new_tokens: int) -> np.ndarray:
    """Greedy decoding in onnxruntime: the cache starts empty and grows each step."""
    session = path_or_session
    if not isinstance(session, ort.InferenceSession):
        session = ort.InferenceSession(str(session), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    past = [n for n in inputs if n.startswith("past_key_values")]
    batch, length = prompt.shape
    cache = {
        n: np.zeros((batch, inputs[n].shape[1], 0, inputs[n].shape[3]), np.float32) for n in past
    }
    ids, tokens = prompt, []
    for _ in range(new_tokens):
        start = length - ids.shape[1]
        feed = {"input_ids": ids, "attention_mask": np.ones((batch, length), np.int64), **cache}
        if "position_ids" in inputs:  # GenAI's GroupQueryAttention steps may have none
            feed["position_ids"] = np.broadcast_to(np.arange(start, length), ids.shape).copy()
        logits, *present = session.run(None, feed)
        cache = dict(zip(past, present, strict=True))
        ids = logits[:, -1].argmax(-1)[:, None].astype(np.int64)
        tokens.append(ids)
        length += 1
    return np.concatenate(tokens, axis=1)


@pytest.fixture(scope="module", params=MODELS)
def decoder(request):
    path = HERE / f"{request.param}.onnx"
    return path, *ax.import_onnx(path)


def test_greedy_decode_matches_onnxruntime(decoder):
    path, model, state = decoder
    expected = ort_greedy(path, PROMPT, NEW_TOKENS)
    assert len(set(expected.ravel().tolist())) >= 5  # a decode that tells caches apart
    got = ax.generate(model, state, PROMPT, max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(got.tokens, expected)


@pytest.mark.parametrize("name", GQA_MODELS)
def test_gqa_greedy_decode_matches_onnxruntime(name):
    path = CONTRIB / f"{name}.onnx"
    model, state = ax.import_onnx(path)
    expected = ort_greedy(path, GQA_PROMPT, NEW_TOKENS)
    assert len(set(expected.ravel().tolist())) >= 5
    with Compilations() as compiled:
        got = ax.generate(model, state, GQA_PROMPT, max_new_tokens=NEW_TOKENS)
    np.testing.assert_array_equal(got.tokens, expected)
    assert compiled.steps == 2  # the prompt's step and one decode step for 31 tokens


def test_gqa_batch_of_prompts_matches_onnxruntime():
    path = CONTRIB / "llama_gqa_rotary_int4.onnx"
    model, state = ax.import_onnx(path)
    prompts = np.array([[5, 17, 42, 9, 3], [20, 1, 7, 8, 50]], np.int64)
    got = ax.generate(model, state, prompts, max_new_tokens=6, capacity=16)
    np.testing.assert_array_equal(got.tokens, ort_greedy(path, prompts, 6))


def test_batch_of_prompts_matches_onnxruntime():
    path = HERE / "llama_torchscript.onnx"
    model, state = ax.import_onnx(path)
    prompts = np.array([[5, 17, 42, 99, 3], [200, 1, 77, 8, 150]], np.int64)
    got = ax.generate(model, state, prompts, max_new_tokens=6, capacity=16)
    np.testing.assert_array_equal(got.tokens, ort_greedy(path, prompts, 6))


class Compilations(list):
    """The names of the functions XLA compiles inside the block (jax.monitoring events);
    the decoder's step is `generation._step`."""

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self.record)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self.record)

    def record(self, event: str, duration: float, fun_name: str = "", **kwargs) -> None:
        if event == COMPILE_EVENT:
            self.append(fun_name)

    @property
    def steps(self) -> int:
        return sum("_step" in name for name in self)


def test_no_compilation_per_token():
    model, state = ax.import_onnx(HERE / "llama_dynamo.onnx")
    with Compilations() as short:
        ax.generate(model, state, PROMPT, max_new_tokens=3, capacity=48)
    with Compilations() as long:
        ax.generate(model, state, PROMPT, max_new_tokens=40, capacity=80)
    with Compilations() as again:
        ax.generate(model, state, PROMPT, max_new_tokens=30, capacity=48)
    assert short.steps == long.steps == 2  # 3 or 40 tokens: the prompt's step, the decode step
    assert again == []  # the same capacity again: nothing compiles


def test_gqa_no_compilation_per_token():
    """GroupQueryAttention's total_sequence_length comes from the mask's shape: the
    fixed-size mask keeps it constant, so the decode step compiles once."""
    model, state = ax.import_onnx(CONTRIB / "llama_gqa_rotary_int4.onnx")
    with Compilations() as short:
        ax.generate(model, state, GQA_PROMPT, max_new_tokens=3, capacity=48)
    with Compilations() as long:
        ax.generate(model, state, GQA_PROMPT, max_new_tokens=40, capacity=48)
    assert short.steps == 2 and long == []  # 40 tokens: the steps compiled for 3 serve


def test_capacity_too_small_is_refused():
    model, state = ax.import_onnx(HERE / "gpt2_dynamo.onnx")
    with pytest.raises(InvalidModelError, match="capacity of at least"):
        ax.generate(model, state, PROMPT, max_new_tokens=20, capacity=16)


def test_not_a_decoder_is_refused():
    model = ax.input("input_ids", shape=(None, None)).relu()
    with pytest.raises(InvalidModelError, match="attention_mask"):
        ax.generate(model, ax.init(model), PROMPT, max_new_tokens=2)


def test_cli_generate_prints_the_tokens_and_speed():
    path = HERE / "gpt2_dynamo.onnx"
    args = ["run", str(path), "--generate", "8", "--prompt-ids", "5,17,42,99,3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    ids, timing = result.output.strip().splitlines()
    assert [int(t) for t in ids.split(",")] == ort_greedy(path, PROMPT, 8)[0].tolist()
    assert "decode: 6 steps" in timing and "tokens/s" in timing


@pytest.mark.parametrize(
    "args, message",
    [
        (["--generate", "4", "--prompt-ids", "1,x"], "comma-separated token ids"),
        ([], "expected --inputs and -o"),
    ],
)
def test_cli_run_usage_errors(args, message):
    result = CliRunner().invoke(main, ["run", str(HERE / "gpt2_dynamo.onnx"), *args])
    assert result.exit_code == 2 and message in result.output
