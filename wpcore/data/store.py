"""Where dataset files live, how they are fetched, and how they are checked.

Every file a loader reads is listed in ``FILES`` with its checksum. A file is verified before its
first use in a process (and right after a download); a file that fails is never used: the error
names it and says how to get a good copy. Downloads go to a temporary file of their own
(``.<name>.<pid>.<random>.part``: two processes fetching the same file on first use never write
into one file) and are renamed onto ``<name>`` (an atomic ``os.replace``) only after the checksum
matched, so nothing half-downloaded ever looks valid, and concurrent fetchers each install a whole,
verified copy. Archives are unpacked the same way: into a private folder, renamed into place.

Root: ``$WPCORE_DATA`` or ``~/.cache/wpcore/data``. Fashion-MNIST is also looked for in
``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist`` package).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path


class DataError(RuntimeError):
    """A dataset file is missing, truncated or altered; the message says what to do."""


@dataclass(frozen=True)
class FileSpec:
    path: str            # relative to the dataset's folder
    url: str | None      # where to download it (None: cannot be downloaded, must be put there)
    md5: str | None = None        # md5 of the file as downloaded
    sha256_gunzip: str | None = None  # sha256 of the decompressed content (for .gz files)


_FMNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FMNIST = [  # gz md5 as published upstream; content sha256 measured on the unpacked idx files
    ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
     "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
     "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
     "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310",
     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
]

FILES: dict[str, list[FileSpec]] = {
    "fashion-mnist": [FileSpec(n, _FMNIST_URL + n, md5, sha) for n, md5, sha in _FMNIST],
    # the binary versions (no pickle: nothing downloaded is ever unpickled)
    "cifar-10": [FileSpec("cifar-10-binary.tar.gz",
                          "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                          "c32a1d4ab5d03f1284b67883e8d87530")],
    "cifar-100": [FileSpec("cifar-100-binary.tar.gz",
                           "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
                           "03b5dce01913d631647c71ecec9e9cb8")],
    "svhn": [FileSpec(f"{s}_32x32.mat", f"http://ufldl.stanford.edu/housenumbers/{s}_32x32.mat", md5)
             for s, md5 in [("train", "e26dedcc434d2e4c54c9b2d4a06d8373"),
                            ("test", "eb5a983be6a315427106f1b2ae5ec08a"),
                            ("extra", "a93ce644f1a588dc4d68dda5feec44a7")]],
}
SYSTEM_DIRS = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")]}
_verified: set[tuple[str, int, float]] = set()


def data_root() -> Path:
    return Path(os.environ.get("WPCORE_DATA", Path.home() / ".cache" / "wpcore" / "data"))


def file_hash(path: Path, algo: str, gunzip: bool = False) -> str:
    h = hashlib.new(algo)
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, spec: FileSpec) -> None:
    """Raise DataError unless ``path`` matches one of the checksums in ``spec``."""
    st = path.stat()
    tag = (str(path), st.st_size, st.st_mtime)
    if tag in _verified:
        return
    ok = spec.md5 is not None and file_hash(path, "md5") == spec.md5
    if not ok and spec.sha256_gunzip:
        try:
            ok = file_hash(path, "sha256", gunzip=True) == spec.sha256_gunzip
        except (OSError, EOFError, gzip.BadGzipFile):
            ok = False
    if not ok:
        raise DataError(
            f"{path} is corrupt or truncated (checksum mismatch). Delete it and run again to "
            f"download a fresh copy{' from ' + spec.url if spec.url else ''}."
        )
    _verified.add(tag)


def download(url: str, dest: Path, spec: FileSpec) -> Path:
    """Download to a private temporary file, verify, then rename atomically onto ``dest``.

    A failure leaves nothing that looks valid; two processes downloading the same file at once
    each write their own temporary file, and each rename installs a complete, verified copy.
    """
    from torchvision.datasets.utils import download_url

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    part = Path(tmp)
    print(f"downloading {url} -> {dest}", flush=True)
    try:
        download_url(url, str(part.parent), part.name)
        verify(part, spec)
        os.replace(part, dest)
    except Exception as e:
        part.unlink(missing_ok=True)
        raise DataError(f"could not download {url} ({e}); put the file at {dest} by hand") from e
    return dest


def find_dir(name: str, root: Path | None = None) -> Path | None:
    """The first folder where every file of ``name`` exists (not verified: cheap), or None."""
    if name not in FILES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(FILES)}")
    for d in ([Path(root) / name] if root else []) + SYSTEM_DIRS.get(name, []) + [data_root() / name]:
        if all((d / s.path).exists() for s in FILES[name]):
            return d
    return None


def dataset_dir(name: str, root: Path | None = None, download_missing: bool = True) -> Path:
    """The folder holding ``name``'s verified files, downloading missing ones when allowed."""
    if name not in FILES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(FILES)}")
    specs = FILES[name]
    candidates = ([Path(root) / name] if root else []) + SYSTEM_DIRS.get(name, []) + [data_root() / name]
    for d in candidates:
        if all((d / s.path).exists() for s in specs):
            for s in specs:
                verify(d / s.path, s)
            return d
    d = candidates[0]
    if not download_missing:
        raise DataError(f"{name} not found in {', '.join(map(str, candidates))}; {how_to_get(name)}")
    for s in specs:
        if not (d / s.path).exists():
            if s.url is None:
                raise DataError(f"{d / s.path} is missing; {how_to_get(name)}")
            download(s.url, d / s.path, s)
        verify(d / s.path, s)
    return d


def how_to_get(name: str) -> str:
    if name == "fashion-mnist":
        return ("install Debian's package (apt-get install dataset-fashion-mnist), or set WPCORE_DATA to a "
                "folder holding fashion-mnist/*-ubyte.gz, or allow the download")
    return f"put {', '.join(s.path for s in FILES[name])} in {data_root() / name} (or set WPCORE_DATA)"


def ensure_fashion_mnist() -> Path:
    """Find Fashion-MNIST for the book: the Debian package, installing it when root on Debian,
    else a checksummed download; else one clear message. Used by ``make book``/``make test``."""
    try:
        return dataset_dir("fashion-mnist", download_missing=False)
    except DataError:
        pass
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing Debian package dataset-fashion-mnist ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=False)
        if r.returncode == 0:
            return dataset_dir("fashion-mnist", download_missing=False)
    try:
        return dataset_dir("fashion-mnist", download_missing=True)
    except DataError as e:
        raise DataError(f"Fashion-MNIST is not available: {e}. {how_to_get('fashion-mnist')}") from None


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a verified tar archive once (members may not escape ``dest``).

    Unpacked into a private folder beside ``dest`` and renamed into place, so a reader never sees
    a half-unpacked folder and concurrent first users do not unpack into the same files.
    """
    stamp = dest / ".extracted"
    if stamp.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{os.getpid()}.", dir=dest.parent))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        (tmp / ".extracted").touch()
        if dest.exists() and not stamp.exists():  # left by an interrupted unpack of an older version
            shutil.rmtree(dest, ignore_errors=True)
        try:
            os.rename(tmp, dest)
        except OSError:  # another process installed it first
            if not stamp.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
