"""Run records: what was run, on what, with which code, and what came out.

A record is one JSON file ``runs/<key>.json`` (plus ``runs/<key>.safetensors``, the trained
weights). It holds the experiment config, code version (package version, git commit, dirty
flag), data identity (checksums of the dataset files and the subset), device, torch version,
per-epoch metrics, final metrics and wall time.

**The key.** ``key = sha256(json({"schema": SCHEMA, "config": <experiment config>,
"data": <static data identity>}))[:16]``, with the config's fields in sorted order. Anything
that changes what is trained (model, dataset, subset, epochs, seed, learning rate, batch size,
task options...) changes the key; the device, wall time and code commit do not, so a record made
on a GPU with the CLI is reused by the book on a laptop. ``SCHEMA`` is bumped when the training
semantics of wpcore change, which invalidates every older record at once.

Records are written atomically (temporary file, fsync, rename); concurrent writers of the same
key each write a complete file and the last rename wins, so a reader never sees a partial record.
The folder is ``$WPCORE_RUNS`` or ``./runs``.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = 1


def runs_dir() -> Path:
    return Path(os.environ.get("WPCORE_RUNS", "runs"))


def make_key(config: dict, data_identity: str) -> str:
    blob = json.dumps({"schema": SCHEMA, "config": config, "data": data_identity}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Record:
    key: str
    config: dict
    history: list[dict]
    final: dict
    wall_time_s: float
    device: dict
    code: dict
    data: dict
    created: str
    extra: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return runs_dir() / f"{self.key}.json"

    @property
    def weights_path(self) -> Path:
        return runs_dir() / f"{self.key}.safetensors"

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, d: dict) -> Record:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(data)}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def find(key: str) -> Record | None:
    """The record with this key, or None (an unreadable record counts as missing, with a warning)."""
    path = runs_dir() / f"{key}.json"
    if os.environ.get("WPCORE_TRACE"):  # the book builder notes which records a chapter read or missed
        with open(os.environ["WPCORE_TRACE"], "a") as f:
            f.write((key if path.exists() else "!" + key) + "\n")
    if not path.exists():
        return None
    try:
        return Record.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as e:
        print(f"warning: ignoring unreadable record {path} ({e}); it will be re-made")
        return None


def write(record: Record, weights: dict | None = None) -> Record:
    """Write the weights first, then the JSON: a record that exists always has its weights."""
    if weights is not None:
        from safetensors.torch import save

        atomic_write(record.weights_path, save({k: v.detach().contiguous().cpu() for k, v in weights.items()}))
    atomic_write(record.path, json.dumps(record.to_json(), indent=1, default=float).encode())
    if os.environ.get("WPCORE_TRACE"):
        with open(os.environ["WPCORE_TRACE"], "a") as f:
            f.write(record.key + "\n")
    return record


def all_records() -> list[Record]:
    out = []
    for p in sorted(runs_dir().glob("*.json")):
        rec = find(p.stem)
        if rec:
            out.append(rec)
    return out


def load_weights(record: Record, device: str = "cpu") -> dict:
    from .safe import load_safetensors

    return load_safetensors(record.weights_path, device)


def code_version() -> dict:
    from . import __version__

    root = Path(__file__).resolve().parent.parent
    info = {"wpcore": __version__, "git": None, "dirty": None}
    try:
        info["git"] = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                                     text=True, timeout=5, check=False).stdout.strip() or None
        if info["git"]:
            st = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "wpcore"], cwd=root,
                                capture_output=True, text=True, timeout=5, check=False).stdout
            info["dirty"] = bool(st.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info
