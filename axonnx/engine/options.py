"""How the engine asks XLA to compile, and how JAX dispatches on the CPU.

- On CPU, each compilation asks XLA to hand convolutions to XNNPACK and dots and
  reductions to YNNPACK (`CPU_COMPILER_OPTIONS`; nothing process-wide changes). This
  XLA's default also sends convolutions to YNNPACK, which is slower: ResNet-50 goes
  from 1.60–1.74× onnxruntime's latency to 1.35–1.40× at batch 1 (docs/performance.md).
- `AXONNX_COMPILATION_CACHE=/some/folder` keeps compiled functions on disk (JAX's
  persistent compilation cache): a later process with the same model and shapes skips
  compiling.
- `inline_dispatch()`, called before JAX starts, runs computations in the calling thread.
"""

from __future__ import annotations

import functools
import os

import jax
import numpy as np

__all__ = [
    "CPU_COMPILER_OPTIONS",
    "default_compiler_options",
    "inline_dispatch",
    "use_compilation_cache",
]

# XLA debug options for CPU compilations (measured in docs/performance.md)
CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_xnn_fusion_type": (
        "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_ELTWISE"
    ),
    "xla_cpu_experimental_ynn_fusion_type": (
        "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
    ),
}


@functools.cache
def default_compiler_options() -> dict[str, str]:
    """`CPU_COMPILER_OPTIONS` when JAX runs on the CPU and its XLA accepts them (a tiny
    compilation checks, once per process); otherwise no options (XLA's defaults)."""
    if jax.default_backend() != "cpu":
        return {}
    try:
        probe = jax.jit(lambda x: x + 1, compiler_options=CPU_COMPILER_OPTIONS)
        probe.lower(np.zeros(2, np.float32)).compile()
    except Exception:  # an older jax (no compiler_options) or XLA without these options
        return {}
    return dict(CPU_COMPILER_OPTIONS)


def inline_dispatch() -> bool:
    """Run CPU computations inline in the calling thread instead of JAX's default
    asynchronous dispatch; return whether that is in force.

    For small models a call is mostly fixed cost, and handing each computation to a
    worker thread and waiting for it adds ~20 µs, more on a loaded machine: MLP at
    batch 1, ~60 → ~20 µs a call. Affects the whole process (JAX's
    `jax_cpu_enable_async_dispatch`), and only before JAX's backends start (the first
    array op): call it first thing. `axonnx bench` does.
    """
    from jax._src import xla_bridge

    if not xla_bridge.backends_are_initialized():
        jax.config.update("jax_cpu_enable_async_dispatch", False)
    return not jax.config.values["jax_cpu_enable_async_dispatch"]


def use_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache in `$AXONNX_COMPILATION_CACHE`, unless
    the variable is unset or the user configured a cache folder already."""
    folder = os.environ.get("AXONNX_COMPILATION_CACHE")
    if not folder or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
