"""Per-partition and per-stage accounting: documents in = out + dropped by reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


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

    def take_in(self, n: int = 1, nbytes: int = 0) -> None:
        self.docs_in += n
        self.bytes_in += nbytes

    def put_out(self, n: int = 1, nbytes: int = 0) -> None:
        self.docs_out += n
        self.bytes_out += nbytes

    def drop(self, reason: str, n: int = 1, nbytes: int = 0) -> None:
        """Count ``n`` documents dropped for the named ``reason``."""
        self.dropped[reason] += n
        self.dropped_bytes[reason] += nbytes

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
        return self

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
        )
