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
