"""Wikipedia ``{lang}wiki-{date}-pages-articles*.xml.bz2`` dumps (MediaWiki export-0.10/0.11) -> clean articles.

Streaming and safe: the file is read in chunks (bz2 multistream = concatenated streams, gzip or plain XML,
UTF-8 or UTF-16 with a BOM) into lxml's pull parser with no DTD, no network and no entity expansion
(:mod:`kllama.formats.safexml`); each page is freed once handled. Kept: pages of the main namespace (0) with
wikitext content and no ``<redirect>`` element. The language comes from the dump (``<dbname>``, else the
root's ``xml:lang``, else the file name); namespace names for file/category links come from its
``<siteinfo><namespaces>``. Text is cleaned by :class:`kllama.text.wikitext.WikitextCleaner`.

Drop reasons (one page each): ``wiki_redirect``, ``wiki_not_main_namespace``, ``wiki_not_wikitext``,
``wiki_page_too_large``, ``wiki_no_text``, ``wiki_clean_error``, ``wiki_too_short`` (after cleaning),
``truncated_file`` (the page that was open when the input broke off: a truncated bz2 or a dump that ends
midway; never kept as a document, whatever lxml closes by itself), ``malformed_xml`` (the page open where the
XML stops being well formed). A dump that breaks off keeps the pages before the break; the break is counted
(``wiki_input_error:*``, and ``truncated_file:CAUSE`` for a truncated input, which ``kllama status`` and the
run summary show) and listed in the ledger's ``quarantined`` entries with ``partial = "true"``. A ``dumpstatus.json`` beside the
dump is used to verify the file's sha1/md5 and size; a mismatch, or a prolog declaring entities, raises
(the engine quarantines the file).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from lxml import etree

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.safexml import XmlStream, local_name, stream_file_events
from kllama.text.wikitext import WikitextCleaner, drop_namespace_names

#: LLaMA's 20 Wikipedia languages (arXiv 2302.13971, section 2.1)
LLAMA_LANGUAGES = ("bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu", "it", "nl", "pl", "pt", "ro", "ru",
                   "sl", "sr", "sv", "uk")

_FILE_LANG = re.compile(r"(?<![a-z])([a-z][a-z_]*?)wiki-")
_FILE_DATE = re.compile(r"wiki-(\d{8})-")
#: namespaces whose links are not prose: Media, File, Category
_DROP_NS_KEYS = ("-2", "6", "14")


class ChecksumError(ValueError):
    """The dump does not match the checksum that ``dumpstatus.json`` lists for it."""


_UNIT = re.compile(r"^(?P<path>.+)#(?P<head>\d+):(?P<start>\d+)-(?P<end>\d+)$")


class _Slice(io.RawIOBase):
    """Bytes ``[start, end)`` of a file, as a readable raw stream."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self._f = open(path, "rb")
        self._f.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._left)
        if n <= 0:
            return 0
        data = self._f.read(n)
        b[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


class _Chain(io.RawIOBase):
    """Several binary streams read one after the other (header stream, page streams, closing tag)."""

    def __init__(self, parts: list) -> None:
        self._parts = parts

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._parts:
            part = self._parts[0]
            data = part.read1(len(b)) if hasattr(part, "read1") else part.read(len(b))
            if data:
                b[: len(data)] = data
                return len(data)
            part.close()
            self._parts.pop(0)
        return 0

    def close(self) -> None:
        for part in self._parts:
            part.close()
        self._parts = []
        super().close()


def split_unit(unit: str) -> tuple[str, tuple[int, int, int] | None]:
    """``path#head:start-end`` (a byte range of a multistream dump) -> (path, (head, start, end)); else (unit, None)."""
    m = _UNIT.match(unit)
    if m and os.path.exists(m.group("path")):
        return m.group("path"), (int(m.group("head")), int(m.group("start")), int(m.group("end")))
    return unit, None


def multistream_index(path: str) -> str | None:
    """The ``-multistream-index`` file that belongs to a ``-multistream`` dump, if it exists."""
    base = os.path.basename(path)
    if "-multistream" not in base or not base.endswith(".bz2"):
        return None
    name = base.replace("-multistream", "-multistream-index", 1).replace(".xml", ".txt", 1)
    idx = os.path.join(os.path.dirname(path), name)
    return idx if os.path.exists(idx) else None


def multistream_units(path: str, index: str, unit_bytes: int) -> list[str]:
    """Cut a multistream dump into units of about ``unit_bytes`` compressed bytes at bz2 stream boundaries."""
    offsets: set[int] = set()
    try:
        with bz2.open(index, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                head = line.split(":", 1)[0]
                if head.isdigit():
                    offsets.add(int(head))
    except (OSError, EOFError, ValueError):
        return [path]  # unreadable index: read the file whole
    size = os.path.getsize(path)
    stream_starts = sorted(o for o in offsets if 0 < o < size)
    if not stream_starts:
        return [path]
    header_end = stream_starts[0]
    starts = [header_end]
    for o in stream_starts[1:]:
        if o - starts[-1] >= unit_bytes:
            starts.append(o)
    ends = starts[1:] + [size]
    return [f"{path}#{header_end}:{s}-{e}" for s, e in zip(starts, ends, strict=True)]


def open_unit(path: str, rng: tuple[int, int, int]):
    """The decompressed XML of a multistream byte range: the header stream (``<mediawiki>`` + ``<siteinfo>``),
    the range's page streams, and a closing ``</mediawiki>`` unless the range runs to the end of the file."""
    head, start, end = rng
    parts = [bz2.open(_Slice(path, 0, head), "rb"), bz2.open(_Slice(path, start, end), "rb")]
    if end < os.path.getsize(path):
        parts.append(io.BytesIO(b"</mediawiki>\n"))
    return io.BufferedReader(_Chain(parts), buffer_size=1 << 20)


def open_dump(path: str):
    """A binary file object of the decompressed dump (by extension: .bz2, .gz, .xz, else plain); a
    ``path#head:start-end`` unit gives that byte range of a multistream dump."""
    real, rng = split_unit(path)
    if rng is not None:
        return open_unit(real, rng)
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")  # reads multistream (concatenated) bz2 files transparently
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def verify_dumpstatus(path: str) -> dict[str, str] | None:
    """Check ``path`` against ``dumpstatus.json`` in its folder, if present and listing it.

    Returns what was checked (``{"sha1": ...}``) or None; raises :class:`ChecksumError` on a mismatch.
    """
    status = os.path.join(os.path.dirname(path), "dumpstatus.json")
    if not os.path.exists(status):
        return None
    try:
        with open(status, encoding="utf-8") as f:
            jobs = json.load(f).get("jobs", {})
    except (OSError, ValueError, AttributeError):
        return None  # unreadable status file: nothing to verify against
    name = os.path.basename(path)
    entry = None
    for job in jobs.values():
        files = job.get("files") or {}
        if name in files:
            entry = files[name]
            break
    if entry is None:
        return None
    checked: dict[str, str] = {}
    if entry.get("size") is not None and int(entry["size"]) != os.path.getsize(path):
        raise ChecksumError(f"{name}: size {os.path.getsize(path)} != {entry['size']} in dumpstatus.json")
    algos = [a for a in ("sha1", "md5") if entry.get(a)]
    if algos:
        hashers = {a: hashlib.new(a) for a in algos[:1]}
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                for h in hashers.values():
                    h.update(block)
        for a, h in hashers.items():
            if h.hexdigest() != entry[a]:
                raise ChecksumError(f"{name}: {a} {h.hexdigest()} != {entry[a]} in dumpstatus.json")
            checked[a] = entry[a]
    return checked


def language_of(dbname: str | None, xml_lang: str | None, path: str) -> str | None:
    """Wiki language code: ``enwiki`` -> ``en``, ``be_x_oldwiki`` -> ``be-x-old``; else xml:lang, else file name."""
    if dbname and dbname.endswith("wiki"):
        return dbname[: -len("wiki")].replace("_", "-")
    if xml_lang:
        return xml_lang
    m = _FILE_LANG.search(os.path.basename(path))
    return m.group(1).replace("_", "-") if m else None


class _Site:
    """What the dump says about itself."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.xml_lang: str | None = None
        self.dbname: str | None = None
        self.base: str | None = None
        self.drop_ns_names: list[str] = []
        self.lang: str | None = None
        m = _FILE_DATE.search(os.path.basename(path))
        self.dump_date = f"{m.group(1)[:4]}-{m.group(1)[4:6]}-{m.group(1)[6:]}" if m else None

    def url_prefix(self) -> str:
        if self.base and "/wiki/" in self.base:
            return self.base.split("/wiki/", 1)[0] + "/wiki/"
        return f"https://{self.lang or 'en'}.wikipedia.org/wiki/"


@register
class WikipediaSource(Source):
    """Reads MediaWiki ``pages-articles`` XML dumps; one document per main-namespace article.

    Options: ``languages`` (only dumps of these wiki languages; None = all), ``min_chars`` (drop shorter
    cleaned texts), ``max_page_bytes`` (drop larger raw pages before parsing), ``verify_checksums``
    (use ``dumpstatus.json`` when present), ``drop_empty_sections``, ``extra_drop_namespaces`` (more link
    prefixes to remove, e.g. localized aliases a dump does not list), ``chunk_bytes`` (read size),
    ``split_multistream_mb`` (a ``-multistream`` dump with its ``-multistream-index`` beside it is cut into
    partitions of about this many compressed MB at bz2 stream boundaries, units ``path#head:start-end``;
    0 = one partition per file).
    """

    name = "wikipedia"
    drop_reasons = ("truncated_file", "malformed_xml", "wiki_not_main_namespace", "wiki_redirect",
                    "wiki_not_wikitext", "wiki_no_text", "wiki_page_too_large", "wiki_clean_error", "wiki_too_short")
    patterns = ("*wiki-*pages-articles*", "*.xml", "*.xml.bz2", "*.xml.gz")

    def __init__(self, languages: list[str] | None = None, min_chars: int = 1, max_page_bytes: int = 8 << 20,
                 verify_checksums: bool = True, drop_empty_sections: bool = True,
                 extra_drop_namespaces: list[str] | None = None, chunk_bytes: int = 1 << 20,
                 split_multistream_mb: float = 256, **options: Any) -> None:
        super().__init__(**options)
        self.languages = set(languages) if languages else None
        self.min_chars = min_chars
        self.max_page_bytes = max_page_bytes
        self.verify_checksums = verify_checksums
        self.drop_empty_sections = drop_empty_sections
        self.extra_drop_namespaces = list(extra_drop_namespaces or [])
        self.chunk_bytes = chunk_bytes
        self.split_multistream_mb = split_multistream_mb

    # -- inputs -------------------------------------------------------------------------------------
    def list_inputs(self, paths: list[str]) -> list[str]:
        """Dump files under ``paths``; skips multistream index files, checksum lists and (with ``languages``)
        dumps whose file name names another wiki."""
        out = []
        for f in super().list_inputs(paths):
            base = os.path.basename(f)
            if "-index" in base or base.endswith((".json", ".txt", ".md5", ".sha1", ".html")) or "stub-" in base:
                continue
            if self.languages is not None:
                m = _FILE_LANG.search(base)
                if m and m.group(1).replace("_", "-") not in self.languages:
                    continue
            index = multistream_index(f) if self.split_multistream_mb else None
            if index is not None:
                try:
                    if self.verify_checksums:
                        verify_dumpstatus(f)
                except ChecksumError:
                    out.append(f)  # read() raises again, and the engine quarantines the whole file
                    continue
                out.extend(multistream_units(f, index, int(self.split_multistream_mb * (1 << 20))))
                continue
            out.append(f)
        return out

    # -- reading ------------------------------------------------------------------------------------
    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        if self.verify_checksums and split_unit(path)[1] is None:  # units were verified by list_inputs
            checked = verify_dumpstatus(path)
            if checked:
                ledger.count("wiki_checksum_verified")
        site = _Site(split_unit(path)[0])
        cleaner: WikitextCleaner | None = None
        page_open = False
        errors: list[str] = []
        stream = XmlStream()
        with open_dump(path) as f:
            for ev, elem in stream_file_events(f, stream, errors, self.chunk_bytes):
                name = local_name(elem.tag)
                if ev == "start":
                    if name == "page":
                        page_open = True
                    elif name == "mediawiki" and site.xml_lang is None:
                        site.xml_lang = elem.get("{http://www.w3.org/XML/1998/namespace}lang")
                    continue
                if name == "siteinfo":
                    self._siteinfo(elem, site)
                    XmlStream.release(elem)
                elif name == "page":
                    page_open = False
                    if cleaner is None:
                        cleaner = self._cleaner(site)
                        if self.languages is not None and site.lang not in self.languages:
                            ledger.count(f"wiki_language_skipped:{site.lang}")
                            return
                    doc = self._page(elem, site, cleaner, ledger)
                    XmlStream.release(elem)
                    if doc is not None:
                        yield doc
        for error in errors:
            kind = error.split(":", 1)[0]
            if page_open or "page" in stream.unfinished:  # the page the break cut: a counted drop
                ledger.drop("truncated_file" if kind == "truncated" else "malformed_xml")
                page_open = False
            if kind == "truncated":
                ledger.count("truncated_file:" + ("compressed" if "compressed input" in error else "xml"))
            ledger.count(f"wiki_input_error:{kind}")
            ledger.quarantined.append({"partition": "", "inputs": path, "error": error, "partial": "true"})

    def _cleaner(self, site: _Site) -> WikitextCleaner:
        site.lang = language_of(site.dbname, site.xml_lang, site.path)
        names = drop_namespace_names(site.drop_ns_names, site.lang, self.extra_drop_namespaces)
        return WikitextCleaner(names, drop_empty_sections=self.drop_empty_sections)

    @staticmethod
    def _siteinfo(elem: etree._Element, site: _Site) -> None:
        for child in elem:
            name = local_name(child.tag)
            if name == "dbname":
                site.dbname = (child.text or "").strip() or None
            elif name == "base":
                site.base = (child.text or "").strip() or None
            elif name == "namespaces":
                for ns in child:
                    # <namespace key=..> in 0.10/0.11; any aliases element with a key is read the same way
                    if ns.get("key") in _DROP_NS_KEYS and ns.text and ns.text.strip():
                        site.drop_ns_names.append(ns.text.strip())

    def _page(self, elem: etree._Element, site: _Site, cleaner: WikitextCleaner, ledger: Ledger) -> Document | None:
        fields: dict[str, Any] = {"redirect": False}
        text_el = None
        for child in elem:
            name = local_name(child.tag)
            if name in ("title", "ns", "id"):
                fields[name] = (child.text or "").strip()
            elif name == "redirect":
                fields["redirect"] = True
            elif name == "revision":
                for rc in child:
                    rn = local_name(rc.tag)
                    if rn == "text":
                        text_el = rc
                    elif rn in ("timestamp", "model"):
                        fields[rn] = (rc.text or "").strip()
                    elif rn == "id":
                        fields["revision_id"] = (rc.text or "").strip()
        raw = (text_el.text or "") if text_el is not None else ""
        nbytes = len(raw.encode("utf-8", "surrogatepass"))
        if fields.get("ns", "0") != "0":
            ledger.drop("wiki_not_main_namespace", 1, nbytes)
            return None
        if fields["redirect"]:
            ledger.drop("wiki_redirect", 1, nbytes)
            return None
        if fields.get("model", "wikitext") != "wikitext":
            ledger.drop("wiki_not_wikitext", 1, nbytes)
            return None
        if text_el is None or not raw.strip():
            ledger.drop("wiki_no_text", 1, nbytes)
            return None
        if nbytes > self.max_page_bytes:
            ledger.drop("wiki_page_too_large", 1, nbytes)
            return None
        try:
            text = cleaner.clean(raw)
        except Exception:  # noqa: BLE001 - one bad page must not stop the dump
            ledger.drop("wiki_clean_error", 1, nbytes)
            return None
        if len(text) < self.min_chars:
            ledger.drop("wiki_too_short", 1, nbytes)
            return None
        title = fields.get("title", "")
        page_id = fields.get("id", "")
        lang = site.lang
        url = site.url_prefix() + quote(title.replace(" ", "_"), safe="/:()!,'*$@;-._~")
        meta = {"title": title, "page_id": int(page_id) if page_id.isdigit() else page_id,
                "language": lang, "dump_date": site.dump_date, "revision_id": fields.get("revision_id"),
                "revision_timestamp": fields.get("timestamp"), "wiki": site.dbname or (f"{lang}wiki" if lang else None)}
        # wiki + page id + revision id: deterministic for a dump, unique even when two dumps of one wiki meet
        locator = f"{meta['wiki']}:{page_id}:{meta['revision_id']}" if page_id else f"{meta['wiki']}:title:{title}"
        return Document(id=make_id("wikipedia", locator), text=text, source="wikipedia", url=url, lang=lang, meta=meta)
