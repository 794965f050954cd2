"""Per-partition and per-stage accounting: documents in = out + dropped by reason, per stage and per step,
and a few dropped documents per reason kept as samples."""

from __future__ import annotations

from bisect import insort
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: characters of a dropped document's text kept in its sample
SAMPLE_CHARS = 2000


def _step_entry() -> dict[str, Any]:
    return {"docs_in": 0, "docs_out": 0, "dropped": {}, "cpu_s": 0.0, "position": 0}


@dataclass
class Ledger:
    """Counts for one partition of one stage (or, merged, for a whole stage)."""

    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    dropped_bytes: Counter = field(default_factory=Counter)
    #: free-form counters that are not document drops (lines removed, overlap by pile_set_name, ...)
    stats: Counter = field(default_factory=Counter)
    #: partitions/files that failed twice, with their error
    quarantined: list[dict[str, str]] = field(default_factory=list)
    #: per step (or ``read:READER``): ``{"docs_in", "docs_out", "dropped": {REASON: n}, "cpu_s", "position"}``;
    #: ``position`` is the step's place in its stage (JSON files sort keys, this keeps the pipeline order)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: dropped documents kept per reason: the ``sample_limit`` ones with the smallest ids, as
    #: ``(id, {"id", "source", "reason", "step", "chars", "text"})``; written beside the stage, not in to_dict
    samples: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict, repr=False, compare=False)
    sample_limit: int = field(default=0, repr=False, compare=False)
    #: the step now running (set by the engine), recorded in samples
    current_step: str = field(default="", repr=False, compare=False)

    def take_in(self, n: int = 1, nbytes: int = 0) -> None:
        self.docs_in += n
        self.bytes_in += nbytes

    def put_out(self, n: int = 1, nbytes: int = 0) -> None:
        self.docs_out += n
        self.bytes_out += nbytes

    def drop(self, reason: str, n: int = 1, nbytes: int = 0, doc: Any = None) -> None:
        """Count ``n`` documents dropped for the named ``reason``; ``doc`` (anything with ``id``, ``source`` and
        ``text``) may be kept as a sample."""
        self.dropped[reason] += n
        self.dropped_bytes[reason] += nbytes
        if doc is not None and self.sample_limit:
            self.keep_sample(reason, doc.id, doc.source, doc.text)

    def keep_sample(self, reason: str, doc_id: str, source: str, text: str) -> None:
        """Keep a dropped document as a sample if its id is among the ``sample_limit`` smallest for ``reason``."""
        if self.sample_limit and self._has_room(reason, doc_id):
            self._insert_sample(reason, doc_id, {"id": doc_id, "source": source, "reason": reason,
                                                 "step": self.current_step, "chars": len(text),
                                                 "text": text[:SAMPLE_CHARS]})

    def add_sample(self, record: dict[str, Any]) -> None:
        """Keep an already-made sample record (``reason``, ``id``, ...) if its id is among the smallest."""
        if self.sample_limit and self._has_room(record["reason"], record["id"]):
            self._insert_sample(record["reason"], record["id"], record)

    def _has_room(self, reason: str, doc_id: str) -> bool:
        kept = self.samples.get(reason, [])
        return (len(kept) < self.sample_limit or doc_id < kept[-1][0]) and all(k != doc_id for k, _ in kept)

    def _insert_sample(self, reason: str, doc_id: str, record: dict[str, Any]) -> None:
        kept = self.samples.setdefault(reason, [])
        insort(kept, (doc_id, record), key=lambda item: item[0])
        del kept[self.sample_limit:]

    def count_step(self, name: str, docs_in: int, docs_out: int, dropped: dict[str, int], cpu_s: float,
                   position: int = 0) -> None:
        """Add one batch's counts of step ``name``: documents in and out, drops by reason, CPU seconds."""
        entry = self.steps.setdefault(name, _step_entry())
        entry["docs_in"] += docs_in
        entry["docs_out"] += docs_out
        for reason, n in dropped.items():
            if n:
                entry["dropped"][reason] = entry["dropped"].get(reason, 0) + n
        entry["cpu_s"] += cpu_s
        entry["position"] = position

    def count(self, name: str, n: int = 1) -> None:
        """Count a statistic that is not a document drop."""
        self.stats[name] += n

    @property
    def balanced(self) -> bool:
        return self.docs_in == self.docs_out + sum(self.dropped.values())

    def merge(self, other: Ledger) -> Ledger:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.dropped.update(other.dropped)
        self.dropped_bytes.update(other.dropped_bytes)
        self.stats.update(other.stats)
        self.quarantined.extend(other.quarantined)
        for name, e in other.steps.items():
            mine = self.steps.get(name)
            if mine is None:
                self.steps[name] = {**e, "dropped": dict(e["dropped"])}
                continue
            mine["docs_in"] += e["docs_in"]
            mine["docs_out"] += e["docs_out"]
            for reason, n in e["dropped"].items():
                mine["dropped"][reason] = mine["dropped"].get(reason, 0) + n
            mine["cpu_s"] += e["cpu_s"]
            mine["position"] = min(mine["position"], e["position"])
        self.sample_limit = max(self.sample_limit, other.sample_limit)
        for kept in other.samples.values():
            for _doc_id, record in kept:
                self.add_sample(record)
        return self

    def steps_in_order(self) -> list[tuple[str, dict[str, Any]]]:
        """``(name, counts)`` of every step in pipeline order."""
        return sorted(self.steps.items(), key=lambda kv: (kv[1].get("position", 0), kv[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_bytes": dict(sorted(self.dropped_bytes.items())),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "stats": dict(sorted(self.stats.items())),
            "quarantined": list(self.quarantined),
            "steps": {name: {**e, "dropped": dict(sorted(e["dropped"].items())), "cpu_s": round(e["cpu_s"], 3)}
                      for name, e in self.steps_in_order()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ledger:
        return cls(
            docs_in=d.get("docs_in", 0),
            docs_out=d.get("docs_out", 0),
            bytes_in=d.get("bytes_in", 0),
            bytes_out=d.get("bytes_out", 0),
            dropped=Counter(d.get("dropped", {})),
            dropped_bytes=Counter(d.get("dropped_bytes", {})),
            stats=Counter(d.get("stats", {})),
            quarantined=list(d.get("quarantined", [])),
            steps={name: {**_step_entry(), **e, "dropped": dict(e.get("dropped", {}))}
                   for name, e in d.get("steps", {}).items()},
        )
