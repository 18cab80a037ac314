"""Data-parallel training over processes: ``torchrun --nproc_per_node=N -m wpcore train ...``.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; :func:`init_from_env`
starts the process group (NCCL for CUDA devices, gloo on CPU) and gives each rank its device
(``cuda:LOCAL_RANK``). Then, with the same ``Experiment`` as one process:

- each rank holds *its shard* of the data on its device (``DeviceLoader(rank=, world_size=)``)
  and makes ``batch_size / N`` images of every global batch;
- ``fit`` wraps the model in DistributedDataParallel, which averages gradients, and converts
  BatchNorm to synchronised BatchNorm (``nn.SyncBatchNorm`` on CUDA; :class:`SyncBatchNormCPU`,
  an all-reduce of the per-channel sums, on CPU), so that one step is the one-process step on
  the same global batch: same statistics, same gradient, up to float summation order;
- evaluation metrics are summed over the ranks' shards of the test set;
- only rank 0 logs progress and writes checkpoints and the record.

Without torchrun (WORLD_SIZE unset or 1) every function here is a no-op.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env(device: str | None = None) -> str | None:
    """Start the process group when launched by torchrun; return the device this rank uses.

    ``device`` is the user's choice (None: CUDA when available); on CUDA each rank takes
    ``cuda:LOCAL_RANK``. Returns ``device`` unchanged when not launched with WORLD_SIZE > 1.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dist.init_process_group("nccl", device_id=torch.device("cuda", local))
        return f"cuda:{local}"
    dist.init_process_group("gloo")
    return device or "cpu"


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (nothing in one process)."""
    if is_distributed():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over the ranks (``t`` itself in one process)."""
    if is_distributed():
        t = t.clone()
        dist.all_reduce(t)
    return t


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    return all_reduce_sum(t) / world_size()


class SyncBatchNormCPU(nn.BatchNorm2d):
    """BatchNorm whose training statistics are those of the global batch (gloo, any device).

    The per-channel sum, sum of squares and count are all-reduced with the differentiable
    ``torch.distributed.nn.all_reduce``, so autograd also sums the statistics' gradients over
    the ranks: the same forward and backward as one BatchNorm over the whole batch.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        from torch.distributed.nn import all_reduce

        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xf = x.float()
        local = torch.cat([xf.sum(dims), (xf * xf).sum(dims), xf.new_tensor([x.numel() // c])])
        total = all_reduce(local)
        n = total[-1]
        mean = total[:c] / n
        var = (total[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        shape = (1, c) + (1,) * (x.dim() - 2)
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            scale = scale * self.weight
        y = (xf - mean.view(shape)) * scale.view(shape)
        if self.affine:
            y = y + self.bias.view(shape)
        return y.to(x.dtype)


def _swap_batchnorm(module: nn.Module, make) -> nn.Module:
    """Replace every BatchNorm{1,2,3}d below ``module`` by ``make(bn)``, keeping its tensors."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            new = make(child)
            if new is not child:
                new.load_state_dict(child.state_dict())
                if child.affine:  # the same Parameter objects: an optimizer built earlier still sees them
                    new.weight, new.bias = child.weight, child.bias
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
                new.train(child.training)
                setattr(module, name, new)
        else:
            _swap_batchnorm(child, make)
    return module


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """In place: BatchNorm -> synchronised BatchNorm (CUDA: nn.SyncBatchNorm; else SyncBatchNormCPU)."""
    cls = nn.SyncBatchNorm if device.type == "cuda" else SyncBatchNormCPU

    def make(bn):
        if type(bn) is cls:
            return bn
        return cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats).to(device)

    return _swap_batchnorm(model, make)


def unsync_batchnorm(model: nn.Module) -> nn.Module:
    """In place: the synchronised BatchNorms back to nn.BatchNorm2d (after training)."""
    def make(bn):
        if not isinstance(bn, (nn.SyncBatchNorm, SyncBatchNormCPU)):
            return bn
        return nn.BatchNorm2d(bn.num_features, bn.eps, bn.momentum, bn.affine,
                              bn.track_running_stats).to(bn.running_mean.device)

    return _swap_batchnorm(model, make)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP around ``model`` (its BatchNorms synchronised) when distributed; else ``model`` itself."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    sync_batchnorm(model, device)
    # synchronised BN keeps the running statistics equal on every rank: no buffer broadcast needed
    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)


def shard_indices(n: int, rank: int, world_size: int, seed: int, equal: bool) -> torch.Tensor:
    """The indices of rank ``rank``'s shard of ``n`` examples: every world_size-th of a seeded
    permutation, sorted; ``equal`` trims every shard to n // world_size (lockstep training steps)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    idx = perm[rank::world_size]
    if equal:
        idx = idx[: n // world_size]
    return idx.sort().values
