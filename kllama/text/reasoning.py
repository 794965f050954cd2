r"""Worked solutions in Galactica's ``<work>`` format (G2 A.6): pure text functions, no I/O.

A document is::

    Question: <the problem>
    <work>
    <one reasoning step per line>
    </work>
    Answer: <the final answer>

GSM8K answers carry calculator annotations (``16 - 3 - 4 = <<16-3-4=9>>9 eggs``) and end in ``#### 9``; MATH
solutions end their answer in ``\boxed{...}``; a generic record gives ``steps`` itself. See docs/reasoning.md.
"""

from __future__ import annotations

import re

WORK_OPEN = "<work>"
WORK_CLOSE = "</work>"
#: what calculator annotations become: ``result`` (removed: the result already follows them), ``work`` (the
#: computation written as its own line ``EXPR = RESULT`` before the step, as Galactica wrote calculations
#: inside ``<work>``), ``keep`` (left as they are)
CALCULATOR_MODES = ("result", "work", "keep")
#: GSM8K Socratic sub-questions (``How many ...? ** step``): ``keep`` (the sub-question on its own line before
#: the step) or ``drop``
SUBQUESTION_MODES = ("keep", "drop")

_CALC = re.compile(r"<<([^<>\n]*)>>")
_FINAL = re.compile(r"^\s*####\s*(.*?)\s*$")
_SUBQ = re.compile(r"^(.*?\?)\s*\*\*\s*(.*)$")
_BOX = re.compile(r"\\(?:boxed|fbox)\s*")


def calculator(line: str, mode: str = "result") -> tuple[str, list[str]]:
    """``line`` with its ``<<expr=result>>`` annotations handled by ``mode``; returns the line and the
    computations (``"expr = result"``) it held, in order (empty for ``keep``)."""
    if mode not in CALCULATOR_MODES:
        raise ValueError(f"calculator mode {mode!r}: use one of {', '.join(CALCULATOR_MODES)}")
    if mode == "keep":
        return line, []
    calcs: list[str] = []

    def one(m: re.Match[str]) -> str:
        body = m.group(1)
        expr, eq, result = body.rpartition("=")
        calcs.append(f"{expr.strip()} = {result.strip()}" if eq else body.strip())
        return ""

    return _CALC.sub(one, line), calcs


def gsm8k_steps(answer: str, calc: str = "result", subquestions: str = "keep") -> tuple[list[str], str | None]:
    """The reasoning lines and the final answer (after ``####``; ``None`` when missing) of a GSM8K answer."""
    if subquestions not in SUBQUESTION_MODES:
        raise ValueError(f"subquestions {subquestions!r}: use one of {', '.join(SUBQUESTION_MODES)}")
    steps: list[str] = []
    final = None
    for raw in answer.replace("\r\n", "\n").split("\n"):
        m = _FINAL.match(raw)
        if m:
            final = m.group(1)
            continue
        line = raw.strip()
        if not line:
            continue
        sub = _SUBQ.match(line)
        if sub and "**" in line:
            question, line = sub.group(1).strip(), sub.group(2).strip()
            if subquestions == "keep":
                steps.append(question)
        text, calcs = calculator(line, calc)
        if calc == "work":
            steps.extend(calcs)
        text = " ".join(text.split())
        if text:
            steps.append(text)
    return steps, final


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the balanced ``{...}`` opening at ``text[start]`` and the index after it."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\":  # an escaped character (\{, \}, \\) never opens or closes
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    return None


def boxed(solution: str) -> tuple[str | None, str]:
    r"""(the content of the last ``\boxed{...}``/``\fbox{...}`` (or ``\boxed 5``), the solution with every box
    replaced by its content). The answer is ``None`` when there is no complete box."""
    answer = None
    out: list[str] = []
    pos = 0
    for m in _BOX.finditer(solution):
        if m.start() < pos:
            continue
        j = m.end()
        if j < len(solution) and solution[j] == "{":
            got = _braced(solution, j)
            if got is None:
                continue
            content, end = got
        else:
            tail = re.match(r"[^\s$]+", solution[j:])
            if tail is None:
                continue
            content, end = tail.group(0), j + tail.end()
        out.append(solution[pos:m.start()])
        out.append(content)
        pos = end
        answer = content.strip()
    out.append(solution[pos:])
    return answer, "".join(out)


def solution_steps(solution: str) -> list[str]:
    """A free-text solution as lines (blank lines removed, lines stripped of trailing spaces)."""
    return [line.rstrip() for line in solution.replace("\r\n", "\n").split("\n") if line.strip()]


def galactica(question: str, steps: list[str], answer: str) -> str:
    """The Galactica form: ``Question: ...``, the steps inside ``<work>`` ... ``</work>``, ``Answer: ...``."""
    body = "\n".join(steps)
    return f"Question: {question.strip()}\n{WORK_OPEN}\n{body}\n{WORK_CLOSE}\nAnswer: {answer.strip()}"
