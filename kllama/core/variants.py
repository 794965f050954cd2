"""Which store shards a variant takes and at how many epochs: the one selection rule behind ``manifest.json``,
``kllama export``, ``kllama tokenize``, ``kllama status`` and the report.

A variant (``[variants.G]`` of a recipe, copied into the manifest) names the shard ``groups`` it takes, the
``weights`` (epochs) per source and, optionally, **replacements**: ``replace = { books = "science_books" }``
fills the variant's ``books`` slot with the source ``science_books`` instead (``["books", "science_books"]``: with
both). In the variant:

- the replaced source's shards are left out (unless it is listed among its own replacements);
- a replacement source's shards are taken when their group is one of the variant's groups **or its counterpart**
  (``core`` <-> ``extra``, ``pile-overlap`` <-> ``extra-pile-overlap``): a G2 extra source (group ``extra``)
  standing in for a core source in G3 (groups ``["core"]``) brings its ``extra`` shards, not its Pile overlap;
- a replacement source takes the replaced source's epochs, unless the variant's ``weights`` name it.

Everything else is the plain rule: a shard is in the variant when its group is one of the variant's groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kllama.core.sampling import DEFAULT_EPOCHS

#: a group and the group of the same standing on the other side (core sources vs G2's extra sources)
COUNTERPART = {"core": "extra", "extra": "core", "pile-overlap": "extra-pile-overlap",
               "extra-pile-overlap": "pile-overlap"}


def replacements(spec: dict[str, Any]) -> dict[str, list[str]]:
    """A variant's ``replace`` table as ``{slot: [sources]}`` (a single name becomes a one-item list).

    Raises ``ValueError`` on anything but a table of names or lists of names."""
    raw = spec.get("replace") or {}
    if not isinstance(raw, dict):
        raise ValueError("replace must be a table: replace = { books = \"science_books\" }")
    out: dict[str, list[str]] = {}
    for slot, value in raw.items():
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"replace.{slot} must be a source name or a non-empty list of source names")
        out[str(slot)] = list(dict.fromkeys(names))
    return out


def check_variant(name: str, spec: dict[str, Any], sources: set[str]) -> None:
    """Raise ``ValueError`` when variant ``name``'s ``replace`` names a source that ``sources`` lacks, or uses a
    source in two slots."""
    seen: dict[str, str] = {}
    for slot, names in replacements(spec).items():
        for n in [slot, *names]:
            if n not in sources:
                raise ValueError(f"[variants.{name}] replace.{slot}: {n!r} is not a source of the recipe "
                                 f"(sources: {', '.join(sorted(sources))})")
        for n in names:
            if n != slot and seen.setdefault(n, slot) != slot:
                raise ValueError(f"[variants.{name}] replace: {n!r} fills two slots ({seen[n]} and {slot})")


def slot_of(spec: dict[str, Any]) -> dict[str, str]:
    """``{replacement source: the slot it fills}`` (a slot listed among its own replacements maps to itself)."""
    return {n: slot for slot, names in replacements(spec).items() for n in names}


def variant_weights(spec: dict[str, Any], sources: list[str] | set[str] | None = None) -> dict[str, float]:
    """Epochs per source in the variant: its ``weights``, and for each replacement source not named there the
    epochs of the slot it fills. ``sources``: also give every one of these (``DEFAULT_EPOCHS`` if unnamed)."""
    base = {str(k): float(v) for k, v in (spec.get("weights") or {}).items()}
    out = dict(base)
    for source, slot in slot_of(spec).items():
        if source not in base:
            out[source] = base.get(slot, DEFAULT_EPOCHS)
    for s in sources or ():
        out.setdefault(s, DEFAULT_EPOCHS)
    return out


def shard_in_variant(shard: dict[str, Any], spec: dict[str, Any]) -> bool:
    """Whether one manifest shard (``source``, ``group``) belongs to the variant ``spec`` (module docstring)."""
    groups = set(spec.get("groups") or [])
    source, group = shard.get("source"), shard.get("group")
    repl = replacements(spec)
    if source in repl and source not in repl[source]:
        return False
    slots = slot_of(spec)
    if source in slots and slots[source] != source:
        return group in groups or COUNTERPART.get(group or "") in groups
    return group in groups


@dataclass
class Selection:
    """A variant's shards (manifest entries, in manifest order) and epochs per source."""

    variant: str
    groups: list[str]
    shards: list[dict[str, Any]]
    weights: dict[str, float]
    replace: dict[str, list[str]] = field(default_factory=dict)

    @property
    def sources(self) -> list[str]:
        return sorted({s["source"] for s in self.shards})

    def slot(self, source: str) -> str:
        """The slot (LLaMA source) that ``source`` fills in this variant: itself unless it is a replacement."""
        return slot_of({"replace": self.replace}).get(source, source)


def select_variant(manifest: dict[str, Any], variant: str) -> Selection:
    """The shards and epochs of ``variant`` in a run's ``manifest`` (``KeyError`` naming the known variants)."""
    variants = manifest.get("variants", {})
    if variant not in variants:
        raise KeyError(f"variant {variant!r} not in this run (has: {', '.join(sorted(variants)) or 'none'})")
    spec = variants[variant]
    shards = [s for s in manifest.get("shards", []) if shard_in_variant(s, spec)]
    sources = sorted({s["source"] for s in shards})
    return Selection(variant=variant, groups=list(spec.get("groups") or []), shards=shards,
                     weights=variant_weights(spec, sources), replace=replacements(spec))


def replacement_volumes(manifest: dict[str, Any], variant: str) -> list[dict[str, Any]]:
    """For each replaced slot of ``variant``: documents and bytes of the slot before the replacement (the slot
    source's own shards in the variant's groups) and after it (what the slot holds now), with the sources."""
    sel = select_variant(manifest, variant)
    groups = set(sel.groups)
    out = []
    for slot, names in sorted(sel.replace.items()):
        before = [s for s in manifest.get("shards", []) if s.get("source") == slot and s.get("group") in groups]
        after = [s for s in sel.shards if sel.slot(s["source"]) == slot]
        out.append({"slot": slot, "sources": names, "epochs": {n: sel.weights.get(n, DEFAULT_EPOCHS) for n in names},
                    "before_docs": sum(s.get("docs", 0) for s in before),
                    "before_bytes": sum(s.get("bytes", 0) for s in before),
                    "after_docs": sum(s.get("docs", 0) for s in after),
                    "after_bytes": sum(s.get("bytes", 0) for s in after)})
    return out
