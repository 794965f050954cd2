"""Reddit threads rebuilt on the engine (G2 A.5): a shuffle on ``link_id``, never one dictionary of a month.

The ``reddit`` reader leaves one small document per comment or submission with ``kind``, ``name``, ``link_id``,
``parent_id``, ``score``, ``created_utc`` and ``author`` in ``meta``. Two global steps then build the threads:

1. ``reddit_threads`` -- only hashes and numbers travel: each partition emits one key row per record (key =
   XXH64 of ``link_id``; the record's and its parent's name hashes, score, time). A bucket task sees every record of
   the links in its bucket, builds each link's reply tree and picks the submission's best comment chains: the
   ``max_chains`` top-level comments with the highest score, each followed down through its best-scored reply
   for at most ``max_depth`` comments. The submission and the chosen comments are kept (their chain and depth
   written into ``meta``); every other record is dropped with its reason.
2. ``reddit_assemble`` -- the chosen turns (their texts now, a small part of the month) travel by the same key to
   one task per bucket, which writes the thread into the submission's document; the comment records are then
   dropped as ``merged_into_thread``.

Memory: a bucket task holds its bucket's key rows (about 50 bytes per record in step 1), so ``num_buckets`` bounds
it: a month of 300 million comments in 1024 buckets is about 15 MB of key rows per task.
"""

from __future__ import annotations

import io
import json
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import GlobalStep
from kllama.dedup.exact import sample_rows
from kllama.text.dialogue import format_parts

_META_SCHEMA = pa.schema([
    ("kind", pa.string()), ("name", pa.string()), ("link_id", pa.string()), ("parent_id", pa.string()),
    ("score", pa.int64()), ("created_utc", pa.int64()), ("author", pa.string()),
    ("reddit_chain", pa.int64()), ("reddit_depth", pa.int64()),
])
SUBMISSION, COMMENT, OTHER = 0, 1, 2


def meta_fields(table: pa.Table) -> pa.Table:
    """The thread fields of every row's ``meta`` (JSON), parsed by Arrow's JSON reader (nulls where absent)."""
    if table.num_rows == 0:
        return _META_SCHEMA.empty_table()
    metas = table.column("meta").to_pylist()
    data = "\n".join(m if m and m.startswith("{") else "{}" for m in metas).encode("utf-8") + b"\n"
    return pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=max(len(data) + 1, 1 << 16)),
                        parse_options=pj.ParseOptions(explicit_schema=_META_SCHEMA,
                                                      unexpected_field_behavior="ignore"))


def _hash(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    from kllama import native

    arr = pc.fill_null(col, "")
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return native.hash64(arr) if len(arr) else np.zeros(0, np.uint64)


def _kinds(m: pa.Table) -> np.ndarray:
    kind = pc.fill_null(m.column("kind"), "").to_numpy(zero_copy_only=False)
    link_ok = pc.is_valid(m.column("link_id")).to_numpy(zero_copy_only=False)
    out = np.full(len(kind), OTHER, dtype=np.int8)
    out[(kind == "submission") & link_ok] = SUBMISSION
    out[(kind == "comment") & link_ok] = COMMENT
    return out


def _groups(sorted_keys: np.ndarray) -> list[tuple[int, int]]:
    if not len(sorted_keys):
        return []
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(sorted_keys)]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def drop_by_code(table: pa.Table, codes: np.ndarray, reasons: dict[int, str], ledger: Ledger) -> pa.Table:
    """``table`` without the rows whose code is a key of ``reasons``, each counted as a drop for its reason."""
    lengths = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False) if table.num_rows else \
        np.zeros(0, np.int64)
    drop = np.zeros(table.num_rows, dtype=bool)
    for code, reason in reasons.items():
        sel = codes == code
        n = int(sel.sum())
        if n:
            drop |= sel
            ledger.drop(reason, n, int(lengths[sel].sum()))
            if ledger.sample_limit:
                sample_rows(table, np.flatnonzero(sel), ledger, reason)
    return table.filter(pa.array(~drop)) if drop.any() else table


def _with_meta(table: pa.Table, rows: np.ndarray, updates: list[dict]) -> pa.Table:
    """``table`` with ``updates[i]`` merged into the meta of row ``rows[i]``."""
    if not len(rows):
        return table
    metas = table.column("meta").to_pylist()
    for r, upd in zip(rows.tolist(), updates, strict=True):
        meta = json.loads(metas[r]) if metas[r] else {}
        meta.update(upd)
        metas[r] = json.dumps(meta, ensure_ascii=False, sort_keys=True)
    i = table.column_names.index("meta")
    return table.set_column(i, table.schema.field("meta"), pa.array(metas, table.schema.field("meta").type))


_THREAD_DECISIONS = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("verdict", pa.int8()),
                               ("chain", pa.int32()), ("depth", pa.int32())])


@register
class RedditThreads(GlobalStep):
    """Pick each submission's best comment chains from ids and scores (a shuffle on ``link_id``).

    A chain starts at one of the ``max_chains`` best-scored top-level comments and follows the best-scored reply
    down to ``max_depth`` comments; ties go to the earlier comment. A submission is kept with its chains when at
    least one chain has ``min_turns`` comments. Drops: ``not_in_best_chain`` (a comment no chain took),
    ``orphan_comment`` (its submission is not among the inputs: give the earlier months' ``RS_`` files too),
    ``no_replies`` (a submission without a chain), ``duplicate_record`` (a record read twice),
    ``not_a_thread_piece`` (a row without the reader's thread fields).
    """

    name = "reddit_threads"
    drop_reasons = ("not_in_best_chain", "orphan_comment", "no_replies", "duplicate_record", "not_a_thread_piece")
    _REASONS: ClassVar[dict[int, str]] = {-1: "not_in_best_chain", 1: "orphan_comment", 2: "no_replies",
                                          3: "duplicate_record", 4: "not_a_thread_piece"}

    def __init__(self, max_chains: int = 3, max_depth: int = 8, min_turns: int = 1, num_buckets: int = 16) -> None:
        if int(max_chains) < 1 or int(max_depth) < 1 or int(min_turns) < 1:
            raise ValueError("max_chains, max_depth and min_turns must be at least 1")
        self.max_chains = int(max_chains)
        self.max_depth = int(max_depth)
        self.min_turns = int(min_turns)
        self.num_buckets = int(num_buckets)

    def emit_keys(self, table: pa.Table) -> pa.Table:
        m = meta_fields(table)
        return pa.table({
            "key": pa.array(_hash(m.column("link_id")), pa.uint64()),
            "row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
            "kind": pa.array(_kinds(m), pa.int8()),
            "node": pa.array(_hash(m.column("name")), pa.uint64()),
            "parent": pa.array(_hash(m.column("parent_id")), pa.uint64()),
            "score": pc.fill_null(m.column("score"), 0).combine_chunks(),
            "created": pc.fill_null(m.column("created_utc"), 0).combine_chunks(),
        })

    def resolve(self, keys: pa.Table) -> pa.Table:
        if keys.num_rows == 0:
            return _THREAD_DECISIONS.empty_table()
        key = keys.column("key").to_numpy()
        kind = keys.column("kind").to_numpy()
        node = keys.column("node").to_numpy()
        parent = keys.column("parent").to_numpy()
        score = keys.column("score").to_numpy()
        created = keys.column("created").to_numpy()
        # per link: submissions first, then comments by score (high first), time, name hash
        order = np.lexsort((node, created, -score, kind, key))
        verdict = np.full(keys.num_rows, -1, dtype=np.int8)
        chain = np.full(keys.num_rows, -1, dtype=np.int32)
        depth = np.zeros(keys.num_rows, dtype=np.int32)
        decided = np.zeros(keys.num_rows, dtype=bool)
        k_sorted = key[order]
        for s, e in _groups(k_sorted):
            idx = order[s:e].tolist()
            subs = [i for i in idx if kind[i] == SUBMISSION]
            for i in idx:
                if kind[i] == OTHER:
                    verdict[i], decided[i] = 4, True
            comments = [i for i in idx if kind[i] == COMMENT]
            if not subs:
                for i in comments:
                    verdict[i], decided[i] = 1, True
                continue
            sub = subs[0]
            for i in subs[1:]:
                verdict[i], decided[i] = 3, True
            children: dict[int, list[int]] = {}
            seen: set[int] = set()
            for i in comments:  # already in best-first order
                n = int(node[i])
                if n in seen:
                    verdict[i], decided[i] = 3, True
                    continue
                seen.add(n)
                children.setdefault(int(parent[i]), []).append(i)
            chains = []
            for top in children.get(int(node[sub]), [])[: self.max_chains]:
                path = [top]
                while len(path) < self.max_depth:
                    nxt = children.get(int(node[path[-1]]))
                    if not nxt:
                        break
                    path.append(nxt[0])
                if len(path) >= self.min_turns:
                    chains.append(path)
            if not chains:
                verdict[sub], decided[sub] = 2, True
                continue
            verdict[sub], decided[sub], chain[sub] = 0, True, -1
            for c, path in enumerate(chains):
                for d, i in enumerate(path, start=1):
                    verdict[i], decided[i], chain[i], depth[i] = 0, True, c, d
        sel = np.flatnonzero(decided)
        return pa.table({
            "part": keys.column("part").take(pa.array(sel)),
            "row": keys.column("row").take(pa.array(sel)),
            "verdict": pa.array(verdict[sel], pa.int8()),
            "chain": pa.array(chain[sel], pa.int32()),
            "depth": pa.array(depth[sel], pa.int32()),
        }, schema=_THREAD_DECISIONS)

    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        n = table.num_rows
        codes = np.full(n, -1, dtype=np.int8)
        chain = np.full(n, -1, dtype=np.int32)
        depth = np.zeros(n, dtype=np.int32)
        if decisions.num_rows:
            rows = decisions.column("row").to_numpy()
            codes[rows] = decisions.column("verdict").to_numpy()
            chain[rows] = decisions.column("chain").to_numpy()
            depth[rows] = decisions.column("depth").to_numpy()
        kept = np.flatnonzero(codes == 0)
        table = _with_meta(table, kept, [{"reddit_chain": int(chain[r]), "reddit_depth": int(depth[r])}
                                         for r in kept.tolist()])
        return drop_by_code(table, codes, self._REASONS, ledger)


_ASSEMBLE_DECISIONS = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("verdict", pa.int8()),
                                 ("text", pa.large_string()), ("turns", pa.int32()), ("chains", pa.int32())])


@register
class RedditAssemble(GlobalStep):
    """Write each thread chosen by ``reddit_threads`` into its submission's document.

    The document: the submission as the first turn (``author: title``, its text on the next lines), then the first
    chain's comments, one turn each; every further chain after a blank line (docs/dialogue.md). The comment
    records are dropped as ``merged_into_thread``; a submission without chosen comments as ``no_replies``; a
    comment whose submission is missing as ``orphan_comment``.
    """

    name = "reddit_assemble"
    drop_reasons = ("merged_into_thread", "no_replies", "orphan_comment")
    _REASONS: ClassVar[dict[int, str]] = {-1: "merged_into_thread", -2: "no_replies", 1: "orphan_comment"}

    def __init__(self, num_buckets: int = 16) -> None:
        self.num_buckets = int(num_buckets)

    def emit_keys(self, table: pa.Table) -> pa.Table:
        m = meta_fields(table)
        return pa.table({
            "key": pa.array(_hash(m.column("link_id")), pa.uint64()),
            "row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
            "kind": pa.array(_kinds(m), pa.int8()),
            "chain": pc.fill_null(m.column("reddit_chain"), -1).combine_chunks(),
            "depth": pc.fill_null(m.column("reddit_depth"), 0).combine_chunks(),
            "speaker": pc.fill_null(m.column("author"), "deleted").combine_chunks(),
            "text": table.column("text").combine_chunks(),
        })

    def resolve(self, keys: pa.Table) -> pa.Table:
        if keys.num_rows == 0:
            return _ASSEMBLE_DECISIONS.empty_table()
        key = keys.column("key").to_numpy()
        kind = keys.column("kind").to_numpy()
        chain = keys.column("chain").to_numpy()
        depth = keys.column("depth").to_numpy()
        part = keys.column("part").to_numpy()
        row = keys.column("row").to_numpy()
        order = np.lexsort((row, part, depth, chain, kind, key))
        texts = keys.column("text")
        speakers = keys.column("speaker")
        out: dict[str, list] = {n: [] for n in _ASSEMBLE_DECISIONS.names}
        for s, e in _groups(key[order]):
            idx = order[s:e].tolist()
            subs = [i for i in idx if kind[i] == SUBMISSION]
            comments = [i for i in idx if kind[i] == COMMENT]
            if not subs:
                for i in comments:
                    for name, v in (("part", part[i]), ("row", row[i]), ("verdict", 1), ("text", None),
                                    ("turns", 0), ("chains", 0)):
                        out[name].append(v)
                continue
            if not comments:
                continue  # apply drops the submission as no_replies
            sub = subs[0]
            parts: dict[int, list[tuple[str, str]]] = {}
            for i in comments:
                parts.setdefault(int(chain[i]), []).append((speakers[i].as_py(), texts[i].as_py()))
            chains = [parts[c] for c in sorted(parts)]
            chains[0] = [(speakers[sub].as_py(), texts[sub].as_py()), *chains[0]]
            for name, v in (("part", part[sub]), ("row", row[sub]), ("verdict", 0), ("text", format_parts(chains)),
                            ("turns", 1 + len(comments)), ("chains", len(chains))):
                out[name].append(v)
        return pa.table({n: pa.array(out[n], _ASSEMBLE_DECISIONS.field(n).type) for n in _ASSEMBLE_DECISIONS.names},
                        schema=_ASSEMBLE_DECISIONS)

    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        n = table.num_rows
        kinds = _kinds(meta_fields(table)) if n else np.zeros(0, np.int8)
        codes = np.where(kinds == SUBMISSION, -2, -1).astype(np.int8)
        done = decisions.filter(pc.equal(decisions.column("verdict"), 0)) if decisions.num_rows else decisions
        if decisions.num_rows:
            codes[decisions.column("row").to_numpy()] = decisions.column("verdict").to_numpy()
        if done.num_rows:
            rows = done.column("row").to_numpy()
            texts = table.column("text").to_pylist()
            for r, t in zip(rows.tolist(), done.column("text").to_pylist(), strict=True):
                texts[r] = t
            i = table.column_names.index("text")
            table = table.set_column(i, table.schema.field("text"), pa.array(texts, table.schema.field("text").type))
            table = _with_meta(table, rows, [{"turns": int(t), "chains": int(c)} for t, c in
                                             zip(done.column("turns").to_pylist(), done.column("chains").to_pylist(),
                                                 strict=True)])
        return drop_by_code(table, codes, self._REASONS, ledger)
