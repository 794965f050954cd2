"""The arXiv LaTeX cleaning step (logic in :mod:`kllama.latex`)."""

from __future__ import annotations

from collections import Counter

from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Mapper
from kllama.text.latex_clean import clean_latex


@register
class LatexClean(Mapper):
    """Clean flattened LaTeX papers as LLaMA did (see :func:`kllama.text.latex_clean.clean_latex`).

    Drops: ``no_section``, ``macro_expansion_limit``, ``empty_after_clean``, ``too_short`` (fewer than
    ``min_chars`` characters left). Counters: ``macro_defs``, ``macro_expansions``, ``macro_recursion``,
    ``bibliography_removed``, ...
    """

    name = "latex_clean"
    drop_reasons = ("no_section", "macro_expansion_limit", "empty_after_clean", "too_short")

    def __init__(self, keep_abstract: bool = False, keep_appendix: bool = True, expand_macros: bool = True,
                 max_depth: int = 16, max_growth: float = 4.0, min_budget: int = 1 << 20,
                 min_chars: int = 1) -> None:
        self.kwargs = dict(keep_abstract=keep_abstract, keep_appendix=keep_appendix, expand=expand_macros,
                           max_depth=max_depth, max_growth=max_growth, min_budget=min_budget)
        self.min_chars = min_chars

    def transform(self, doc: Document, ledger: Ledger) -> Document | str:
        stats: Counter = Counter()
        text, reason = clean_latex(doc.text, stats=stats, **self.kwargs)
        for k, v in stats.items():
            ledger.count(k, v)
        if reason is None and len(text.strip()) < self.min_chars:
            reason = "too_short"
        if reason is not None:
            return reason
        doc.text = text
        return doc
