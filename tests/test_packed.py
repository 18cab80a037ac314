"""The CPU runner that packs runs side by side (``fanout.run_packed``, the default of ``wpcore run``
and of ``wpcore book`` on a CPU): a smoke plan with a teacher and its students, run once each in two
worker processes, teachers first, records in runs/ with the chapters' keys."""
import dataclasses
import os

from wpcore import fanout, plan, records

from .conftest import needs_fmnist


@needs_fmnist
def test_two_processes_run_a_teacher_then_its_students(tmp_path, monkeypatch):
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    everything = plan.build("smoke", ["attention"])
    selected = [it for it in everything if it.index in (2, 3)]  # AT and F-ActT students, not their teacher
    items = fanout.ordered(selected, everything)
    teacher = items[0]
    lines = []
    outcomes = fanout.run_packed(items, workers=2, log=lines.append)
    assert all(o.ok and o.trained for o in outcomes), [o.message for o in outcomes]
    by_key = {o.key: o for o in outcomes}
    for it in selected:
        assert by_key[it.key].finished_at > by_key[teacher.key].finished_at
        rec = records.find(it.key)
        assert rec is not None and rec.extra["teacher_key"] == teacher.key
        assert rec.device["threads"] == max(1, (os.cpu_count() or 1) // 2)  # the cores shared by two workers
    assert len(lines) == len(items) and lines[-1].startswith(f"[{len(items)}/{len(items)}] trained")
    again = fanout.run_packed(items, workers=2, log=lambda s: None)
    assert all(o.ok and not o.trained for o in again)  # every record is reused


def test_a_failed_teacher_skips_its_students(tmp_path, monkeypatch):
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    everything = plan.build("smoke", ["attention"])
    teacher, student = everything[0], everything[2]
    teacher = dataclasses.replace(teacher, exp=dataclasses.replace(teacher.exp, dataset="no-such-data"))
    lines = []
    outcomes = fanout.run_packed([teacher, student], workers=2, log=lines.append)
    assert [o.ok for o in outcomes] == [False, False]
    assert "no-such-data" in outcomes[0].message and outcomes[1].message == "skipped: its teacher failed"
    assert lines[0].startswith("[1/2] FAILED attention") and "skipped: its teacher failed" in lines[1]


def test_the_book_trains_nothing_when_every_record_exists(monkeypatch):
    """`wpcore book` packs only what is missing: the published standard book trains nothing."""
    calls = []
    monkeypatch.setattr(fanout, "run_packed", lambda *a, **k: calls.append(a) or [])
    assert fanout.train_missing("standard", workers=2, log=lambda s: None) == []
    assert not calls


@needs_fmnist
def test_stale_records_are_retrained_and_stale_published_ones_only_when_asked(tmp_path, monkeypatch):
    """`wpcore book` packs a stale record of runs/ with the missing ones; `book --retrain` packs
    the stale published ones too (with the threads the workers use), and publishes what they make."""
    import json

    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(records, "RESULTS", tmp_path / "results")
    everything = plan.build("smoke", ["attention"])
    teacher, student = everything[0], everything[2]
    assert all(o.ok for o in fanout.run_packed([teacher, student], workers=2, log=lambda s: None))
    path = records.find(student.key).path
    data = json.loads(path.read_text())
    data["code"]["fingerprint"]["files"]["train.py"] = "0" * 16
    path.write_text(json.dumps(data))
    assert fanout._retrains(student, retrain_stale=False)  # in runs/: retrained whatever is asked
    published = tmp_path / "results" / "smoke"
    published.mkdir(parents=True)
    path.rename(published / path.name)
    (path.parent / f"{student.key}.safetensors").rename(published / f"{student.key}.safetensors")
    assert records.find(student.key).published
    assert not fanout._retrains(student, retrain_stale=False)  # published: shown as made with older code
    assert fanout._retrains(student, retrain_stale=True)
    assert not fanout._retrains(teacher, retrain_stale=True)  # current: reused
    [again] = fanout.run_packed([student], workers=2, log=lambda s: None, retrain_stale=True)
    assert again.ok and again.trained
    rec = records.find(student.key)
    assert not rec.published and rec.code["fingerprint"]["files"]["train.py"] != "0" * 16
