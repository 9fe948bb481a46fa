"""Training: an event-driven loop over optax optimizers (in the spirit of Axon.Loop).

A loop is a value built by chaining, then run over data:

```python
import axonnx as ax, optax

state = (ax.Loop.trainer(model, "categorical_cross_entropy", optax.adamw(1e-3))
           .metric("accuracy")
           .validate(model, val_data)
           .early_stop("val_loss", patience=2)
           .checkpoint("run.ckpt")
           .run(train_data, epochs=10))
```

Events, in order: `started`, then per epoch `epoch_started`, per batch
`iteration_started` and `iteration_completed`, then `epoch_completed` (or
`epoch_halted`), and at the end `completed` (or `halted`).

Multi-device and multi-host: `run(..., data_parallel=True)` shards each batch over
`jax.devices()` with a one-axis mesh and replicates the parameters. For several hosts,
call `jax.distributed.initialize(...)` in every process first and feed each process
its local part of the batch; see `axonnx.loop.parallel` for the details.
"""

from axonnx.loop.checkpoint import read_checkpoint, write_checkpoint
from axonnx.loop.core import Loop
from axonnx.loop.events import EVENTS, Handler, LoopState
from axonnx.loop.precision import DynamicScale
from axonnx.loop.steps import Steps, TrainCarry

__all__ = [
    "EVENTS",
    "DynamicScale",
    "Handler",
    "Loop",
    "LoopState",
    "Steps",
    "TrainCarry",
    "read_checkpoint",
    "write_checkpoint",
]
