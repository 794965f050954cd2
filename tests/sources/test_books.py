"""Books reader: Gutenberg header/footer stripping against expected outputs, metadata, ids, limits, drops."""

import pytest

from kllama.config import DATA_DIR
from kllama.core.ledger import Ledger
from kllama.sources.books import BooksSource
from kllama.text.gutenberg import gutenberg_header, strip_gutenberg
from tests.conftest import samples_dir

RAW = (
    "The Project Gutenberg EBook of A Test Book, by Some Author\r\n\r\n"
    "Title: A Test Book\r\n   With a Subtitle\r\n\r\nAuthor: Some Author\r\n\r\n"
    "Release Date: May 1, 2001 [EBook #12345]\r\n\r\nLanguage: French\r\n\r\n"
    "***START OF THE PROJECT GUTENBERG EBOOK A TEST\r\nBOOK***\r\n\r\nProduced by Somebody Kind\r\n\r\n"
    + "".join(f"Body line {i} of the book, with words.\r\n" for i in range(150))
    + "\r\nEnd of the Project Gutenberg EBook of A Test Book\r\n\r\n*** END OF THE PROJECT GUTENBERG EBOOK ***\r\n"
    "*** START: FULL LICENSE ***\r\nLicence text.\r\n"
)


def _read_all(paths, **kw):
    src = BooksSource(**kw)
    ledger = Ledger()
    docs = [d for unit in src.list_inputs([str(p) for p in paths]) for d in src.read(unit, ledger)]
    return docs, ledger


@pytest.mark.parametrize("book", ["10026", "33956", "35190"])
def test_strip_matches_expected_clean_text(book):
    d = samples_dir("gutenberg")
    raw = (d / f"pg{book}-raw.txt").read_bytes().decode("utf-8")
    expected = (d / f"pg{book}-clean-expected.txt").read_bytes().decode("utf-8").replace("\r\n", "\n")
    got = strip_gutenberg(raw)
    assert got.split("\n") == [line.rstrip() for line in expected.strip("\n").split("\n")]
    assert "PROJECT GUTENBERG" not in got.upper().replace("PROJECT GUTENBERG-TM", "")[:2000]


def test_marker_variants_header_fields_and_credits():
    body = strip_gutenberg(RAW)
    lines = body.split("\n")
    assert lines[0] == "Body line 0 of the book, with words."  # wrapped START marker and "Produced by" gone
    assert lines[-1] == "Body line 149 of the book, with words."  # "End of the Project Gutenberg" footer gone
    head = RAW.replace("\r\n", "\n").split("\n")
    fields = gutenberg_header(head)
    assert fields["title"] == "A Test Book With a Subtitle"
    assert fields["author"] == "Some Author" and fields["language"] == "French" and fields["ebook"] == "12345"


def test_collections_meta_and_namespaced_ids(tmp_path):
    for coll in ("gutenberg", "books3"):
        (tmp_path / coll).mkdir()
        (tmp_path / coll / "pg12345.txt").write_bytes(RAW.encode())
    (tmp_path / "pg19").mkdir()
    (tmp_path / "pg19" / "777.txt").write_text("Already clean text of a PG-19 book.\n" * 20)
    (tmp_path / "pg19" / "metadata.csv").write_text("777,The Clean Book,1900,http://www.gutenberg.org/ebooks/777\n")
    docs, ledger = _read_all([tmp_path])
    by_coll = {d.meta["collection"]: d for d in docs}
    assert set(by_coll) == {"gutenberg", "books3", "pg19"}
    g = by_coll["gutenberg"]
    assert g.id.startswith("books/gutenberg/") and g.source == "books"
    assert g.meta["title"] == "A Test Book With a Subtitle" and g.lang == "fr" and g.meta["pg_id"] == "12345"
    assert g.text.startswith("Body line 0") and "LICENSE" not in g.text
    # the same file under books3 is neither stripped nor given the same id
    b3 = by_coll["books3"]
    assert b3.id != g.id and b3.id.startswith("books/books3/") and "START OF THE PROJECT" in b3.text
    p19 = by_coll["pg19"]
    assert p19.meta["title"] == "The Clean Book" and p19.meta["year"] == "1900" and p19.lang == "en"
    again, _ = _read_all([tmp_path])
    assert [d.id for d in again] == [d.id for d in docs]
    assert not ledger.dropped


def test_size_limit_empty_and_legacy_encoding_are_named(tmp_path):
    (tmp_path / "big.txt").write_text("word " * 5000)
    (tmp_path / "empty.txt").write_text("\n\n   \n")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 cr\xe8me, d\xe9j\xe0 vu.\n".encode("latin-1") * 10)
    docs, ledger = _read_all([tmp_path], max_book_bytes=10_000)
    assert ledger.dropped == {"book_too_large": 1, "empty_book": 1}
    assert ledger.dropped_bytes["book_too_large"] == 25_000
    assert len(docs) == 1 and docs[0].text.startswith("Café crème")
    assert ledger.stats["books_decoded_as:cp1252"] == 1


def test_books_are_batched_into_partitions(tmp_path):
    for i in range(5):
        (tmp_path / f"b{i}.txt").write_text(f"Book {i} text.\n")
    units = BooksSource(books_per_partition=2).list_inputs([str(tmp_path)])
    assert [len(u.split("\n")) for u in units] == [2, 2, 1]


def test_demo_books_read_cleanly():
    docs, ledger = _read_all([DATA_DIR / "demo" / "books"])
    assert len(docs) == 6 and not ledger.dropped
    assert {d.meta["collection"] for d in docs} == {"gutenberg", "pg19", "books3"}
    assert len({d.id for d in docs}) == 6
    for d in docs:
        if d.meta["collection"] == "gutenberg":
            assert "*** START" not in d.text and "*** END" not in d.text and "FULL LICENSE" not in d.text


# -- Books3 as distributed: books3.tar.gz (streamed) and JSON lines, ids equal to the extracted folder's ----------
B3 = "books3/the-eye.eu/public/Books/Bibliotik"
BOOKS3 = {
    f"{B3}/A/A Quiet Harbour - Ann Author.epub.txt": "Chapter one. The harbour was quiet at dawn.\n" * 30,
    f"{B3}/D/Dr. No Name - Some Body.epub.txt": "A title with a dot in it, and a plain story.\n" * 20,
    f"{B3}/Z/Zebra Crossings - Zed.epub.txt": "Zebras cross the road in the morning light.\n" * 25,
}


def _tar_bytes(members, mode="w:gz"):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, payload in members:
            if isinstance(payload, tarfile.TarInfo):
                tf.addfile(payload)
                continue
            info = tarfile.TarInfo(name)
            data = payload.encode() if isinstance(payload, str) else payload
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _jsonl(records, path):
    import gzip
    import json

    import zstandard

    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


def test_books3_tar_jsonl_and_folder_give_the_same_ids(tmp_path):
    folder = tmp_path / "extracted"
    for name, text in BOOKS3.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "books3.tar.gz").write_bytes(_tar_bytes(sorted(BOOKS3.items())))
    records = [{"title": name.rsplit("/", 1)[1][: -len(".epub.txt")], "text": text} for name, text in BOOKS3.items()]
    for suffix in (".jsonl", ".jsonl.gz", ".jsonl.zst"):
        (tmp_path / f"hf{suffix}").mkdir()
        _jsonl(records, tmp_path / f"hf{suffix}" / f"books3{suffix}")
    forms = {}
    for form in ("extracted", "dist", "hf.jsonl", "hf.jsonl.gz", "hf.jsonl.zst"):
        docs, ledger = _read_all([tmp_path / form])
        assert not ledger.dropped, (form, ledger.dropped)
        forms[form] = {d.id: (d.text, d.meta["title"], d.meta["collection"]) for d in docs}
    assert len(forms["extracted"]) == 3
    for form, got in forms.items():
        assert got == forms["extracted"], form
    titles = {t for _, t, _ in forms["dist"].values()}
    assert titles == {"A Quiet Harbour - Ann Author", "Dr. No Name - Some Body", "Zebra Crossings - Zed"}


def test_books3_tar_is_streamed_safely(tmp_path):
    import tarfile

    link = tarfile.TarInfo(f"{B3}/L/Link.epub.txt")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    members = [
        (f"{B3}/A/A Good Book - X.epub.txt", "A good book, kept.\n" * 10),
        ("../escape.txt", "climbs out of the archive"),
        ("/abs/path.txt", "absolute"),
        ("", link),
        (f"{B3}/B/Big Book - Y.epub.txt", "x" * 5000),
        (f"{B3}/README.md", "not a book"),
        (f"{B3}/C/Clean Book - Z.epub.txt", "Another good book.\n" * 10),
    ]
    archive = tmp_path / "books3.tar.gz"
    archive.write_bytes(_tar_bytes(members))
    docs, ledger = _read_all([archive], max_book_bytes=4096)
    assert sorted(d.meta["title"] for d in docs) == ["A Good Book - X", "Clean Book - Z"]
    assert ledger.dropped == {"unsafe_member": 3, "book_too_large": 1}
    assert ledger.stats["books_member_skipped"] == 1
    assert not (tmp_path / "escape.txt").exists()
    # interleaved parts of one archive: every book in exactly one part, the same documents in total
    src = BooksSource(archive_parts=3, max_book_bytes=4096)
    units = src.list_inputs([str(archive)])
    assert units == [f"{archive}#{k}/3" for k in range(3)]
    parts = [Ledger() for _ in units]
    split = [d for u, led in zip(units, parts, strict=True) for d in src.read(u, led)]
    assert sorted(d.id for d in split) == sorted(d.id for d in docs)
    assert sum(sum(led.dropped.values()) for led in parts) == 4


def test_books3_truncated_archive_and_oversized_pax_header(tmp_path):
    import io
    import tarfile

    data = _tar_bytes(sorted(BOOKS3.items()), mode="w")  # uncompressed: cut inside the last member
    (tmp_path / "cut.tar").write_bytes(data[: data.index(b"Zebras cross") + 50])
    docs, ledger = _read_all([tmp_path / "cut.tar"])
    assert len(docs) == 2 and ledger.dropped == {"truncated_file": 1}
    # a pax header claiming 64 MB is refused before it is read
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("book.txt")
        info.pax_headers = {"comment": "y" * (2 << 20)}
        payload = b"text of a book\n" * 5
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    (tmp_path / "pax.tar").write_bytes(buf.getvalue())
    docs, ledger = _read_all([tmp_path / "pax.tar"])
    assert docs == [] and ledger.dropped == {"truncated_file": 1}
    assert ledger.stats["truncated_file:HeaderError"] == 1


def test_books_jsonl_bad_records_are_named(tmp_path):
    lines = (b'{"title": "Good - A", "text": "Kept book text."}\n'
             b'not json\n'
             b'{"title": "No text"}\n'
             b'{"text": "A book without a title."}\n'
             b'{"title": "Good - A", "text": "Same title again."}\n')
    (tmp_path / "books3.jsonl").write_bytes(lines)
    docs, ledger = _read_all([tmp_path / "books3.jsonl"])
    assert [d.text for d in docs] == ["Kept book text.", "A book without a title.", "Same title again."]
    assert ledger.dropped == {"invalid_json": 1, "missing_text": 1}
    assert ledger.stats["books_untitled_record"] == 1 and ledger.stats["books_duplicate_title"] == 1
    assert len({d.id for d in docs}) == 3
