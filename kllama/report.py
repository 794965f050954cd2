"""``kllama report RUN``: one self-contained HTML page with plots, and a ``DATASET_CARD.md``.

Everything is read from the run folder: ``manifest.json`` (shards: source, group, documents, bytes; variants),
``ledger.json`` or ``stages/*/_stage.json`` (drops by named reason per stage), ``run.json`` (the recipe: filters
and their thresholds), the shards' ``lang`` and ``perplexity`` columns, and tokenization sidecars
(``*.json`` with ``per_source`` tokens) when ``kllama tokenize`` wrote them under the run folder. Plots are
inline SVG drawn here: no JavaScript, no network, nothing to install in the browser.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kllama import __version__
from kllama.core.variants import replacement_volumes, select_variant

#: series colours: Tableau 10, then ten more of other hues and lightness (no two alike, so that adjacent series
#: never share a near-identical shade); a chart with more series cycles them
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#1f3a93", "#8c2d04", "#006d2c", "#a50f15", "#00a4b4", "#7a6a00", "#5e2a84", "#d6457a",
           "#3d2817", "#52575c")
#: average advance of a character: 12 px text, 13 px bold titles, 11 px notes (system-ui); to fit text in a plot
CHAR_PX, TITLE_CHAR_PX, NOTE_CHAR_PX = 7.0, 7.6, 6.4
#: licence notes per source for the dataset card (the run's recipe decides which sources are present)
LICENCES = {
    "commoncrawl": "CommonCrawl Terms of Use; each page stays under its publisher's terms",
    "c4": "ODC-BY 1.0 (allenai/c4), built from CommonCrawl (its Terms of Use apply)",
    "github": "MIT, BSD and Apache-2.0 files only (kept by the `code_license` filter)",
    "wikipedia": "CC BY-SA 4.0 and GFDL (Wikimedia dumps)",
    "books": "Project Gutenberg: public domain in the USA (check your country); Books3-style folders: "
             "copyrighted books, use only where you have the rights",
    "arxiv": "per paper: arXiv's non-exclusive distribution licence by default, some CC BY/BY-SA/BY-NC-SA/CC0",
    "stackexchange": "CC BY-SA 2.5/3.0/4.0 by post date (attribution to the post and its author required)",
    "pile": "the Pile v1 components' own licences (used here only as a reference index)",
}
TOKENS_PER_BYTE_ESTIMATE = 1 / 4.2  # GPT-NeoX BPE on English prose; used only when nothing was tokenized
#: perplexity histogram: log10 bins over [1, 10^5] (values outside go to the end bins)
PPL_LOG10_RANGE = (0.0, 5.0)
PPL_BINS = 50


# -- reading a run -------------------------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """Everything the report shows, gathered from ``run_dir``."""
    run_dir = Path(run_dir)
    manifest = _read_json(run_dir / "manifest.json")
    if manifest is None:
        raise FileNotFoundError(f"{run_dir}/manifest.json missing: the run has not finished (see `kllama status`)")
    ledger = _read_json(run_dir / "ledger.json") or {}
    if not ledger:
        for p in sorted((run_dir / "stages").glob("*/_stage.json")):
            info = _read_json(p)
            if info:
                ledger[info.get("name", p.parent.name)] = info.get("ledger", {})
    run_info = _read_json(run_dir / "run.json") or {}
    tokenized = []
    for p in sorted(run_dir.rglob("*.json")):
        if "stages" in p.relative_to(run_dir).parts:
            continue
        d = _read_json(p)
        if isinstance(d, dict) and "per_source" in d and "tokens" in d and "variant" in d:
            tokenized.append(d)
    langs: Counter = Counter()
    perplexity: dict[str, np.ndarray] = {}
    for shard in manifest.get("shards", []):
        path = run_dir / shard["path"]
        if not path.exists():
            continue
        pf = pq.ParquetFile(path)
        cols = [c for c in ("lang", "perplexity") if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(columns=cols, batch_size=65536) if cols else []:
            if "lang" in cols:
                for item in pc.value_counts(batch.column("lang")).to_pylist():
                    langs[item["values"] or "(none)"] += item["counts"]
            if "perplexity" in cols:
                vals = batch.column("perplexity").drop_null().to_numpy(zero_copy_only=False)
                vals = np.log10(np.clip(vals[vals > 0], 10 ** PPL_LOG10_RANGE[0], 10 ** PPL_LOG10_RANGE[1]))
                counts, _ = np.histogram(vals, bins=PPL_BINS, range=PPL_LOG10_RANGE)
                perplexity[shard["source"]] = perplexity.get(shard["source"], 0) + counts
    return {"run_dir": str(run_dir), "manifest": manifest, "ledger": ledger, "run": run_info,
            "tokenized": tokenized, "langs": langs,
            "perplexity": {src: [int(c) for c in counts] for src, counts in perplexity.items() if counts.sum()}}


# -- SVG -----------------------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    if v >= 1e9:
        return f"{v / 1e9:.1f}G"
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v == int(v):
        return str(int(v))
    return f"{v:.2f}"


def _wrap(text: str, max_chars: int) -> list[str]:
    """``text`` cut at spaces into lines of at most ``max_chars`` (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= max_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _shorten(label: str, max_chars: int) -> str:
    """A label that fits ``max_chars``: its start and end around an ellipsis (the full text goes in a tooltip)."""
    if len(label) <= max_chars:
        return label
    keep = max(max_chars - 1, 2)
    return label[: (keep + 1) // 2] + "\u2026" + label[len(label) - keep // 2:]


def _heading(title: str, note: str, width: int) -> tuple[list[str], int]:
    """SVG text lines of a chart's title (bold, wrapped to ``width``) and its note (smaller), and the y below."""
    esc = html.escape
    out, y = [], 20
    for line in _wrap(title, int((width - 16) / TITLE_CHAR_PX)):
        out.append(f'<text x="8" y="{y}" class="title">{esc(line)}</text>')
        y += 17
    for line in _wrap(note, int((width - 16) / NOTE_CHAR_PX)) if note else []:
        out.append(f'<text x="8" y="{y - 2}" class="note">{esc(line)}</text>')
        y += 15
    return out, y - 6


def bar_chart(title: str, categories: list[str], series: dict[str, list[float]], *, stacked: bool = True,
              width: int = 720, unit: str = "", note: str = "") -> str:
    """Horizontal bars, one row per category; several series are stacked (or grouped). The title wraps to the
    chart's width, ``note`` is a smaller line under it, and a label too long for the label column is shortened
    (full text in its tooltip)."""
    if not categories or not series:
        return _empty(title)
    esc = html.escape
    row_h = 22
    heading, top = _heading(title, note, width)
    label_w = min(320, max(90, 14 + int(CHAR_PX * max(len(c) for c in categories))))
    fit = int((label_w - 12) / CHAR_PX)
    names = list(series)
    legend = _legend_layout(names, label_w, width) if len(names) > 1 else []
    legend_h = (max(y for _, _, y in legend) + 22) if legend else 0
    rows = len(categories) if stacked else len(categories) * len(names)
    height = top + rows * row_h + legend_h + 26
    totals = [sum(series[n][i] for n in names) for i in range(len(categories))] if stacked else \
        [max(series[n][i] for n in names) for i in range(len(categories))]
    vmax = max(totals) or 1
    plot_w = width - label_w - 70
    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">', *heading]
    y = top
    for i, cat in enumerate(categories):
        if stacked:
            x = label_w
            out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{esc(_shorten(cat, fit))}'
                       f'<title>{esc(cat)}</title></text>')
            for k, n in enumerate(names):
                v = series[n][i]
                w = plot_w * v / vmax
                if w > 0:
                    out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 0.8):.1f}" height="{row_h - 6}" '
                               f'fill="{_color(k)}"><title>{esc(cat)} / {esc(n)}: '
                               f'{_fmt(v)}{unit}</title></rect>')
                x += w
            out.append(f'<text x="{x + 4:.1f}" y="{y + 15}" class="val">{_fmt(totals[i])}{unit}</text>')
            y += row_h
        else:
            for k, n in enumerate(names):
                v = series[n][i]
                w = plot_w * v / vmax
                if k == 0:
                    out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{esc(_shorten(cat, fit))}'
                               f'<title>{esc(cat)}</title></text>')
                out.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 0.8):.1f}" height="{row_h - 6}" '
                           f'fill="{_color(k)}"><title>{esc(cat)} / {esc(n)}: {_fmt(v)}{unit}'
                           f'</title></rect>')
                out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" class="val">{_fmt(v)}{unit}</text>')
                y += row_h
    out.append(f'<line x1="{label_w}" y1="{top}" x2="{label_w}" y2="{y}" class="axis"/>')
    for k, (n, lx, ly) in enumerate(legend):
        out.append(f'<rect x="{lx}" y="{y + ly + 10}" width="12" height="12" fill="{_color(k)}"/>'
                   f'<text x="{lx + 16}" y="{y + ly + 21}">{esc(n)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _color(k: int) -> str:
    """The k-th series colour (the palette, cycled)."""
    return PALETTE[k % len(PALETTE)]


def _legend_layout(names: list[str], left: int, width: int) -> list[tuple[str, int, int]]:
    """``(name, x, y)`` of each legend entry, wrapped into lines that fit ``width``."""
    out, x, y = [], left, 0
    for n in names:
        w = 28 + int(CHAR_PX * len(n))
        if x + w > width - 8 and x > left:
            x, y = left, y + 18
        out.append((n, x, y))
        x += w
    return out


def histogram(title: str, values: list[float] | dict[str, int] | list[tuple[str, int]], *, bins: int = 30,
              log_x: bool = False, width: int = 720, height: int = 260, xlabel: str = "") -> str:
    """Vertical bars: a histogram of ``values`` (numbers), counts per label (a dict, largest first), or
    pre-binned ``(label, count)`` pairs (kept in order)."""
    esc = html.escape
    if values and isinstance(values, list) and isinstance(values[0], tuple):
        labels = [lab for lab, _ in values]
        counts = [c for _, c in values]
        if not any(counts):
            return _empty(title)
        ticks = [lab if i % max(1, len(labels) // 8) == 0 else "" for i, lab in enumerate(labels)]
    elif isinstance(values, dict):
        items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:40]
        labels = [k for k, _ in items]
        counts = [v for _, v in items]
        ticks = labels
    else:
        vals = [math.log10(v) if log_x else v for v in values if v is not None and (v > 0 or not log_x)]
        if not vals:
            return _empty(title)
        lo, hi = min(vals), max(vals)
        if hi == lo:
            hi = lo + 1
        step = (hi - lo) / bins
        counts = [0] * bins
        for v in vals:
            counts[min(bins - 1, int((v - lo) / step))] += 1
        edges = [lo + i * step for i in range(bins)]
        labels = [f"{(10 ** e if log_x else e):.3g}" for e in edges]
        ticks = [lab if i % max(1, bins // 6) == 0 else "" for i, lab in enumerate(labels)]
    if not counts:
        return _empty(title)
    left, top, bottom = 50, 34, 58
    plot_w, plot_h = width - left - 16, height - top - bottom
    bw = plot_w / len(counts)
    cmax = max(counts) or 1
    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f'<text x="8" y="20" class="title">{esc(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>',
           f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" class="val">{_fmt(cmax)}</text>',
           f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="val">0</text>']
    for i, c in enumerate(counts):
        h = plot_h * c / cmax
        x = left + i * bw
        out.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bw - 2, 1):.1f}" height="{h:.1f}" '
                   f'fill="{_color(0)}"><title>{esc(labels[i])}: {c}</title></rect>')
        if ticks[i]:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h + 14}" text-anchor="end" class="tick" '
                       f'transform="rotate(-40 {x + bw / 2:.1f} {top + plot_h + 14})">{esc(ticks[i])}</text>')
    if xlabel:
        out.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" class="val">'
                   f"{esc(xlabel)}</text>")
    out.append("</svg>")
    return "\n".join(out)


def drops_chart(title: str, drops: list[tuple[str, dict[str, int]]], *, width: int = 720) -> str:
    """Drops per stage and reason: each stage a heading line (its full name and total), under it one labelled bar
    per reason. No legend to decode: every bar says its reason; stages alternate colours."""
    drops = [(st, r) for st, r in drops if sum(r.values())]
    if not drops:
        return _empty(title)
    esc = html.escape
    row_h, head_h = 20, 22
    heading, top = _heading(title, "", width)
    reasons = [reason for _, r in drops for reason in r]
    label_w = min(300, max(120, 24 + int(CHAR_PX * max(len(r) for r in reasons))))
    fit = int((label_w - 12) / CHAR_PX)
    plot_w = width - label_w - 60
    vmax = max(n for _, r in drops for n in r.values()) or 1
    height = top + len(drops) * head_h + len(reasons) * row_h + 14
    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">', *heading]
    y = top
    for k, (stage, reasons_n) in enumerate(drops):
        y += head_h
        out.append(f'<text x="8" y="{y - 6}" class="stage">{esc(stage)} '
                   f'<tspan class="val">({_fmt(sum(reasons_n.values()))} dropped)</tspan></text>')
        for reason, n in sorted(reasons_n.items(), key=lambda kv: (-kv[1], kv[0])):
            w = plot_w * n / vmax
            out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{esc(_shorten(reason, fit))}'
                       f'<title>{esc(reason)}</title></text>')
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 0.8):.1f}" height="{row_h - 6}" '
                       f'fill="{_color(k % 2)}"><title>{esc(stage)} / {esc(reason)}: {n}</title></rect>')
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" class="val">{_fmt(n)}</text>')
            y += row_h
    out.append("</svg>")
    return "\n".join(out)


def _empty(title: str) -> str:
    return (f'<svg class="plot empty" xmlns="http://www.w3.org/2000/svg" width="720" height="50">'
            f'<text x="8" y="20" class="title">{html.escape(title)}</text>'
            f'<text x="8" y="40" class="val">no data in this run</text></svg>')


# -- aggregation ---------------------------------------------------------------------------------------------
def per_source_group(manifest: dict[str, Any], field: str) -> tuple[list[str], dict[str, list[float]]]:
    """Sources (rows) x shard groups (series) of ``field`` (docs or bytes)."""
    table: dict[str, Counter] = defaultdict(Counter)
    for s in manifest.get("shards", []):
        table[s["source"]][s["group"]] += s.get(field, 0) or 0
    sources = sorted(table)
    groups = [g for g in ("core", "pile-overlap", "extra", "extra-pile-overlap")
              if any(table[s][g] for s in sources)]
    groups += sorted({g for s in sources for g in table[s]} - set(groups))
    return sources, {g: [table[s][g] for s in sources] for g in groups}


def per_variant(manifest: dict[str, Any], tokenized: list[dict[str, Any]]
                ) -> tuple[list[str], dict[str, dict[str, list[float]]], list[str]]:
    """Per variant and source: documents (each once) and tokens as training sees them, after the variant's epochs
    (measured from tokenization sidecars, else estimated as bytes / 4.2 times the source's epochs)."""
    sources = sorted({s["source"] for s in manifest.get("shards", [])})
    variants = sorted(manifest.get("variants", {}))
    docs: dict[str, list[float]] = {}
    toks: dict[str, list[float]] = {}
    measured = {t["variant"]: t for t in tokenized}
    for v in variants:
        d = Counter()
        b = Counter()
        sel = select_variant(manifest, v)
        for s in sel.shards:
            d[s["source"]] += s.get("docs", 0)
            # like a tokenized variant's counts: each source's documents taken its epochs' times (Table 1)
            b[s["source"]] += (s.get("tokens") or s.get("bytes", 0) * TOKENS_PER_BYTE_ESTIMATE) \
                * sel.weights.get(s["source"], 1.0)
        docs[v] = [d[s] for s in sources]
        if v in measured:
            toks[v] = [measured[v]["per_source"].get(s, {}).get("tokens", 0) for s in sources]
        else:
            toks[v] = [round(b[s]) for s in sources]
    return sources, {"docs": docs, "tokens": toks}, sorted(v for v in variants if v in measured)


def mix_against_table1(sources: list[str], tokens: dict[str, list[float]], measured: list[str]
                       ) -> tuple[list[str], dict[str, list[float]]]:
    """Sources and, per tokenized variant, each source's percent of its tokens, with LLaMA's Table 1 beside."""
    from kllama.tokenize.mix import LLAMA_PROPORTIONS

    names = [*LLAMA_PROPORTIONS, *sorted(set(sources) - set(LLAMA_PROPORTIONS))]
    shares = {"LLaMA Table 1": [LLAMA_PROPORTIONS.get(s, 0.0) for s in names]}
    for v in measured:
        by = dict(zip(sources, tokens[v], strict=True))
        total = sum(by.values()) or 1
        shares[v] = [round(100 * by.get(s, 0) / total, 2) for s in names]
    return names, shares


def pile_policy_rows(manifest: dict[str, Any], ledger: dict[str, Any], run_info: dict[str, Any]
                     ) -> list[list[Any]]:
    """Per source: its Pile policy (``label``/``keep``), documents checked, documents found in the Pile (exact,
    near) and documents moved to a pile-overlap group; from the ledger's ``pile_*`` statistics."""
    stats: Counter = Counter()
    for led in ledger.values():
        for k, v in (led.get("stats") or {}).items():
            if k.startswith(("pile_checked:", "pile_overlap:", "pile_kept:")):
                stats[k] += v
    settings = (run_info.get("settings") or {}).get("sources") or {}
    sources = sorted({s["source"] for s in manifest.get("shards", [])}
                     | {k.split(":")[1] for k in stats if k.startswith("pile_checked:")})
    rows = []
    for src in sources:
        checked = stats.get(f"pile_checked:{src}", 0)
        exact = stats.get(f"pile_overlap:{src}:exact", 0)
        near = stats.get(f"pile_overlap:{src}:near", 0)
        kept = stats.get(f"pile_kept:{src}", 0)
        policy = (settings.get(src) or {}).get("pile", "label")
        rows.append([src, policy, checked, exact, near, exact + near - kept,
                     f"{100 * (exact + near) / checked:.1f}%" if checked else "-"])
    return rows


def replacement_rows(manifest: dict[str, Any]) -> list[list[Any]]:
    """Per variant and replaced slot: the slot's volume before and after the replacement."""
    rows = []
    for v in sorted(manifest.get("variants", {})):
        for r in replacement_volumes(manifest, v):
            rows.append([v, r["slot"], " + ".join(r["sources"]), r["before_docs"], f"{r['before_bytes'] / 1e6:.2f}",
                         r["after_docs"], f"{r['after_bytes'] / 1e6:.2f}",
                         ", ".join(f"{k} {w:g}" for k, w in r["epochs"].items())])
    return rows


POLICY_NOTE = ("`pile = \"label\"` moves a source's documents found in the Pile v1 to the `pile-overlap` groups, which "
               "G3 leaves out; `pile = \"keep\"` measures the overlap the same way but leaves the documents where they "
               "are, so G3 keeps them. The bundled recipes keep Wikipedia (\"important enough to be shown several "
               "times, so we don't need deduplication here\") and arXiv (\"we likely would be better served by "
               "avoiding deduplication here and just copying what LLAMA did\"), as the project's founding notes say, "
               "and label every other source.")

_POLICY_HEAD = ["source", "Pile policy", "checked", "in the Pile (exact)", "in the Pile (near)", "moved to pile-overlap",
                "share in the Pile"]
_REPL_HEAD = ["variant", "slot", "filled by", "documents before", "MB before", "documents after", "MB after",
              "epochs"]


def drops_by_stage(ledger: dict[str, Any]) -> tuple[list[str], dict[str, list[float]]]:
    stages = sorted(st for st in ledger if sum(ledger[st].get("dropped", {}).values()))
    reasons = sorted({r for st in stages for r in ledger[st].get("dropped", {})})
    return stages, {r: [ledger[st].get("dropped", {}).get(r, 0) for st in stages] for r in reasons}


def recipe_filters(run_info: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(source, step, thresholds)`` for every step of every source in the run's recipe (then ``run.post``)."""
    settings = run_info.get("settings", {}) or {}
    out = []
    post = (settings.get("run", {}) or {}).get("post", []) or []
    for name, spec in sorted((settings.get("sources", {}) or {}).items()):
        if name not in (run_info.get("sources") or {name: 1}):
            continue
        for step in [*(spec.get("pipeline", []) or []), *post]:
            kwargs = {k: v for k, v in step.items() if k != "step"}
            out.append((name, step.get("step", "?"), kwargs))
    return out


# -- HTML ----------------------------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:980px;color:#222;
padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:30px;border-bottom:1px solid #ddd}
svg.plot{display:block;margin:10px 0;background:#fafafa;border:1px solid #eee;max-width:100%;height:auto}
svg text{font:12px system-ui,sans-serif;fill:#333}svg text.title{font-weight:600;font-size:13px}
svg text.note{fill:#555;font-size:11px}svg text.stage{font-weight:600}
svg text.val,svg text.tick{fill:#666;font-size:11px}svg .axis{stroke:#999}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.t{text-align:left}td:first-child,th:first-child{text-align:left}code{background:#f3f3f3;padding:0 3px}
.note{color:#666;font-size:12px}
"""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    esc = html.escape
    h = "".join(f"<th>{esc(str(c))}</th>" for c in header)
    body = "".join("<tr>" + "".join(
        f"<td>{esc(str(c))}</td>" if isinstance(c, int | float) else f'<td class="t">{esc(str(c))}</td>'
        for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def render_html(data: dict[str, Any]) -> str:
    """The report page for ``load_run``'s data."""
    esc = html.escape
    manifest, ledger, run_info = data["manifest"], data["ledger"], data["run"]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kllama report: "
             f"{esc(manifest.get('recipe', ''))}</title><style>{_CSS}</style></head><body>",
             f"<h1>kllama run report &mdash; recipe <code>{esc(str(manifest.get('recipe', '?')))}</code></h1>",
             f"<p class=\"note\">{esc(data['run_dir'])} &middot; kllama {esc(str(manifest.get('kllama', '')))} "
             f"&middot; report made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>"]

    sources, docs_by_group = per_source_group(manifest, "docs")
    _, bytes_by_group = per_source_group(manifest, "bytes")
    parts.append("<h2>Documents per source</h2>")
    parts.append(bar_chart("Documents per source and shard group", sources, docs_by_group))
    parts.append(bar_chart("Bytes of text per source and shard group", sources, bytes_by_group, unit="B"))

    vsources, per_v, measured = per_variant(manifest, data["tokenized"])
    parts.append("<h2>Variants</h2>")
    parts.append(bar_chart("Documents per source and variant", vsources, per_v["docs"], stacked=False))
    estimated = [v for v in per_v["tokens"] if v not in measured]
    tok_note = "after each source's epochs (Table 1 weights: a source read 2.45 times counts 2.45 times)"
    if estimated:
        tok_note = (f"({', '.join(measured)} tokenized; " if measured else "(") + \
            f"{', '.join(estimated)} estimated as bytes / 4.2 \u00d7 the source's epochs; all counts are " \
            "after each source's epochs, as training sees them: run `kllama tokenize` for exact counts)"
    parts.append(bar_chart("Tokens per source and variant", vsources, per_v["tokens"], stacked=False,
                           note=tok_note))
    if measured:
        mix_sources, shares = mix_against_table1(vsources, per_v["tokens"], measured)
        parts.append(bar_chart("Share of tokens per source, %: tokenized variants against LLaMA Table 1",
                               mix_sources, shares, stacked=False))
    vrows = [[v, ", ".join(info.get("groups", [])), info.get("docs", 0), f"{info.get('bytes', 0) / 1e6:.2f}",
              ", ".join(f"{k}={w}" for k, w in sorted(info.get("weights", {}).items()))]
             for v, info in sorted(manifest.get("variants", {}).items())]
    parts.append(_table(["variant", "groups", "documents", "MB", "epochs (Table 1)"], vrows))
    repl = replacement_rows(manifest)
    if repl:
        parts.append("<h3>Replaced sources</h3><p class=\"note\">A variant's <code>replace</code> fills a source's "
                     "slot with other sources (at the slot's epochs): the slot's volume before and after.</p>")
        parts.append(_table(_REPL_HEAD, repl))

    stages, drops = drops_by_stage(ledger)
    parts.append("<h2>Drops by reason per stage</h2>")
    parts.append(drops_chart("Documents dropped per stage, by named reason (stages that dropped any)",
                             [(st, {r: int(drops[r][i]) for r in drops if drops[r][i]}) for i, st in enumerate(stages)]))
    srows = [[st, led.get("docs_in", 0), led.get("docs_out", 0), sum(led.get("dropped", {}).values()),
              "yes" if led.get("docs_in", 0) == led.get("docs_out", 0) + sum(led.get("dropped", {}).values())
              else "NO", len(led.get("quarantined", []))] for st, led in sorted(ledger.items())]
    parts.append(_table(["stage", "in", "out", "dropped", "balanced", "quarantined"], srows))

    parts.append("<h2>Languages and perplexity</h2>")
    parts.append(histogram("Documents per language (shard column lang)", dict(data["langs"])))
    if data["perplexity"]:
        step = (PPL_LOG10_RANGE[1] - PPL_LOG10_RANGE[0]) / PPL_BINS
        labels = [f"{10 ** (PPL_LOG10_RANGE[0] + i * step):.3g}" for i in range(PPL_BINS)]
        for src, counts in sorted(data["perplexity"].items()):
            parts.append(histogram(f"Perplexity of {src} documents (cc_net KenLM, log scale)",
                                   list(zip(labels, counts, strict=True)), xlabel="perplexity (bin start)"))
    else:
        parts.append(_empty("Perplexity histogram (no shard has a perplexity column)"))

    parts.append("<h2>Pile overlap per source</h2>")
    overlap_rows = []
    for i, src in enumerate(sources):
        core = docs_by_group.get("core", [0] * len(sources))[i] + docs_by_group.get("extra", [0] * len(sources))[i]
        pile = (docs_by_group.get("pile-overlap", [0] * len(sources))[i]
                + docs_by_group.get("extra-pile-overlap", [0] * len(sources))[i])
        overlap_rows.append((src, core, pile))
    parts.append(bar_chart("Documents in the Pile (pile-overlap) vs not (core/extra)", [r[0] for r in overlap_rows],
                           {"not in the Pile": [r[1] for r in overlap_rows],
                            "in the Pile": [r[2] for r in overlap_rows]}))
    parts.append(_table(["source", "not in the Pile", "in the Pile", "share in the Pile"],
                        [[s, c, p, f"{100 * p / (c + p):.1f}%" if c + p else "-"] for s, c, p in overlap_rows]))
    parts.append(f"<h3>Pile policy per source</h3><p class=\"note\">{esc(POLICY_NOTE)}</p>")
    parts.append(_table(_POLICY_HEAD, pile_policy_rows(manifest, ledger, run_info)))

    parts.append("<h2>Filters and thresholds (from the recipe)</h2>")
    frows = [[src, step, ", ".join(f"{k}={json.dumps(v)}" for k, v in kw.items()) or "(defaults)"]
             for src, step, kw in recipe_filters(run_info)]
    parts.append(_table(["source", "step", "settings"], frows))
    parts.append("</body></html>")
    return "\n".join(parts)


def dataset_card(data: dict[str, Any]) -> str:
    """``DATASET_CARD.md``: sources, licences, filters with thresholds, counts."""
    manifest, run_info = data["manifest"], data["run"]
    sources, docs_by_group = per_source_group(manifest, "docs")
    _, bytes_by_group = per_source_group(manifest, "bytes")
    groups = list(docs_by_group)
    lines = [f"# Dataset card: kllama `{manifest.get('recipe', '?')}` run", "",
             f"Built by kllama {manifest.get('kllama', '')} from raw public dumps "
             f"(run folder `{data['run_dir']}`). Shards are Parquet, split into groups "
             "(`core`, `pile-overlap`, `extra`, `extra-pile-overlap`); each variant takes some groups.", "",
             "## Sources and licences", "", "| source | reader | documents | MB | licence |", "|---|---|---:|---:|---|"]
    run_sources = run_info.get("sources", {}) or {}
    for i, s in enumerate(sources):
        d = sum(docs_by_group[g][i] for g in groups)
        b = sum(bytes_by_group[g][i] for g in groups)
        reader = run_sources.get(s, {}).get("reader", s)
        lic = LICENCES.get(s) or LICENCES.get(reader) or "see the source's own terms"
        lines.append(f"| {s} | {reader} | {d} | {b / 1e6:.2f} | {lic} |")
    lines += ["", "## Variants", "", "| variant | groups | documents | MB | epochs per source |", "|---|---|---:|---:|---|"]
    for v, info in sorted(manifest.get("variants", {}).items()):
        weights = ", ".join(f"{k} {w}" for k, w in sorted(info.get("weights", {}).items()))
        lines.append(f"| {v} | {', '.join(info.get('groups', []))} | {info.get('docs', 0)} | "
                     f"{info.get('bytes', 0) / 1e6:.2f} | {weights} |")
    repl = replacement_rows(manifest)
    if repl:
        lines += ["", "### Replaced sources", "", "A variant's `replace` fills a source's slot with other sources "
                  "(at the slot's epochs):", "", "| " + " | ".join(_REPL_HEAD) + " |",
                  "|---|---|---|---:|---:|---:|---:|---|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in repl]
    lines += ["", "## The Pile: policy per source", "", POLICY_NOTE, "", "| " + " | ".join(_POLICY_HEAD) + " |",
              "|---|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |"
              for row in pile_policy_rows(manifest, data["ledger"], run_info)]
    lines += ["", "## Filters (thresholds as run)", ""]
    current = None
    for src, step, kw in recipe_filters(run_info):
        if src != current:
            lines += ["", f"**{src}**", ""]
            current = src
        args = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in kw.items()) or "defaults"
        lines.append(f"- `{step}`: {args}")
    lines += ["", "## Counts per stage", "", "| stage | in | out | dropped (reason=n) |", "|---|---:|---:|---|"]
    for st, led in sorted(data["ledger"].items()):
        drops = ", ".join(f"{k}={v}" for k, v in sorted(led.get("dropped", {}).items())) or "-"
        lines.append(f"| {st} | {led.get('docs_in', 0)} | {led.get('docs_out', 0)} | {drops} |")
    if data["tokenized"]:
        lines += ["", "## Tokens", "", "| variant | tokens | documents |", "|---|---:|---:|"]
        for t in sorted(data["tokenized"], key=lambda t: t["variant"]):
            lines.append(f"| {t['variant']} | {t['tokens']} | {t.get('docs', '')} |")
    lines += ["", f"Recipe fingerprint: `{run_info.get('fingerprint', '?')}`.", ""]
    return "\n".join(lines)


def write_report(run_dir: str | Path, output: str | Path, card: str | Path | None = None) -> tuple[Path, Path]:
    """Write the HTML report to ``output`` and the dataset card (default: beside it); returns both paths."""
    from kllama.core.files import atomic_write_text

    data = load_run(run_dir)
    output = Path(output)
    card_path = Path(card) if card else output.with_name("DATASET_CARD.md")
    atomic_write_text(output, render_html(data))
    atomic_write_text(card_path, dataset_card(data))
    return output, card_path


__all__ = ["bar_chart", "dataset_card", "histogram", "load_run", "render_html", "write_report", "__version__"]
