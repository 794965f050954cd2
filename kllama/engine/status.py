"""Where a run stands, read from its stage plans and partition markers (works while the run goes)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from kllama.core.files import read_json_marker
from kllama.core.ledger import Ledger
from kllama.core.variants import shard_in_variant
from kllama.engine.heartbeat import driver_state


def run_status(run_dir: str | Path) -> dict[str, Any]:
    """``{"stages": {NAME: {partitions_done, partitions_total, docs_in, docs_out, dropped, bytes_in, bytes_out,
    rate, eta_s, truncated_inputs}}, "finished": bool, "state": running|stopped|finished|interrupted|failed|unknown,
    "driver": {pid, host, heartbeat, detail, ...}, "problems": [str]}`` for the run in ``run_dir``."""
    run_dir = Path(run_dir)
    stages_dir = run_dir / "stages"
    if not stages_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a kllama run folder (no stages/)")
    stages: dict[str, Any] = {}
    ledgers: dict[str, Ledger] = {}
    now = time.time()
    for d in sorted(p for p in stages_dir.iterdir() if p.is_dir()):
        plan_path = d / "_plan.json"
        if not plan_path.exists():
            continue
        plan = json.loads(plan_path.read_text())
        ledger = Ledger()
        done = 0
        last = plan.get("created", now)
        for marker_path in sorted(d.glob("part-*.done.json")):
            marker = read_json_marker(marker_path)
            if marker is None:
                continue
            done += 1
            last = max(last, marker_path.stat().st_mtime)
            ledger.merge(Ledger.from_dict(marker["ledger"]))
        total = plan["partitions_total"]
        elapsed = max(last - plan.get("created", last), 1e-9)
        rate = done / elapsed if done else 0.0
        entry = {
            "partitions_done": done,
            "partitions_total": total,
            "docs_in": ledger.docs_in,
            "docs_out": ledger.docs_out,
            "dropped": dict(sorted(ledger.dropped.items())),
            "bytes_in": ledger.bytes_in,
            "bytes_out": ledger.bytes_out,
            "quarantined": ledger.quarantined,
            "truncated_inputs": truncated_inputs(ledger),
            "steps": stage_steps(ledger, d),
            "rate_partitions_per_s": round(rate, 4),
            "eta_s": round((total - done) / rate, 1) if rate and done < total else (0.0 if done >= total else None),
        }
        stages[d.name] = entry
        ledgers[d.name] = ledger
    # a run ends with its manifest; the folder of `kllama pile-index` with index.json
    finished = ((run_dir / "manifest.json").exists() or (run_dir / "index.json").exists()) and all(
        s["partitions_done"] == s["partitions_total"] for s in stages.values())
    driver = driver_state(run_dir)
    if finished:
        driver["state"] = "finished"
    return {"run_dir": str(run_dir), "finished": finished, "state": driver["state"], "driver": driver,
            "stages": stages, "problems": input_problems(ledgers), "tokens": token_store_usage(run_dir)}


def stage_steps(ledger: Ledger, stage_dir: Path) -> dict[str, dict[str, Any]]:
    """Per step of a stage, in pipeline order: ``{docs_in, docs_out, dropped, cpu_s, position}`` (``position``:
    the order, for JSON readers that sort keys); a global step's CPU time
    includes its keys, resolve and combine tasks (their markers lie in the stage's ``_keys``, ``_decisions``
    and ``_combined`` folders)."""
    merged = Ledger(steps={k: {**v, "dropped": dict(v["dropped"])} for k, v in ledger.steps.items()})
    for marker_path in sorted(stage_dir.glob("_*/*.done.json")):
        try:
            helper = Ledger.from_dict(json.loads(marker_path.read_text()).get("ledger", {}))
        except (OSError, json.JSONDecodeError):
            continue
        merged.merge(Ledger(steps=helper.steps))
    return {name: {"docs_in": e["docs_in"], "docs_out": e["docs_out"], "dropped": dict(sorted(e["dropped"].items())),
                   "cpu_s": round(e["cpu_s"], 3), "position": e["position"]}
            for name, e in merged.steps_in_order()}


def run_samples(run_dir: str | Path, reason: str) -> dict[str, list[dict[str, Any]]]:
    """The kept samples of drop ``reason`` per stage (``{STAGE: [{id, source, reason, step, chars, text}]}``)."""
    from kllama.engine.samples import SAMPLES_DIR, stage_samples

    stages_dir = Path(run_dir) / "stages"
    if not stages_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a kllama run folder (no stages/)")
    out = {}
    for d in sorted(p for p in stages_dir.iterdir() if (p / SAMPLES_DIR).is_dir()):
        found = stage_samples(d, reason)
        if found:
            out[d.name] = found
    return out


def format_samples(samples: dict[str, list[dict[str, Any]]], reason: str, chars: int = 300) -> str:
    """The samples of ``run_samples`` as text: id, source and the first ``chars`` characters of each."""
    if not samples:
        return f"no samples of drop reason {reason!r} (reasons are listed by `kllama status`)"
    lines = []
    for stage, records in samples.items():
        lines.append(f"{stage}: {len(records)} sample(s) of {reason}")
        for r in records:
            text = r["text"][:chars]
            more = f" ... ({r['chars']} characters)" if r.get("chars", len(r["text"])) > chars else ""
            step = f", step {r['step']}" if r.get("step") else ""
            lines.append(f"  {r['id']}  (source {r['source']}{step})")
            lines.extend("    " + line for line in (text + more).splitlines() or [""])
    return "\n".join(lines)


def truncated_inputs(ledger: Ledger) -> int:
    """How many inputs broke off (truncated or corrupt compressed data, XML cut short): every reader counts
    such an input as a ``truncated_file:CAUSE`` statistic (and the record the cut broke as a drop)."""
    return sum(n for k, n in ledger.stats.items() if k.startswith("truncated_file:"))


def input_problems(stages: dict[str, Ledger]) -> list[str]:
    """One line per stage with truncated inputs, inputs broken midway or quarantined partitions ([] if none)."""

    def names(entries: list[dict[str, Any]]) -> str:
        files = sorted({os.path.basename(str(q.get("inputs", "")).split(", ")[0]) for q in entries} - {""})
        return (": " + ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")) if files else ""

    lines = []
    for name, led in stages.items():
        partial = [q for q in led.quarantined if q.get("partial") == "true"]
        cut = truncated_inputs(led)
        if cut:
            files = names([q for q in partial if str(q.get("error", "")).startswith("truncated")])
            lines.append(f"{name}: {cut} truncated input{'s' if cut > 1 else ''} (truncated_file; the records "
                         f"before the cut are kept, the one it broke is dropped){files}")
        broken = [q for q in partial if not str(q.get("error", "")).startswith("truncated")]
        if broken:
            lines.append(f"{name}: {len(broken)} input{'s' if len(broken) > 1 else ''} not well formed midway "
                         f"(the records before the break are kept){names(broken)}")
        failed = [q for q in led.quarantined if q.get("partial") != "true"]
        if failed:
            lines.append(f"{name}: {len(failed)} partition{'s' if len(failed) > 1 else ''} quarantined after two "
                         f"failures (errors in ledger.json){names(failed)}")
    return lines


def _format_steps(status: dict[str, Any]) -> list[str]:
    """The per-step table: documents in/out, drops by reason and CPU seconds of every step of every stage."""
    rows = [("stage / step", "docs in", "docs out", "cpu s", "dropped")]
    for name, s in status["stages"].items():
        for step, e in s.get("steps", {}).items():
            dropped = ", ".join(f"{k}={v}" for k, v in e["dropped"].items()) or "-"
            rows.append((f"{name} / {step}", str(e["docs_in"]), str(e["docs_out"]), f"{e['cpu_s']:.2f}", dropped))
    if len(rows) == 1:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["", *("  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2]),
                            r[3].rjust(widths[3]), r[4]]) for r in rows), ""]


def format_status(status: dict[str, Any]) -> str:
    """A human-readable table of ``run_status``."""
    rows = [("stage", "parts", "docs in", "docs out", "dropped", "eta")]
    for name, s in status["stages"].items():
        dropped = ", ".join(f"{k}={v}" for k, v in s["dropped"].items()) or "-"
        eta = "done" if s["partitions_done"] >= s["partitions_total"] else (
            f"{s['eta_s']:.0f}s" if s["eta_s"] is not None else "?")
        rows.append((name, f"{s['partitions_done']}/{s['partitions_total']}", str(s["docs_in"]), str(s["docs_out"]),
                     dropped, eta))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5] for r in rows]
    lines.extend(_format_steps(status))
    lines.extend(_format_tokens(status.get("tokens", {})))
    lines.extend(status.get("problems", []))
    driver = status.get("driver", {})
    if status["finished"]:
        lines.append("finished")
    elif status.get("state") == "unknown":
        lines.append("in progress or stopped (no driver.json to tell)")
    else:
        lines.append(f"{status.get('state')}: {driver.get('detail', '')}")
    return "\n".join(lines)


def token_store_usage(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Per token store of the run (``RUN/tokens/<tokenizer>-<digits>``, written by ``kllama tokenize``): its
    shard entries and bytes, stored once, against what each variant's shards take (``per_variant``) and their
    sum (``separate_bytes``): the bytes that a separate token copy per variant would store."""
    root = Path(run_dir) / "tokens"
    if not root.is_dir():
        return {}
    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        manifest = {}
    variant_shas = {v: {s.get("sha256") for s in manifest.get("shards", []) if shard_in_variant(s, spec)}
                    for v, spec in sorted(manifest.get("variants", {}).items())}
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        sizes: dict[str, int] = {}
        for f in d.iterdir():
            if f.name.startswith(".") or f.name == "store.json" or not f.is_file():
                continue
            sha = f.name.split(".", 1)[0]
            sizes[sha] = sizes.get(sha, 0) + f.stat().st_size
        per_variant = {v: sum(sizes.get(sha, 0) for sha in shas if sha) for v, shas in variant_shas.items()}
        out[d.name] = {"entries": len(sizes), "bytes": sum(sizes.values()), "per_variant": per_variant,
                       "separate_bytes": sum(per_variant.values())}
    return out


def _format_tokens(tokens: dict[str, dict[str, Any]]) -> list[str]:
    """One line per token store: bytes stored once against the sum of separate per-variant copies."""
    lines = []
    for key, t in tokens.items():
        per = ", ".join(f"{v} {b / 1e6:.2f}" for v, b in t["per_variant"].items())
        ratio = f" ({t['separate_bytes'] / t['bytes']:.2f}x)" if t["bytes"] else ""
        lines.append(f"token store {key}: {t['entries']} shards, {t['bytes'] / 1e6:.2f} MB stored once; "
                     f"as separate copies per variant ({per} MB): {t['separate_bytes'] / 1e6:.2f} MB{ratio}")
    return lines
