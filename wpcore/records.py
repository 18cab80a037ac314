"""Run records: what was run, on what, with which code, and what came out.

A record is one JSON file ``runs/<key>.json`` (plus ``runs/<key>.safetensors``, the trained
weights). It holds the experiment config, code version (package version, git commit, dirty
flag), data identity (checksums of the dataset files and the subset), device, torch version,
per-epoch metrics, final metrics and wall time.

**The key.** ``key = sha256(json({"schema": SCHEMA, "config": <experiment config>,
"data": <static data identity>}))[:16]``, with the config's fields in sorted order. Anything
that changes what is trained (model, dataset, subset, epochs, seed, learning rate, batch size,
task options, the precision *policy*...) changes the key; the device, the precision a machine
resolved, the wall time and the code do not, so a record made on a GPU with the CLI is reused by
the book on a laptop. Builder arguments are normalised before they enter the config
(``nets.registry.normalise``). ``SCHEMA`` is bumped when what goes into a key changes (a golden
test, tests/test_keys.py, fails until it is), which invalidates every older record at once.

**Current or stale.** A record also keeps the fingerprint of the code that made it
(``code["fingerprint"]``, ``wpcore.fingerprint``) and the records it was made from
(``depends_on``: a student's teacher, with its creation stamp); ``experiment.staleness`` compares
them with the code and records of today.

**Where.** New records are written to ``$WPCORE_RUNS`` or ``./runs``. Published records are
committed read-only under ``results/<profile>/`` (``python -m wpcore records publish``); ``find``
looks in ``runs/`` first, then in the published folders.

Records are written atomically (temporary file, fsync, rename); concurrent writers of the same
key each write a complete file and the last rename wins, so a reader never sees a partial record.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = 2
RESULTS = Path(__file__).resolve().parent.parent / "results"  # published records, by profile


def runs_dir() -> Path:
    return Path(os.environ.get("WPCORE_RUNS", "runs"))


def make_key(config: dict, data_identity: str) -> str:
    blob = json.dumps({"schema": SCHEMA, "config": config, "data": data_identity}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def results_dirs() -> list[Path]:
    """The folders of published records, one per profile (``results/<profile>/``)."""
    return sorted(p for p in RESULTS.iterdir() if p.is_dir()) if RESULTS.is_dir() else []


@dataclass
class Record:
    key: str
    config: dict
    history: list[dict]
    final: dict
    wall_time_s: float              # training time in seconds, every sitting of a resumed run (extra["resumed_from_epoch"])
    device: dict
    code: dict                       # package version, git commit, and the fingerprint of the run's code
    data: dict
    created: str                     # UTC time stamp, to the microsecond: tells a retrained record apart
    extra: dict = field(default_factory=dict)
    precision: str = ""              # the arithmetic actually used ("bf16" or "fp32")
    model_args: dict = field(default_factory=dict)   # the builder's keyword arguments (experiment.load_model)
    depends_on: list[dict] = field(default_factory=list)  # [{"key", "created", "role"}] of records it used
    folder: Path | None = field(default=None, compare=False, repr=False)  # where it was read from

    @property
    def path(self) -> Path:
        return (self.folder or runs_dir()) / f"{self.key}.json"

    @property
    def weights_path(self) -> Path:
        return (self.folder or runs_dir()) / f"{self.key}.safetensors"

    @property
    def published(self) -> bool:
        """Read from ``results/<profile>/`` (committed with the book), not from ``runs/``."""
        return self.folder is not None and self.folder.resolve().parent == RESULTS.resolve()

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "folder"}

    @classmethod
    def from_json(cls, d: dict, folder: Path | None = None) -> Record:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "folder"}, folder=folder)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(data)}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read(path: Path) -> Record:
    """The record in ``path``; ``ValueError`` (one line) when it is not a readable record."""
    try:
        return Record.from_json(json.loads(path.read_text()), folder=path.parent)
    except (json.JSONDecodeError, TypeError, KeyError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a readable record ({e}); delete it to have it re-made") from None


def find(key: str, runs: Path | None = None) -> Record | None:
    """The record with this key, in ``runs`` (default ``runs_dir()``) first, then among the published
    ones; None when there is none. An unreadable file counts as missing, with a warning naming it."""
    for folder in [runs or runs_dir(), *results_dirs()]:
        path = folder / f"{key}.json"
        if path.exists():
            try:
                return read(path)
            except ValueError as e:
                print(f"warning: ignoring {e}")
    return None


def write(record: Record, weights: dict | None = None) -> Record:
    """Write the weights first, then the JSON: a record that exists always has its weights."""
    if weights is not None:
        from safetensors.torch import save

        atomic_write(record.weights_path, save({k: v.detach().contiguous().cpu() for k, v in weights.items()}))
    atomic_write(record.path, json.dumps(record.to_json(), indent=1, default=float).encode())
    return record


def all_records() -> list[Record]:
    """Every readable record, in ``runs/`` and the published folders (a key may appear in both)."""
    out = []
    for folder in [runs_dir(), *results_dirs()]:
        for p in sorted(folder.glob("*.json")):
            try:
                out.append(read(p))
            except ValueError as e:
                print(f"warning: ignoring {e}")
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
