"""Regenerate the bundled demo CommonCrawl data: ``python -m tools.make_demo.commoncrawl``."""

from __future__ import annotations

from pathlib import Path

from kllama.models.demo import TRAIN_DIR
from tools.demo_corpus import demo_pages
from tools.wet_writer import write_wet


def write_training_text(folder: Path = TRAIN_DIR) -> None:
    """(Re)generate the bundled training text from :mod:`tools.demo_corpus`."""
    from tools import demo_corpus as dc

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lid.txt").write_text("\n".join(dc.lid_training_lines()) + "\n", encoding="utf-8")
    (folder / "lm_en.txt").write_text("\n".join(dc.lm_training_lines()) + "\n", encoding="utf-8")
    (folder / "wiki.txt").write_text("\n".join(dc.classifier_training_lines()) + "\n", encoding="utf-8")


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
