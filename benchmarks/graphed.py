"""The whole training step captured once in a CUDA graph and replayed: the benchmark's measure of
what issue 17 proposes for the small networks, whose steps sit at a floor set by per-step launch
latency (about 8 ms for WRN-16-1, -2 and -4 alike on an H200, `results/gpu.md`).

``graphed_runner`` follows PyTorch's whole-network capture recipe (CUDA semantics, "CUDA Graphs"):
a few eager steps on a side stream (cuDNN autotuning, the optimizer's momentum buffers), then one
step (forward under bf16 autocast without its weight cache, backward, SGD with Nesterov momentum
and weight decay, as ``wpcore.train.fit``) captured into a graph that reads its batch from static
tensors. Each timed step copies a batch into those tensors and replays the graph; no host sync
until the end of the timed steps. The learning rate is a constant baked into the graph (fine for
throughput; the book's schedules would pass it as a tensor).

It is a prototype in the benchmark, not the book's training loop: ``train.fit`` is unchanged,
because any change to it stales every published record. The numbers it gives decide whether that
change (and the republishing) is worth it. On a CPU there is no graph: ``capture=False`` runs the
same static-buffer step eagerly, so the tests exercise everything but the capture itself.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from . import measure


def graphed_runner(model, batches: Callable, objective, lr: float, device: torch.device, warm: int, steps: int,
                   amp: bool, capture: bool) -> Callable[[], float]:
    """images/s of the captured step (``capture``) or of the same static-buffer step run eagerly.
    ``batches()`` returns an iterable of (x, y) batches on ``device``, at least ``warm + steps`` long.
    The model is copied, so the other runners of an entry keep their own."""
    from wpcore.train import FitConfig, param_groups

    model = copy.deepcopy(model).train()
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    recipe = FitConfig(epochs=1)  # fit's optimizer settings, not a copy of them
    opt = torch.optim.SGD(param_groups(model, recipe.weight_decay), lr=lr, momentum=recipe.momentum,
                          nesterov=recipe.nesterov)
    x0, y0 = next(iter(batches()))
    fmt = torch.channels_last if device.type == "cuda" and x0.dim() == 4 else torch.contiguous_format
    static_x, static_y = x0.clone().contiguous(memory_format=fmt), y0.clone()

    def step() -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp, cache_enabled=False):
            loss = objective(model, (static_x, static_y))
        loss.backward()
        opt.step()
        return loss

    graph = None
    if capture:
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                step()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)  # the captured backward allocates the grads in the graph's pool
        with torch.cuda.graph(graph):
            step()

    def one(batch) -> None:
        static_x.copy_(batch[0])
        static_y.copy_(batch[1])
        if graph is not None:
            graph.replay()
        else:
            opt.zero_grad(set_to_none=True)
            step()

    def run() -> float:
        return steps * len(static_x) / measure.timed_loop(device, warm, steps, batches(), one)

    run.model = model  # the runner's own copy (tests compare its weights with fit's)
    return run
