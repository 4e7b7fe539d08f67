"""Training on several processes (``anim3d train`` under ``accelerate launch`` or ``torchrun``): the
``Accelerator`` for a device and a mixed-precision setting, each process's share of a global batch, and the
random-number state a resumed run continues from.

The training batch is global: ``batch_size`` windows per optimizer step, whatever the number of processes and
of accumulation micro-batches. Every process makes the random draws of all windows (same seed, same order) and
builds only its own share (``Share.rows``), and the loss of a share is normalised by the whole batch's mask, so
the gradient summed over shares (DDP averages, hence ``Share.loss_scale``) is the single process's gradient
of the same batch: the runs differ by float rounding only, and by dropout, whose masks each process draws itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from anim3d.errors import Anim3dError

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")


def mixed_precision_for(device, mixed_precision: str = "auto") -> str:
    """'auto' -> the launcher's setting under ``accelerate launch`` (ACCELERATE_MIXED_PRECISION), else bf16 on CUDA
    (fp16 where bf16 is not supported) and no elsewhere. fp16 needs CUDA."""
    import torch

    if mixed_precision not in MIXED_PRECISION:
        raise Anim3dError(f"unknown mixed precision {mixed_precision!r} (use {', '.join(MIXED_PRECISION)})")
    if mixed_precision == "auto":
        launcher = os.environ.get("ACCELERATE_MIXED_PRECISION")
        if launcher in ("no", "bf16", "fp16"):
            mixed_precision = launcher
        elif device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            return "no"
    if mixed_precision == "fp16" and device.type != "cuda":
        raise Anim3dError(f"--mixed-precision fp16 needs a CUDA device (training runs on {device.type})")
    return mixed_precision


def make_accelerator(device="auto", mixed_precision: str = "auto"):
    """The ``accelerate.Accelerator`` of this process. ``device`` (a name or torch.device) says CPU or not; under a
    launcher (``accelerate launch`` or ``torchrun``; on a cluster ``srun`` starts one per node) each process takes its
    own GPU (LOCAL_RANK), and ``accelerate launch --cpu`` means the CPU whatever ``device`` says."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import parse_flag_from_env

    from anim3d.device import resolve_device

    dev = device if isinstance(device, torch.device) else resolve_device(device)
    cpu = dev.type == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU")
    if cpu:
        dev = torch.device("cpu")
    elif dev.type == "cuda" and dev.index is not None and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        torch.cuda.set_device(dev)  # one process: --device cuda:N picks the GPU
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision_for(dev, mixed_precision))


@dataclass(frozen=True)
class Share:
    """Which windows of each global batch this process computes, in ``accum`` micro-batches."""

    rank: int = 0
    world: int = 1
    accum: int = 1

    @classmethod
    def of(cls, accelerator, accum: int, batch_size: int) -> "Share":
        share = cls(accelerator.process_index, accelerator.num_processes, accum)
        if accum < 1:
            raise Anim3dError(f"--grad-accum must be 1 or more (got {accum})")
        if batch_size % (share.world * accum):
            raise Anim3dError(f"--batch-size {batch_size} (the global batch) does not split evenly into {share.world} "
                              f"process(es) x {accum} micro-batch(es) (--grad-accum); use a multiple of {share.world * accum}")
        return share

    def rows(self, batch_size: int):
        """This process's windows of the global batch (contiguous), or None for all of them (one process)."""
        if self.world == 1:
            return None
        n = batch_size // self.world
        return np.arange(self.rank * n, (self.rank + 1) * n)

    def micro(self, batch_size: int) -> list[slice]:
        """The accumulation micro-batches of this process's windows."""
        n = batch_size // (self.world * self.accum)
        return [slice(i * n, (i + 1) * n) for i in range(self.accum)]

    @property
    def loss_scale(self) -> float:
        """DDP averages the processes' gradients; the shares' losses add up to the batch's loss."""
        return float(self.world)


def pick(t, rows):
    """Rows of a tensor drawn for the whole batch (all of it when ``rows`` is None)."""
    return t if rows is None else t[rows]


def sum_and_max(accelerator, total: float, clock: float) -> tuple[float, float]:
    """(sum of ``total`` over processes, max of ``clock``): the batch's loss and an elapsed time all processes
    agree on (a time budget must stop every process at the same step, and the schedule must not differ)."""
    if accelerator.num_processes == 1:
        return total, clock
    import torch

    t = accelerator.gather(torch.tensor([[total, clock]], dtype=torch.float64, device=accelerator.device)).cpu()
    return float(t[:, 0].sum()), float(t[:, 1].max())


# ---------------------------------------------------------------- random state (resume)
def rng_state(accelerator, sampler, gen) -> tuple[dict, dict]:
    """(tensors, JSON) of the random state a resumed run continues from: the sampler's numpy generator and the
    noise/dropout-mask generator (the same on every process), and each process's torch (and CUDA) global
    generator (model dropout). Collective: every process calls it; the main process saves the result."""
    import torch
    from accelerate.utils import gather_object

    mine = [(accelerator.process_index, torch.get_rng_state().numpy(),
             torch.cuda.get_rng_state().numpy() if accelerator.device.type == "cuda" else None)]
    everyone = gather_object(mine) if accelerator.num_processes > 1 else mine
    tensors = {"rng.gen": gen.get_state()}
    for rank, cpu_state, cuda_state in everyone:
        tensors[f"rng.torch.{rank}"] = torch.from_numpy(np.asarray(cpu_state, np.uint8))
        if cuda_state is not None:
            tensors[f"rng.cuda.{rank}"] = torch.from_numpy(np.asarray(cuda_state, np.uint8))
    return tensors, {"sampler": sampler.rng.bit_generator.state, "world": accelerator.num_processes}


def restore_rng(accelerator, tensors: dict, meta: dict | None, sampler, gen, log) -> bool:
    """Put back what ``rng_state`` saved; False (nothing restored) for a state saved before it was. With another
    number of processes the shared generators continue and each process's dropout generator keeps the seed the
    run gave it."""
    import torch

    if not meta or "rng.gen" not in tensors:
        return False
    sampler.rng.bit_generator.state = meta["sampler"]
    gen.set_state(tensors["rng.gen"])
    rank = accelerator.process_index
    if meta["world"] == accelerator.num_processes and f"rng.torch.{rank}" in tensors:
        torch.set_rng_state(tensors[f"rng.torch.{rank}"])
        if accelerator.device.type == "cuda" and f"rng.cuda.{rank}" in tensors:
            torch.cuda.set_rng_state(tensors[f"rng.cuda.{rank}"])
    else:
        log(f"the state was saved by {meta['world']} process(es), this run has {accelerator.num_processes}: "
            "the dropout masks' random streams start afresh (the batches continue where they were)")
    return True
