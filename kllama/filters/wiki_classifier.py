"""LLaMA's last CommonCrawl filter: a linear classifier "page referenced by Wikipedia" vs "random page".

The model is a fastText supervised model with labels ``__label__wiki`` / ``__label__cc`` (train one with
``kllama classifier train``); ``wiki_prob`` is its probability of ``__label__wiki`` on the text with newlines
replaced by spaces. Documents with ``wiki_prob < threshold`` are dropped as ``wiki_classifier``.
LLaMA's wording ("discarded pages not classified as references") implies 0.5; RedPajama used 0.25.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Step


@register
class WikiReferenceClassifier(Step):
    """Keep documents with ``wiki_prob >= threshold``; column ``wiki_prob``; drop ``wiki_classifier``."""

    name = "wiki_classifier"
    drop_reasons = ("wiki_classifier",)
    columns = {"wiki_prob": pa.float32()}

    def __init__(self, model: str = "models:wiki_classifier.bin", threshold: float = 0.5,
                 batch_size: int = 2048) -> None:
        self.model_spec = model
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            import fasttext

            from kllama.models import resolve_model

            fasttext.FastText.eprint = lambda *a, **k: None
            self._model = fasttext.load_model(str(resolve_model(self.model_spec)))
            if "__label__wiki" not in self._model.get_labels():
                raise ValueError(f"{self.model_spec}: not a wiki-reference classifier (no __label__wiki)")
        return self._model

    def wiki_prob(self, texts: list[str]) -> list[float]:
        """Probability of ``__label__wiki`` for each text."""
        labels, probs = self.model.predict([t.replace("\n", " ") for t in texts], k=2)
        out = []
        for labs, ps in zip(labels, probs, strict=True):
            p = 0.0
            for lab, pr in zip(labs, ps, strict=False):
                if lab == "__label__wiki":
                    p = float(pr)
            out.append(min(1.0, p))
        return out

    def process(self, docs: list[Document], ledger: Ledger) -> list[Document]:
        out = []
        for start in range(0, len(docs), self.batch_size):
            batch = docs[start:start + self.batch_size]
            for doc, p in zip(batch, self.wiki_prob([d.text for d in batch]), strict=True):
                if p < self.threshold:
                    ledger.drop("wiki_classifier", 1, doc.nbytes, doc=doc)
                    continue
                doc.fields["wiki_prob"] = round(p, 4)
                out.append(doc)
        return out
