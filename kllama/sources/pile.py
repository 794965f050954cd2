"""The Pile v1 and other lm_dataformat archives: ``*.jsonl.zst``, ``*.jsonl.zst.tar``, ``*.jsonl``.

Records are ``{"text": str | [str, ...], "meta": {"pile_set_name": ...}}``; a list-valued ``text`` is joined
with ``"\\n\\n"`` as lm_dataformat does. zstd is always *stream*-decompressed (Pile shards are written in
streaming mode and carry no content size), with a bounded window and a bounded line length, so a worker's
memory does not grow with the shard. Tar archives are read as a stream (``r|``) and only regular members
whose names end in ``.zst``/``.jsonl`` are read; nothing is extracted to disk.

Drops: ``truncated_file`` (corrupt/truncated zstd or tar: the records before the cut are kept),
``invalid_utf8``, ``invalid_json``, ``missing_text``, ``empty_text``, ``line_too_long``.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from typing import IO, Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jsonlines import (
    DROP_REASONS,
    STREAM_ERRORS,
    ZstdStream,  # noqa: F401 - re-exported for callers that stream Pile shards themselves
    count_truncation,
    iter_text_records,
    open_decompressed,
)

#: A JSON line longer than this is dropped as ``line_too_long``.
MAX_LINE_BYTES = 256 << 20


def iter_records(path: str, ledger: Ledger, max_line_bytes: int = MAX_LINE_BYTES
                 ) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """``(member, line_no, text, meta)`` for every good record of a Pile file; bad ones are counted drops."""
    name = os.path.basename(path)
    with open(path, "rb") as raw:
        try:
            if name.endswith(".tar"):
                with tarfile.open(fileobj=raw, mode="r|") as tar:
                    for member in tar:
                        if not member.isfile():
                            continue
                        mname = member.name
                        if not (mname.endswith(".zst") or mname.endswith(".jsonl")):
                            ledger.count("pile_tar_member_skipped")
                            continue
                        f = tar.extractfile(member)
                        if f is None:
                            continue
                        yield from _records(open_decompressed(f, mname), mname, ledger, max_line_bytes)
            else:
                yield from _records(open_decompressed(raw, name), "", ledger, max_line_bytes)
        except STREAM_ERRORS as exc:  # the tar stream itself broke
            count_truncation(ledger, exc)


def _records(stream: IO[bytes], member: str, ledger: Ledger, max_line_bytes: int
             ) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    for line_no, text, rec in iter_text_records(stream, ledger, max_line_bytes):
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
        yield member, line_no, text, meta


@register
class PileSource(Source):
    """Reads Pile-format shards into Documents (``source`` = the recipe's name for it, ``pile`` by default;
    ``meta`` = the record's meta). ``pile_set_names`` (e.g. ``["DM Mathematics"]``) keeps only those sets."""

    name = "pile"
    drop_reasons = DROP_REASONS
    patterns = ("*.jsonl.zst", "*.jsonl.zst.tar", "*.jsonl")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES, pile_set_names: list[str] | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        self.max_line_bytes = int(max_line_bytes)
        #: only records of these sets are documents (``meta.pile_set_name``); None = every set
        self.pile_set_names = set(pile_set_names) if pile_set_names else None

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        """Documents of one shard; with ``pile_set_names``, records of other sets are not documents of this
        source: they are counted per set as the statistic ``pile_set_skipped:NAME``, not as drops."""
        base = os.path.basename(path)
        for member, line_no, text, meta in iter_records(path, ledger, self.max_line_bytes):
            if self.pile_set_names is not None:
                set_name = meta.get("pile_set_name")
                if set_name not in self.pile_set_names:
                    ledger.count(f"pile_set_skipped:{set_name}")
                    continue
            locator = f"{base}:{member}:{line_no}" if member else f"{base}:{line_no}"
            yield Document(id=make_id(self.source_name, locator), text=text, source=self.source_name, meta=meta)
