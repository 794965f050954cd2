"""MEDLINE/PubMed baseline and update files (``pubmedYYnNNNN.xml.gz``) -> one document per abstract.

Streamed and safe: the gzip file is fed in chunks to lxml's pull parser through :mod:`kllama.formats.safexml`
(the ``<!DOCTYPE PubmedArticleSet ... "http://dtd.nlm.nih.gov/...">`` line is never fetched, no DTD is loaded,
entity declarations are refused), only ``<PubmedArticle>``, ``<PubmedBookArticle>`` and ``<DeleteCitation>``
elements are built, and each one is freed once handled, so memory is bounded by one record.

A document is the title and the abstract: ``{ArticleTitle}\\n\\n{abstract}``; a structured abstract keeps each
section's label as a heading line (``BACKGROUND``, then its paragraph; ``UNLABELLED`` has none). A translated
title's brackets (``[The pineal body].``) are removed. The main ``<Abstract>`` is English in MEDLINE (other
languages go to ``<OtherAbstract>``, not read), so ``lang`` is ``en``; the article's own languages are in ``meta``.

``meta``: ``pmid``, ``pmid_version``, ``title``, ``journal``, ``journal_abbrev``, ``year``, ``languages``
(ISO 639-2, as PubMed writes them), ``publication_types``, ``mesh`` (descriptor names), ``keywords``, ``doi``,
``file`` and ``record`` (position in the file, for the update order).

Drops (one record each): ``pubmed_no_abstract``, ``pubmed_language`` (no article language among ``languages``),
``pubmed_retracted`` (publication type "Retracted Publication" or a ``RetractionIn`` correction link),
``pubmed_notice`` (errata and retraction notices: "Published Erratum", "Retraction of Publication", ...),
``pubmed_no_pmid``, ``truncated_file`` (the record a truncated input cut: never a document) and ``malformed_xml``
(the record open where the XML stops being well formed); the break is listed in the ledger's ``quarantined``
entries with ``partial = "true"`` and the records before it are kept.

Update files: every ``<DeleteCitation>`` PMID becomes an empty *marker* row (``meta.delete = true``) that the
``pubmed_update`` global step (keyed by PMID) turns into the removal of the earlier versions; it also keeps only
the newest version of a PMID seen in several files. Put ``pubmed_update`` first in the pipeline.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import GlobalStep, Source
from kllama.formats.jats import inline_text, local_name
from kllama.formats.safexml import XmlStream, stream_file_events

#: records the reader builds (everything else is only scanned)
RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
#: publication types that make a record a retracted paper
RETRACTED_TYPES = ("Retracted Publication",)
#: publication types of notices, not papers
NOTICE_TYPES = ("Published Erratum", "Retraction of Publication", "Expression of Concern",
                "Retraction Notice", "Erratum")

_FILE_ORDER = re.compile(r"pubmed(\d{2})n(\d+)", re.I)
_YEAR = re.compile(r"(1[5-9]\d\d|20\d\d)")
_BRACKETED = re.compile(r"^\[(.*)\](\.?)$", re.S)

#: ISO 639-1 of the two-letter codes that recipes may use for PubMed's ISO 639-2/B languages
ISO639_1_TO_2 = {"en": "eng", "de": "ger", "fr": "fre", "ru": "rus", "ja": "jpn", "it": "ita", "es": "spa",
                 "pl": "pol", "cs": "cze", "ro": "rum", "pt": "por", "zh": "chi", "nl": "dut", "sv": "swe",
                 "da": "dan", "no": "nor", "fi": "fin", "hu": "hun", "tr": "tur", "ko": "kor", "el": "gre",
                 "he": "heb", "ar": "ara", "uk": "ukr", "bg": "bul", "hr": "hrv", "sl": "slv", "sr": "srp",
                 "ca": "cat", "fa": "per", "af": "afr"}


def file_order_key(name: str) -> str:
    """Sort key of a PubMed file by its place in the series: ``pubmed24n1220.xml.gz`` -> ``"24:00001220"``
    (baseline then update files of one year; later years after earlier ones); other names sort by name."""
    m = _FILE_ORDER.search(os.path.basename(name))
    if m:
        return f"{m.group(1)}:{int(m.group(2)):08d}"
    return f"~{os.path.basename(name)}"


_WS = re.compile(r"\s+")


def _text(el: Any) -> str:
    """Inline text of an element (fast path for an element without children)."""
    if el is None:
        return ""
    if len(el) == 0:
        return _WS.sub(" ", el.text or "").strip()
    return inline_text(el)


def _year(article: Any, citation: Any) -> int | None:
    """Publication year: ``PubDate/Year``, else the first year in ``MedlineDate``, else ``ArticleDate``."""
    pubdate = article.find("Journal/JournalIssue/PubDate") if article is not None else None
    if pubdate is None and citation is not None:
        pubdate = citation.find("Book/PubDate")
    if pubdate is not None:
        for name in ("Year", "MedlineDate"):
            m = _YEAR.search(pubdate.findtext(name) or "")
            if m:
                return int(m.group(1))
    for holder in (article, citation):
        if holder is not None:
            m = _YEAR.search(holder.findtext("ArticleDate/Year") or "")
            if m:
                return int(m.group(1))
    return None


def abstract_text(abstract: Any) -> str:
    """Paragraphs of an ``<Abstract>``; a labelled section gets its label as a heading line."""
    parts = []
    for at in abstract.iterfind("AbstractText"):
        body = _text(at)
        if not body:
            continue
        label = (at.get("Label") or "").strip()
        if label and label.upper() not in ("UNLABELLED", "UNLABELED"):
            parts.append(f"{label}\n{body}")
        else:
            parts.append(body)
    return "\n\n".join(parts)


def _version(pmid_el: Any) -> int:
    v = (pmid_el.get("Version") or "1") if pmid_el is not None else "1"
    return int(v) if v.isdigit() else 1


def parse_record(elem: Any) -> dict[str, Any] | None:
    """The fields of a ``<PubmedArticle>``/``<PubmedBookArticle>`` element (None without a citation).

    PubMed XML has no namespaces, so lxml's own ``find`` paths are used (fast)."""
    book = elem.tag == "PubmedBookArticle"
    citation = elem.find("BookDocument" if book else "MedlineCitation")
    if citation is None:
        return None
    pmid_el = citation.find("PMID")
    article = citation if book else citation.find("Article")
    rec: dict[str, Any] = {"pmid": (pmid_el.text or "").strip() if pmid_el is not None else "",
                           "pmid_version": _version(pmid_el)}
    title_el = article.find("ArticleTitle") if article is not None else None
    if title_el is None and book:
        title_el = citation.find("Book/BookTitle")
    title = _text(title_el)
    m = _BRACKETED.match(title)
    rec["title_translated"] = bool(m)
    rec["title"] = (m.group(1) + m.group(2)).strip() if m else title
    abstract = article.find("Abstract") if article is not None else None
    rec["abstract"] = abstract_text(abstract) if abstract is not None else ""
    rec["journal"] = _text(article.find("Journal/Title")) or None if article is not None else None
    rec["journal_abbrev"] = _text(citation.find("MedlineJournalInfo/MedlineTA")) or None
    rec["year"] = _year(article, citation)
    if article is not None:
        rec["languages"] = [t for t in (_text(x) for x in article.iterfind("Language")) if t]
        rec["publication_types"] = [_text(x) for x in article.iterfind("PublicationTypeList/PublicationType")] \
            or [_text(x) for x in article.iterfind("PublicationType")]  # BookDocument lists them directly
    else:
        rec["languages"], rec["publication_types"] = [], []
    rec["mesh"] = [_text(x) for x in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")]
    rec["keywords"] = [t for t in (_text(k) for k in citation.iterfind("KeywordList/Keyword")) if t]
    rec["correction_links"] = sorted({c.get("RefType", "") for c in
                                      citation.iterfind("CommentsCorrectionsList/CommentsCorrections")})
    doi = None
    if article is not None:
        for eid in article.iterfind("ELocationID"):
            if eid.get("EIdType") == "doi":
                doi = _text(eid)
    if doi is None:
        for aid in elem.iterfind(("PubmedBookData" if book else "PubmedData") + "/ArticleIdList/ArticleId"):
            if aid.get("IdType") == "doi":
                doi = _text(aid)
                break
    rec["doi"] = doi
    rec["kind"] = "book" if book else "article"
    return rec


@register
class PubMedSource(Source):
    """Reads PubMed/MEDLINE XML (baseline and update files); one document per title + abstract.

    Options: ``languages`` (article languages to keep, ISO 639-2 such as ``eng`` or 639-1 such as ``en``;
    None = all), ``drop_retracted``, ``drop_notices`` (errata/retraction notices), ``notice_types`` (the
    publication types that are notices), ``min_abstract_chars``, ``deletions`` (emit marker rows for
    ``<DeleteCitation>``; needs the ``pubmed_update`` step), ``chunk_bytes``.
    """

    name = "pubmed"
    patterns = ("pubmed*.xml.gz", "pubmed*.xml", "*.xml.gz")
    drop_reasons: ClassVar[tuple[str, ...]] = (
        "pubmed_no_abstract", "pubmed_language", "pubmed_retracted", "pubmed_notice", "pubmed_no_pmid",
        "truncated_file", "malformed_xml")

    def __init__(self, languages: list[str] | None = None, drop_retracted: bool = True, drop_notices: bool = True,
                 notice_types: list[str] | None = None, min_abstract_chars: int = 1, deletions: bool = True,
                 chunk_bytes: int = 1 << 20, **options: Any) -> None:
        super().__init__(**options)
        self.languages = {ISO639_1_TO_2.get(x.lower(), x.lower()) for x in languages} if languages else None
        self.drop_retracted = drop_retracted
        self.drop_notices = drop_notices
        self.notice_types = set(notice_types if notice_types is not None else NOTICE_TYPES)
        self.min_abstract_chars = int(min_abstract_chars)
        self.deletions = deletions
        self.chunk_bytes = int(chunk_bytes)

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        opener = gzip.open if path.endswith(".gz") else open
        errors: list[str] = []
        position = 0
        seen: dict[str, int] = {}
        stream = XmlStream(events=("end",), tag=list(RECORD_TAGS))
        with opener(path, "rb") as f:
            for _ev, elem in stream_file_events(f, stream, errors, self.chunk_bytes):
                name = local_name(elem.tag)
                position += 1
                if name == "DeleteCitation":
                    yield from self._deletions(elem, base, position, ledger)
                else:
                    doc = self._record(elem, base, position, seen, ledger)
                    if doc is not None:
                        yield doc
                XmlStream.release(elem)
        for error in errors:
            kind = error.split(":", 1)[0]
            # the record the break cut is a counted drop, never a document
            cut = sum(1 for name in stream.unfinished if name in ("PubmedArticle", "PubmedBookArticle"))
            if cut:
                ledger.drop("truncated_file" if kind == "truncated" else "malformed_xml", cut)
            if kind == "truncated":
                ledger.count("truncated_file:" + ("compressed" if "compressed input" in error else "xml"))
            ledger.count(f"pubmed_input_error:{kind}")
            ledger.quarantined.append({"partition": "", "inputs": path, "error": error, "partial": "true"})

    def _deletions(self, elem: Any, base: str, position: int, ledger: Ledger) -> Iterator[Document]:
        for pmid_el in elem.iterfind("PMID"):
            pmid = (pmid_el.text or "").strip()
            if not pmid.isdigit():
                continue
            version = _version(pmid_el)
            ledger.count("pubmed_delete_citations")
            if not self.deletions:
                continue
            meta = {"pmid": int(pmid), "pmid_version": version, "delete": True, "file": base,
                    "file_order": file_order_key(base), "record": position}
            yield Document(id=make_id("pubmed", f"{base}:delete:{pmid}.{version}"), text="",
                           source=self.source_name, meta=meta)

    def _record(self, elem: Any, base: str, position: int, seen: dict[str, int], ledger: Ledger
                ) -> Document | None:
        rec = parse_record(elem)
        if rec is None or not rec["pmid"].isdigit():
            ledger.drop("pubmed_no_pmid")
            return None
        nbytes = len(rec["abstract"].encode("utf-8")) + len(rec["title"].encode("utf-8"))
        if self.drop_notices and self.notice_types.intersection(rec["publication_types"]):
            ledger.drop("pubmed_notice", 1, nbytes)
            return None
        if self.drop_retracted and (set(RETRACTED_TYPES).intersection(rec["publication_types"])
                                    or "RetractionIn" in rec["correction_links"]):
            ledger.drop("pubmed_retracted", 1, nbytes)
            return None
        if len(rec["abstract"]) < max(1, self.min_abstract_chars):
            ledger.drop("pubmed_no_abstract", 1, nbytes)
            return None
        if self.languages is not None and not self.languages.intersection(x.lower() for x in rec["languages"]):
            ledger.drop("pubmed_language", 1, nbytes)
            return None
        text = f"{rec['title']}\n\n{rec['abstract']}" if rec["title"] else rec["abstract"]
        pmid = rec["pmid"]
        key = f"{pmid}.{rec['pmid_version']}"
        seen[key] = seen.get(key, 0) + 1
        locator = f"{base}:{key}" + (f":{seen[key]}" if seen[key] > 1 else "")
        meta = {k: rec[k] for k in ("pmid_version", "title", "journal", "journal_abbrev", "year", "languages",
                                    "publication_types", "mesh", "keywords", "doi", "kind")}
        meta.update(pmid=int(pmid), file=base, file_order=file_order_key(base), record=position)
        if rec["title_translated"]:
            meta["title_translated"] = True
        return Document(id=make_id("pubmed", locator), text=text, source=self.source_name,
                        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/", lang="en", meta=meta)


@register
class PubMedUpdate(GlobalStep):
    """PubMed's update semantics over a whole run of baseline + update files, keyed by PMID.

    Events of one PMID are ordered by (file order, position in file): a ``<DeleteCitation>`` marker removes the
    records of that PMID and version that came before it; of the records left, the newest wins — highest PMID
    version, then latest file, then latest position. Drops: ``pubmed_superseded`` (an older version),
    ``pubmed_deleted`` (removed by a later DeleteCitation), ``pubmed_delete_marker`` (the marker rows
    themselves, which are not documents).

    ``key_field``/``version_field`` name the ``meta`` fields used (``pmid``/``pmid_version``; the ``pmc``
    source uses ``key_field = "pmc_num"`` so that a newer package's copy of an article replaces the older one).
    Rows without the key are left alone. ``meta.file_order`` and ``meta.record`` give the order.
    """

    name = "pubmed_update"
    drop_reasons: ClassVar[tuple[str, ...]] = ("pubmed_superseded", "pubmed_deleted", "pubmed_delete_marker")

    def __init__(self, key_field: str = "pmid", version_field: str = "pmid_version", num_buckets: int = 16) -> None:
        self.key_field = key_field
        self.version_field = version_field
        self.num_buckets = int(num_buckets)

    def emit_keys(self, table: pa.Table) -> pa.Table:
        metas = [json.loads(m) if m else {} for m in table.column("meta").to_pylist()]
        rows = [i for i, m in enumerate(metas) if isinstance(m.get(self.key_field), int)]
        sel = [metas[i] for i in rows]
        return pa.table({
            "key": pa.array([m[self.key_field] for m in sel], pa.uint64()),
            "row": pa.array(rows, pa.int64()),
            "version": pa.array([int(m.get(self.version_field, 1) or 1) for m in sel], pa.int32()),
            "file_order": pa.array([str(m.get("file_order") or file_order_key(m.get("file", ""))) for m in sel],
                                   pa.string()),
            "record": pa.array([int(m.get("record", 0) or 0) for m in sel], pa.int64()),
            "delete": pa.array([bool(m.get("delete")) for m in sel], pa.bool_()),
            "id": table.column("id").take(pa.array(rows, pa.int64())),
        })

    def resolve(self, keys: pa.Table) -> pa.Table:
        out: dict[str, list] = {"part": [], "row": [], "reason": []}
        if keys.num_rows:
            cols = {c: keys.column(c).to_pylist() for c in ("key", "part", "row", "version", "file_order",
                                                              "record", "delete", "id")}
            groups: dict[int, list[int]] = {}
            for i, k in enumerate(cols["key"]):
                groups.setdefault(k, []).append(i)
            for k in sorted(groups):
                events = sorted(groups[k], key=lambda i: (cols["file_order"][i], cols["record"][i],
                                                          cols["delete"][i], cols["id"][i]))
                alive: list[int] = []
                for i in events:
                    if cols["delete"][i]:
                        v = cols["version"][i]
                        for j in [j for j in alive if cols["version"][j] == v]:
                            out["part"].append(cols["part"][j])
                            out["row"].append(cols["row"][j])
                            out["reason"].append("pubmed_deleted")
                            alive.remove(j)
                        out["part"].append(cols["part"][i])
                        out["row"].append(cols["row"][i])
                        out["reason"].append("pubmed_delete_marker")
                    else:
                        alive.append(i)
                if len(alive) > 1:
                    newest = max(alive, key=lambda i: (cols["version"][i], cols["file_order"][i],
                                                       cols["record"][i], cols["id"][i]))
                    for j in alive:
                        if j != newest:
                            out["part"].append(cols["part"][j])
                            out["row"].append(cols["row"][j])
                            out["reason"].append("pubmed_superseded")
        return pa.table({"part": pa.array(out["part"], pa.int32()), "row": pa.array(out["row"], pa.int64()),
                         "reason": pa.array(out["reason"], pa.string())})

    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        if decisions.num_rows == 0:
            return table
        reasons = np.array(decisions.column("reason").to_pylist(), dtype=object)
        rows = decisions.column("row").to_numpy()
        kept = table
        # drop reason by reason: row numbers refer to the partition batch as given, so work on a mask
        mask_all = np.zeros(table.num_rows, dtype=bool)
        for reason in self.drop_reasons:
            sel = rows[reasons == reason]
            if len(sel):
                mask = np.zeros(table.num_rows, dtype=bool)
                mask[sel] = True
                lengths = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
                ledger.drop(reason, int(mask.sum()), int(lengths[mask].sum()))
                mask_all |= mask
        if mask_all.any():
            kept = table.filter(pa.array(~mask_all))
        return kept
