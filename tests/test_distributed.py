"""Data-parallel training (wpcore.distributed): 2 CPU processes with gloo == 1 process.

The same global batch (64 = 2 x 32), the same model and seed: after 2 epochs (8 SGD steps) the
weights and BatchNorm statistics of the 2-process run match the 1-process run within 1e-5
(absolute; float summation order is the only difference, thanks to synchronised BatchNorm),
and the epoch metrics within 1e-4 relative (test error: within one test image).
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from wpcore import distributed, nets
from wpcore.data import DeviceLoader
from wpcore.data.images import ImageSet
from wpcore.train import FitConfig, classification_eval, fit

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_BATCH, N_TRAIN, EPOCHS = 64, 256, 2


def _data():
    """Random 1x8x8 "images" with a learnable label (the brightest quadrant): no dataset import."""
    g = torch.Generator().manual_seed(0)

    def make(n, split):
        x = torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
        quads = x.float().unfold(2, 4, 4).unfold(3, 4, 4).mean((-1, -2)).flatten(1)  # (n, 4)
        return ImageSet("quadrants", split, x, quads.argmax(1), ["0", "1", "2", "3"], f"quadrants:{split}")

    train, test = make(N_TRAIN, "train"), make(200, "test")
    return train, test, *train.mean_std()


def _model():
    torch.manual_seed(0)
    return nets.create("wrn-10-1", in_channels=1)


def _cfg():
    # fp32: the 1e-5 agreement is a claim about fp32 arithmetic; under bf16 autocast the split of
    # the batch over ranks changes where products are rounded
    return FitConfig(epochs=EPOCHS, lr=0.1, channels_last=False, amp=False)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        train, test, mean, std = _data()
        loader = DeviceLoader(train, GLOBAL_BATCH, True, mean=mean, std=std, crop=1, rank=rank, world_size=world)
        test_loader = DeviceLoader(test, 100, False, mean=mean, std=std, rank=rank, world_size=world)
        model = _model()
        hist = fit(model, loader, _cfg(), evaluate=classification_eval(test_loader))
        assert all(type(m) is not distributed.SyncBatchNormCPU for m in model.modules())  # unsynced after fit
        if rank == 0:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/ddp.safetensors")
            Path(out, "hist.json").write_text(json.dumps(hist))
    finally:
        dist.destroy_process_group()


class _Concat:
    """One process, the same global batches: rank 0's half then rank 1's half."""

    def __init__(self, loaders):
        self.loaders = loaders

    def __len__(self):
        return len(self.loaders[0])

    def __iter__(self):
        for parts in zip(*self.loaders):
            yield torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shards_partition_the_data_and_split_the_batch():
    train, _, mean, std = _data()
    loaders = [DeviceLoader(train, GLOBAL_BATCH, True, mean=mean, std=std, rank=r, world_size=2) for r in (0, 1)]
    assert [len(ld.labels) for ld in loaders] == [N_TRAIN // 2] * 2 and len(loaders[0]) == len(loaders[1]) == 4
    idx = [distributed.shard_indices(N_TRAIN, r, 2, 0, True) for r in (0, 1)]
    assert sorted(torch.cat(idx).tolist()) == list(range(N_TRAIN))
    x, _ = next(iter(loaders[0]))
    assert x.shape[0] == GLOBAL_BATCH // 2
    with pytest.raises(ValueError, match="divisible"):
        DeviceLoader(train, 63, True, rank=0, world_size=2)


def test_two_processes_equal_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)

    train, test, mean, std = _data()
    halves = [DeviceLoader(train, GLOBAL_BATCH, True, mean=mean, std=std, crop=1, rank=r, world_size=2) for r in (0, 1)]
    model = _model()
    hist = fit(model, _Concat(halves), _cfg(),
               evaluate=classification_eval(DeviceLoader(test, 100, False, mean=mean, std=std)))

    from safetensors.torch import load_file

    ddp = load_file(tmp_path / "ddp.safetensors")
    ref = model.state_dict()
    assert set(ddp) == set(ref)
    for k, v in ref.items():
        if v.is_floating_point():
            assert (ddp[k] - v).abs().max() <= 1e-5, k
        else:
            assert torch.equal(ddp[k], v), k  # num_batches_tracked: 8 steps on both
    ddp_hist = json.loads((tmp_path / "hist.json").read_text())
    for a, b in zip(ddp_hist, hist, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)
        assert abs(a["test_error"] - b["test_error"]) <= 100 / len(test) + 1e-9


def test_torchrun_cli_writes_one_record(tmp_path):
    env = {**os.environ, "WPCORE_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "wpcore", "train", "wrn-10-1", "--dataset", "digits", "--epochs", "1",
                        "--train-subset", "256", "--test-subset", "100", "--batch-size", "64", "--device", "cpu"],
                       check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    printed = [line for line in p.stdout.splitlines() if line.startswith('{"record"')]
    assert len(printed) == 1  # rank 0 alone reports
    recs = list((tmp_path / "runs").glob("*.json"))
    assert len(recs) == 1
    rec = json.loads(recs[0].read_text())
    assert rec["device"]["world_size"] == 2
    assert rec["data"]["n_train"] == 256 and 0 <= rec["final"]["test_error"] <= 100
