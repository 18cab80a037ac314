"""Published records: listing with status, --check, publish (read-only, weights only where pages need them)."""
import json
import stat

import pytest

from wpcore import cli, experiment, publish, records


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "RESULTS", tmp_path / "results")
    return tmp_path / "results"


@pytest.fixture
def smoke_wrn(monkeypatch):
    """Only the WRN study, at smoke: a fast stand-in for a published profile."""
    from wpcore import scorecard
    from wpcore.studies import wide_resnets

    monkeypatch.setattr(scorecard, "study_modules", lambda: [wide_resnets])
    return wide_resnets


def test_publish_refuses_missing_records_then_publishes_read_only(results, smoke_wrn, monkeypatch, capsys):
    with pytest.raises(ValueError, match=r"cannot publish smoke: \d+ missing"):
        publish.publish("smoke")
    exps = smoke_wrn.experiments("smoke")
    recs = [experiment.run(e) for e in exps]
    monkeypatch.setattr(smoke_wrn, "page_weights", lambda profile: exps[:1], raising=False)
    summary = publish.publish("smoke")
    out = results / "smoke"
    assert summary["records"] == len(exps) and summary["weights"] == 1
    assert sorted(p.name for p in out.glob("*.json")) == sorted(f"{r.key}.json" for r in recs)
    assert [p.name for p in out.glob("*.safetensors")] == [f"{recs[0].key}.safetensors"]
    assert not (out / f"{recs[0].key}.json").stat().st_mode & stat.S_IWUSR  # read-only
    assert publish.check(["smoke"]) == []
    # the book now finds them even with runs/ empty
    for r in recs:
        r.path.unlink()
    found = records.find(recs[1].key)
    assert found.published and experiment.run(exps[1]).created == recs[1].created
    # and the runner (`python -m wpcore run`) reuses them: nothing trained, nothing failed
    from wpcore import fanout, plan

    outcomes = fanout.run_here(plan.build("smoke", ["wide_resnets"]), log=lambda s: None)
    assert outcomes and all(o.ok and not o.trained for o in outcomes)
    assert not list(records.runs_dir().glob("*.json"))
    assert cli.main(["records", "--profile", "smoke", "--check"]) == 0
    assert "current" in capsys.readouterr().out
    # a page that draws from weights the results do not hold cannot be built from them: --check says so
    monkeypatch.setattr(smoke_wrn, "page_weights", lambda profile: exps[:2], raising=False)
    problems = publish.check(["smoke"])
    assert len(problems) == 1 and recs[1].key in problems[0] and "no weights" in problems[0]


def test_check_fails_on_a_stale_published_record(results, smoke_wrn):
    exps = smoke_wrn.experiments("smoke")
    for e in exps:
        experiment.run(e)
    publish.publish("smoke")
    path = results / "smoke" / f"{exps[0].key()}.json"
    data = json.loads(path.read_text())
    data["code"]["fingerprint"]["files"]["train.py"] = "0" * 16
    path.chmod(0o644)
    path.write_text(json.dumps(data))
    (records.runs_dir() / path.name).unlink()
    problems = publish.check(["smoke"])
    assert len(problems) == 1 and "stale" in problems[0] and "train.py" in problems[0]
    assert cli.main(["records", "--profile", "smoke", "--check"]) == 1
    rows = {r.key: r for r in publish.status(["smoke"])}
    assert rows[exps[0].key()].status is publish.Status.STALE


def test_an_orphan_is_a_record_no_study_asks_for(results, smoke_wrn):
    rec = experiment.run(experiment.Experiment("wrn-10-1", dataset="digits", epochs=1, train_subset=64,
                                               test_subset=64))
    row = next(r for r in publish.status(["smoke"]) if r.key == rec.key)
    assert row.status is publish.Status.ORPHAN


def test_a_profile_is_published_chapter_by_chapter(results, monkeypatch):
    from wpcore import scorecard
    from wpcore.studies import diracnets, wide_resnets

    monkeypatch.setattr(scorecard, "study_modules", lambda: [wide_resnets, diracnets])
    with pytest.raises(ValueError, match="no chapter wide-resnets; the chapters are wide_resnets, diracnets"):
        publish.publish("smoke", ["wide-resnets"])
    with pytest.raises(ValueError, match=r"missing.*run --profile smoke --chapter wide_resnets"):
        publish.publish("smoke", ["wide_resnets"])
    for e in wide_resnets.experiments("smoke"):
        experiment.run(e)
    summary = publish.publish("smoke", ["wide_resnets"])
    assert summary["records"] == len({e.key() for e in wide_resnets.experiments("smoke")})
    # DiracNets is not published: the profile's check asks only for the published chapter's records
    assert publish.published_chapters("smoke") == ["wide_resnets"] and publish.check(["smoke"]) == []
    one = results / "smoke" / f"{wide_resnets.experiments('smoke')[0].key()}.json"
    one.chmod(0o644)
    one.unlink()
    problems = publish.check(["smoke"])
    assert len(problems) == 1 and "missing" in problems[0] and "smoke/wide_resnets" in problems[0]
    # publishing another chapter later keeps the records of the first
    stray = results / "smoke" / "0123456789abcdef.json"
    stray.write_text("{}")
    for e in diracnets.experiments("smoke"):
        experiment.run(e)
    publish.publish("smoke", ["diracnets"])
    names = {p.stem for p in (results / "smoke").glob("*.json")}
    assert {e.key() for e in diracnets.experiments("smoke")} <= names and not stray.exists()
    assert len(names & {e.key() for e in wide_resnets.experiments("smoke")}) == summary["records"] - 1


def test_republishing_compares_each_replaced_record_with_the_one_it_replaces(results, smoke_wrn, monkeypatch):
    """After a change to training code the book is retrained and published again: publish says, for
    every published record a retrained one replaces, whether any number or weight changed."""
    exps = smoke_wrn.experiments("smoke")[:2]
    monkeypatch.setattr(smoke_wrn, "experiments", lambda profile: exps)
    monkeypatch.setattr(smoke_wrn, "page_weights", lambda profile: exps[:1], raising=False)
    for e in exps:
        experiment.run(e)
    assert publish.publish("smoke")["replaced"] == []  # nothing was published before
    assert publish.publish("smoke")["replaced"] == []  # the same trainings again: nothing replaced
    for e in exps:  # retrain both, as after a fix: deterministic on a CPU, so every number comes again
        experiment.run(e, force=True)
    lines = []
    rows = publish.publish("smoke", log=lines.append)["replaced"]
    assert [r.key for r in rows] == [e.key() for e in exps]
    assert all(r.max_diff == 0 for r in rows) and [r.weights_equal for r in rows] == [True, None]
    assert lines[-1].startswith("replaced 2 published records by retrained ones of the same key: 2 equal")
    # a retrained record whose numbers moved is named, with the largest difference and where
    path = experiment.run(exps[1], force=True).path
    data = json.loads(path.read_text())
    data["history"][-1]["test_error"] += 0.5
    path.write_text(json.dumps(data))
    lines.clear()
    rows = publish.publish("smoke", log=lines.append)["replaced"]
    assert [(r.key, r.max_diff) for r in rows] == [(exps[1].key(), pytest.approx(0.5))]
    assert "0 equal" in lines[-1] and "1 differ" in lines[-1] and "test_error" in lines[-1]


def test_the_committed_published_records_are_current_and_complete(tmp_path, monkeypatch):
    """What results/ holds in the repository: every record current under today's code and every
    published chapter complete (a change to training code must republish what it stales)."""
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))  # only the published records count
    assert records.RESULTS.is_dir() and "wide_resnets" in publish.published_chapters("standard")
    assert publish.check() == []
