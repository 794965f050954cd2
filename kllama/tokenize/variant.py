"""``kllama tokenize RUN_DIR --variant G1|G2|G3``: one shuffled, weighted binidx pair per variant, from tokens
made once per shard.

Three engine task stages (``StageRunner.task_stage``: markers, retries, quarantine, ``kllama status``):

1. ``tokens.<store key>``: every shard of the variant not yet in the run's token store
   (``kllama.tokenize.store``: keyed by shard sha256, tokenizer sha256 and digit rule) is tokenized, one task per
   shard. G1, then G2, then G3 tokenize each shard once.
2. ``tokenize.<V>.<fingerprint>.1-scatter``: per shard, each document's copies (the variant's epochs, or the
   epochs that a ``--tokens`` budget gives, ``kllama.tokenize.mix``) and order keys, cut into chunks.
3. ``tokenize.<V>.<fingerprint>.2-chunks``: per chunk, the copies in key order with their tokens.

The driver then concatenates the chunk files and streams the index (``kllama.tokenize.shuffle``): its memory
does not grow with the document count. The output depends only on the manifest, the tokenizer, the epochs and
the seed, never on the worker count, the chunking or a resume.
"""

from __future__ import annotations

import hashlib
import json
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kllama.core.files import atomic_write_text, sha256_file
from kllama.core.ledger import Ledger
from kllama.core.variants import select_variant
from kllama.tokenize.binidx import best_dtype
from kllama.tokenize.mix import BudgetMix, budget_epochs, parse_proportions
from kllama.tokenize.shuffle import (
    DEFAULT_EPOCHS,
    chunks_for,
    concatenate,
    copies_for,
    gather_chunk,
    scatter_shard,
)
from kllama.tokenize.store import (
    entry_files,
    entry_prefix,
    open_store,
    store_key,
    tokenize_shard,
)
from kllama.tokenize.tokenizer import cached_tokenizer

__all__ = ["DEFAULT_EPOCHS", "VariantResult", "copies_for", "load_variant", "tokenize_variant"]

#: copies per chunk of the two-level shuffle (a gather task holds ~40 bytes per copy of its chunk)
CHUNK_DOCS = 1 << 20


@dataclass
class VariantResult:
    """What ``tokenize_variant`` wrote."""

    prefix: str
    tokens: int
    docs: int
    per_source: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    sidecar: dict[str, Any] = field(default_factory=dict)
    mix: BudgetMix | None = None


def load_variant(run_dir: Path, variant: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The variant's shards (``kllama.core.variants``: its groups and replacements; sorted by path, paths made
    absolute inside ``run_dir``) and its manifest entry with ``weights`` = the epochs of every source (a
    replacement takes its slot's), ``slots`` = ``{source: the LLaMA slot it fills}`` and ``proportions`` (from the
    recipe snapshot in ``run.json`` when the manifest lacks them)."""
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} not found (is {run_dir} a finished kllama run?)")
    manifest = json.loads(manifest_path.read_text())
    variants = manifest.get("variants", {})
    if variant not in variants:
        raise ValueError(f"variant {variant!r} not in {manifest_path}; known: {', '.join(sorted(variants))}")
    spec = dict(variants[variant])
    if "proportions" not in spec and (run_dir / "run.json").exists():
        try:
            raw = json.loads((run_dir / "run.json").read_text()).get("settings", {})
            props = raw.get("variants", {}).get(variant, {}).get("proportions")
        except (OSError, json.JSONDecodeError, AttributeError):
            props = None
        if isinstance(props, dict):
            spec["proportions"] = props
    sel = select_variant(manifest, variant)
    spec["weights"] = dict(sel.weights)
    spec["slots"] = {name: sel.slot(name) for name in sel.sources}
    root = run_dir.resolve()
    shards = []
    for s in sorted(sel.shards, key=lambda s: s["path"]):
        p = (root / s["path"]).resolve()
        if root not in p.parents:
            raise ValueError(f"manifest shard path {s['path']!r} leaves {run_dir}")
        shards.append({**s, "abs_path": str(p)})
    return shards, spec


def _fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _files_digest(marker: dict[str, Any]) -> str:
    """What a task left (its files' checksums), for the fingerprint of the tasks that read it."""
    if marker.get("quarantined"):
        return "quarantined"
    return _fingerprint(sorted((f["path"], f["sha256"]) for f in marker.get("files", [])))


def tokenize_variant(run_dir: str | Path, variant: str, out_prefix: str | Path, *,
                     tokenizer_path: str | Path | None = None, split_digits: bool = True, seed: int = 0,
                     workers: int | None = None, cluster: str = "local", client: Any = None,
                     ctx_len: int | None = None, quiet: bool = False, tokens: int | None = None,
                     proportions: str | dict[str, float] | None = None, chunk_docs: int = CHUNK_DOCS,
                     serial: bool = False, progress: bool = False, keep_work: bool = False,
                     encoder: str = "auto") -> VariantResult:
    """Tokenize variant ``variant`` of the run in ``run_dir`` into ``out_prefix.bin/.idx`` and
    ``out_prefix.json`` (documents and tokens per source, the store's reuse, the mix).

    ``tokens``: a token budget; each source's epochs then come from the store's token counts and
    ``proportions`` (``"llama"`` = Table 1, the default; ``kllama.tokenize.mix``). ``client``: a Dask client
    to use; else a cluster is opened (``cluster``, ``workers``), or none with ``serial``. ``chunk_docs``: copies
    per chunk of the shuffle (memory of one gather task; the output does not depend on it). ``encoder``:
    ``auto``, ``hf`` or ``fast`` (``kllama.tokenize.tokenizer``; the same ids, so the store is shared)."""
    from kllama.engine.runner import StageRunner
    from kllama.tokenize.rwkv import magic_prime

    run_dir = Path(run_dir)
    out_prefix = str(out_prefix)
    shards, spec = load_variant(run_dir, variant)
    weights = {str(k): float(v) for k, v in spec.get("weights", {}).items()}
    tok_path = str(Path(tokenizer_path).resolve()) if tokenizer_path is not None else None
    tok = cached_tokenizer(tok_path, split_digits, encoder)
    dtype = best_dtype(tok.vocab_size)
    key = store_key(tok.sha256, split_digits)
    store = open_store(run_dir, tok.path, tok.sha256, split_digits)
    for s in shards:
        if not s.get("sha256"):  # an old manifest: the key is the file's checksum
            s["sha256"] = sha256_file(s["abs_path"])

    if client is not None or serial:
        ctx = nullcontext(client)
    else:
        from kllama.engine.cluster import open_client

        ctx = open_client(cluster, workers=workers, quiet=quiet)
    with ctx as cl:
        runner = StageRunner(cl, run_dir, progress=progress)
        # 1. the token store: each shard tokenized once, whatever the variant
        tok_stage = f"tokens.{key}"
        unique: dict[str, dict[str, Any]] = {}
        for s in shards:
            unique.setdefault(s["sha256"], s)
        from kllama.engine.tasks import FnTask

        stage_dir = str(run_dir / "stages" / tok_stage)
        a_tasks = [FnTask(stage_dir=stage_dir, name=f"part-{sha[:24]}", fn=tokenize_shard,
                          kwargs={"path": s["abs_path"], "sha256": sha, "manifest_docs": int(s.get("docs", 0)),
                                  "source": s.get("source", ""), "prefix": str(entry_prefix(store, sha)),
                                  "tokenizer_path": tok_path, "split_digits": split_digits, "encoder": encoder},
                          outputs=entry_files(entry_prefix(store, sha)), inputs=[s["abs_path"]],
                          docs=int(s.get("docs", 0)))
                   for sha, s in unique.items()]
        a = runner.task_stage(tok_stage, a_tasks)
        a_marker = {sha: m for sha, m in zip(unique, a.markers, strict=True)}
        tokenized_now = sum(1 for m in a.markers if not m.get("skipped"))

        # 2. epochs: the variant's, or those of a token budget
        store_tokens: dict[str, int] = {}
        stored_docs: dict[str, int] = {}
        for s in shards:
            for name, c in a_marker[s["sha256"]].get("result", {}).get("per_source", {}).items():
                store_tokens[name] = store_tokens.get(name, 0) + int(c.get("tokens_tokenized", 0))
                stored_docs[name] = stored_docs.get(name, 0) + int(c.get("docs_tokenized", 0))
        mix = None
        slots = spec.get("slots", {})
        if tokens:  # by slot: a replacement source (G3's science books for books) takes its slot's share
            slot_tokens: dict[str, int] = {}
            for name, n in store_tokens.items():
                slot_tokens[slots.get(name, name)] = slot_tokens.get(slots.get(name, name), 0) + n
            slot_weights = {slots.get(n, n): w for n, w in weights.items()}
            mix = budget_epochs(slot_tokens, int(tokens), parse_proportions(proportions), slot_weights,
                                spec.get("proportions"), DEFAULT_EPOCHS)
            epochs = {**weights, **{n: mix.epochs[slots.get(n, n)] for n in store_tokens
                                    if slots.get(n, n) in mix.epochs}}
        else:
            epochs = dict(weights)
        expected = sum(n * epochs.get(name, DEFAULT_EPOCHS) for name, n in stored_docs.items())
        n_chunks = chunks_for(int(expected), chunk_docs)
        fp = _fingerprint({"variant": variant, "groups": spec.get("groups"), "epochs": epochs, "seed": seed,
                           "store": key, "chunks": n_chunks, "shards": [s["sha256"] for s in shards]})[:12]
        base = f"tokenize.{variant}.{fp}"

        # 3. scatter: copies and order keys per shard
        b_dir = run_dir / "stages" / f"{base}.1-scatter"
        b_tasks = []
        for i, s in enumerate(shards):
            prefix = str(entry_prefix(store, s["sha256"]))
            am = a_marker[s["sha256"]]
            stored = int(am.get("ledger", {}).get("docs_out", 0))
            b_tasks.append(FnTask(stage_dir=str(b_dir), name=f"part-{i:05d}", fn=scatter_shard,
                                  kwargs={"prefix": prefix, "source": s.get("source", ""), "epochs": epochs,
                                          "seed": seed, "n_chunks": n_chunks,
                                          "out_path": str(b_dir / f"part-{i:05d}.refs")},
                                  outputs=[str(b_dir / f"part-{i:05d}.refs")], inputs=[prefix], docs=stored,
                                  fingerprint=_files_digest(am)))
        b = runner.task_stage(f"{base}.1-scatter", b_tasks)

        # 4. gather: one task per chunk, reading every shard's slice of it
        c_dir = run_dir / "stages" / f"{base}.2-chunks"
        c_dir.mkdir(parents=True, exist_ok=True)
        listing = c_dir / "_shards.json"
        atomic_write_text(listing, json.dumps([{"refs": t.outputs[0], "prefix": t.kwargs["prefix"]}
                                               for t in b_tasks]))
        c_fp = _fingerprint([_files_digest(m) for m in b.markers])
        c_tasks = [FnTask(stage_dir=str(c_dir), name=f"part-{c:05d}", fn=_gather_listed,
                          kwargs={"chunk": c, "listing": str(listing), "out_prefix": str(c_dir / f"part-{c:05d}"),
                                  "dtype": str(np.dtype(dtype))},
                          outputs=[str(c_dir / f"part-{c:05d}.bin"), str(c_dir / f"part-{c:05d}.sizes")],
                          fingerprint=c_fp)
                   for c in range(n_chunks)]
        c = runner.task_stage(f"{base}.2-chunks", c_tasks)
    failed = [m for m in c.markers if m.get("quarantined")]
    if failed:
        errors = "; ".join(q.get("error", "") for m in failed for q in m["ledger"].get("quarantined", []))
        raise RuntimeError(f"{len(failed)} chunk(s) of {variant} could not be written ({errors}); "
                           f"rerun to retry (see `kllama status {run_dir}`)")

    # 5. the output: chunk files in order, the index streamed
    n_out, total = concatenate([str(c_dir / f"part-{k:05d}") for k in range(n_chunks)], out_prefix, dtype)
    if not keep_work:
        for d in (b_dir, c_dir):
            for f in list(d.glob("part-*.refs")) + list(d.glob("part-*.bin")) + list(d.glob("part-*.sizes")):
                f.unlink(missing_ok=True)

    # 6. the sidecar: per source, the ledger, the store's reuse, the mix
    ledger_a, ledger_b = Ledger(), Ledger()
    per_source: dict[str, dict[str, Any]] = {}
    for s in shards:
        am = a_marker[s["sha256"]]
        ledger_a.merge(Ledger.from_dict(am["ledger"]))
        for name, cnt in am.get("result", {}).get("per_source", {}).items():
            agg = per_source.setdefault(name, {})
            for k, v in cnt.items():
                agg[k] = agg.get(k, 0) + int(v)
    for m in b.markers:
        ledger_b.merge(Ledger.from_dict(m["ledger"]))
        for name, cnt in m.get("result", {}).get("per_source", {}).items():
            agg = per_source.setdefault(name, {})
            for k, v in cnt.items():
                agg[k] = agg.get(k, 0) + int(v)
    for name, agg in per_source.items():
        agg.setdefault("docs", 0)
        agg.setdefault("tokens", 0)
        agg["epochs"] = round(epochs.get(name, DEFAULT_EPOCHS), 9)
    ledger = Ledger(docs_in=ledger_a.docs_in, bytes_in=ledger_a.bytes_in, docs_out=ledger_b.docs_out,
                    bytes_out=ledger_a.bytes_out,
                    dropped=ledger_a.dropped + ledger_b.dropped,
                    quarantined=ledger_a.quarantined + ledger_b.quarantined)
    achieved = {n: int(p["tokens"]) for n, p in per_source.items()}
    by_slot: dict[str, int] = {}
    for n, t in achieved.items():
        by_slot[slots.get(n, n)] = by_slot.get(slots.get(n, n), 0) + t
    if sum(achieved.values()) != total:
        raise RuntimeError(f"{variant}: the chunks hold {total} tokens, the shards' copies {sum(achieved.values())}")
    cpu = {"tokenize": sum(m.get("cpu_s", 0.0) for m in a.markers if not m.get("skipped")),
           "scatter": sum(m.get("cpu_s", 0.0) for m in b.markers if not m.get("skipped")),
           "gather": sum(m.get("cpu_s", 0.0) for m in c.markers if not m.get("skipped"))}
    from kllama.engine.status import token_store_usage

    usage = token_store_usage(run_dir).get(key, {})
    sidecar: dict[str, Any] = {
        "variant": variant, "run_dir": str(run_dir.resolve()), "groups": list(spec.get("groups", [])),
        "seed": seed, "split_digits": split_digits, "tokenizer": str(tok.path), "tokenizer_sha256": tok.sha256,
        "encoder": tok.encoder_name, "encoder_note": tok.encoder_note,
        "dtype": str(np.dtype(dtype)), "eod": tok.eod_id, "docs": n_out, "tokens": total,
        "shards": len(shards), "chunks": n_chunks, "epochs": {k: round(v, 9) for k, v in sorted(epochs.items())},
        "per_source": {k: per_source[k] for k in sorted(per_source)}, "ledger": ledger.to_dict(),
        "store": {"key": key, "path": str(store), "shards": len(unique), "tokenized_now": tokenized_now,
                  "reused": len(unique) - tokenized_now, "bytes": usage.get("bytes", 0)},
        "stages": [tok_stage, f"{base}.1-scatter", f"{base}.2-chunks"],
        "task_cpu_seconds": {k: round(v, 3) for k, v in cpu.items()},
    }
    if mix is not None:
        sidecar["mix"] = {"budget": mix.budget, "proportions": mix.proportions, "explicit": mix.explicit,
                          "notes": mix.notes, "sources": mix.table(by_slot),
                          "slots": {n: s for n, s in slots.items() if n != s}}
    if ctx_len:
        sidecar["ctx_len"] = ctx_len
        sidecar["magic_prime"] = magic_prime(total, ctx_len)
    atomic_write_text(out_prefix + ".json", json.dumps(sidecar, indent=1, sort_keys=True, default=str))
    if not quiet and tokenized_now < len(unique):
        print(f"kllama: token store {key}: {len(unique) - tokenized_now}/{len(unique)} shards reused, "
              f"{tokenized_now} tokenized", file=sys.stderr)
    return VariantResult(prefix=out_prefix, tokens=total, docs=n_out, per_source=sidecar["per_source"],
                         ledger=ledger, sidecar=sidecar, mix=mix)


def _gather_listed(chunk: int, listing: str, out_prefix: str, dtype: str) -> dict[str, Any]:
    """``gather_chunk`` with the shard list read from a file (not repeated in every task of the graph)."""
    return gather_chunk(chunk, json.loads(Path(listing).read_text()), out_prefix, dtype)

