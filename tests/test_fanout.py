"""The fan-out on a local Ray cluster of two workers (CPU): a smoke plan with a teacher and its
students, run once each, teachers first, records in the driver's runs/ with the chapter's keys.
Ray settings for 2 cores offline: shared/reference/toolchain.md."""
import os

import pytest

from wpcore import fanout, plan, records

from .conftest import needs_fmnist

ray = pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    for k, v in {"RAY_DISABLE_USAGE_STATS": "1", "RAY_AUTH_MODE": "disabled",
                 "RAY_TMPDIR": str(tmp_path_factory.mktemp("ray"))}.items():
        os.environ.setdefault(k, v)
    fanout.init_ray(num_cpus=2, object_store_memory=200 * 1024 * 1024)  # two workers, one CPU each
    yield ray
    ray.shutdown()


@needs_fmnist
def test_two_workers_run_a_teacher_then_its_students(ray_cluster):
    everything = plan.build("smoke", ["attention"])
    selected = [it for it in everything if it.index in (2, 3)]  # AT and KD students, not their teacher
    items = fanout.ordered(selected, everything)
    teacher = everything[0]
    assert [it.key for it in items] == [teacher.key] + [it.key for it in selected]  # the teacher was added first
    outcomes = fanout.run_ray(items, timeout_s=600, log=lambda s: None)
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    by_key = {o.key: o for o in outcomes}
    assert by_key[teacher.key].trained
    for it in selected:
        assert by_key[it.key].finished_at > by_key[teacher.key].finished_at
        rec = records.find(it.key)  # in the driver's runs/ (the workers wrote it, or the driver installed it)
        assert rec is not None and rec.extra["teacher_key"] == teacher.key
    again = fanout.run_ray(items, timeout_s=600, log=lambda s: None)
    assert all(o.ok and not o.trained for o in again)  # every record is reused


def test_a_failed_teacher_fails_its_students_and_the_rest_goes_on(ray_cluster, monkeypatch):
    import dataclasses

    everything = plan.build("smoke", ["attention"])
    teacher, student = everything[0], everything[2]
    bad = dataclasses.replace(teacher.exp, dataset="no-such-data")
    teacher = dataclasses.replace(teacher, exp=bad)
    outcomes = fanout.run_ray([teacher, student], timeout_s=300, log=lambda s: None)
    assert [o.ok for o in outcomes] == [False, False]
    assert "no-such-data" in outcomes[0].message
