"""Options and printing shared by the run-like commands."""

from __future__ import annotations

import argparse
from typing import Any


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None, help="worker processes (local) or jobs (slurm/pbs)")
    p.add_argument("--cluster", default="local",
                   help="local (default), slurm, pbs, a scheduler address tcp://HOST:PORT or a scheduler file")
    p.add_argument("--jobqueue-config", default=None, metavar="YAML",
                   help="dask-jobqueue settings for --cluster slurm|pbs (default: $KLLAMA_JOBQUEUE_CONFIG, "
                        "else hpc/kllama-jobqueue.yaml)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def cluster_options(args: argparse.Namespace) -> dict[str, Any]:
    """Extra keyword arguments for ``open_client`` from the command line."""
    return {"config": args.jobqueue_config} if getattr(args, "jobqueue_config", None) else {}


def summary_table(summary: Any) -> str:
    """Per-stage documents in/out and drops, then documents per variant."""
    rows = [("stage", "docs in", "docs out", "dropped (reason=n)")]
    for name, led in summary.stages.items():
        drops = ", ".join(f"{k}={v}" for k, v in sorted(led.dropped.items())) or "-"
        rows.append((name, str(led.docs_in), str(led.docs_out), drops))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join([r[0].ljust(w[0]), r[1].rjust(w[1]), r[2].rjust(w[2]), r[3]]) for r in rows]
    lines.append("")
    for vname, v in summary.manifest.get("variants", {}).items():
        lines.append(f"{vname}: {v['docs']} documents, {v['bytes'] / 1e6:.2f} MB in groups {', '.join(v['groups'])}")
    groups: dict[str, int] = {}
    for s in summary.shards:
        groups[s["group"]] = groups.get(s["group"], 0) + s["docs"]
    lines.append("shard groups: " + ", ".join(f"{g}={n}" for g, n in sorted(groups.items())))
    return "\n".join(lines)
