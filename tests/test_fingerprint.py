"""Records cannot go stale silently: the fingerprint of the code that made them, checked on reuse
and on resume, and the records they were made from."""
import dataclasses
import json

import pytest

from wpcore import experiment, fingerprint, records
from wpcore.experiment import Experiment


def tiny(**kw):
    return Experiment("wrn-10-1", **{"dataset": "digits", "epochs": 1, "train_subset": 128, "test_subset": 100, **kw})


def test_the_digest_ignores_comments_docstrings_and_layout_but_not_code(tmp_path):
    a = tmp_path / "a.py"
    a.write_text('"""Module doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    d = fingerprint.source_digest(a)
    a.write_text('"""Another doc."""\n# a comment\n\n\ndef f(x):\n    """Other."""\n\n    return (x + 1)\n')
    assert fingerprint.source_digest(a) == d
    a.write_text('def f(x):\n    return x + 2\n')
    assert fingerprint.source_digest(a) != d


def test_a_run_is_fingerprinted_by_the_files_it_uses_only():
    files = set(tiny().fingerprint()["files"])
    assert {"train.py", "precision.py", "tasks/setup.py", "tasks/classify.py", "nets/wrn.py", "data/images.py"} <= files
    assert not files & {"experiment.py", "records.py", "book.py", "tasks/patches.py", "nets/dirac.py",
                        "losses/attention.py"}
    assert not any(f.startswith(("studies/", "present/")) for f in files)
    student = Experiment("wrn-10-1", task="attention", dataset="digits", options={"method": "student"})
    assert "losses/attention.py" in student.fingerprint()["files"]
    patch = Experiment("2ch", task="patches", dataset="stereo", epochs=1, model_kw={"width": 0.25})
    assert {"nets/deepcompare.py", "metrics/matching.py", "data/patches.py"} <= set(patch.fingerprint()["files"])


def calls_to_classify(monkeypatch) -> list:
    calls = []
    original = experiment.TASKS["classify"]
    monkeypatch.setitem(experiment.TASKS, "classify",
                        dataclasses.replace(original, fn=lambda e, c: calls.append(1) or original.fn(e, c)))
    return calls


def made_with_older_code(rec, file="nets/wrn.py"):
    fp = json.loads(json.dumps(rec.code["fingerprint"]))
    fp["files"][file] = "0" * 16
    return dataclasses.replace(rec, code={**rec.code, "fingerprint": fp})


def test_a_stale_record_in_runs_is_retrained(monkeypatch):
    calls = calls_to_classify(monkeypatch)
    rec = experiment.run(tiny())
    assert experiment.run(tiny()).created == rec.created and len(calls) == 1  # current: reused
    records.write(made_with_older_code(rec))
    log = []
    again = experiment.run(tiny(), log=log.append)
    assert len(calls) == 2 and again.created != rec.created
    assert log[0]["retrain"] == rec.key and log[0]["stale"] == ["nets/wrn.py"]
    assert experiment.staleness(again, tiny()) == []


def test_a_stale_published_record_is_shown_as_made_with_older_code(monkeypatch, tmp_path):
    calls = calls_to_classify(monkeypatch)
    rec = experiment.run(tiny())
    monkeypatch.setattr(records, "RESULTS", tmp_path / "results")
    published = tmp_path / "results" / "standard"
    published.mkdir(parents=True)
    old = made_with_older_code(rec, "train.py")
    (published / f"{rec.key}.json").write_text(json.dumps(old.to_json()))
    rec.path.unlink()
    found = experiment.run(tiny())
    assert len(calls) == 1 and found.published and found.folder == published  # not retrained silently...
    from wpcore.present.tables import stale_lines

    assert "train.py" in stale_lines([found])[0]  # ...but marked on the page
    retrained = experiment.run(tiny(), retrain_stale=True)
    assert len(calls) == 2 and not retrained.published and experiment.staleness(retrained, tiny()) == []


def test_a_resume_across_a_code_change_starts_over(monkeypatch):
    exp = tiny(epochs=2)

    class Stop(Exception):
        pass

    def stop_after_epoch_one(row):  # the first progress row of epoch 2 (epoch 1's checkpoint is written)
        if row.get("epoch") == 2 and "step" in row:
            raise Stop

    with pytest.raises(Stop):
        experiment.run(exp, log=stop_after_epoch_one)
    ckpt = records.runs_dir() / "checkpoints" / exp.key()
    assert (ckpt / "state.json").exists()
    stamp = json.loads((ckpt / "fingerprint.json").read_text())
    stamp["files"]["train.py"] = "0" * 16
    (ckpt / "fingerprint.json").write_text(json.dumps(stamp))
    log = []
    rec = experiment.run(exp, log=log.append)
    assert any(r.get("restart") == exp.key() and r["changed"] == ["train.py"] for r in log)
    assert not any("resumed_from_epoch" in r for r in log) and len(rec.history) == 2


def test_a_resume_with_the_same_code_continues(monkeypatch):
    exp = tiny(epochs=2)

    class Stop(Exception):
        pass

    def stop(row):
        if row.get("epoch") == 2 and "step" in row:
            raise Stop

    with pytest.raises(Stop):
        experiment.run(exp, log=stop)
    log = []
    experiment.run(exp, log=log.append)
    assert any(r.get("resumed_from_epoch") == 1 for r in log)


def test_a_record_made_from_a_record_that_was_made_again_is_stale():
    """A student whose teacher was retrained (``--force``) must be retrained too."""
    teacher = records.write(records.Record("t", {}, [], {}, 0.0, {}, {}, {}, "2026-01-01T00:00:00.000001"))
    student = experiment.run(tiny())
    student = dataclasses.replace(student, depends_on=[{"key": "t", "created": teacher.created, "role": "teacher"}])
    assert experiment.staleness(student, tiny()) == []
    records.write(dataclasses.replace(teacher, created="2026-01-02T00:00:00.000001"))
    assert experiment.staleness(student, tiny()) == ["its teacher record t was made again (2026-01-02T00:00:00.000001)"]
    (records.runs_dir() / "t.json").unlink()
    assert experiment.staleness(student, tiny()) == ["its teacher record t is missing"]
