"""Shared fixtures: a real distributed LocalCluster, the sample folder, small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("KLLAMA_SAMPLES", REPO.parent / "shared" / "samples"))


def samples_dir(*parts: str) -> Path:
    """A folder under ../shared/samples; skips the test when absent, except in CI (CI=true) where it fails."""
    path = SAMPLES.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            raise FileNotFoundError(f"samples folder {path} is missing in CI")
        pytest.skip(f"samples folder {path} not present")
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
