r"""Worked maths problems as Galactica ``<work>`` documents (G2 A.6).

Reads JSON lines (``.jsonl``, ``.json``, ``.gz``, ``.zst``) of three layouts, told apart per record
(``layout = "auto"``) or fixed by the recipe:

* ``gsm8k``: ``{"question", "answer"}``, the answer's lines with calculator annotations ``<<48/2=24>>`` and a final
  ``#### 72`` (Socratic sub-questions ``How many ...? ** ...`` too);
* ``math``: ``{"problem", "solution"}`` (MATH; ``level``, ``type`` kept in meta), the answer in ``\boxed{...}``;
* ``steps``: ``{"question", "steps", "answer"}`` (steps a list or a text).

Each record becomes ``Question: ...``/``<work>``/steps/``</work>``/``Answer: ...`` (:mod:`kllama.text.reasoning`,
docs/reasoning.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jsonlines import is_utf8, iter_json_records
from kllama.text.reasoning import (
    CALCULATOR_MODES,
    SUBQUESTION_MODES,
    boxed,
    galactica,
    gsm8k_steps,
    solution_steps,
)

LAYOUTS = ("auto", "gsm8k", "math", "steps")


def detect_layout(rec: dict[str, Any]) -> str | None:
    """``gsm8k``, ``math`` or ``steps`` by the record's fields; ``None`` when none fits."""
    if "steps" in rec and "question" in rec and "answer" in rec:
        return "steps"
    if "problem" in rec and "solution" in rec:
        return "math"
    if "question" in rec and "answer" in rec:
        return "gsm8k"
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) else None


@register
class ReasoningSource(Source):
    """GSM8K-, MATH- and steps-style records as ``Question:``/``<work>``/``Answer:`` documents.

    ``calculator``: ``result`` (annotations removed), ``work`` (each computation written as a line
    ``EXPR = RESULT`` before its step) or ``keep``; ``subquestions``: ``keep`` or ``drop`` (GSM8K Socratic).
    Drops: ``invalid_json``, ``invalid_utf8``, ``line_too_long``, ``truncated_file``, ``unknown_layout`` (no
    known fields), ``empty_question``, ``no_final_answer`` (no ``####`` line, no ``\boxed{}``, no answer),
    ``empty_work`` (no reasoning step).
    """

    name = "reasoning"
    drop_reasons = ("invalid_json", "invalid_utf8", "line_too_long", "truncated_file", "unknown_layout",
                    "empty_question", "no_final_answer", "empty_work")
    patterns = ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst", "*.json", "*.json.gz")

    def __init__(self, layout: str = "auto", calculator: str = "result", subquestions: str = "keep",
                 lang: str | None = "en", max_line_bytes: int = 1 << 20, **options: Any) -> None:
        super().__init__(**options)
        if layout not in LAYOUTS:
            raise ValueError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        if calculator not in CALCULATOR_MODES:
            raise ValueError(f"calculator {calculator!r}: use one of {', '.join(CALCULATOR_MODES)}")
        if subquestions not in SUBQUESTION_MODES:
            raise ValueError(f"subquestions {subquestions!r}: use one of {', '.join(SUBQUESTION_MODES)}")
        self.layout = layout
        self.calculator = calculator
        self.subquestions = subquestions
        self.lang = lang
        self.max_line_bytes = int(max_line_bytes)

    def format_record(self, rec: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | str:
        """(text, layout, meta) of one record, or the drop reason."""
        layout = self.layout if self.layout != "auto" else detect_layout(rec)
        if layout is None:
            return "unknown_layout"
        if layout == "math":
            question, solution = _text(rec.get("problem")), _text(rec.get("solution"))
            if solution is None:
                return "unknown_layout"
            answer, unboxed = boxed(solution)
            steps = solution_steps(unboxed)
            fields = ("problem", "solution")
        elif layout == "gsm8k":
            question, raw = _text(rec.get("question")), _text(rec.get("answer"))
            if raw is None:
                return "unknown_layout"
            steps, answer = gsm8k_steps(raw, self.calculator, self.subquestions)
            fields = ("question", "answer")
        else:
            question, answer = _text(rec.get("question")), _text(rec.get("answer"))
            raw_steps = rec.get("steps")
            if isinstance(raw_steps, list):
                lines = [s for s in (_text(x) for x in raw_steps) if s is not None]
            elif isinstance(raw_steps, str):
                lines = [raw_steps]
            else:
                return "unknown_layout"
            steps = []
            for s in lines:
                steps.extend(gsm8k_steps(s, self.calculator, "keep")[0])
            fields = ("question", "steps", "answer")
        if not question or not question.strip():
            return "empty_question"
        if not answer or not answer.strip():
            return "no_final_answer"
        if not steps:
            return "empty_work"
        meta = {k: v for k, v in rec.items() if k not in fields}
        meta["layout"] = layout
        return galactica(question, steps, answer), layout, meta

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        for line_no, rec, nbytes in iter_json_records(path, ledger, self.max_line_bytes):
            if not isinstance(rec, dict):
                ledger.drop("invalid_json", 1, nbytes)
                continue
            got = self.format_record(rec)
            if isinstance(got, str):
                ledger.drop(got, 1, nbytes)
                continue
            text, layout, meta = got
            if not is_utf8(text):
                ledger.drop("invalid_utf8", 1, nbytes)
                continue
            meta.setdefault("file", base)
            meta["line"] = line_no
            yield Document(id=make_id(self.source_name, f"{base}:{line_no}"), text=text,
                           source=self.source_name, lang=self.lang, meta=meta)
