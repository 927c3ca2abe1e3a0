"""Several processes, one run: PyTorch DistributedDataParallel, one process per device, started by
torchrun's launcher (`torch.distributed.run`; why this and not Accelerate: docs/ARCHITECTURE.md).

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address in each process's
environment; `Ranks.from_env()` reads them and a process started any other way is rank 0 of 1,
so a plain run never touches torch.distributed. The collectives the loop needs are here, each a
no-op on one process: `reduce_sum` (step statistics), `gather` (validation predictions),
`agree` (rank 0's decision, e.g. early stopping), `any_set` (a cancel seen by any rank).
Gradients are exchanged by DDP itself, never here.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch

# a rank may wait this long at a collective while rank 0 alone fits the probe contender or writes a checkpoint;
# a rank that dies is noticed by torchrun's agent within a second, never by this timeout
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=60)


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @classmethod
    def from_env(cls, env=None) -> "Ranks":
        env = os.environ if env is None else env
        if "WORLD_SIZE" not in env or "RANK" not in env:
            return cls()
        return cls(rank=int(env["RANK"]), world=int(env["WORLD_SIZE"]), local_rank=int(env.get("LOCAL_RANK", 0)))

    # ------------------------------------------------------------------ collectives (no-ops on one process)
    def reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over ranks of a small float64 vector (on the CPU with gloo, on the GPU with NCCL)."""
        if not self.active:
            return values
        import torch.distributed as dist

        t = values.to(self._comm_device(), torch.float64)
        dist.all_reduce(t)
        return t.cpu()

    def gather(self, obj) -> list:
        """Every rank's `obj`, in rank order, on every rank."""
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def agree(self, value):
        """Rank 0's `value` on every rank: a decision taken once (early stopping)."""
        if not self.active:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def any_set(self, flag: bool) -> bool:
        """True on every rank when any rank's flag is set (a cancel reaches the rank that reads the request)."""
        if not self.active:
            return bool(flag)
        return bool(self.reduce_sum(torch.tensor([1.0 if flag else 0.0]))[0] > 0)

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def _comm_device(self) -> torch.device:
        import torch.distributed as dist

        return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" \
            else torch.device("cpu")


SINGLE = Ranks()


def start(device_name: str) -> tuple[Ranks, torch.device]:
    """This process's rank and device; joins the process group when torchrun started several.

    CUDA: one GPU per process (cuda:LOCAL_RANK) and NCCL; otherwise the CPU and gloo (what the tests
    and a CPU-only machine use). A single process resolves the device as before (device.py)."""
    from .device import resolve_device

    ranks = Ranks.from_env()
    if not ranks.active:
        return ranks, resolve_device(device_name)
    import torch.distributed as dist

    cuda = device_name != "cpu" and torch.cuda.is_available()
    if device_name.startswith("cuda") and not cuda:
        resolve_device(device_name)  # raises the one-sentence ConfigError
    device = torch.device("cuda", ranks.local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=COLLECTIVE_TIMEOUT,
                                **({"device_id": device} if cuda else {}))
    return ranks, device


def stop() -> None:
    """Leave the process group (the ranks other than 0 end here; rank 0 goes on alone, see run.py)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(batches: list[list[int]], ranks: Ranks) -> tuple[list[list[int]], set[int]]:
    """This rank's part of each global batch, and the numbers of the batches it only pads.

    Each global batch (the examples one process would take in one step) is cut into `world`
    contiguous parts, sizes differing by at most one, so the ranks together see exactly the
    batches a single process sees, in the same order. A global batch smaller than the number of
    ranks (an epoch's short last batch) leaves some ranks nothing: they repeat the batch's first
    example with its label masked out (loss and accuracy ignore it), so every rank takes the same
    number of steps, which DDP needs."""
    mine, padding = [], set()
    for i, batch in enumerate(batches):
        parts = [p.tolist() for p in torch.tensor_split(torch.as_tensor(batch, dtype=torch.long), ranks.world)]
        part = parts[ranks.rank]
        if not part:
            part, _ = [batch[0]], padding.add(i)
        mine.append(part)
    return mine, padding
