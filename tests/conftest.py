"""Shared fixtures: a real distributed LocalCluster, the sample folder, small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: excerpts of the project's real sample dumps, committed with the tests (see tests/data/PROVENANCE.md)
TEST_DATA = REPO / "tests" / "data"


def samples_dir(*parts: str) -> Path:
    """A file or folder under ``tests/data``; a missing one is an error (the suite is self-contained)."""
    path = TEST_DATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"test data {path} is missing (rebuild with `python -m tools.make_test_data`)")
    return path


@pytest.fixture(scope="session")
def dask_client():
    """A real ``distributed`` LocalCluster with 2 single-threaded worker processes, shared by the session."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()
