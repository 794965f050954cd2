"""Mix by token budget: each source's epochs from the token store's counts, so that a variant of ``N`` tokens
takes LLaMA's Table 1 sampling proportions.

LLaMA Table 1 (sampling proportion of the 1.4T training tokens): CommonCrawl 67%, C4 15%, GitHub 4.5%,
Wikipedia 4.5%, Books 4.5%, ArXiv 2.5%, StackExchange 2%. For a budget ``N``:

* a source with an explicit share in the variant (``proportions = { maths = 3.0 }`` in the recipe, percent of
  ``N``) gets ``N * share``;
* a source without a Table 1 share (G2's extras) keeps the variant's epochs: ``epochs * store tokens``;
* the Table 1 sources share the rest in Table 1's ratios, renormalized over those the store holds (a source
  with no tokens, e.g. books in G3, gives its share to the others, said in the notes).

``epochs = target tokens / store tokens`` per source; ``copies_for`` then samples (``floor`` + a hashed
fraction), so the achieved mix differs from the target by sampling noise only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: LLaMA-1 Table 1 sampling proportions, percent of the training tokens
LLAMA_PROPORTIONS: dict[str, float] = {
    "commoncrawl": 67.0, "c4": 15.0, "github": 4.5, "wikipedia": 4.5, "books": 4.5, "arxiv": 2.5,
    "stackexchange": 2.0,
}
NAMED_PROPORTIONS = {"llama": LLAMA_PROPORTIONS}


def parse_proportions(value: str | dict[str, float] | None) -> dict[str, float]:
    """``"llama"`` (Table 1, the default), ``"name=pct,name=pct"`` or a dict; percent values."""
    if value is None:
        return dict(LLAMA_PROPORTIONS)
    if isinstance(value, dict):
        out = {str(k): float(v) for k, v in value.items()}
    elif value in NAMED_PROPORTIONS:
        return dict(NAMED_PROPORTIONS[value])
    else:
        out = {}
        for part in value.split(","):
            name, sep, pct = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"--proportions: {part!r} is not NAME=PERCENT (or use one of "
                                 f"{', '.join(NAMED_PROPORTIONS)})")
            out[name.strip()] = float(pct)
    if any(v < 0 for v in out.values()) or not sum(out.values()) > 0:
        raise ValueError(f"--proportions must be non-negative with a positive sum: {out}")
    return out


@dataclass
class BudgetMix:
    """Epochs and target tokens per source for a token budget."""

    budget: int
    epochs: dict[str, float]
    target: dict[str, float]
    #: the proportions of the Table 1 sources (percent, as given) and the explicit shares
    proportions: dict[str, float]
    explicit: dict[str, float]
    notes: list[str] = field(default_factory=list)

    def table(self, achieved: dict[str, int]) -> list[dict[str, float | str | None]]:
        """Per source: store epochs, target and achieved share of the output, and the given proportion."""
        total = sum(achieved.values()) or 1
        rows = []
        for name in sorted(set(self.target) | set(achieved), key=lambda n: (-self.target.get(n, 0), n)):
            rows.append({"source": name, "epochs": round(self.epochs.get(name, 0.0), 6),
                         "target_pct": round(100 * self.target.get(name, 0) / self.budget, 3),
                         "achieved_pct": round(100 * achieved.get(name, 0) / total, 3),
                         "tokens": int(achieved.get(name, 0)),
                         "table1_pct": self.proportions.get(name, self.explicit.get(name))})
        return rows


def budget_epochs(store_tokens: dict[str, int], budget: int, proportions: dict[str, float],
                  weights: dict[str, float], explicit: dict[str, float] | None = None,
                  default_epochs: float = 1.0) -> BudgetMix:
    """Epochs per source so that the variant holds about ``budget`` tokens in ``proportions`` (see module doc).

    ``store_tokens``: tokens per source in the store for the variant's shards; ``weights``: the variant's
    epochs (kept for sources without a proportion); ``explicit``: percent of the budget for named sources."""
    if budget <= 0:
        raise ValueError("--tokens must be positive")
    explicit = {k: float(v) for k, v in (explicit or {}).items() if k not in proportions}
    notes: list[str] = []
    target: dict[str, float] = {}
    for name, pct in explicit.items():
        target[name] = budget * pct / 100.0
    for name, t in store_tokens.items():
        if name not in proportions and name not in explicit:
            target[name] = weights.get(name, default_epochs) * t
    present = {n: p for n, p in proportions.items() if store_tokens.get(n, 0) > 0 and p > 0}
    missing = sorted(n for n, p in proportions.items() if p > 0 and n not in present)
    if missing:
        notes.append(f"no tokens in the store for {', '.join(missing)}: their share goes to the other "
                     "Table 1 sources in proportion")
    rest = budget - sum(target.values())
    if present:
        if rest <= 0:
            raise ValueError(f"a budget of {budget} tokens leaves nothing for {', '.join(sorted(present))} after "
                             f"the other sources' {int(sum(target.values()))} tokens; raise --tokens")
        norm = sum(present.values())
        for name, pct in present.items():
            target[name] = rest * pct / norm
    elif rest > 0:
        notes.append("no Table 1 source in the store: the budget is not reached")
    epochs = {}
    for name, t in target.items():
        have = store_tokens.get(name, 0)
        if have > 0:
            epochs[name] = t / have
        else:
            epochs[name] = 0.0
            if t > 0:
                notes.append(f"{name}: a share of {t:.0f} tokens but none in the store")
    return BudgetMix(budget=int(budget), epochs=epochs, target=target, proportions=dict(proportions),
                     explicit=explicit, notes=notes)


def format_mix(mix: dict[str, object]) -> str:
    """The achieved mix (a sidecar's ``mix``) as a table against the target and the given proportions."""
    lines = [f"mix for a budget of {mix['budget']:,} tokens (target = the budget in the given proportions):",
             f"  {'source':<16}{'epochs':>10}{'target %':>10}{'achieved %':>12}{'Table 1 %':>11}{'tokens':>16}"]
    for r in mix["sources"]:  # type: ignore[union-attr]
        t1 = r["table1_pct"]
        t1s = "-" if t1 is None else f"{t1:g}"
        lines.append(f"  {r['source']:<16}{r['epochs']:>10.4f}{r['target_pct']:>10.2f}{r['achieved_pct']:>12.2f}"
                     f"{t1s:>11}{r['tokens']:>16,}")
    lines += [f"  {src} fills the {slot} slot" for src, slot in sorted(mix.get("slots", {}).items())]  # type: ignore[union-attr]
    lines += [f"  note: {n}" for n in mix.get("notes", [])]  # type: ignore[union-attr]
    return "\n".join(lines)
