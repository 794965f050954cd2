"""Safe, streaming XML for untrusted dumps (MediaWiki pages-articles, Stack Exchange Posts.xml).

lxml's pull parser is fed bytes in chunks, so the caller controls reading (bz2, gzip, 7z callbacks) and sees
every complete element as soon as its end tag arrives, while already-handled elements are freed.

Guards:

- no DTD loading, no network, no entity expansion (``resolve_entities=False``); an undefined entity is an
  error, not an expansion;
- a DOCTYPE with an internal subset (``<!DOCTYPE x [ ... ]>``, where billion-laughs entity bombs live) or any
  ``<!ENTITY`` declaration in the prolog is refused with :class:`UnsafeXMLError` before lxml sees a byte;
  a plain external DOCTYPE line (``<!DOCTYPE posts SYSTEM 'posts.dtd'>``, seen in re-published SE dumps) is fine;
- ``huge_tree`` is on so that one large text node (a 50 MB page) does not abort the rest of the stream;
  callers enforce their own per-record size limits.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from lxml import etree

#: how many bytes of the prolog are checked for a DOCTYPE with an internal subset
PROLOG_BYTES = 64 * 1024

#: how many of the last bytes fed an :class:`XmlStream` keeps (``tail``)
TAIL_BYTES = 4096

_DOCTYPE_SUBSET = re.compile(r"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(r"<[A-Za-z_]")


class UnsafeXMLError(ValueError):
    """The input declares entities or an internal DTD subset; it is refused, not parsed."""


def decode_prolog(head: bytes) -> str:
    """The text of the first bytes of an XML document, decoded by its BOM (UTF-8 when none)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    elif head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        enc = "utf-32"
    elif head[:4] == b"<\x00?\x00" or head[:4] == b"<\x00m\x00":
        enc = "utf-16-le"
    elif head[:4] == b"\x00<\x00?":
        enc = "utf-16-be"
    else:
        enc = "utf-8"
    return head.decode(enc, errors="ignore")


def check_prolog(head: bytes) -> None:
    """Raise :class:`UnsafeXMLError` if the prolog (text before the root element) declares entities."""
    text = decode_prolog(head)
    m = _FIRST_ELEMENT.search(text)
    prolog = text[: m.start()] if m else text
    if _DOCTYPE_SUBSET.search(prolog) or _ENTITY_DECL.search(prolog):
        raise UnsafeXMLError("XML prolog declares entities or an internal DTD subset (refused: entity expansion)")


def local_name(tag: object) -> str:
    """``{namespace}name`` -> ``name`` (comments and processing instructions give ``""``)."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


class XmlStream:
    """Push parser: ``feed(bytes)`` returns ``(event, element)`` pairs completed so far; ``close()`` the rest.

    Events are ``start`` and ``end`` (as in ``lxml.etree.XMLPullParser``). After handling an ``end`` element
    the caller should call :meth:`release` on it so memory stays bounded.

    An element is reported as ended only when its end tag (or ``/>``) was in the input: when the input breaks
    off, newer libxml2 releases (2.13+, lxml 6) close the unfinished elements on ``close()`` and report them
    as ``end`` events, and may even report an element whose start tag was cut (``<row Id="2" Ti``) with the
    attributes read so far. Every event that a failing ``close()`` produces is therefore held back (complete
    elements were all reported while feeding: libxml2 parses a tag only once its ``>`` arrived), and the
    elements left open are listed in :attr:`unfinished`, so that a record cut by truncation never looks like
    a complete one, whatever the lxml version.
    """

    def __init__(self, events: tuple[str, ...] = ("start", "end"), tag: str | None = None) -> None:
        self._wanted = frozenset(events)
        self._parser = etree.XMLPullParser(
            events=("start", "end"),
            tag=tag,
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            dtd_validation=False,
            huge_tree=True,
            remove_comments=True,
            remove_pis=True,
        )
        self._head = b""
        self._checked = False
        self.bytes_fed = 0
        #: the last bytes fed (up to ``TAIL_BYTES``): after a break, whether a record was cut midway
        self.tail = b""
        #: elements started and not yet ended (outermost first)
        self._open: list[etree._Element] = []
        #: after a truncated ``close()``: the local names of the elements the input left unfinished
        self.unfinished: list[str] = []

    def _events(self) -> list[tuple[str, etree._Element]]:
        out = []
        for event, elem in self._parser.read_events():
            if event == "start":
                self._open.append(elem)
            elif self._open and self._open[-1] is elem:
                self._open.pop()
            if event in self._wanted:
                out.append((event, elem))
        return out

    def feed(self, data: bytes) -> list[tuple[str, etree._Element]]:
        if not data:
            return []
        self.bytes_fed += len(data)
        self.tail = data[-TAIL_BYTES:] if len(data) >= TAIL_BYTES else (self.tail + data)[-TAIL_BYTES:]
        if not self._checked:
            self._head += data
            if len(self._head) < PROLOG_BYTES and _FIRST_ELEMENT.search(decode_prolog(self._head)) is None:
                return []
            check_prolog(self._head[:PROLOG_BYTES])
            self._checked = True
            data, self._head = self._head, b""
        self._parser.feed(data)
        return self._events()

    def close(self) -> tuple[list[tuple[str, etree._Element]], etree.XMLSyntaxError | None]:
        """Finish the document: the last events, and the syntax error when it is incomplete (truncated)."""
        try:
            if not self._checked:
                check_prolog(self._head[:PROLOG_BYTES])
                self._checked = True
                if self._head:
                    self._parser.feed(self._head)
        except etree.XMLSyntaxError as exc:
            return self._events(), exc  # not well formed before the end: what was parsed is real
        ready = self._events()
        try:
            self._parser.close()
        except etree.XMLSyntaxError as exc:
            self._hold_back()
            return ready, exc
        return ready + self._events(), None

    def _hold_back(self) -> None:
        """After a failed ``close()``: drop the parser's own events (elements it closed or recovered itself)
        and list the elements the input left unfinished, outermost first."""
        still_open = list(self._open)
        for event, elem in self._parser.read_events():
            if event == "start":
                still_open.append(elem)
        self._open = []
        self.unfinished = [local_name(e.tag) for e in still_open]

    def pending_events(self) -> list[tuple[str, etree._Element]]:
        """Events parsed before the input broke off midway (a syntax error raised by :meth:`feed`, or a
        decompressor error); the elements still open are listed in :attr:`unfinished`."""
        events = self._events()
        self.unfinished = [local_name(e.tag) for e in self._open]
        return events

    @staticmethod
    def release(elem: etree._Element) -> None:
        """Free an element that has been handled, and its already-handled previous siblings."""
        elem.clear(keep_tail=False)
        parent = elem.getparent()
        if parent is not None:
            while elem.getprevious() is not None:
                del parent[0]


def cut_midline(stream: XmlStream) -> bool:
    """After the input broke off: whether its last line was cut (text after the last newline), i.e. a
    one-record-per-line file such as ``Posts.xml`` lost a partial record that never became an element."""
    return bool(stream.tail.rsplit(b"\n", 1)[-1].strip())


def iter_chunks(f, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Read a binary file object in chunks (exceptions of the decompressor propagate to the caller).

    ``read1`` is used where it exists: a buffered ``read(n)`` of a compressed file that breaks off would
    throw away everything it had decompressed for that call, ``read1`` hands it over first.
    """
    read = getattr(f, "read1", None) or f.read
    while True:
        block = read(chunk_size)
        if not block:
            return
        yield block


#: exceptions that decompressors raise on truncated or corrupt input
def _decompress_errors() -> tuple[type[BaseException], ...]:
    import lzma
    import zlib

    return (EOFError, OSError, zlib.error, lzma.LZMAError)


def stream_file_events(f, stream: XmlStream, errors: list[str],
                       chunk_size: int = 1 << 20) -> Iterator[tuple[str, etree._Element]]:
    """All ``(event, element)`` pairs of the XML in binary file ``f``.

    Stops early instead of raising when the input breaks off: a decompressor error (truncated/corrupt
    bz2, gzip, xz) appends ``"truncated: ..."`` to ``errors``; a syntax error (XML not well formed midway,
    or the document never closed) appends ``"xml_error: ..."`` / ``"truncated: ..."``. Everything parsed
    before the break is yielded, never an element the break cut (those are named in ``stream.unfinished``,
    e.g. ``["mediawiki", "page", "revision", "text"]``). :class:`UnsafeXMLError` is raised, not recorded.
    """
    chunks = iter_chunks(f, chunk_size)
    while True:
        try:
            block = next(chunks, None)
        except _decompress_errors() as exc:
            errors.append(f"truncated: compressed input broke off ({type(exc).__name__}: {exc})")
            yield from stream.pending_events()
            return
        if block is None:
            events, err = stream.close()
            yield from events
            if err is not None:
                # the input ended with elements still open (or a tag cut midway): a truncated document
                kind = "truncated" if stream.unfinished or "Premature end" in str(err) \
                    or "not properly terminated" in str(err) or "no element found" in str(err) else "xml_error"
                errors.append(f"{kind}: XML ends before the document is complete ({err})")
            return
        try:
            events = stream.feed(block)
        except etree.XMLSyntaxError as exc:
            yield from stream.pending_events()
            errors.append(f"xml_error: XML not well formed ({exc})")
            return
        yield from events
