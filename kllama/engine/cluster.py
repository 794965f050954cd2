"""Dask clusters: a local ``LocalCluster`` (default), an existing scheduler, or SLURM/PBS via dask-jobqueue."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

from distributed import Client, LocalCluster


def _free_dashboard_address(preferred: int = 8787) -> str:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return f":{preferred}"
        except OSError:
            return ":0"


@contextlib.contextmanager
def workers_ignore_sigint() -> Iterator[None]:
    """Processes started inside ignore SIGINT (an ignored signal stays ignored across exec, and Python then
    installs no KeyboardInterrupt handler): Ctrl-C in a terminal reaches the whole process group, and only the
    driver should act on it (it closes the cluster), not every worker with a traceback of its own. While
    inside, Ctrl-C is ignored by the driver too (the few seconds that workers take to start)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _silence_worker_logs() -> None:
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)


def _quiet_after_interrupt(client: Client) -> Any:
    """After Ctrl-C the cluster closes while tasks still run: the workers would log each cancelled task and the
    nannies each worker they kill. Ctrl-C's one line is enough: those warnings are turned off (errors stay), and
    a second Ctrl-C does not break the closing."""
    import logging

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the cluster is closed
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with contextlib.suppress(Exception):
        client.run(_silence_worker_logs)
    return previous


@contextlib.contextmanager
def open_client(cluster: str = "local", workers: int | None = None, quiet: bool = False,
                **options) -> Iterator[Client]:
    """A connected ``distributed.Client``.

    ``cluster``: ``local`` (a ``LocalCluster`` of ``workers`` single-threaded worker processes), ``slurm`` or
    ``pbs`` (dask-jobqueue, settings from ``hpc/kllama-jobqueue.yaml``), or a scheduler address
    (``tcp://host:8786``) or scheduler file path.
    """
    # The scheduler (and its bokeh dashboard) runs in a thread of this process. Pages of the dashboard and the
    # driver's own code (pyarrow imports pandas lazily on first use) would otherwise import pandas at the same
    # time from two threads, and one of them can get a partially initialized module ("module 'pandas' has no
    # attribute 'Series'", then bokeh errors in the run's output). Import it once, before the thread starts.
    import pandas  # noqa: F401
    import pyarrow.pandas_compat  # noqa: F401

    requested = workers  # for slurm/pbs: jobs; None = the configured maximum (not this node's CPU count)
    workers = workers or max(1, (os.cpu_count() or 2))
    if cluster == "local":
        with workers_ignore_sigint():
            lc = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=_free_dashboard_address(),
                              memory_limit=options.get("memory_limit", "auto"))
            client = Client(lc)
            try:
                client.wait_for_workers(workers, timeout=options.get("startup_timeout", 180))
            except TimeoutError as exc:
                client.close()
                lc.close()
                raise RuntimeError("the local Dask workers did not start within the startup timeout; see the "
                                   "worker errors above") from exc
        if not quiet:
            print(f"kllama: local Dask cluster with {workers} workers; dashboard {client.dashboard_link}",
                  file=sys.stderr)
        restore = None
        try:
            yield client
        except KeyboardInterrupt:
            restore = _quiet_after_interrupt(client)
            raise
        finally:
            client.close()
            lc.close()
            if restore is not None:
                signal.signal(signal.SIGINT, restore)
        return
    if cluster in ("slurm", "pbs"):
        from kllama.engine.jobqueue import open_jobqueue_client

        with open_jobqueue_client(cluster, workers=requested, quiet=quiet, **options) as client:
            yield client
        return
    client = Client(scheduler_file=cluster) if os.path.exists(cluster) else Client(cluster)
    if not quiet:
        print(f"kllama: connected to {cluster}; dashboard {client.dashboard_link}", file=sys.stderr)
    try:
        yield client
    finally:
        client.close()
