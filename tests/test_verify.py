"""`records verify`: a record trained again in a scratch folder gives the same numbers on the same
machine, a record whose numbers were changed is caught, and nothing in runs/ changes."""
import dataclasses
import json

from wpcore import experiment, records, verify
from wpcore.studies import wide_resnets

from .conftest import needs_fmnist


@needs_fmnist
def test_a_record_trained_again_agrees_and_a_changed_one_does_not(tmp_path, monkeypatch):
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    rec = experiment.run(wide_resnets.experiments("smoke")[0], device="cpu")
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())
    same = verify.verify(rec, "cpu")
    assert same.agrees() and same.max_diff == 0.0 and same.where == "every number equal", same
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == before  # the scratch folder is gone
    assert records.find(rec.key).created == rec.created  # the record itself is untouched

    changed = dataclasses.replace(rec, history=[dict(h) for h in rec.history])
    changed.history[-1]["test_error"] += 0.5
    d, where = verify.difference(changed, rec)
    assert d == 0.5 or abs(d - 0.5) < 1e-9
    assert where.startswith(f"epoch {rec.history[-1]['epoch']} test_error")
    assert verify.difference(dataclasses.replace(rec, history=rec.history[:-1]), rec)[0] == float("inf")
    nan = dataclasses.replace(rec, history=[dict(h, test_loss=float("nan")) for h in rec.history])
    assert verify.difference(nan, nan)[0] == 0.0 and verify.difference(nan, rec)[0] == float("inf")


@needs_fmnist
def test_the_command_exits_1_when_a_record_differs(tmp_path, monkeypatch):
    from wpcore.cli import main

    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    rec = experiment.run(wide_resnets.experiments("smoke")[0], device="cpu")
    assert main(["records", "verify", "--key", rec.key, "--device", "cpu"]) == 0
    d = json.loads(rec.path.read_text())
    d["history"][-1]["test_error"] += 1.0
    rec.path.write_text(json.dumps(d))
    assert main(["records", "verify", "--key", rec.key, "--device", "cpu"]) == 1
    assert main(["records", "verify", "--key", rec.key, "--device", "cpu", "--tolerance", "2"]) == 0


def test_verify_trains_with_the_thread_count_that_made_the_record():
    import torch

    outer = torch.get_num_threads()
    torch.set_num_threads(2)  # not the record's 1, so the test can fail
    before = torch.get_num_threads()
    base = {"key": "k", "config": {}, "history": [], "final": {}, "wall_time_s": 0.0, "code": {}, "data": {},
            "created": ""}
    rec = records.Record.from_json({**base, "device": {"type": "cpu", "threads": 1}})
    seen = []
    with verify.threads_of(rec, "cpu"):
        seen.append(torch.get_num_threads())
    assert seen == [1] and torch.get_num_threads() == before
    gpu_made = records.Record.from_json({**base, "device": {"type": "cuda", "threads": 1}})
    with verify.threads_of(gpu_made, "cpu"):
        assert torch.get_num_threads() == before
    torch.set_num_threads(outer)
