"""EPUB 2/3 books -> text of the spine items in reading order, front matter and index told apart.

The EPUB is a zip read in memory with limits (member count, uncompressed size per member and in all, compression
ratio); member names from the OPF are resolved inside the archive only (no path ever touches the disk). Reading
order is the OPF ``<spine>`` (``linear="no"`` items are auxiliary); XHTML is parsed with lxml's HTML parser (no
DTD, no network, HTML's named entities such as ``&nbsp;`` known) and rendered with
:func:`kllama.text.html.element_to_text` (paragraphs, lists, headings as their own paragraphs).

Each spine item gets a *kind*: ``content``, or what the book says it is -- EPUB 2 ``<guide>`` references, EPUB 3
``landmarks`` and ``epub:type`` on ``<body>``/``<section>`` (``cover``, ``titlepage``, ``copyright-page``,
``toc``, ``index``, ...) -- or, failing that, what its file name (``cover.xhtml``, ``titlepage.xhtml``,
``copyright.xhtml``, ``toc.xhtml``) or first heading ("Contents", "Index", "Copyright") says.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote

import lxml.html
from lxml import etree

from kllama.text.html import element_to_text

#: ``<guide>``/landmark/``epub:type`` values that mark front matter or back-matter apparatus (dropped)
FRONT_TYPES = frozenset({"cover", "title-page", "titlepage", "halftitle", "halftitlepage", "copyright-page",
                         "copyright", "toc", "contents", "loi", "lot", "colophon", "imprint", "imprintur",
                         "dedication", "frontispiece", "other.ms-coverimage", "other.ms-coverimage-standard",
                         "other.ms-titlepage", "other.ms-copyright", "seriespage", "errata"})
INDEX_TYPES = frozenset({"index", "index-group", "glossary-index"})
_FRONT_STEMS = re.compile(r"^(cover|cover[-_]?page|title|title[-_]?page|titlepage|half[-_]?title|copyright|"
                          r"copyright[-_]?page|toc|nav|contents|table[-_]?of[-_]?contents|colophon|dedication)$", re.I)
_FRONT_HEADINGS = re.compile(r"^(contents|table of contents|copyright( page)?|title page|cover|colophon|"
                             r"list of (figures|tables|illustrations))$", re.I)
_INDEX_HEADINGS = re.compile(r"^(index|subject index|general index|name index|author index)$", re.I)
_EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"


class EpubError(ValueError):
    """Not a readable EPUB (``reason`` is the ledger's drop name)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class EpubLimits:
    max_members: int = 10_000
    max_member_bytes: int = 64 << 20
    max_total_bytes: int = 512 << 20
    #: uncompressed/compressed above this (for members over 1 MiB) is refused as a zip bomb
    max_ratio: float = 200.0


@dataclass
class EpubItem:
    href: str
    kind: str  # content | front | index | nonlinear | unreadable
    text: str
    why: str = ""


@dataclass
class EpubBook:
    title: str | None = None
    creator: str | None = None
    language: str | None = None
    items: list[EpubItem] = field(default_factory=list)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


class _Zip:
    def __init__(self, path: str, limits: EpubLimits) -> None:
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise EpubError("epub_not_a_zip", str(exc)) from exc
        infos = self.zf.infolist()
        if len(infos) > limits.max_members:
            raise EpubError("epub_limits", f"{len(infos)} members")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > limits.max_member_bytes:
                raise EpubError("epub_limits", f"{info.filename}: {info.file_size} bytes")
            if info.file_size > (1 << 20) and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise EpubError("epub_limits", f"{info.filename}: compression ratio over {limits.max_ratio}")
        if total > limits.max_total_bytes:
            raise EpubError("epub_limits", f"{total} bytes uncompressed")
        self.names = {info.filename for info in infos}
        self.limits = limits

    def read(self, name: str) -> bytes | None:
        if name not in self.names:
            return None
        with self.zf.open(name) as f:
            data = f.read(self.limits.max_member_bytes + 1)
        if len(data) > self.limits.max_member_bytes:
            raise EpubError("epub_limits", f"{name} larger than its header says")
        return data

    def close(self) -> None:
        self.zf.close()


def _xml(data: bytes) -> etree._Element:
    """Parse package XML (container.xml, the OPF) without DTDs, network or entities."""
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    return etree.fromstring(data, parser)


def resolve(base_dir: str, href: str) -> str | None:
    """An href relative to ``base_dir`` inside the archive (fragment and percent-encoding removed); None when it
    would leave the archive's root."""
    href = unquote(href.split("#", 1)[0])
    if not href or href.startswith("/") or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):
        return None
    path = posixpath.normpath(posixpath.join(base_dir, href))
    if path.startswith("../") or path == "..":
        return None
    return path


def _first_heading(root: etree._Element, body: etree._Element) -> str:
    """The first ``h1``-``h4`` of the body, else the document's ``<title>``."""
    for el in (*body.iter("h1", "h2", "h3", "h4"), *root.iter("title")):
        text = " ".join(el.text_content().split())
        if text:
            return text
    return ""


def _types(el: etree._Element) -> set[str]:
    raw = el.get("epub:type") or el.get(_EPUB_TYPE) or ""
    return {t.strip().lower() for t in raw.split() if t.strip()}


def read_epub(path: str, limits: EpubLimits | None = None) -> EpubBook:
    """The book's metadata and its spine items, each with its kind and text."""
    z = _Zip(path, limits or EpubLimits())
    try:
        container = z.read("META-INF/container.xml")
        if container is None:
            raise EpubError("epub_no_container")
        try:
            croot = _xml(container)
        except etree.XMLSyntaxError as exc:
            raise EpubError("epub_bad_package", f"container.xml: {exc}") from exc
        rootfile = next((el.get("full-path") for el in croot.iter() if _local(el.tag) == "rootfile"), None)
        opf_path = resolve("", rootfile or "")
        opf_data = z.read(opf_path) if opf_path else None
        if opf_data is None:
            raise EpubError("epub_no_package", str(rootfile))
        try:
            opf = _xml(opf_data)
        except etree.XMLSyntaxError as exc:
            raise EpubError("epub_bad_package", f"{opf_path}: {exc}") from exc
        base = posixpath.dirname(opf_path)
        book = EpubBook()
        for el in opf.iter():
            name = _local(el.tag)
            if name == "title" and book.title is None:
                book.title = " ".join((el.text or "").split()) or None
            elif name == "creator" and book.creator is None:
                book.creator = " ".join((el.text or "").split()) or None
            elif name == "language" and book.language is None:
                book.language = (el.text or "").strip() or None
        manifest: dict[str, tuple[str, str, str]] = {}
        for el in opf.iter():
            if _local(el.tag) == "item" and el.get("id") and el.get("href"):
                target = resolve(base, el.get("href"))
                if target:
                    manifest[el.get("id")] = (target, el.get("media-type", ""), el.get("properties", ""))
        marked: dict[str, str] = {}  # archive path -> type from guide / landmarks
        for el in opf.iter():
            if _local(el.tag) == "reference" and el.get("href") and el.get("type"):
                target = resolve(base, el.get("href"))
                if target:
                    marked.setdefault(target, el.get("type").lower())
        for _id, (target, _mt, props) in manifest.items():
            if "nav" in props.split():
                _landmarks(z, target, marked)
        spine = next((el for el in opf.iter() if _local(el.tag) == "spine"), None)
        for ref in spine if spine is not None else []:
            if _local(ref.tag) != "itemref" or ref.get("idref") not in manifest:
                continue
            target, media_type, props = manifest[ref.get("idref")]
            if "html" not in media_type and not target.endswith((".xhtml", ".html", ".htm")):
                continue
            book.items.append(_item(z, target, ref.get("linear", "yes") == "no", "nav" in props.split(),
                                    marked.get(target)))
        return book
    finally:
        z.close()


def _landmarks(z: _Zip, nav_path: str, marked: dict[str, str]) -> None:
    data = z.read(nav_path)
    if not data:
        return
    try:
        root = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        return
    base = posixpath.dirname(nav_path)
    for nav in root.iter("nav"):
        if "landmarks" not in _types(nav):
            continue
        for a in nav.iter("a"):
            kinds = _types(a)
            target = resolve(base, a.get("href", ""))
            if target and kinds:
                marked.setdefault(target, sorted(kinds)[0])


def _item(z: _Zip, target: str, nonlinear: bool, is_nav: bool, marked: str | None) -> EpubItem:
    data = z.read(target)
    if data is None:
        return EpubItem(target, "unreadable", "", "missing from the archive")
    try:
        root = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        return EpubItem(target, "unreadable", "", "not parseable")
    body = root.find("body")
    if body is None:
        body = root
    text = element_to_text(body)
    if is_nav:
        return EpubItem(target, "front", text, "nav document")
    if nonlinear:
        return EpubItem(target, "nonlinear", text, "linear=no")
    types = set()
    for el in [body, *body.iter("section")][:8]:
        types |= _types(el)
    if marked:
        types.add(marked)
    if types & INDEX_TYPES:
        return EpubItem(target, "index", text, "type " + ",".join(sorted(types & INDEX_TYPES)))
    if types & FRONT_TYPES:
        return EpubItem(target, "front", text, "type " + ",".join(sorted(types & FRONT_TYPES)))
    stem = posixpath.splitext(posixpath.basename(target))[0]
    if _FRONT_STEMS.match(stem):
        return EpubItem(target, "front", text, f"file name {stem}")
    heading = _first_heading(root, body)
    if _INDEX_HEADINGS.match(heading):
        return EpubItem(target, "index", text, f"heading {heading!r}")
    if _FRONT_HEADINGS.match(heading):
        return EpubItem(target, "front", text, f"heading {heading!r}")
    return EpubItem(target, "content", text)
