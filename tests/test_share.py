"""records pack / unpack: records move between machines with checksums, and a bad archive loses nothing."""
import io
import json
import subprocess
import sys
import tarfile

import pytest
import torch

from wpcore import records, share


def _record(key: str, value: float) -> records.Record:
    rec = records.Record(key=key, config={"model": "wrn-10-1"}, history=[], final={"test_error": value},
                         wall_time_s=1.0, device={}, code={}, data={}, created="now")
    return records.write(rec, {"w": torch.full((3,), value)})


def test_pack_then_unpack_elsewhere_gives_the_same_files(tmp_path, monkeypatch):
    keys = ["0123456789abcdef", "fedcba9876543210"]
    for i, k in enumerate(keys):
        _record(k, float(i))
    manifest = share.pack(tmp_path / "r.tar.gz", share.keys_for(None))
    assert sorted(manifest["keys"]) == keys and len(manifest["files"]) == 4
    src = {p.name: p.read_bytes() for p in records.runs_dir().iterdir()}
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "other"))
    assert sorted(share.unpack(tmp_path / "r.tar.gz")["installed"]) == keys
    assert {p.name: p.read_bytes() for p in records.runs_dir().iterdir()} == src
    assert records.find(keys[1]).final["test_error"] == 1.0
    assert sorted(share.unpack(tmp_path / "r.tar.gz")["kept"]) == keys  # a second time: nothing overwritten


def _rewrite(src, dst, change):
    """Copy a tar archive, passing each (name, bytes) through ``change`` (None drops the member)."""
    with tarfile.open(src) as a, tarfile.open(dst, "w") as b:
        for m in a:
            got = change(m.name, a.extractfile(m).read())
            if got is not None:
                name, data = got
                info = tarfile.TarInfo(name)
                info.size = len(data)
                b.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("change,message", [
    (lambda n, d: (n, d[:-1] + bytes([d[-1] ^ 1])) if n.endswith(".safetensors") else (n, d), "checksum"),
    (lambda n, d: ("../" + n, d) if n.endswith(".json") and n != "manifest.json" else (n, d), "unexpected member"),
    (lambda n, d: None if n.endswith(".safetensors") else (n, d), "manifest lists"),
    (lambda n, d: (n, json.dumps({"format": "other"}).encode()) if n == "manifest.json" else (n, d), "no wpcore"),
])
def test_a_bad_archive_is_refused_and_loses_nothing(tmp_path, monkeypatch, change, message):
    _record("0123456789abcdef", 1.0)
    share.pack(tmp_path / "good.tar", ["0123456789abcdef"])
    _rewrite(tmp_path / "good.tar", tmp_path / "bad.tar", change)
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "mine"))
    _record("aaaaaaaaaaaaaaaa", 7.0)  # what this machine already had
    before = {p.name: p.read_bytes() for p in records.runs_dir().iterdir()}
    with pytest.raises(share.ShareError, match=message):
        share.unpack(tmp_path / "bad.tar")
    assert {p.name: p.read_bytes() for p in records.runs_dir().iterdir()} == before


def test_truncated_archive_is_one_line_from_the_cli(tmp_path, monkeypatch):
    import os

    _record("0123456789abcdef", 1.0)
    share.pack(tmp_path / "r.tar", ["0123456789abcdef"])
    with tarfile.open(tmp_path / "r.tar") as tar:
        last = tar.getmembers()[-1]
    data = (tmp_path / "r.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: last.offset_data + last.size // 2])  # inside the last file
    env = {**os.environ, "WPCORE_RUNS": str(tmp_path / "new")}
    r = subprocess.run([sys.executable, "-m", "wpcore", "records", "unpack", str(tmp_path / "cut.tar")],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "new").exists() or not list((tmp_path / "new").glob("*.json"))
    r = subprocess.run([sys.executable, "-m", "wpcore", "records", "unpack", str(tmp_path / "r.tar")],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0 and "1 records added" in r.stdout
