"""Faults and bad inputs: a killed run resumes to the same result, downloads cannot leave
half-files, concurrent record writers corrupt nothing, chapters reject bad parameters."""
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

import pytest

from wpcore import records
from wpcore.data import DataError, store
from wpcore.experiment import Experiment

ARGS = ["train", "wrn-10-1", "--dataset", "digits", "--epochs", "12", "--train-subset", "1280",
        "--test-subset", "200", "--seed", "3", "--batch-size", "64"]


def _cli(args, runs, **kw):
    env = {**os.environ, "WPCORE_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "wpcore", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_sigkill_mid_run_then_resume_gives_the_same_result(tmp_path):
    """Bitwise on CPU: the resumed run ends with the very weights of an uninterrupted one."""
    key = Experiment("wrn-10-1", dataset="digits", epochs=12, train_subset=1280, test_subset=200, seed=3,
                     batch_size=64).key()
    ref = _cli(ARGS, tmp_path / "a")
    killed = _cli(ARGS, tmp_path / "b")
    state = tmp_path / "b" / "checkpoints" / key / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if state.exists() and json.loads(state.read_text() or "{}").get("epoch", 0) >= 3:
            break
        time.sleep(0.02)
    killed.kill()  # SIGKILL: no handler runs
    killed.wait()
    assert killed.returncode == -9, "the run finished before it could be killed; make it longer"
    assert not (tmp_path / "b" / f"{key}.json").exists()
    resumed = _cli(ARGS + ["--resume"], tmp_path / "b")
    out_resumed, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resuming from epoch" in out_resumed
    out_ref, _ = ref.communicate(timeout=300)
    a = json.loads(out_ref.strip().splitlines()[-1])["final"]
    b = json.loads(out_resumed.strip().splitlines()[-1])["final"]
    assert a["test_error"] == b["test_error"] and a["train_loss"] == b["train_loss"]
    from safetensors.torch import load_file

    wa, wb = load_file(tmp_path / "a" / f"{key}.safetensors"), load_file(tmp_path / "b" / f"{key}.safetensors")
    assert all((wa[k] == wb[k]).all() for k in wa)
    # the resumed record's time covers both sittings: the first up to the checkpoint it resumed from
    ra, rb = (json.loads((tmp_path / d / f"{key}.json").read_text()) for d in "ab")
    assert "resumed_from_epoch" not in ra["extra"]
    epoch, earlier = rb["extra"]["resumed_from_epoch"], rb["extra"]["earlier_sittings_s"]
    assert epoch >= 3 and earlier == rb["history"][epoch - 1]["time_s"] > 0
    assert rb["wall_time_s"] > earlier


def test_failed_download_leaves_nothing_that_looks_valid(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tvu

    def fake_download(url, root, filename=None, md5=None):
        with open(os.path.join(root, filename), "wb") as f:
            f.write(b"<html>captive portal</html>")  # the wrong bytes, as a proxy would serve

    monkeypatch.setattr(tvu, "download_url", fake_download)
    monkeypatch.setitem(store.FILES, "cifar-10", [store.FileSpec("cifar-10-binary.tar.gz", "http://x/y.tgz",
                                                                 "c32a1d4ab5d03f1284b67883e8d87530")])
    monkeypatch.setenv("WPCORE_DATA", str(tmp_path))
    with pytest.raises(DataError, match="could not download"):
        store.dataset_dir("cifar-10")
    assert list((tmp_path / "cifar-10").iterdir()) == []


WRITES = 50  # per writer; each write is a 200 kB JSON, fsynced


def _hammer(args):
    runs, i = args
    os.environ["WPCORE_RUNS"] = runs
    rec = records.Record(key="samekey", config={"writer": i, "pad": "x" * 200_000}, history=[], final={"i": i},
                         wall_time_s=0.0, device={}, code={}, data={}, created="now")
    for _ in range(WRITES):
        records.write(rec)
    return i


def test_concurrent_record_writers_never_leave_a_partial_file(tmp_path, monkeypatch):
    """Three processes rewrite one record while this one reads the file directly (records.find
    would hide a partial file: it treats an unreadable record as missing)."""
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path))
    path = tmp_path / "samekey.json"
    seen, reads = set(), 0
    with mp.get_context("spawn").Pool(3) as pool:
        result = pool.map_async(_hammer, [(str(tmp_path), i) for i in range(3)])
        while not result.ready():
            if path.exists():
                data = json.loads(path.read_bytes())  # a partial file raises here: old or new, never half
                assert len(data["config"]["pad"]) == 200_000 and data["config"]["writer"] == data["final"]["i"]
                seen.add(data["final"]["i"])
                reads += 1
        assert sorted(result.get()) == [0, 1, 2]
    assert reads > 0 and seen <= {0, 1, 2}, f"{reads} reads while the writers ran, writers seen: {seen}"
    assert json.loads(path.read_bytes())["final"]["i"] in {0, 1, 2}
    assert not list(tmp_path.glob(".*.tmp"))


def test_chapter_rejects_unknown_profile(tmp_path):
    from wpcore import book

    with pytest.raises(book.ChapterFailed, match="unknown profile 'huge'"):
        book.execute_chapter("wide_resnets", "huge", tmp_path)


@pytest.mark.parametrize("args,msg", [
    (["train", "wrn-16-0"], "width"), (["train", "wrn-16-2", "--epochs", "-1"], "--epochs"),
    (["train", "wrn-16-2", "--dataset", "imagenet"], "--dataset"), (["book", "--profile", "huge"], "--profile"),
    (["train", "wrn-16-2", "--dropout", "1.5"], "dropout"),
])
def test_cli_rejects_bad_values_in_one_line(args, msg):
    r = subprocess.run([sys.executable, "-m", "wpcore", *args], capture_output=True, text=True, check=False)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and msg in lines[0], r.stderr
