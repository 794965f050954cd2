"""Stack Exchange data dumps (archive.org ``stackexchange``): one document per question with its answers.

Inputs: per-site ``<site>.7z`` archives (read with py7zr under size limits; only the ``Posts.xml`` member is
decompressed, streamed straight into the XML parser, never to disk), Stack Overflow's split
``stackoverflow.com-Posts.7z``, or extracted folders holding ``Posts.xml`` (also ``<site>-Posts.xml`` files).
``list_inputs`` keeps the ``top_sites`` largest sites (28 for LLaMA; by archive/``Posts.xml`` size, meta
sites excluded unless ``include_meta``), or exactly the ``sites`` named.

``Posts.xml`` (UTF-8 with BOM, one ``<row/>`` per line, sometimes an inserted ``<!DOCTYPE>`` line) is parsed
with :mod:`kllama.formats.safexml` (no DTD, no entity expansion). Questions (``PostTypeId`` 1) and answers (2)
are spilled to Parquet files partitioned by *question-id range* in a temporary folder, so memory stays bounded
on a 100 GB Stack Overflow ``Posts.xml``; each partition is then grouped on its own. The ranges follow the
file's Id order, so the output order (question id ascending) is the same whatever the partition size.

Document text: ``Q: {title}\\n\\n{question}`` then ``A: {answer}`` blocks, answers sorted by their **numeric**
score, highest first, ties by creation date then id (RedPajama compared scores as strings: "9" > "10").
HTML becomes text with :func:`kllama.text.html.html_to_text` (paragraphs, lists, code blocks kept).

Drops (per post): ``se_other_post_type`` (tag wikis, nominations, ...), ``se_bad_row`` (no/invalid Id),
``se_post_too_large``, ``se_orphan_answer`` (answer whose question is absent), ``se_duplicate_post``,
``se_unanswered`` (fewer than ``min_answers`` answers), ``se_empty_question``, ``truncated_file`` (the row
that a truncated input cut: never kept, even when lxml recovers its first attributes). Answers folded into
their question are counted in the ``se_answers_merged`` stat. A broken input (truncated or corrupt 7z data,
XML cut short or not well formed midway) keeps what came before the break, is counted (``se_input_error:*``,
and ``truncated_file:CAUSE`` for a truncated one, which ``kllama status`` and the run summary show) and is
listed in the ledger's ``quarantined`` entries with ``partial = "true"``; an archive that cannot be opened, or whose
``Posts.xml`` exceeds the size limits, raises (the engine quarantines the file).
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from lxml import etree

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.safexml import XmlStream, cut_midline, local_name, stream_file_events
from kllama.text.html import html_to_text

_SPILL_SCHEMA = pa.schema([
    ("qid", pa.int64()), ("kind", pa.int8()), ("id", pa.int64()), ("score", pa.int64()),
    ("created", pa.string()), ("title", pa.string()), ("body", pa.large_string()), ("tags", pa.string()),
    ("license", pa.string()), ("accepted", pa.int64()),
])
_YEAR_SUFFIX = re.compile(r"-(?:19|20)\d\d(?:-\d\d)?$")


class ArchiveLimitError(ValueError):
    """A 7z member is larger than the configured limits (decompression-bomb guard)."""


def site_of(path: str) -> str:
    """Site name of an input: ``coffee.stackexchange.com.7z`` / ``stackoverflow.com-Posts.7z`` /
    ``.../coffee.stackexchange.com/Posts.xml`` / ``coffee.stackexchange.com-2015-Posts.xml``."""
    base = os.path.basename(path)
    if base.lower() == "posts.xml":
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    elif base.endswith(".7z"):
        name = base[: -len(".7z")]
        if name.endswith("-Posts"):
            name = name[: -len("-Posts")]
    else:
        name = re.sub(r"-?Posts\.xml$", "", base, flags=re.IGNORECASE)
    return _YEAR_SUFFIX.sub("", name)


def is_meta_site(site: str) -> bool:
    return site.startswith("meta.") or ".meta." in site or site == "meta.stackexchange.com"


def parse_tags(tags: str | None) -> list[str]:
    """``<a><b>`` (classic dumps) or ``|a|b|`` (2024+ dumps) -> ``["a", "b"]``."""
    if not tags:
        return []
    if "<" in tags:
        return re.findall(r"<([^<>]+)>", tags)
    if "|" in tags:
        return [t for t in tags.split("|") if t]
    return tags.split()


def _int(value: str | None, default: int | None = None) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return default


class PostSpill:
    """Spills question/answer rows to Parquet partitions keyed by question-id range, then groups them.

    A new partition starts at a question whose id is above every id seen so far once the current partition
    holds ``partition_bytes``; a row goes to the partition whose range holds its question id.
    """

    def __init__(self, tmp_dir: str, partition_bytes: int = 128 << 20, flush_bytes: int = 32 << 20) -> None:
        self.dir = tmp_dir
        self.partition_bytes = partition_bytes
        self.flush_bytes = flush_bytes
        self.starts: list[int] = []
        self.sizes: list[int] = []
        self.max_qid = -1
        self.buffers: dict[int, list[dict[str, Any]]] = {}
        self.buffered = 0
        self.writers: dict[int, pq.ParquetWriter] = {}

    def _part(self, qid: int) -> int:
        return max(0, bisect.bisect_right(self.starts, qid) - 1)

    def add(self, row: dict[str, Any], nbytes: int) -> None:
        qid = row["qid"]
        if row["kind"] == 1 and qid > self.max_qid:
            if not self.starts or self.sizes[-1] >= self.partition_bytes:
                self.starts.append(qid)
                self.sizes.append(0)
            self.max_qid = qid
        if not self.starts:
            self.starts.append(qid)
            self.sizes.append(0)
        p = self._part(qid)
        self.sizes[p] += nbytes
        self.buffers.setdefault(p, []).append(row)
        self.buffered += nbytes
        if self.buffered >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        for p in sorted(self.buffers):
            rows = self.buffers[p]
            if not rows:
                continue
            table = pa.Table.from_pylist(rows, schema=_SPILL_SCHEMA)
            w = self.writers.get(p)
            if w is None:
                w = self.writers[p] = pq.ParquetWriter(os.path.join(self.dir, f"part-{p:06d}.parquet"),
                                                       _SPILL_SCHEMA, compression="zstd", compression_level=1)
            w.write_table(table)
        self.buffers.clear()
        self.buffered = 0

    def partitions(self) -> Iterator[list[dict[str, Any]]]:
        """Rows of each partition in question-id range order (one partition in memory at a time)."""
        self.flush()
        for w in self.writers.values():
            w.close()
        for p in range(len(self.starts)):
            path = os.path.join(self.dir, f"part-{p:06d}.parquet")
            if not os.path.exists(path):
                continue
            rows = pq.read_table(path).to_pylist()
            os.unlink(path)
            yield rows


class _PushIO:
    """py7zr writer that hands every decompressed block to ``sink`` and never stores it."""

    def __init__(self, sink: Callable[[bytes], None], limit: int) -> None:
        self.sink = sink
        self.limit = limit
        self.n = 0

    def write(self, s: bytes | bytearray) -> int:
        self.n += len(s)
        if self.n > self.limit:
            raise ArchiveLimitError(f"Posts.xml grows past the limit of {self.limit} bytes while decompressing")
        self.sink(bytes(s))
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self.n

    def close(self) -> None:
        return None


@register
class StackExchangeSource(Source):
    """Reads Stack Exchange sites (7z archives or extracted ``Posts.xml``); one document per question.

    Options: ``top_sites`` (keep the N largest sites; 0 = all), ``sites`` (exact list of site names, overrides
    ``top_sites``), ``include_meta``, ``min_answers``, ``min_answer_score`` (None = keep every answer),
    ``qa_markers`` (``Q:``/``A:`` prefixes), ``partition_mb`` (spill partition size), ``tmp_dir``,
    ``max_post_bytes``, ``max_posts_bytes`` and ``max_ratio`` (7z limits: absolute size of ``Posts.xml`` and its
    size over the archive's), ``default_license`` (recorded when the dump has no ``ContentLicense``),
    ``sites_xml`` (archive.org's ``Sites.xml``: only the sites it lists are candidates; found automatically
    when it lies in an input folder).
    """

    name = "stackexchange"
    drop_reasons = ("truncated_file", "se_other_post_type", "se_bad_row", "se_post_too_large", "se_duplicate_post",
                    "se_orphan_answer", "se_unanswered", "se_empty_question")
    patterns = ("*.7z", "Posts.xml", "*-Posts.xml")

    def __init__(self, top_sites: int = 28, sites: list[str] | None = None, include_meta: bool = False,
                 min_answers: int = 0, min_answer_score: int | None = None, qa_markers: bool = True,
                 partition_mb: float = 128, tmp_dir: str | None = None, max_post_bytes: int = 4 << 20,
                 max_posts_bytes: int = 400 << 30, max_ratio: float = 100.0, default_license: str | None = None,
                 sites_xml: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.top_sites = top_sites
        self.sites = list(sites) if sites else None
        self.include_meta = include_meta
        self.min_answers = min_answers
        self.min_answer_score = min_answer_score
        self.qa_markers = qa_markers
        self.partition_bytes = max(1, int(partition_mb * (1 << 20)))
        self.tmp_dir = tmp_dir
        self.max_post_bytes = max_post_bytes
        self.max_posts_bytes = max_posts_bytes
        self.max_ratio = max_ratio
        self.default_license = default_license
        self.sites_xml = sites_xml

    # -- inputs -------------------------------------------------------------------------------------
    def list_inputs(self, paths: list[str]) -> list[str]:
        """One unit per site (its 7z, or its ``Posts.xml``), the ``top_sites`` largest or the named ``sites``.

        Size = the site's archive size when there is an archive, else its ``Posts.xml`` size. With a
        ``Sites.xml`` (option ``sites_xml``, or a ``Sites.xml`` lying in an input folder) only the sites it
        lists are candidates.
        """
        archive: dict[str, tuple[int, str]] = {}
        extracted: dict[str, tuple[int, str]] = {}
        for f in super().list_inputs(paths):
            base = os.path.basename(f)
            if base.endswith(".7z") and base.startswith("stackoverflow.com-") and not base.endswith("-Posts.7z"):
                continue  # Stack Overflow's other tables (Comments, Users, ...)
            (archive if base.endswith(".7z") else extracted)[site_of(f)] = (os.path.getsize(f), f)
        units: dict[str, tuple[int, str]] = {}
        for site in set(archive) | set(extracted):
            size = (archive.get(site) or extracted[site])[0]
            # an extracted Posts.xml is preferred over the archive of the same site (no decompression)
            units[site] = (size, (extracted.get(site) or archive[site])[1])
        listed = self._sites_listed(paths)
        if listed is not None:
            units = {s: u for s, u in units.items() if s in listed}
        if self.sites is not None:
            wanted = set(self.sites)
            chosen = [s for s in units if s in wanted]
        else:
            cands = [s for s in units if self.include_meta or not is_meta_site(s)]
            cands.sort(key=lambda s: (-units[s][0], s))
            chosen = cands[: self.top_sites] if self.top_sites else cands
        return sorted(units[s][1] for s in chosen)

    def _sites_listed(self, paths: list[str]) -> set[str] | None:
        """Hosts of the sites that ``Sites.xml`` lists (``Url="https://coffee.stackexchange.com"``), or None."""
        path = self.sites_xml
        if path is None:
            for p in paths:
                cand = os.path.join(p, "Sites.xml")
                if os.path.isdir(p) and os.path.exists(cand):
                    path = cand
                    break
        if path is None:
            return None
        hosts: set[str] = set()
        errors: list[str] = []
        with open(path, "rb") as f:
            for _ev, elem in stream_file_events(f, XmlStream(events=("end",)), errors):
                if local_name(elem.tag) == "row" and elem.get("Url"):
                    hosts.add(elem.get("Url").split("://", 1)[-1].strip("/").lower())
                XmlStream.release(elem)
        if errors:
            raise ValueError(f"{path}: {errors[0]}")
        return hosts

    # -- reading ------------------------------------------------------------------------------------
    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        site = site_of(path)
        tmp = tempfile.mkdtemp(prefix="kllama-se-", dir=self.tmp_dir)
        try:
            spill = PostSpill(tmp, self.partition_bytes)
            state = {"rows": 0}
            errors: list[str] = []
            handle = self._row_handler(spill, ledger, state)
            stream = XmlStream(events=("end",))
            if path.endswith(".7z"):
                self._read_7z(path, handle, errors, state, stream)
            else:
                with open(path, "rb") as f:
                    for ev, elem in stream_file_events(f, stream, errors):
                        handle(ev, elem)
            for error in errors:
                kind = error.split(":", 1)[0]
                if kind == "truncated":
                    if "row" in stream.unfinished or cut_midline(stream):  # one row per line: the cut one
                        ledger.drop("truncated_file")
                    ledger.count("truncated_file:" + ("xml" if "XML ends" in error else "compressed"))
                ledger.count(f"se_input_error:{kind}")
                ledger.quarantined.append({"partition": "", "inputs": path, "error": error, "partial": "true"})
            for rows in spill.partitions():
                yield from self._group(rows, site, ledger)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _read_7z(self, path: str, handle: Callable, errors: list[str], state: dict[str, Any],
                 stream: XmlStream) -> None:
        import py7zr

        broken: list[str] = []

        def sink(block: bytes) -> None:
            if broken:
                return
            try:
                events = stream.feed(block)
            except etree.XMLSyntaxError as exc:
                events = stream.pending_events()
                broken.append(f"xml_error: XML not well formed ({exc})")
            for ev, elem in events:
                handle(ev, elem)

        compressed = os.path.getsize(path)
        limit = int(min(self.max_posts_bytes, max(compressed, 1 << 20) * self.max_ratio))
        with py7zr.SevenZipFile(path, mode="r") as z:
            members = [i for i in z.list() if not i.is_directory and i.filename.replace("\\", "/").split("/")[-1]
                       .lower() in ("posts.xml",) and ".." not in i.filename]
            if not members:
                raise FileNotFoundError(f"{os.path.basename(path)} holds no Posts.xml")
            member = min(members, key=lambda i: i.filename.count("/"))
            declared = member.uncompressed or 0
            if declared > limit:
                raise ArchiveLimitError(f"{member.filename} declares {declared} bytes, over the limit of {limit}")

            class _Factory(py7zr.io.WriterFactory):
                def create(self, filename: str) -> _PushIO:
                    return _PushIO(sink, limit)

            try:
                z.extract(targets=[member.filename], factory=_Factory())
            except ArchiveLimitError:
                raise
            except Exception as exc:  # noqa: BLE001 - corrupt data after some rows: keep what came before
                if state["rows"] == 0 and not broken:
                    raise
                errors.append(f"truncated: 7z data broke off ({type(exc).__name__}: {exc})")
                return
        if broken:
            errors.extend(broken)
            return
        events, err = stream.close()
        for ev, elem in events:
            handle(ev, elem)
        if err is not None:
            kind = "truncated" if stream.unfinished else "xml_error"
            errors.append(f"{kind}: XML ends before the document is complete ({err})")

    def _row_handler(self, spill: PostSpill, ledger: Ledger, state: dict[str, Any]) -> Callable:
        max_post = self.max_post_bytes

        def handle(ev: str, elem: etree._Element) -> None:
            if local_name(elem.tag) != "row":
                return
            a = dict(elem.attrib)
            body = a.get("Body") or ""
            title = a.get("Title") or ""
            nbytes = len(body) + len(title)
            XmlStream.release(elem)
            state["rows"] += 1
            ptype = a.get("PostTypeId")
            if ptype not in ("1", "2"):
                ledger.drop("se_other_post_type", 1, nbytes)
                return
            pid = _int(a.get("Id"))
            qid = pid if ptype == "1" else _int(a.get("ParentId"))
            if pid is None or qid is None:
                ledger.drop("se_bad_row", 1, nbytes)
                return
            if nbytes > max_post:
                ledger.drop("se_post_too_large", 1, nbytes)
                return
            spill.add({"qid": qid, "kind": int(ptype), "id": pid, "score": _int(a.get("Score"), 0),
                       "created": a.get("CreationDate") or "", "title": title, "body": body,
                       "tags": a.get("Tags"), "license": a.get("ContentLicense"),
                       "accepted": _int(a.get("AcceptedAnswerId"))}, nbytes + 64)

        return handle

    # -- grouping -----------------------------------------------------------------------------------
    def _group(self, rows: list[dict[str, Any]], site: str, ledger: Ledger) -> Iterator[Document]:
        questions: dict[int, dict[str, Any]] = {}
        answers: dict[int, list[dict[str, Any]]] = {}
        seen: set[int] = set()
        for r in rows:
            if r["id"] in seen:
                ledger.drop("se_duplicate_post", 1, len(r["body"]))
                continue
            seen.add(r["id"])
            if r["kind"] == 1:
                questions[r["qid"]] = r
            else:
                answers.setdefault(r["qid"], []).append(r)
        for qid in sorted(answers):
            if qid not in questions:
                for r in answers[qid]:
                    ledger.drop("se_orphan_answer", 1, len(r["body"]))
        for qid in sorted(questions):
            doc = self._document(questions[qid], answers.get(qid, []), site, ledger)
            if doc is not None:
                yield doc

    def _document(self, q: dict[str, Any], answers: list[dict[str, Any]], site: str,
                  ledger: Ledger) -> Document | None:
        raw_bytes = len(q["body"]) + len(q["title"]) + sum(len(a["body"]) for a in answers)
        if self.min_answer_score is not None:
            low = [a for a in answers if a["score"] < self.min_answer_score and a["id"] != q["accepted"]]
            if low:
                ledger.count("se_answers_below_min_score", len(low))
                low_ids = {a["id"] for a in low}
                answers = [a for a in answers if a["id"] not in low_ids]
        if len(answers) < self.min_answers:
            ledger.drop("se_unanswered", 1, raw_bytes)
            ledger.count("se_answers_merged", len(answers))
            return None
        answers = sorted(answers, key=lambda a: (-a["score"], a["created"], a["id"]))
        title = " ".join(q["title"].split())
        body = html_to_text(q["body"])
        if not title and not body:
            ledger.drop("se_empty_question", 1, raw_bytes)
            return None
        qp, ap = ("Q: ", "A: ") if self.qa_markers else ("", "")
        blocks = [f"{qp}{title}", body] if title else [f"{qp}{body}"]
        for a in answers:
            text = html_to_text(a["body"])
            if text:
                blocks.append(f"{ap}{text}")
        ledger.count("se_answers_merged", len(answers))
        text = "\n\n".join(b for b in blocks if b)
        licenses = sorted({r["license"] for r in [q, *answers] if r["license"]})
        meta = {
            "site": site, "question_id": q["id"], "title": title, "tags": parse_tags(q["tags"]),
            "score": q["score"], "answer_ids": [a["id"] for a in answers],
            "answer_scores": [a["score"] for a in answers], "accepted_answer_id": q["accepted"],
            "creation_date": q["created"] or None,
            "content_license": q["license"] or (licenses[0] if len(licenses) == 1 else None) or self.default_license,
            "content_licenses": licenses,
        }
        url = f"https://{site}/questions/{q['id']}"
        return Document(id=make_id("stackexchange", f"{site}:{q['id']}"), text=text, source="stackexchange",
                        url=url, lang="en" if _english_site(site) else None, meta=meta)


_NON_ENGLISH_SITES = ("ru.stackoverflow.com", "pt.stackoverflow.com", "es.stackoverflow.com",
                      "ja.stackoverflow.com", "rus.stackexchange.com", "ukrainian.stackexchange.com",
                      "spanish.stackexchange.com", "french.stackexchange.com", "german.stackexchange.com",
                      "italian.stackexchange.com", "portuguese.stackexchange.com", "japanese.stackexchange.com",
                      "chinese.stackexchange.com", "korean.stackexchange.com", "russian.stackexchange.com")


def _english_site(site: str) -> bool:
    """Most sites are English; the localized Stack Overflows (ru/pt/es/ja) are not (language-learning sites
    mix languages, so they get no language tag either)."""
    return site not in _NON_ENGLISH_SITES and not re.match(r"^[a-z]{2}\.(stackoverflow|meta)", site)
