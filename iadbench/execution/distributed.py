"""Several processes on one run (``torchrun --nproc_per_node N -m iadbench run ...``).

Each process predicts a strided share of the pending images into its own shard file; the first
process merges the shards into ``predictions.jsonl`` in test-set order, so the result is the
file a single process would have written. torch is imported only when ``WORLD_SIZE`` > 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class ProcessGroup:
    """Where this process stands among the processes of one run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that holds the lock, writes manifest and summary, and merges shards."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait for every process (no-op alone)."""
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def device_for(self, requested: str) -> str:
        """Each process of a multi-GPU run gets its own GPU (``cuda:<local rank>``)."""
        if self.distributed and requested in ("auto", "cuda"):
            import torch

            if torch.cuda.is_available():
                return f"cuda:{self.local_rank}"
        return requested


@cache
def process_group() -> ProcessGroup:
    """This process's place, from torchrun's environment; joins the process group once.

    The runner itself only needs barriers and small objects; the backend choice matters for
    training stages that reuse the group.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        # gloo for CPU tensors (barriers); NCCL for GPU tensors, so a training stage that joins
        # this group (DDP, DeepSpeed through accelerate) syncs gradients over NCCL, not gloo.
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return ProcessGroup(
        dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    )


def is_main_process() -> bool:
    """Rank 0 (or a lone process), read from torchrun's environment without joining a group."""
    return int(os.environ.get("RANK", "0")) == 0


def shutdown() -> None:
    """Leave the process group cleanly at the end of a multi-process command."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
