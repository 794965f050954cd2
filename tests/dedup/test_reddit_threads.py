"""Reddit threads rebuilt by a shuffle on link_id: exact chains on a constructed thread, and the engine's result on
a generated month equal to a one-dictionary reference."""

import json
from collections import defaultdict

import pyarrow.parquet as pq

from kllama.config import load_recipe
from kllama.core.document import Document, documents_to_table, make_id, schema_with
from kllama.core.ledger import Ledger
from kllama.dedup.reddit_threads import RedditAssemble, RedditThreads
from kllama.engine.inprocess import run_global_in_process
from kllama.pipeline import run_recipe
from kllama.sources.reddit import RedditSource
from kllama.text.dialogue import format_parts
from tools.make_demo.dialogue import pushshift_month, zst_pushshift


def _piece(name, kind, link, parent, score, text, author, created=0):
    meta = {"kind": kind, "name": name, "link_id": link, "parent_id": parent, "score": score, "author": author,
            "created_utc": created}
    return Document(id=make_id("reddit", name), text=text, source="reddit", meta=meta)


def _tables(docs, parts):
    schema = schema_with({})
    return [documents_to_table([d for i, d in enumerate(docs) if i % parts == p], schema) for p in range(parts)]


def _threads(tables, **kw):
    first = run_global_in_process(RedditThreads(**kw), tables)
    second = run_global_in_process(RedditAssemble(), first.tables)
    return first, second


def test_best_chains_by_score_on_a_constructed_thread():
    c = "comment"
    docs = [
        _piece("t3_s", "submission", "t3_s", None, 50, "Why is the sky blue?\nAsking for a friend.", "op"),
        _piece("t1_a", c, "t3_s", "t3_s", 10, "Rayleigh scattering.", "ann", 1),
        _piece("t1_b", c, "t3_s", "t3_s", 30, "Short wavelengths scatter more.", "bob", 2),
        _piece("t1_c", c, "t3_s", "t3_s", 3, "Third best, not taken.", "cid", 3),
        _piece("t1_b1", c, "t3_s", "t1_b", 4, "Why more?", "op", 4),
        _piece("t1_b2", c, "t3_s", "t1_b", 9, "Source?", "dan", 5),
        _piece("t1_b21", c, "t3_s", "t1_b2", 2, "Any textbook.", "bob", 6),
        _piece("t1_b211", c, "t3_s", "t1_b21", 2, "Too deep for max_depth 3.", "dan", 7),
        _piece("t1_a1", c, "t3_s", "t1_a", 1, "Thanks!", "op", 8),
        _piece("t1_z", c, "t3_gone", "t3_gone", 5, "Reply to a submission from another month.", "eve", 9),
        _piece("t3_lonely", "submission", "t3_lonely", None, 5, "Nobody answered.", "fay"),
        _piece("t1_a", c, "t3_s", "t3_s", 10, "Rayleigh scattering.", "ann", 1),  # read twice
        Document(id="reddit/other", text="not a piece", source="reddit", meta={}),
    ]
    for parts in (1, 3):
        first, second = _threads(_tables(docs, parts), max_chains=2, max_depth=3)
        assert dict(first.ledger.dropped) == {"not_in_best_chain": 3, "orphan_comment": 1, "no_replies": 1,
                                              "duplicate_record": 1, "not_a_thread_piece": 1}
        out = [t for t in second.tables if t.num_rows]
        assert sum(t.num_rows for t in out) == 1
        assert out[0].column("text")[0].as_py() == (
            "op: Why is the sky blue?\nAsking for a friend.\n"
            "bob: Short wavelengths scatter more.\ndan: Source?\nbob: Any textbook.\n"
            "\n"
            "ann: Rayleigh scattering.\nop: Thanks!")
        meta = json.loads(out[0].column("meta")[0].as_py())
        assert meta["turns"] == 6 and meta["chains"] == 2 and meta["name"] == "t3_s"
        assert dict(second.ledger.dropped) == {"merged_into_thread": 5}
        assert first.ledger.balanced and second.ledger.balanced
    # min_turns: a submission whose best chain is shorter is dropped
    first, _ = _threads(_tables(docs, 1), max_chains=1, max_depth=1, min_turns=2)
    assert first.ledger.dropped["no_replies"] == 2


def _reference(docs: list[Document], max_chains: int, max_depth: int) -> dict[str, str]:
    """The same rule with every record of the month in one dictionary (what the engine avoids)."""
    subs = {d.meta["name"]: d for d in docs if d.meta["kind"] == "submission"}
    children = defaultdict(list)
    for d in docs:
        if d.meta["kind"] == "comment" and d.meta["link_id"] in subs:
            children[d.meta["parent_id"]].append(d)
    for kids in children.values():
        kids.sort(key=lambda d: (-d.meta["score"], d.meta["created_utc"]))
    out = {}
    for name, s in subs.items():
        chains = []
        for top in children[name][:max_chains]:
            path = [top]
            while len(path) < max_depth and children[path[-1].meta["name"]]:
                path.append(children[path[-1].meta["name"]][0])
            chains.append([(d.meta["author"], d.text) for d in path])
        if chains:
            chains[0] = [(s.meta["author"], s.text), *chains[0]]
            out[s.id] = format_parts(chains)
    return out


def test_engine_rebuild_equals_the_one_dict_reference(tmp_path, dask_client):
    subs, coms = pushshift_month(seed=5, submissions=30, comments_per=14)
    data = tmp_path / "pushshift"
    data.mkdir()
    (data / "RS_2006-01.zst").write_bytes(zst_pushshift(subs))
    half = len(coms) // 2  # the comments of one thread spread over two files (partitions)
    (data / "RC_2006-01.zst").write_bytes(zst_pushshift(coms[::2]))
    (data / "RC_2006-02.zst").write_bytes(zst_pushshift(coms[1::2]))
    assert half
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"""
name = "t"
[sources.reddit]
reader = "reddit"
inputs = ["{data}"]
group = "extra"
options = {{ min_score = 2 }}
pipeline = [
  {{ step = "reddit_threads", max_chains = 2, max_depth = 4, num_buckets = 3 }},
  {{ step = "reddit_assemble", num_buckets = 3 }},
]
[variants.G2]
groups = ["extra"]
weights = {{ reddit = 1.0 }}
""")
    summary = run_recipe(load_recipe(str(recipe)), tmp_path / "run", dask_client, progress=False)
    for name, led in summary.stages.items():
        assert led.balanced, name
    assert summary.stages["reddit.02-reddit_assemble"].dropped["merged_into_thread"] > 0
    got = {}
    for shard in summary.manifest["shards"]:
        t = pq.read_table(tmp_path / "run" / shard["path"], columns=["id", "text"])
        got.update(zip(t.column("id").to_pylist(), t.column("text").to_pylist(), strict=True))
    src = RedditSource(min_score=2)
    src.source_name = "reddit"
    docs = [d for f in sorted(data.iterdir()) for d in src.read(str(f), Ledger())]
    expected = _reference(docs, max_chains=2, max_depth=4)
    assert got == expected and len(got) >= 15
