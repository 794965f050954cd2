"""PubMed Central Open Access full texts in JATS XML: loose ``.nxml``/``.xml`` files and the bulk packages
``oa_comm_xml.*.tar.gz`` / ``oa_noncomm_xml.*.tar.gz`` (read as a stream, nothing extracted to disk).

Every article is untrusted XML: its bytes are read with a size limit (``max_article_bytes``; a larger tar member
is skipped unread), the prolog is checked for entity declarations (refused), and lxml parses it with no DTD, no
network and no entity expansion (:mod:`kllama.formats.safexml`). Text: :func:`kllama.formats.jats.jats_text`
(title, abstracts, body sections in order with their headings, figure and table captions, formulas as TeX or the
MathML's alternative text; references, acknowledgements, author notes, footnotes, supplementary material and the
back matter removed; citation ``<xref>`` markers removed; table cells dropped unless ``tables = "rows"``).

The licence (``<permissions><license>``: its URL, ``license-type`` or text; old articles only have a
``<copyright-statement>``) is normalized (``cc-by``, ``cc-by-nc``, ``cc0``, ``public-domain``, ...) into
``meta.license``; the ``licenses`` option keeps only the licence types listed (e.g. the commercial-use ones).

Drops: ``pmc_xml_error`` (not well formed, an undefined entity), ``pmc_unsafe_xml`` (entity declarations),
``pmc_article_too_large``, ``pmc_license_excluded``, ``pmc_license_unknown``, ``pmc_notice`` (corrections,
retractions, expressions of concern), ``pmc_no_body`` (only front matter: scanned back issues, abstracts),
``pmc_too_short``, ``truncated_file`` (a broken tar.gz: the articles before the break are kept).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from lxml import etree

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jats import article_parts, inline_text, jats_text, local_name, normalize_license
from kllama.formats.safexml import PROLOG_BYTES, UnsafeXMLError, check_prolog
from kllama.formats.tarstream import TruncatedArchive, iter_tar

#: A batch of loose article files travels as one partition unit: the paths joined by this separator.
BATCH_SEP = "\n"
#: article types that are notices, not papers
NOTICE_TYPES = ("correction", "retraction", "expression-of-concern", "addendum", "removal", "correction-forward")
#: the commercial-use Open Access licences
COMMERCIAL_LICENSES = ("cc-by", "cc-by-sa", "cc0", "public-domain")

_PACKAGE = re.compile(r"(oa_comm|oa_noncomm|oa_other)", re.I)
_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d-[01]\d-[0-3]\d)(?!\d)")
_YEAR = re.compile(r"(1[6-9]\d\d|20\d\d)")
_XLINK = "{http://www.w3.org/1999/xlink}href"


def safe_parser() -> etree.XMLParser:
    """lxml parser for untrusted JATS: no DTD, no network, no entity expansion, no huge trees."""
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False,
                           remove_comments=True, remove_pis=True, huge_tree=False)


def parse_article(data: bytes) -> etree._Element:
    """The root of a JATS file's bytes; raises :class:`UnsafeXMLError` or ``etree.XMLSyntaxError``."""
    check_prolog(data[:PROLOG_BYTES])
    return etree.fromstring(data, safe_parser())


def file_order_key(name: str) -> str:
    """Order of PMC packages for updates: baseline before incremental packages, by the date in the name."""
    base = os.path.basename(name)
    m = _DATE.search(base)
    date = m.group(1) if m else "0000-00-00"
    return f"{date}:{1 if 'incr' in base else 0}:{base}"


def _first(el: Any, name: str) -> Any:
    if el is None:
        return None
    return next((c for c in el if local_name(c.tag) == name), None)


def article_meta(root: etree._Element) -> dict[str, Any]:
    """Identifiers, journal, year, article type and licence of a JATS article."""
    parts = article_parts(root)
    meta_el, front = parts["meta"], parts["front"]
    out: dict[str, Any] = {"article_type": root.get("article-type") or None}
    ids = {}
    for aid in (c for c in meta_el if local_name(c.tag) == "article-id") if meta_el is not None else []:
        ids[aid.get("pub-id-type", "")] = (aid.text or "").strip()
    pmc = ids.get("pmc") or ids.get("pmcid") or ""
    out["pmcid"] = ("PMC" + pmc) if pmc.isdigit() else (pmc or None)
    out["pmc_num"] = int(pmc[3:] if pmc.upper().startswith("PMC") else pmc) if \
        (pmc[3:] if pmc.upper().startswith("PMC") else pmc).isdigit() else None
    out["pmid"] = int(ids["pmid"]) if ids.get("pmid", "").isdigit() else None
    out["doi"] = ids.get("doi") or None
    jm = _first(front, "journal-meta")
    jt = None
    if jm is not None:
        jtg = _first(jm, "journal-title-group")
        jt = _first(jtg, "journal-title") if jtg is not None else _first(jm, "journal-title")
        if jt is None:
            jt = next((c for c in jm if local_name(c.tag) == "journal-id" and c.get("journal-id-type") == "nlm-ta"),
                      None)
    out["journal"] = inline_text(jt) or None if jt is not None else None
    year = None
    for pd in (c for c in meta_el if local_name(c.tag) == "pub-date") if meta_el is not None else []:
        m = _YEAR.search(inline_text(_first(pd, "year")))
        if m:
            y = int(m.group(1))
            year = y if year is None else min(year, y)
    out["year"] = year
    perm = _first(meta_el, "permissions")
    lic = _first(perm, "license")
    url = lic.get(_XLINK) if lic is not None else None
    lic_type = lic.get("license-type") if lic is not None else None
    texts = []
    if lic is not None:
        for x in lic.iter():
            name = local_name(x.tag)
            if name == "license_ref" and (x.text or "").strip():
                url = url or x.text.strip()
            if name == "ext-link" and x.get(_XLINK):
                url = url or x.get(_XLINK)
        texts.append(inline_text(lic))
    stmt = _first(perm, "copyright-statement") if perm is not None else None
    if stmt is None and meta_el is not None:
        stmt = _first(meta_el, "copyright-statement")
    if stmt is not None:
        texts.append(inline_text(stmt))
    license_text = " ".join(t for t in texts if t)
    out["license"] = normalize_license(url, lic_type, license_text)
    out["license_url"] = url
    out["lang"] = root.get("{http://www.w3.org/XML/1998/namespace}lang") or "en"
    return out


@register
class PMCSource(Source):
    """Reads PMC Open Access JATS articles; one document per article.

    Options: ``licenses`` (normalized licence names to keep; None = every licence, unknown ones too),
    ``keep_unknown_license`` (when ``licenses`` is set), ``tables`` (``drop``: captions only; ``rows``: cells
    as ``a | b`` lines), ``notice_types`` (article types dropped), ``require_body``, ``min_chars``,
    ``max_article_bytes``, ``articles_per_partition`` (loose files batched into one partition).
    """

    name = "pmc"
    patterns = ("*.nxml", "*.xml", "*.tar.gz", "*.tgz")
    drop_reasons: ClassVar[tuple[str, ...]] = (
        "pmc_xml_error", "pmc_unsafe_xml", "pmc_article_too_large", "pmc_license_excluded", "pmc_license_unknown",
        "pmc_notice", "pmc_no_body", "pmc_too_short", "truncated_file")

    def __init__(self, licenses: list[str] | None = None, keep_unknown_license: bool = False, tables: str = "drop",
                 notice_types: list[str] | None = None, require_body: bool = True, min_chars: int = 200,
                 max_article_bytes: int = 64 << 20, articles_per_partition: int = 256, **options: Any) -> None:
        super().__init__(**options)
        if tables not in ("drop", "rows"):
            raise ValueError(f"pmc tables must be 'drop' or 'rows', not {tables!r}")
        self.licenses = {x.lower() for x in licenses} if licenses is not None else None
        self.keep_unknown_license = keep_unknown_license
        self.tables = tables
        self.notice_types = set(notice_types if notice_types is not None else NOTICE_TYPES)
        self.require_body = require_body
        self.min_chars = int(min_chars)
        self.max_article_bytes = int(max_article_bytes)
        self.articles_per_partition = max(1, int(articles_per_partition))

    def list_inputs(self, paths: list[str]) -> list[str]:
        """Each package is a partition; loose article files are batched ``articles_per_partition`` at a time."""
        files = [f for f in super().list_inputs(paths) if BATCH_SEP not in f]
        packages = [f for f in files if f.endswith((".tar.gz", ".tgz"))]
        loose = [f for f in files if not f.endswith((".tar.gz", ".tgz"))]
        batches = [BATCH_SEP.join(loose[i: i + self.articles_per_partition])
                   for i in range(0, len(loose), self.articles_per_partition)]
        return sorted(packages + batches)

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        if path.endswith((".tar.gz", ".tgz")) and BATCH_SEP not in path:
            yield from self._package(path, ledger)
            return
        for one in path.split(BATCH_SEP):
            size = os.path.getsize(one)
            if size > self.max_article_bytes:
                ledger.drop("pmc_article_too_large", 1, size)
                continue
            with open(one, "rb") as f:
                data = f.read(self.max_article_bytes + 1)
            doc = self.article(data, os.path.basename(one), "", ledger)
            if doc is not None:
                yield doc

    def _package(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        record = 0
        try:
            with open(path, "rb") as raw:
                for entry in iter_tar(raw, self.max_article_bytes):
                    if entry.kind in ("dir", "unsafe"):
                        if entry.kind == "unsafe":
                            ledger.count("tar_member_unsafe")
                        continue
                    if not entry.name.endswith((".nxml", ".xml")):
                        ledger.count("pmc_member_skipped")
                        continue
                    if entry.kind == "too_large":
                        ledger.drop("pmc_article_too_large", 1, entry.size)
                        continue
                    record += 1
                    doc = self.article(entry.read(), base, entry.name, ledger, record)
                    if doc is not None:
                        yield doc
        except (TruncatedArchive, OSError) as exc:
            cause = exc.args[0] if isinstance(exc, TruncatedArchive) and exc.args else type(exc).__name__
            ledger.drop("truncated_file")
            ledger.count(f"truncated_file:{cause}")
            ledger.quarantined.append({"partition": "", "inputs": path, "error": f"truncated: {cause}",
                                       "partial": "true"})

    def article(self, data: bytes, file: str, member: str, ledger: Ledger, record: int = 0) -> Document | None:
        """One article's bytes -> a Document, or None after counting a named drop."""
        if len(data) > self.max_article_bytes:
            ledger.drop("pmc_article_too_large", 1, len(data))
            return None
        try:
            root = parse_article(data)
        except UnsafeXMLError:
            ledger.drop("pmc_unsafe_xml", 1, len(data))
            return None
        except (etree.XMLSyntaxError, ValueError):
            ledger.drop("pmc_xml_error", 1, len(data))
            return None
        if local_name(root.tag) != "article":
            ledger.drop("pmc_xml_error", 1, len(data))
            return None
        meta = article_meta(root)
        if meta["article_type"] in self.notice_types:
            ledger.drop("pmc_notice", 1, len(data))
            return None
        if self.licenses is not None:
            if meta["license"] is None and not self.keep_unknown_license:
                ledger.drop("pmc_license_unknown", 1, len(data))
                return None
            if meta["license"] is not None and meta["license"] not in self.licenses:
                ledger.drop("pmc_license_excluded", 1, len(data))
                return None
        text, info = jats_text(root, self.tables)
        nbytes = len(text.encode("utf-8"))
        if self.require_body and not info["has_body"]:
            ledger.drop("pmc_no_body", 1, nbytes)
            return None
        if len(text) < self.min_chars:
            ledger.drop("pmc_too_short", 1, nbytes)
            return None
        for k in ("citations_removed", "formula_tex", "formula_mathml_alttext", "formula_mathml_text",
                  "formula_image_only", "tables", "captions", "back_matter_sections"):
            if info.get(k):
                ledger.count(f"pmc_{k}", info[k])
        lang = meta.pop("lang")
        m = _PACKAGE.search(file)
        meta.update(file=file, member=member or None, package=m.group(1).lower() if m else None,
                    file_order=file_order_key(file), record=record)
        locator = f"{meta['pmcid']}:{file}" if meta["pmcid"] else f"{file}:{member}"
        url = f"https://www.ncbi.nlm.nih.gov/pmc/articles/{meta['pmcid']}/" if meta["pmcid"] else None
        return Document(id=make_id("pmc", locator), text=text, source=self.source_name, url=url, lang=lang,
                        meta=meta)


def read_bytes(data: bytes, **options: Any) -> tuple[Document | None, Ledger]:
    """Convenience for tests and benchmarks: one article's bytes through :class:`PMCSource`."""
    ledger = Ledger()
    return PMCSource(**options).article(data, "inline.nxml", "", ledger), ledger

