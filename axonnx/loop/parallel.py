"""Data parallelism through JAX's own sharding: a mesh over the batch axis.

`Loop.run(..., data_parallel=True)` lays the devices out as a one-axis mesh
(`"batch"`), replicates the step's carry (parameters, optimizer state) on every
device and splits every batch along its first axis. The step is the same jitted
function; XLA inserts the gradient all-reduce. The batch size must be a multiple of
the number of devices. On one device nothing changes.

Multi-host (several processes, each with its own devices): start every process with

```python
import jax
jax.distributed.initialize(coordinator_address="host0:1234",
                           num_processes=N, process_id=i)   # or no arguments on
                                                            # SLURM / TPU pods / k8s
```

then run the same script everywhere with `data_parallel=True`. The mesh spans
`jax.devices()` (every process's devices); each process feeds only *its own* slice of
the global batch (its local batch, of size global batch / process count), which is
assembled into one global array with `jax.make_array_from_process_local_data`. Give
each process different data (e.g. shard the dataset by `jax.process_index()`), write
checkpoints from one process only (`jax.process_index() == 0`), and keep every
process running the same number of steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["DataParallel"]


class DataParallel:
    """Placement of carries and batches on a one-axis device mesh."""

    def __init__(self, devices: Sequence[jax.Device] | None = None):
        self.devices = list(devices) if devices is not None else jax.devices()
        self.mesh = Mesh(np.array(self.devices), ("batch",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.split = NamedSharding(self.mesh, PartitionSpec("batch"))

    def replicate(self, tree: Any) -> Any:
        """`tree` copied onto every device."""
        return jax.device_put(tree, self.replicated)

    def shard(self, batch: Any) -> Any:
        """Every leaf of `batch` split along its first axis over the devices."""
        return jax.tree.map(self._shard_leaf, batch)

    def _shard_leaf(self, leaf: Any) -> jax.Array:
        shape = np.shape(leaf)
        local = len(self.devices) // jax.process_count()
        if not shape or shape[0] % local:
            raise ValueError(
                f"data_parallel: expected batch arrays whose first axis is a multiple of "
                f"{local} (the number of local devices), got shape {shape}. Choose a batch "
                "size divisible by the device count, or drop the last partial batch."
            )
        if jax.process_count() > 1:
            return jax.make_array_from_process_local_data(self.split, np.asarray(leaf))
        return jax.device_put(leaf, self.split)
