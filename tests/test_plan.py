"""`plan`: costs from the measured table (`cost`), teachers, data presence, records, totals, preflight."""
import pytest

from wpcore import cost, experiment, plan, preflight
from wpcore.experiment import Experiment

from . import fixtures
from .conftest import needs_fmnist


@pytest.fixture(scope="module")
def full_plan():
    return plan.build("full")


def test_full_plan_covers_every_study_run_with_a_labelled_cost(full_plan):
    from wpcore.scorecard import study_modules

    assert len(full_plan) == sum(len(m.experiments("full")) for m in study_modules())
    for it in full_plan:
        assert it.cost.gpu_hours >= 0 and it.cost.basis
        assert it.cost.basis.startswith(("measured", "est.", "CPU only"))
    measured = [it for it in full_plan if it.cost.measured]
    assert {it.exp.model for it in measured} >= {"wrn-28-10", "wrn-16-4", "diracnet-34-2"}
    wrn = next(it for it in measured if it.exp.model == "wrn-28-10" and it.exp.dataset == "cifar-10")
    # 50,000 images x 200 epochs at the measured 8,549 img/s, plus 10,000 test images a third as dear
    assert wrn.cost.gpu_hours == pytest.approx((50_000 * 200 / 8549.1 + 200 * 10_000 / 8549.1 / 3) / 3600, rel=0.01)


def test_a_diracnet_counts_as_many_convolutions_as_its_plain_twin():
    """The Dirac convolutions (nets.dirac.DiracConv2d, not an nn.Conv2d) were not counted: `plan`
    gave DiracNet-10-1 one convolution to PlainNet-10-1's seven and costed DiracNets 7x too cheap."""
    dirac, plain = (cost.cost(Experiment(m, dataset="fashion-mnist")) for m in ("diracnet-10-1", "plainnet-10-1"))
    assert "(7 convs x" in plain.basis and "(7 convs x" in dirac.basis
    assert dirac.gpu_hours == pytest.approx(plain.gpu_hours)


def test_imagenet_and_coco_runs_are_costed_and_their_data_checked(full_plan):
    imnet = [it for it in full_plan if it.exp.dataset == "imagenet"]
    assert {it.exp.model for it in imnet} == {"wrn-50-2", "diracnet-18", "diracnet-34", "resnet-18", "resnet-34"}
    assert all(it.cost.gpu_hours > 1 for it in imnet)
    coco = [it for it in full_plan if it.exp.dataset == "coco"]
    assert len(coco) == 4 and all(it.cost.gpu_hours > 0.1 for it in coco)


def test_a_run_two_chapters_share_counts_once(full_plan):
    shared = [it for it in full_plan if it.shared_with]
    # ImageNet ResNets (attention transfer and DiracNets), and WRN-40-2 and WRN-40-1 on CIFAR-10: the
    # deepening study's l = 2 network and the widening study's width 1 are attention teachers (one
    # recipe, one key)
    assert {it.exp.model for it in shared} == {"resnet-18", "resnet-34", "wrn-40-2", "wrn-40-1"}
    rows = {r["chapter"]: r for r in plan.totals(full_plan, 8)}
    per_chapter = sum(r["gpu_hours"] for c, r in rows.items() if c != "all")
    dup = sum(it.cost.gpu_hours for it in shared if it.chapter == "attention")
    assert rows["all"]["gpu_hours"] == pytest.approx(per_chapter - dup)
    assert rows["all"]["runs"] == len(plan.distinct(full_plan))


def test_students_wait_for_their_teacher(full_plan):
    by_key = {it.key: it for it in full_plan}
    students = [it for it in full_plan if it.teacher]
    assert students and all(by_key[it.teacher].exp.key() == Experiment(**it.exp.options["teacher"]).key()
                            for it in students)
    at = next(it for it in full_plan if it.exp.dataset == "imagenet" and it.teacher)
    rows = {r["chapter"]: r for r in plan.totals(full_plan, 8)}
    # the critical path: the ResNet-34 teacher, then its AT student
    assert rows["all"]["hours_8"] >= by_key[at.teacher].cost.gpu_hours + at.cost.gpu_hours - 1e-9
    assert rows["all"]["hours_8"] < rows["all"]["hours_1"]


def test_makespan_respects_dependencies_and_gpus():
    def item(key, hours, teacher=None):
        return plan.Item("c", 0, None, key, cost.Cost(hours, "est.", False), plan.DataStatus(plan.Data.EMBEDDED),
                         False, teacher)

    items = [item("t", 3), item("s1", 1, "t"), item("s2", 1, "t"), item("x", 2)]
    assert plan.makespan_hours(items, 1) == pytest.approx(7)
    assert plan.makespan_hours(items, 2) == pytest.approx(4)  # x beside t, then the students side by side
    assert plan.makespan_hours(items, 8) == pytest.approx(4)


def test_data_status_of_each_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("WPCORE_DATA", str(tmp_path))
    cifar = Experiment("wrn-10-1", dataset="cifar-10")
    assert plan.data_status(cifar).status == plan.Data.DOWNLOAD
    fixtures.write_cifar10(tmp_path / "cifar-10")
    assert plan.data_status(cifar).status == plan.Data.PRESENT
    imnet = Experiment("resnet-18", dataset="imagenet", task="imagenet")
    monkeypatch.setenv("WPCORE_IMAGENET", str(tmp_path / "imagenet"))
    st = plan.data_status(imnet)
    assert st.status == plan.Data.MISSING and "train/<wnid>/*.JPEG" in st.detail
    fixtures.write_imagenet(tmp_path / "imagenet")
    assert plan.data_status(imnet).status == plan.Data.PRESENT
    coco = Experiment("fast-rcnn", dataset="coco", task="detect", model_kw={"num_classes": 3})
    monkeypatch.delenv("WPCORE_COCO", raising=False)
    assert "$WPCORE_COCO is not set" in plan.data_status(coco).detail
    root = tmp_path / "coco"
    for d in ("annotations", "train2014", "val2014"):
        (root / d).mkdir(parents=True)
    monkeypatch.setenv("WPCORE_COCO", str(root))
    assert "instances_train2014.json is missing" in plan.data_status(coco).detail
    for s in ("train", "val"):
        (root / "annotations" / f"instances_{s}2014.json").write_text("{}")
    assert "not a COCO annotation file" in plan.data_status(coco).detail
    for s in ("train", "val"):
        (root / "annotations" / f"instances_{s}2014.json").write_text('{"images": []}')
    assert plan.data_status(coco).status == plan.Data.PRESENT
    brown = Experiment("2ch", task="patches", dataset="brown:yosemite", options={"test_scene": "liberty"})
    st = plan.data_status(brown)
    assert st.status == plan.Data.MISSING and "yosemite.zip" in st.detail and "liberty.zip" in st.detail


@needs_fmnist
def test_recorded_flips_once_the_run_exists():
    items = plan.build("smoke", ["wide_resnets"])
    assert not items[0].recorded
    experiment.run(items[0].exp)
    assert plan.build("smoke", ["wide_resnets"])[0].recorded


def test_preflight_steps_every_smoke_network(capsys):
    items = plan.build("smoke")
    checks = preflight.preflight(items, "cpu")
    nets = [c for c in checks if not c.what.startswith("data ")]
    assert nets and all(c.ok for c in nets), [c for c in nets if not c.ok]
    assert sum(c.runs for c in nets) == len(items)
    assert "ok " in capsys.readouterr().out


def test_preflight_reports_an_input_the_network_cannot_take():
    with pytest.raises(RuntimeError, match="Output size is too small"):
        preflight.one_step(Experiment("diracnet-18", dataset="fashion-mnist"), "cpu")
    item = plan.build("smoke", ["diracnets"])[0]
    item.exp = Experiment("diracnet-18", dataset="fashion-mnist", label="bad")
    check = preflight.preflight([item], "cpu", log=None)[0]
    assert not check.ok and "Output size is too small" in check.message


def test_runs_without_their_data_are_skipped_with_their_students():
    from wpcore import fanout

    def item(key, ds, teacher=None):
        e = Experiment("wrn-10-1", dataset=ds)
        return plan.Item("c", 0, e, key, cost.Cost(1, "est.", False), plan.DataStatus(plan.Data.EMBEDDED), False,
                         teacher)

    items = [item("t", "imagenet"), item("s", "imagenet", "t"), item("x", "digits")]
    keep, skipped = fanout.runnable(items, {"imagenet": "put it there"})
    assert [it.key for it in keep] == ["x"]
    assert [o.key for o in skipped] == ["t", "s"] and "put it there" in skipped[0].message


def test_the_full_benchmark_set_has_an_entry_for_every_run_the_full_plan_costs(full_plan):
    """`gpu.sh --profile-set full` measures each network, builder arguments, batch and input the
    full profile trains, in the terms the cost model matches a row by."""
    import json

    from benchmarks import harness

    entries = {(e.name, json.dumps({k: v for k, v in e.kw.items() if k != "num_classes"}, sort_keys=True), e.batch,
                tuple(e.cost_shape or e.input_shape)) for e in harness.full_entries()}
    wanted = {(it.exp.model, json.dumps(it.exp.model_kw, sort_keys=True), it.exp.batch_size, cost.facts(it.exp).shape)
              for it in full_plan if cost.facts(it.exp).kind is not cost.Kind.NONE}
    assert wanted == entries
    assert any(e.input_shape is None and e.cost_shape for e in harness.full_entries())  # COCO detectors
    assert any(e.input_shape == (3, 224, 224) for e in harness.full_entries())        # ImageNet networks


def test_a_measured_full_row_is_used_for_its_network_and_arguments_only(tmp_path, monkeypatch):
    import json

    full = plan.build("full")
    blocks = [it.exp for it in full if it.exp.model == "wrn-40-2" and it.exp.model_kw.get("block") == "B(1,3)"]
    plain = [it.exp for it in full if it.exp.model == "wrn-40-2" and not it.exp.model_kw]
    assert blocks and plain
    row = {"model": "wrn-40-2", "batch": 128, "input": [3, 32, 32], "kw": {"block": "B(1,3)"}, "kind": "input",
           "ours_step": 12345.0, "flop_per_img": 1e9}
    (tmp_path / "gpu_full.json").write_text(json.dumps({"rows": [row]}))
    monkeypatch.setattr(cost, "FULL_TABLE", tmp_path / "gpu_full.json")
    cost.table.cache_clear()
    cost.model.cache_clear()
    resnet = next(it.exp for it in full if it.exp.model == "resnet-18")
    fast = {"model": "resnet-18", "batch": 256, "input": [3, 224, 224], "kw": {}, "kind": "input",
            "ours_step": 1e6, "flop_per_img": 1e9}  # faster than any JPEG decoder: the cap decides
    (tmp_path / "gpu_full.json").write_text(json.dumps({"rows": [row, fast]}))
    try:
        assert cost.seconds_per_image(resnet, cost.facts(resnet))[1].startswith("est., JPEG decoding")
        t, basis, measured, _ = cost.seconds_per_image(blocks[0], cost.facts(blocks[0]))
        assert measured and basis.startswith("measured wrn-40-2 b128") and t == pytest.approx(1 / 12345)
        assert not cost.seconds_per_image(plain[0], cost.facts(plain[0]))[2]  # other arguments: estimated
    finally:
        cost.table.cache_clear()
        cost.model.cache_clear()
