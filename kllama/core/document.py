"""The Document record, its Arrow schema and stable ids."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

#: Columns every stored partition has, in this order.
CORE_FIELDS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("text", pa.large_string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("url", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("meta", pa.string()),
    pa.field("group", pa.string()),
]
CORE_SCHEMA = pa.schema(CORE_FIELDS)
CORE_NAMES = [f.name for f in CORE_FIELDS]

#: Shard groups (README: Variants and the Pile).
GROUPS = ("core", "pile-overlap", "extra", "extra-pile-overlap")


def make_id(source: str, locator: str) -> str:
    """Stable document id from the source name and the raw locator (file name + record key).

    The id never depends on partition numbers, so another partitioning gives the same ids.
    Form: ``{source}/{first 20 hex of sha1(locator)}``; the collection of books etc. belongs in ``source``
    or the locator so that ids of different collections never collide.
    """
    digest = hashlib.sha1(locator.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{source}/{digest}"


@dataclass(slots=True)
class Document:
    """One document moving through a stage.

    ``meta`` holds the per-source fields (stored as a JSON string); ``fields`` holds stage columns
    (scores, labels) that steps add and declare in ``Step.columns``.
    """

    id: str
    text: str
    source: str
    url: str | None = None
    lang: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    group: str = "core"
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return len(self.text.encode("utf-8", "surrogatepass"))


def schema_with(columns: dict[str, pa.DataType]) -> pa.Schema:
    """The core schema followed by stage columns, sorted by name so that the schema is deterministic."""
    extra = [pa.field(name, columns[name]) for name in sorted(columns) if name not in CORE_NAMES]
    return pa.schema(CORE_FIELDS + extra)


def documents_to_table(docs: list[Document], schema: pa.Schema) -> pa.Table:
    """Arrow table of ``docs`` with exactly ``schema``'s columns (missing stage fields become null)."""
    data: dict[str, list] = {name: [] for name in schema.names}
    extra_names = [n for n in schema.names if n not in CORE_NAMES]
    for d in docs:
        data["id"].append(d.id)
        data["text"].append(d.text)
        data["source"].append(d.source)
        data["url"].append(d.url)
        data["lang"].append(d.lang)
        data["meta"].append(json.dumps(d.meta, ensure_ascii=False, sort_keys=True) if d.meta else "{}")
        data["group"].append(d.group)
        for n in extra_names:
            data[n].append(d.fields.get(n))
    return pa.table({n: pa.array(data[n], type=schema.field(n).type) for n in schema.names}, schema=schema)


def table_to_documents(table: pa.Table) -> list[Document]:
    """Documents from a stored table; columns beyond the core ones go to ``Document.fields``."""
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    extra_names = [n for n in table.column_names if n not in CORE_NAMES]
    n = table.num_rows
    docs = []
    for i in range(n):
        meta_s = cols["meta"][i] if "meta" in cols else None
        docs.append(
            Document(
                id=cols["id"][i],
                text=cols["text"][i],
                source=cols["source"][i],
                url=cols["url"][i] if "url" in cols else None,
                lang=cols["lang"][i] if "lang" in cols else None,
                meta=json.loads(meta_s) if meta_s else {},
                group=(cols["group"][i] if "group" in cols else None) or "core",
                fields={k: cols[k][i] for k in extra_names},
            )
        )
    return docs
