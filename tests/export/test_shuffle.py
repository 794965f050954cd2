"""The bounded-memory external shuffle: sorted by key whatever the split among writers and the bucket size."""

from __future__ import annotations

import random

from kllama.export.shuffle import Gather, SpillWriter, bucket_file, level_bits, read_records


def _records(n: int, seed: int = 0) -> list[tuple[int, int, bytes]]:
    rng = random.Random(seed)
    return [(rng.getrandbits(64), rng.randrange(5), f"line {i} ".encode() * rng.randrange(1, 20)) for i in range(n)]


def _scatter(records, folder, writers: int, bits: int, buffer_bytes: int) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for w in range(writers):
        sw = SpillWriter(folder / f"t{w}", 64 - bits, bits, buffer_bytes)
        for rec in records[w::writers]:
            sw.add(*rec)
        for b, (_n, nbytes) in sw.close().items():
            sizes[b] = sizes.get(b, 0) + nbytes
    return sizes


def _gather(folder, writers: int, sizes, bits: int, bucket_bytes: int):
    g = Gather(folder / "regather", bucket_bytes, buffer_bytes=4096)
    out = []
    for b in sorted(sizes):
        files = [p for w in range(writers) if (p := bucket_file(folder / f"t{w}", b)).exists()]
        out.extend((k, t, bytes(p)) for k, t, p in g.records(files, sizes[b], 64 - bits))
    return out, g


def test_gather_yields_records_sorted_by_key_for_any_writers_and_bucket_size(tmp_path):
    records = _records(3000)
    expected = sorted(records, key=lambda r: (r[0], r[2]))
    total = sum(13 + len(r[2]) for r in records)
    results = []
    for i, (writers, bits, bucket_bytes) in enumerate([(1, 0, 1 << 30), (3, 2, 1 << 30), (2, 3, total // 40)]):
        folder = tmp_path / f"case{i}"
        sizes = _scatter(records, folder, writers, bits, buffer_bytes=2000)
        out, g = _gather(folder, writers, sizes, bits, bucket_bytes)
        results.append(out)
        if bucket_bytes < total:  # buckets larger than the limit were scattered again, memory stayed bounded
            assert g.levels >= 1 and g.rescattered > 0
            assert 0 < g.largest <= bucket_bytes
        assert not list(folder.rglob("*.zst")), "spill files are deleted once read"
    assert results[0] == results[1] == results[2] == expected


def test_equal_keys_are_ordered_by_payload_not_by_file_position(tmp_path):
    recs = [(7, 0, b"b"), (7, 1, b"a"), (3, 0, b"z")]
    for order, name in ((recs, "x"), (recs[::-1], "y")):
        sw = SpillWriter(tmp_path / name, 64, 0, buffer_bytes=1)
        for r in order:
            sw.add(*r)
        stats = sw.close()
        out = [(k, t, bytes(p)) for k, t, p in
               Gather(tmp_path / "g", 1 << 20).records([bucket_file(tmp_path / name, 0)], stats[0][1], 64)]
        assert out == [(3, 0, b"z"), (7, 1, b"a"), (7, 0, b"b")]


def test_spill_file_round_trip_and_level_bits(tmp_path):
    records = _records(500, seed=1)
    sw = SpillWriter(tmp_path, 64, 0, buffer_bytes=777)  # many small frames in one file
    for r in records:
        sw.add(*r)
    sw.close()
    assert list(read_records(bucket_file(tmp_path, 0))) == records
    assert level_bits(100, 1000) == 0
    assert level_bits(10_000, 1000) == 4
    assert level_bits(10**15, 1) == 8  # at most 256 buckets per level; deeper levels split further
    assert level_bits(10**6, 1, available=3) == 3
