"""``kllama report``: the HTML page with its inline SVG plots, the dataset card, and a headless Chromium look."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kllama.cli import main as kllama
from kllama.config import load_recipe
from kllama.pipeline import run_recipe
from kllama.report import _fmt, bar_chart, histogram, load_run

CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, dask_client) -> Path:
    """The demo recipe restricted to C4 (pile overlap, drops) and CommonCrawl (languages, perplexity)."""
    recipe = load_recipe("demo")
    recipe.sources = {k: v for k, v in recipe.sources.items() if k in ("c4", "commoncrawl")}
    out = tmp_path_factory.mktemp("report") / "run"
    run_recipe(recipe, out, dask_client, progress=False)
    from kllama.tokenize.variant import tokenize_variant

    tokenize_variant(out, "G3", out / "tokenized" / "G3", client=dask_client, quiet=True)
    return out


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory) -> tuple[Path, str, Path]:
    html_path = tmp_path_factory.mktemp("html") / "report.html"
    assert kllama(["report", str(run_dir), "--output", str(html_path)]) == 0
    return html_path, html_path.read_text(), html_path.with_name("DATASET_CARD.md")


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", page, flags=re.S)]


def test_report_is_self_contained_with_its_plots(report, run_dir):
    _, page, _ = report
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    plots = svgs(page)  # every plot is well-formed SVG
    titles = [p.find("{http://www.w3.org/2000/svg}text").text for p in plots]
    for want in ("Documents per source and shard group", "Tokens per source and variant",
                 "Documents dropped per stage", "Documents per language", "Perplexity of commoncrawl",
                 "Documents in the Pile"):
        assert any(t.startswith(want) for t in titles), (want, titles)
    nonempty = [p for p in plots if "empty" not in (p.get("class") or "")]
    assert len(nonempty) >= 7
    data = load_run(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    # the numbers drawn are the run's: each source's total documents is written beside its bar
    for src in ("c4", "commoncrawl"):
        total = sum(s["docs"] for s in manifest["shards"] if s["source"] == src)
        assert re.search(rf"<title>{src} / core: \d+</title>", page)
        assert f">{total}</text>" in page
    # tokens: measured for G3 (tokenized), estimated for the others, and the page says which
    g3 = json.loads((run_dir / "tokenized" / "G3.json").read_text())
    for src, counts in g3["per_source"].items():
        assert f"<title>{src} / G3: {_fmt(counts['tokens'])}</title>" in page
    assert "(G3 tokenized; G1, G2 estimated as bytes / 4.2" in page
    # drops by named reason per stage, from the ledger
    assert "exact_duplicate" in page and "c4.01-exact_dedup" in page
    assert sum(data["perplexity"]["commoncrawl"]) > 0 and data["langs"]["en"] > 0
    # Pile overlap: the demo's C4 has documents that its Pile sample holds
    assert {s["group"] for s in manifest["shards"]} >= {"core", "pile-overlap"}
    assert "in the Pile" in page


def test_dataset_card(report, run_dir):
    _, _, card_path = report
    card = card_path.read_text()
    assert card.startswith("# Dataset card")
    assert "| c4 | c4 |" in card and "ODC-BY" in card and "CommonCrawl Terms of Use" in card
    # filters with the thresholds the run used (from run.json's recipe)
    run = json.loads((run_dir / "run.json").read_text())
    settings = run["settings"]
    steps = [*settings["sources"]["commoncrawl"]["pipeline"], *settings.get("run", {}).get("post", [])]
    assert steps
    for spec in steps:
        assert f"`{spec['step']}`" in card
        for key, value in spec.items():
            if key != "step":
                assert f"`{key}={json.dumps(value)}`" in card, (spec, key)
    ledger = json.loads((run_dir / "ledger.json").read_text())
    c4_read = ledger["c4.00-read"]
    assert f"| c4.00-read | {c4_read['docs_in']} | {c4_read['docs_out']} |" in card


def test_svg_helpers_on_edge_cases():
    assert "no data" in bar_chart("t", [], {})
    assert "no data" in histogram("t", [])
    one = ET.fromstring(histogram("h", [5.0, 5.0, 5.0], bins=4))
    assert len([r for r in one.iter("{http://www.w3.org/2000/svg}rect")]) == 4
    chart = bar_chart("<b>&", ["a<b"], {"x": [1], "y": [2]})
    assert ET.fromstring(chart) is not None and "&lt;b&gt;&amp;" in chart


def test_report_needs_a_finished_run(tmp_path):
    (tmp_path / "stages").mkdir()
    assert kllama(["report", str(tmp_path), "--output", str(tmp_path / "r.html")]) == 2


def test_nothing_is_cut_and_colours_are_distinct(report):
    """Every title, note and label fits inside its plot (measured with the report's own character widths, which
    the screenshots below were checked against), and no two series of a chart share a colour."""
    from kllama.report import CHAR_PX, NOTE_CHAR_PX, TITLE_CHAR_PX

    _, page, _ = report
    ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs(page):
        width = float(svg.get("width"))
        for t in svg.iter(f"{ns}text"):
            text = "".join(t.itertext()).replace("".join(x.text or "" for x in t.iter(f"{ns}title")), "")
            size = {"title": TITLE_CHAR_PX, "stage": TITLE_CHAR_PX, "note": NOTE_CHAR_PX}.get(t.get("class"), CHAR_PX)
            px = len(text) * size
            x = float(t.get("x"))
            left, right = (x - px, x) if t.get("text-anchor") == "end" else (x, x + px)
            assert left >= 0 and right <= width, (text, left, right, width)
        swatches = [r.get("fill") for r in svg.iter(f"{ns}rect") if r.get("width") == "12"]
        assert len(swatches) == len(set(swatches)), swatches  # a legend never repeats a colour
    # the token chart says that its counts include the epochs, measured or estimated (its note wraps in lines)
    notes = " ".join(t.text or "" for svg in svgs(page) for t in svg.iter(f"{ns}text") if t.get("class") == "note")
    assert "after each source's epochs" in notes and "estimated as bytes / 4.2 \u00d7 the source's epochs" in notes
    # a long stage name is written whole (as a heading of its reasons), not cut at the left edge
    assert ">c4.01-exact_dedup <tspan" in page


@pytest.mark.parametrize("width", [800, 1400])
def test_screenshot_in_headless_chromium(report, tmp_path, width):
    if CHROMIUM is None:
        if CI:
            pytest.fail("chromium is not installed in CI (apt-get install chromium)")
        pytest.skip("chromium not installed")
    from PIL import Image

    html_path, _, _ = report
    shot = tmp_path / "shot.png"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={shot}", f"--window-size={width},2600", html_path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.exists(), proc.stderr[-2000:]
    im = Image.open(shot).convert("RGB")
    assert im.size == (width, 2600)
    colours = im.getcolors(maxcolors=1 << 20)
    by_colour = {c: n for n, c in colours}
    # the bars were painted: many pixels in the plots' first two colours (#4e79a7, #f28e2b)
    assert by_colour.get((0x4E, 0x79, 0xA7), 0) > 1500
    assert by_colour.get((0xF2, 0x8E, 0x2B), 0) > 400
    assert len(colours) > 50  # text, bars and tables, not a blank page
    # nothing runs off the right edge: the last columns are page background at both widths
    edge = im.crop((width - 6, 0, width, 2600)).getcolors(maxcolors=1 << 16)
    assert edge == [(6 * 2600, (255, 255, 255))], edge
