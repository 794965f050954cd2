"""Regenerate the bundled demo CommonCrawl data: ``python -m kllama.models.demo_data``."""

from __future__ import annotations

from pathlib import Path

from kllama.models.demo import TRAIN_DIR, write_training_text
from kllama.models.demo_corpus import demo_pages
from kllama.sources.commoncrawl import write_wet


def write_demo_wet(root: Path = TRAIN_DIR.parent) -> list[Path]:
    """Two files of snapshot CC-MAIN-2024-10 and one of CC-MAIN-2024-22 (which recrawls 4 pages)."""
    written = []
    first: list[dict] = []
    for k in range(2):
        pages = demo_pages(100 + k, 30, f"2024-02-2{k}")
        if k == 0:
            pages[5]["corrupt_length"] = True
        first += pages
        path = root / "CC-MAIN-2024-10" / f"CC-MAIN-2024022{k}000000-2024022{k}030000-0000{k}.warc.wet.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wet(path, pages, "CC-MAIN-2024-10", seed=k)
        written.append(path)
    recrawl = [p for p in first if p["kind"] == "wiki" and not p.get("corrupt_length")][:4]
    path = root / "CC-MAIN-2024-22" / "CC-MAIN-20240520000000-20240520030000-00000.warc.wet.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wet(path, demo_pages(200, 30, "2024-05-20", recrawl=recrawl), "CC-MAIN-2024-22", seed=5)
    written.append(path)
    return written


if __name__ == "__main__":
    write_training_text()
    for p in write_demo_wet():
        print(p)
