"""A demo run shared by the export tests (built once per session on the real cluster fixture)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, dask_client):
    """The bundled demo recipe run into a temporary folder: G1, G2 and G3 from one store."""
    from kllama.config import load_recipe
    from kllama.pipeline import run_recipe

    run = tmp_path_factory.mktemp("export-demo") / "run"
    run_recipe(load_recipe("demo"), run, dask_client, progress=False)
    return run
