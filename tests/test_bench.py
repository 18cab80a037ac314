"""The benchmark harness runs end to end on a tiny configuration (no timing is asserted)."""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import harness, plain
from wpcore.nets import create

ROOT = Path(__file__).resolve().parents[1]


def _copy_into_plain(model, ref: plain.PlainWRN) -> None:
    """Our WRN's tensors -> the plain flat dict (names of the official port)."""
    sd = model.state_dict()
    names = {"stem.weight": "conv0", "fc.weight": "fc.weight", "fc.bias": "fc.bias"}
    for k in sd:
        if k.startswith("groups."):
            _, g, i, kind, *rest = k.split(".")
            base = f"group{g}.block{i}"
            if kind in ("bns", "convs"):
                j, leaf = rest[0], rest[-1]
                names[k] = f"{base}.bn{j}.{leaf}" if kind == "bns" else f"{base}.conv{j}"
            elif kind == "shortcut":
                names[k] = f"{base}.convdim"
        elif k.startswith("bn."):
            names[k] = k
    for k, v in sd.items():
        if k in names and not k.endswith("num_batches_tracked"):
            ref.flat[names[k]].data.copy_(v)


@pytest.mark.parametrize("name", ["wrn-10-1", "wrn-16-2"])
def test_plain_wrn_is_the_same_network(name):
    d, k = (int(v) for v in name.split("-")[1:])
    torch.manual_seed(0)
    ours = create(name, num_classes=10).eval()
    ref = plain.PlainWRN(d, k, 10, 3)
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in ours.parameters())
    _copy_into_plain(ours, ref)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ref.train(False)(x), ours(x), atol=1e-4, rtol=1e-4)


def test_plain_loader_yields_normalised_augmented_batches():
    imgs = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    loader = plain.plain_loader(imgs, torch.arange(10), 4, [128.0] * 3, [64.0] * 3)
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and y.shape == (4,)
    assert -2.1 <= float(x.min()) and float(x.max()) <= 2.1  # (v - 128) / 64 for v in 0..255


def test_matmul_ceiling_and_flop_counter():
    from benchmarks import measure

    assert measure.matmul_ceiling(torch.device("cpu"), n=64, repeats=1) > 0
    a = torch.randn(8, 16, requires_grad=True)
    b = torch.randn(16, 4)
    assert measure.count_flops(lambda: (a @ b).sum().backward()) == 2 * 8 * 16 * 4 * 2  # fwd + input grad


def test_harness_tiny_runs_and_writes_the_table(tmp_path):
    out = tmp_path / "r.json"
    assert harness.main(["--device", "cpu", "--tiny", "--models", "wrn-10-1,diracnet-10-1,2ch,fast-rcnn",
                         "--threads", "1", "--strict", "--json", str(out), "--md", str(tmp_path / "r.md")]) == 0
    result = json.loads(out.read_text())
    rows = {r["model"]: r for r in result["rows"]}
    wrn = rows["wrn-10-1"]
    for key in ("ours_train", "plain_train", "ours_step", "plain_step", "gflops", "ceiling_share"):
        assert wrn[key] > 0, key
    assert wrn["plain_params_match"]
    assert wrn["flop_per_img"] > 0 and wrn["train_ratio"] == pytest.approx(wrn["ours_train"] / wrn["plain_train"])
    for name in ("diracnet-10-1", "2ch", "fast-rcnn"):  # measured when registered, else skipped with a note
        r = rows[name]
        assert ("skipped" in r) != harness.is_registered(name)
        if "skipped" not in r:
            assert r["ours_step"] > 0 and r["plain_step"] > 0
    assert "3x16x16" in result["pipeline"] and result["pipeline"]["3x16x16"]["ours"] > 0
    md = (tmp_path / "r.md").read_text()
    assert "| wrn-10-1 |" in md and "Matmul ceiling" in md


def test_the_static_buffer_step_trains_as_fit_does():
    """The step benchmarks/graphed.py captures on CUDA, run eagerly on the CPU: three steps from
    the same weights on the same batches reach the weights of three steps of train.fit (fp32,
    constant learning rate)."""
    from benchmarks import graphed
    from wpcore.nets import create
    from wpcore.train import FitConfig, classification_objective, fit

    torch.manual_seed(0)
    model = create("wrn-10-1", num_classes=10, in_channels=3)
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 3, 16, 16, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(3)]
    run = graphed.graphed_runner(model, lambda: batches, classification_objective, 0.05, torch.device("cpu"),
                                 warm=1, steps=2, amp=False, capture=False)
    assert run() > 0
    ref = copy.deepcopy(model)
    fit(ref, batches, FitConfig(epochs=1, lr=0.05, milestones=(), amp=False, channels_last=False, log_every=1))
    for (name, a), b in zip(run.model.state_dict().items(), ref.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), name
    moved = [not torch.equal(a, b) for a, b in zip(run.model.parameters(), model.parameters())]
    assert all(moved)  # it trained: every parameter left its initial value


def test_harness_times_the_whole_step_eagerly_on_a_cpu(tmp_path):
    out = tmp_path / "r.json"
    assert harness.main(["--device", "cpu", "--tiny", "--models", "wrn-10-1", "--graphs", "on", "--threads", "1",
                         "--strict", "--json", str(out), "--md", str(tmp_path / "r.md")]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["graphed"].startswith("eager") and row["graphed_step"] > 0 and row["graphed_train"] > 0
    assert "graphed step img/s" in (tmp_path / "r.md").read_text()


def test_gpu_script_cpu_path(tmp_path):
    env = {**os.environ, "BENCH_OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--device", "cpu", "--tiny",
                        "--models", "wrn-10-1", "--rounds", "1", "--threads", "1", "--strict"],
                       check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "| wrn-10-1 |" in p.stdout
    rows = json.loads((tmp_path / "gpu.json").read_text())["rows"]
    assert rows[0]["model"] == "wrn-10-1" and rows[0]["ours_step"] > 0


def test_standard_cost_counts_the_warm_up_once_and_the_steady_epoch_after():
    from benchmarks.standard_cost import estimate, shape

    m = {"setup_s": 3.0, "first_s": 7.0, "epoch_s": 2.0}
    assert estimate(m, 20) == 3.0 + 7.0 + 19 * 2.0
    assert estimate(m, 1) == 10.0 and estimate(m, 0) == 3.0  # SIFT: no training, its setup only
    # evaluating every 6th epoch (and after the last): the shape's first epoch is training alone, its
    # second training and evaluation, so 48 epochs cost 48 trainings and 8 evaluations, 50 epochs 9
    e = {"setup_s": 1.0, "first_s": 5.0, "epoch_s": 7.0}
    assert estimate(e, 48, 6) == 1.0 + 48 * 5.0 + 8 * 2.0 and estimate(e, 50, 6) == 1.0 + 50 * 5.0 + 9 * 2.0
    assert estimate(e, 48, 1) == 1.0 + 5.0 + 47 * 7.0
    from wpcore.studies import wide_resnets
    e = wide_resnets.experiments("standard")[0]
    assert shape(e).epochs == 2 and shape(e).label == "" and e.epochs > 2


def test_standard_cost_merge_replaces_one_chapter_and_refuses_another_machine():
    from benchmarks.standard_cost import merged, table

    def run(c, i, s):
        return {"chapter": c, "index": i, "label": "x", "epochs": 2, "estimate_s": s, "recorded_s": None}

    old = {"date": "d1", "cpu": "A", "workers": 2, "cpus": 2, "span_s": 60, "load_before": None,
           "shapes": {"a:0": {"epoch_s": 1.0}, "b:0": {"epoch_s": 5.0}}, "runs": [run("a", 0, 10.0), run("b", 0, 50.0)]}
    new = {**old, "date": "d2", "shapes": {"b:0": {"epoch_s": 7.0}}, "runs": [run("b", 0, 70.0)]}
    out = merged(old, new, {"b"})
    assert out["shapes"] == {"a:0": {"epoch_s": 1.0}, "b:0": {"epoch_s": 7.0}}
    assert [(r["chapter"], r["estimate_s"]) for r in out["runs"]] == [("a", 10.0), ("b", 70.0)]
    assert out["measured"] == {"a": "d1", "b": "d2"} and "b d2" in table(out)
    with pytest.raises(SystemExit, match="measure every chapter again"):
        merged(old, {**new, "cpu": "B"}, {"b"})


def test_standard_cost_finds_a_run_s_measurement_by_its_shape_not_its_position(tmp_path):
    """A new experiment shifts a chapter's indices: each run still finds its shape's measurement (the
    table names each measured shape's id), and a shape never measured is refused with what to do."""
    from benchmarks.standard_cost import estimate, reestimate, run_entries, shape_id
    from wpcore.studies import wide_resnets

    exps = wide_resnets.experiments("standard")
    a, b = exps[0], next(e for e in exps if shape_id(e) != shape_id(exps[0]))
    measured = {"wide_resnets:7": {"setup_s": 1.0, "first_s": 2.0, "epoch_s": 3.0, "shape": shape_id(a)},
                "wide_resnets:0": {"setup_s": 0.0, "first_s": 1.0, "epoch_s": 1.0, "shape": shape_id(b)}}
    rows = run_entries([("wide_resnets", 0, a), ("wide_resnets", 1, b)], measured)
    assert [r["estimate_s"] for r in rows] == [estimate(measured["wide_resnets:7"], a.epochs, a.eval_every),
                                               estimate(measured["wide_resnets:0"], b.epochs, b.eval_every)]
    out = tmp_path / "cost"
    out.with_suffix(".json").write_text(json.dumps({"shapes": {"wide_resnets:0": measured["wide_resnets:0"]}}))
    with pytest.raises(SystemExit, match="--chapters wide_resnets --merge"):
        reestimate(out, [("wide_resnets", 0, a)], {shape_id(a): ("wide_resnets:0", 1.0)})


def test_the_standard_profile_states_the_measured_cost_of_every_run_it_makes():
    """The cost the pages state for `standard` is the benchmark's, and the benchmark's table lists every
    run the chapters now make at its place (after a change to a design: ``--reestimate`` or measure)."""
    from benchmarks.standard_cost import runs
    from wpcore import profiles

    d = json.loads((ROOT / "benchmarks/results/standard_cost.json").read_text())
    assert [(r["chapter"], r["index"], r["label"], r["epochs"]) for r in d["runs"]] == [
        (c, i, e.name(), e.epochs) for c, i, e in runs()]
    hours = sum(r["estimate_s"] for r in d["runs"]) / 3600
    text = profiles.DESCRIPTION["standard"]
    assert f"about {hours / d['workers']:.1f} hours of 2 CPU cores in all ({hours:.1f} single-thread hours" in text
    assert f"about {hours / d['workers']:.1f} hours of 2 CPU cores" in profiles.__doc__.replace("\n  ", " ")
