import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    """Every test writes its records into its own folder."""
    monkeypatch.setenv("WPCORE_RUNS", str(tmp_path / "runs"))
    yield


def fmnist_available() -> bool:
    from wpcore.data import store

    try:
        store.dataset_dir("fashion-mnist", download_missing=False)
        return True
    except (store.DataError, OSError):
        return False


needs_fmnist = pytest.mark.skipif(not fmnist_available(), reason="Fashion-MNIST not installed (make data)")


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The whole book at the smoke profile with fresh records, built once per test session."""
    from wpcore import book

    out = tmp_path_factory.mktemp("book")
    old = os.environ.get("WPCORE_RUNS")
    os.environ["WPCORE_RUNS"] = str(out / "runs")
    try:
        html = book.build("smoke", build_dir=out / "_build")
    finally:
        if old is None:
            os.environ.pop("WPCORE_RUNS", None)
        else:
            os.environ["WPCORE_RUNS"] = old
    return html


@pytest.fixture(scope="session")
def book_url(built_book):
    """The smoke book served over http://127.0.0.1 (pages opened as file:// cannot load scripts)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
