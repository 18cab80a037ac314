"""The command line: help, one-line errors, and a training run that writes the same record."""
import json
import subprocess
import sys

from wpcore.experiment import Experiment


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "wpcore", *args], capture_output=True, text=True, env=env, check=False)


def test_help_lists_options():
    r = cli("train", "--help")
    assert r.returncode == 0
    for opt in ("--dataset", "--epochs", "--batch-size", "--seed", "--device", "--compile"):
        assert opt in r.stdout


def test_unknown_option_and_model_are_one_line_errors():
    for args in (("train", "wrn-16-1", "--bogus"), ("train", "nonet-1"), ("train", "wrn-15-1"),
                 ("train", "wrn-16-1", "--epochs", "-3"), ("train", "wrn-16-1", "--dataset", "mnist")):
        r = cli(*args)
        assert r.returncode != 0
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, r.stderr


def test_train_writes_the_record_the_chapters_reuse(tmp_path):
    import os

    env = {**os.environ, "WPCORE_RUNS": str(tmp_path / "runs")}
    r = cli("train", "wrn-10-1", "--dataset", "digits", "--epochs", "1", "--train-subset", "128",
            "--test-subset", "100", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    key = Experiment("wrn-10-1", dataset="digits", epochs=1, train_subset=128, test_subset=100).key()
    assert out["record"].endswith(f"{key}.json")
    r2 = cli("train", "wrn-10-1", "--dataset", "digits", "--epochs", "1", "--train-subset", "128",
             "--test-subset", "100", env=env)
    assert "reusing record" in r2.stdout


def test_train_options_are_the_experiment_fields():
    """Every field of Experiment is a train option (derived, not a second copy of the defaults)."""
    import dataclasses

    r = cli("train", "--help")
    for f in dataclasses.fields(Experiment):
        if f.name != "model":
            assert "--" + f.name.replace("_", "-") in r.stdout, f.name
    assert "(default: 128)" in r.stdout and "the thesis recipes use 128" in r.stdout  # the field's own note


def test_train_derived_options_make_the_experiments_key(tmp_path):
    import os

    env = {**os.environ, "WPCORE_RUNS": str(tmp_path / "runs")}
    r = cli("train", "wrn-10-1", "--dataset", "digits", "--epochs", "1", "--train-subset", "64", "--test-subset",
            "50", "--milestones", "0.5", "--gamma", "0.1", "--no-nesterov", "--model-kw", "dropout=0.1", env=env)
    assert r.returncode == 0, r.stderr
    key = Experiment("wrn-10-1", dataset="digits", epochs=1, train_subset=64, test_subset=50, milestones=(0.5,),
                     gamma=0.1, nesterov=False, model_kw={"dropout": 0.1}).key()
    assert json.loads(r.stdout.strip().splitlines()[-1])["record"].endswith(f"{key}.json")


def test_a_network_the_task_cannot_train_says_what_to_run_instead():
    """Issue 16: `train 2ch` said 'this family takes only width=...'; `train diracnet-18 --dataset
    fashion-mnist` failed deep inside PyTorch with 'Output size is too small'."""
    cases = {("train", "2ch"): "2ch is a patch-pair network; run it with: python -m wpcore run --profile quick "
                               "--chapter patches",
             ("train", "diracnet-18", "--dataset", "fashion-mnist"): "run it with: python -m wpcore run --profile "
                                                                     "full --chapter diracnets --select"}
    for args, expected in cases.items():
        r = cli(*args)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 1 and len(lines) == 1, r.stderr
        assert expected in lines[0]


def test_run_makes_the_record_the_chapter_reuses(tmp_path):
    import os

    from wpcore.studies import wide_resnets

    from .conftest import fmnist_available

    if not fmnist_available():
        import pytest

        pytest.skip("Fashion-MNIST not installed (make data)")
    env = {**os.environ, "WPCORE_RUNS": str(tmp_path / "runs")}
    r = cli("run", "--profile", "smoke", "--chapter", "wide_resnets", "--select", "1", env=env)
    assert r.returncode == 0, r.stderr
    key = wide_resnets.experiments("smoke")[1].key()
    assert (tmp_path / "runs" / f"{key}.json").exists()
    assert "1 of 1 runs recorded (1 trained, 0 reused)" in r.stdout
    r = cli("run", "--profile", "smoke", "--chapter", "wide_resnets", "--select", "no such run", env=env)
    assert r.returncode == 1 and "no run 'no such run'" in r.stderr


def test_plan_lists_teachers_and_totals():
    r = cli("plan", "--profile", "smoke", "--chapter", "attention")
    assert r.returncode == 0, r.stderr
    student = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("2  AT (wrn-10-2"))
    assert " #0 " in student  # the AT student waits for run #0, its teacher
    assert any(ln.startswith("all ") for ln in r.stdout.splitlines())
