"""Moving records between machines: ``python -m wpcore records pack FILE`` / ``records unpack FILE``.

An archive is a plain tar (``.tar``, or ``.tar.gz``/``.tgz`` compressed) holding
``manifest.json`` first, then for each record ``<key>.json`` and ``<key>.safetensors``. The
manifest lists every file with its size and SHA-256, and the keys. Nothing is ever unpickled:
records are JSON, weights safetensors (checked by parsing their header).

``unpack`` checks everything before it touches ``runs/``: member names (flat ``<16 hex>.json`` /
``.safetensors`` only, regular files, no links, no paths), sizes and checksums against the
manifest, each JSON record parses and names its own key, each weights file is readable
safetensors. Only then does it move the files in (weights first, then the JSON, each atomically,
as ``records.write``). A record already present is kept, never overwritten. A bad archive is one
line of error and leaves ``runs/`` as it was.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import zlib
from pathlib import Path

FORMAT = "wpcore-records"
VERSION = 1
NAME = re.compile(r"[0-9a-f]{16}\.(json|safetensors)\Z")
MAX_BYTES = 8 << 30  # refuse a member larger than 8 GiB (WRN-50-2's weights are 0.28 GiB)


class ShareError(RuntimeError):
    """An archive that cannot be unpacked safely; nothing was written."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_files(key: str) -> dict[str, bytes]:
    """{"<key>.json": bytes, "<key>.safetensors": bytes (when the record has weights)}, from ``runs/``
    or, for a published record, from ``results/<profile>/``."""
    from .records import find, runs_dir

    rec = find(key)
    if rec is None:
        raise ShareError(f"no record {key} in {runs_dir()} or the published results")
    out = {}
    for p in (rec.weights_path, rec.path):
        if p.exists():
            out[p.name] = p.read_bytes()
    return out


def install(files: dict[str, bytes]) -> bool:
    """Put a record's files into ``runs/`` unless its JSON is already there (weights first, then
    the JSON, each atomic). True when installed."""
    from .records import atomic_write, runs_dir

    jsons = [n for n in files if n.endswith(".json")]
    if len(jsons) != 1 or (runs_dir() / jsons[0]).exists():
        return False
    for name in sorted(files, key=lambda n: n.endswith(".json")):  # weights before the JSON
        atomic_write(runs_dir() / name, files[name])
    return True


def keys_for(profile: str | None, chapters: list[str] | None = None) -> list[str]:
    """The recorded keys of a profile's experiments (all records when ``profile`` is None)."""
    from . import records

    if profile is None:
        return [p.stem for p in sorted(records.runs_dir().glob("*.json")) if NAME.match(p.name)]
    from .plan import chapter_experiments

    keys = dict.fromkeys(e.key() for _, exps in chapter_experiments(profile, chapters) for e in exps)
    return [k for k in keys if records.find(k) is not None]


def pack(path: str | Path, keys: list[str]) -> dict:
    """Write the records ``keys`` (JSON and weights) with a checksummed manifest to ``path``."""
    path = Path(path)
    if not keys:
        raise ShareError("no records to pack (run the experiments first, or check --profile/--chapter)")
    files: dict[str, bytes] = {}
    for k in keys:
        files.update(record_files(k))
    manifest = {"format": FORMAT, "version": VERSION, "keys": list(keys),
                "files": {n: {"size": len(b), "sha256": _sha(b)} for n, b in files.items()}}
    mode = "w:gz" if path.name.endswith((".gz", ".tgz")) else "w"
    tmp = path.with_name(f".{path.name}.tmp")
    with tarfile.open(tmp, mode) as tar:
        for name, data in [("manifest.json", json.dumps(manifest, indent=1).encode()), *files.items()]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(path)
    return manifest


def _read(path: Path) -> tuple[dict, dict[str, bytes]]:
    """Manifest and member bytes, every check done; ShareError otherwise."""
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115  (closed by the `with tar:` below)
    except (OSError, tarfile.TarError) as e:
        raise ShareError(f"{path} is not a readable records archive ({e})") from None
    files: dict[str, bytes] = {}
    manifest = None
    with tar:
        try:
            for m in tar:
                if not m.isfile():
                    raise ShareError(f"{path}: member {m.name!r} is not a plain file")
                if m.name != "manifest.json" and not NAME.match(m.name):
                    raise ShareError(f"{path}: unexpected member {m.name!r} (only <key>.json and <key>.safetensors)")
                if m.size > MAX_BYTES or m.name in files:
                    raise ShareError(f"{path}: member {m.name!r} is too large or repeated")
                data = tar.extractfile(m).read()
                if m.name == "manifest.json":
                    manifest = json.loads(data)
                else:
                    files[m.name] = data
        except (OSError, EOFError, tarfile.TarError, json.JSONDecodeError, zlib.error) as e:
            raise ShareError(f"{path} is truncated or corrupt ({type(e).__name__}: {e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ShareError(f"{path} has no wpcore records manifest")
    if manifest.get("version") != VERSION:
        raise ShareError(f"{path} is format version {manifest.get('version')}; this wpcore reads {VERSION}")
    listed = manifest.get("files", {})
    if set(listed) != set(files):
        raise ShareError(f"{path}: the manifest lists {sorted(set(listed) ^ set(files))} differently from the archive")
    for name, data in files.items():
        if listed[name].get("size") != len(data) or listed[name].get("sha256") != _sha(data):
            raise ShareError(f"{path}: {name} does not match its checksum in the manifest")
    if sorted(manifest.get("keys", [])) != sorted(n[:-5] for n in files if n.endswith(".json")):
        raise ShareError(f"{path}: the manifest's keys are not the archive's records")
    return manifest, files


def _check_record(name: str, data: bytes, files: dict[str, bytes]) -> None:
    from .records import Record

    try:
        rec = Record.from_json(json.loads(data))
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as e:
        raise ShareError(f"{name} is not a record ({e})") from None
    if rec.key + ".json" != name:
        raise ShareError(f"{name} holds the record of key {rec.key}")
    weights = files.get(f"{rec.key}.safetensors")
    if weights is not None:
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            load(weights)  # parses the header and the tensors; safetensors cannot hold code
        except (SafetensorError, ValueError, RuntimeError) as e:
            raise ShareError(f"{rec.key}.safetensors is not readable safetensors ({e})") from None


def unpack(path: str | Path) -> dict:
    """Check the whole archive, then install its records (existing ones kept). Returns counts."""
    path = Path(path)
    manifest, files = _read(path)
    for name, data in files.items():
        if name.endswith(".json"):
            _check_record(name, data, files)
    installed, kept = [], []
    for key in manifest.get("keys", []):
        rec_files = {n: b for n, b in files.items() if n.startswith(key + ".")}
        (installed if install(rec_files) else kept).append(key)
    return {"installed": installed, "kept": kept}
