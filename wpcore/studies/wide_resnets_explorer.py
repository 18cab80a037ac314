"""The width/depth explorer's grid (thesis ch. 3): for every WRN of the grid, parameters, FLOPs
(PyTorch's counter) and measured training speed, the thesis's CIFAR-10 error where it reports one,
ours where a record exists. ``wpcore.present.explorer`` draws it."""
from __future__ import annotations

import time

from .verdict import mean_spread
from .wide_resnets import TABLE2_BLOCKS, TABLE4_ZCA, THESIS, describe

GRID = {
    "smoke": {"depths": [10, 16, 22], "widths": [1, 2, 4], "blocks": ["B(3,3)", "B(1,3,1)"]},
    "quick": {"depths": [10, 16, 22, 28, 40], "widths": [1, 2, 4, 8, 10], "blocks": list(TABLE2_BLOCKS)},
    "standard": {"depths": [10, 16, 22, 28, 40], "widths": [1, 2, 4, 8, 10], "blocks": list(TABLE2_BLOCKS)},
    "full": {"depths": [10, 16, 22, 28, 40], "widths": [1, 2, 4, 8, 10], "blocks": list(TABLE2_BLOCKS)},
}
# throughput measurement per profile: batch, timed steps, max training GFLOP per image, time budget (s)
MEASURE = {
    "smoke": {"batch_size": 8, "steps": 1, "max_gflop": 0.1, "budget_s": 3.0},
    "quick": {"batch_size": 32, "steps": 2, "max_gflop": 0.7, "budget_s": 25.0},
    "standard": {"batch_size": 32, "steps": 2, "max_gflop": 0.7, "budget_s": 25.0},
    "full": {"batch_size": 128, "steps": 10, "max_gflop": 1000.0, "budget_s": 120.0},
}


def thesis_error(depth: int, width: int, block: str) -> dict | None:
    """The thesis's CIFAR-10 error for this network, preferring meanstd (Table 5) over ZCA (Table 4)."""
    name = f"wrn-{depth}-{width}"
    if block == "B(3,3)" and name in THESIS:
        return {"error": THESIS[name]["cifar-10"], "source": f"CIFAR-10, {THESIS[name]['source']}, meanstd"}
    if block == "B(3,3)" and (depth, width) in TABLE4_ZCA:
        e, tag = TABLE4_ZCA[depth, width]
        return {"error": e, "source": f"CIFAR-10, Table 4 [{tag}], ZCA"}
    if width == 2 and TABLE2_BLOCKS.get(block, (None,))[0] == depth:
        return {"error": TABLE2_BLOCKS[block][1], "source": "CIFAR-10, Table 2 [U]"}
    return None


def explorer_points(profile: str, records=(), device: str = "cpu") -> list[dict]:
    """Every network of the explorer's grid: parameters and FLOPs (CIFAR-10 geometry, 3x32x32
    input, 10 classes), measured training images/s (small networks first, within the profile's
    time budget), the thesis's error and ours (mean over the seeds of our runs without dropout)."""
    import torch

    from .. import flops
    from ..nets import create

    grid, meas = GRID[profile], MEASURE[profile]
    ours: dict[tuple, list] = {}
    for r in records:
        d = describe(r.config)
        if not d["dropout"] and r.config.get("task", "classify") == "classify":
            ours.setdefault((d["depth"], d["width"], d["block"]), []).append(r)
    points = []
    for block in grid["blocks"]:
        for depth in grid["depths"]:
            for width in grid["widths"]:
                kw = {} if block == "B(3,3)" else {"block": block}
                name = f"wrn-{depth}-{width}"
                with torch.device("meta"):
                    params = sum(p.numel() for p in create(name, **kw).parameters())
                fwd = flops.forward_flops(name, (3, 32, 32), **kw)
                recs = ours.get((depth, width, block), [])
                errs = [r.final["test_error"] for r in recs]
                points.append(
                    {
                        "depth": depth,
                        "width": width,
                        "block": block,
                        "name": name,
                        "params": params,
                        "fwd_flops": fwd,
                        "train_flops": 3 * fwd,
                        "img_s": None,
                        "thesis": thesis_error(depth, width, block),
                        "ours": {
                            "error": mean_spread(errs),
                            "n": len(errs),
                            "data": f"{recs[0].config['dataset']}, {recs[0].data.get('n_train')} train "
                            f"images, {recs[0].config['epochs']} epochs",
                        }
                        if recs
                        else None,
                    }
                )
    t0 = time.perf_counter()
    for p in sorted(points, key=lambda p: p["train_flops"]):
        if p["train_flops"] > meas["max_gflop"] * 1e9 or time.perf_counter() - t0 > meas["budget_s"]:
            break
        torch.manual_seed(0)
        kw = {} if p["block"] == "B(3,3)" else {"block": p["block"]}
        model = create(p["name"], **kw).to(device)
        p["img_s"] = flops.train_throughput(model, (3, 32, 32), meas["batch_size"], meas["steps"])
    return points
