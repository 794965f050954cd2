"""DeepMind Mathematics (``dm_math``) in the Pile's layout: generated from a seed, or read from the released files.

The Pile's "DM Mathematics" set is DeepMind's pregenerated ``mathematics_dataset-v1.0`` ``train-easy``,
``train-medium`` and ``train-hard`` folders: one ``<module>.txt`` per module and difficulty, a question line then
its answer line, cut into documents of at most 8,192 characters at an even line (a document never splits a
question from its answer). This reader produces exactly that layout, two ways:

- **generated** (``counts``): DeepMind's ``mathematics_dataset`` package (PyPI 1.0.1, through the thin shim in
  :mod:`kllama.sources.dm_math_compat` so that it runs on current sympy/numpy) generates ``counts[module]``
  problems per module and difficulty. Every partition unit (module, difficulty, part of ``problems_per_part``
  problems) reseeds Python's, numpy's and sympy's generators from ``sha256(seed, difficulty, module, part)`` (and
  restores them after), so the output depends on the seed and the package versions only, never on partitioning,
  workers or ``PYTHONHASHSEED`` (a test generates every module under two hash seeds).
  Questions or answers longer than the package's limits (160/30 characters) are resampled, as its own
  ``generate.py`` does (statistic ``dm_math_resampled``).
- **read** (``inputs``): the released files, as a folder holding ``train-*/<module>.txt`` or the
  ``mathematics_dataset-v1.0.tar.gz`` archive (streamed, only ``.txt`` members, with a size limit).

The Pile's own copy is read by the ``pile`` reader with ``pile_set_names = ["DM Mathematics"]``.

``meta``: ``module``, ``difficulty``, ``pile_set_name`` (``DM Mathematics``), ``problems`` (question/answer pairs
in the document), and for generated text ``seed``, ``part``, ``generator`` (package versions). Drops:
``dm_math_odd_lines`` (a file whose last question has no answer line: that question only),
``dm_math_member_too_large``, ``truncated_file``.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.tarstream import TruncatedArchive, iter_tar

PILE_SET_NAME = "DM Mathematics"
#: The Pile's document size for DM Mathematics (``chunk_at_even_lines(..., 8192)``)
CHUNK_CHARS = 8192
DIFFICULTIES = ("train-easy", "train-medium", "train-hard")
#: the test regimes of the package (not in the Pile): interpolation and extrapolation
TEST_REGIMES = ("interpolate", "extrapolate")
UNIT_PREFIX = "dm_math-generate:"
_MEMBER = re.compile(r"(?:^|/)(train-easy|train-medium|train-hard|interpolate|extrapolate)/([A-Za-z0-9_]+)\.txt$")
_GENERATE_LOCK = threading.Lock()  # the package draws from the process-wide random generators


def chunk_at_even_lines(lines: list[str], max_chars: int = CHUNK_CHARS) -> list[list[str]]:
    """Question/answer lines cut into chunks of at most ``max_chars`` characters (newlines counted) at even
    line boundaries; a single pair longer than ``max_chars`` is a chunk of its own."""
    chunks: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for i in range(0, len(lines) - 1, 2):
        pair = lines[i: i + 2]
        n = len(pair[0]) + len(pair[1]) + 2
        if cur and size + n > max_chars:
            chunks.append(cur)
            cur, size = [], 0
        cur.extend(pair)
        size += n
    if cur:
        chunks.append(cur)
    return chunks


def unit_seed(seed: int, difficulty: str, module: str, part: int) -> int:
    """The seed of one generated unit: 64 bits of ``sha256("seed:difficulty:module:part")``."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{difficulty}:{module}:{part}".encode()).digest()[:8], "little")


def _entropy_fn(level: int, levels: int):
    lo, hi = level / levels, (level + 1) / levels

    def modify(range_: tuple[float, float]) -> tuple[float, float]:
        length = range_[1] - range_[0]
        return (range_[0] + lo * length, range_[0] + hi * length)

    return modify


def _flatten(tree: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    for key in sorted(tree):
        name = f"{prefix}__{key}" if prefix else key
        if isinstance(tree[key], dict):
            _flatten(tree[key], name, out)
        else:
            out[name] = tree[key]
    return out


def module_functions(difficulty: str) -> dict[str, Any]:
    """``{module name: problem generator}`` of one difficulty (``algebra__linear_1d``, ...)."""
    from kllama.sources import dm_math_compat

    pkg = dm_math_compat.load()
    modules = pkg["modules"]
    if difficulty in DIFFICULTIES:
        return _flatten(modules.train(_entropy_fn(DIFFICULTIES.index(difficulty), len(DIFFICULTIES))))
    if difficulty == "interpolate":
        return _flatten(modules.test())
    if difficulty == "extrapolate":
        return _flatten(modules.test_extra())
    raise ValueError(f"dm_math difficulty must be one of {DIFFICULTIES + TEST_REGIMES}, not {difficulty!r}")


def module_names() -> list[str]:
    """Every train module of ``mathematics_dataset`` (56 in 1.0.1)."""
    return sorted(module_functions("train-easy"))


def generate(module: str, difficulty: str, count: int, seed: int, part: int = 0) -> tuple[list[str], int]:
    """``count`` problems of one module and difficulty as question/answer lines, and how many were resampled
    for being too long. Deterministic for (seed, difficulty, module, part) and the package versions."""
    import numpy as np

    from kllama.sources import dm_math_compat

    settings = dm_math_compat.load()["settings"]
    fn = module_functions(difficulty)[module]
    lines: list[str] = []
    resampled = 0
    from sympy.core import random as sympy_random

    with _GENERATE_LOCK:
        s = unit_seed(seed, difficulty, module, part)
        sympy_state = sympy_random.rng.getstate()
        sympy_random.seed(s)
        # The package draws from the process-wide `random` and `np.random`; other threads of the process (a Dask
        # worker's own) may draw from them too, between two of its calls. Its modules get private generators
        # for the duration, so that nothing else can move them.
        with dm_math_compat.private_generators(random.Random(s), np.random.RandomState(s % (1 << 32))):
            try:
                while len(lines) < 2 * count:
                    problem = fn()
                    q, a = str(problem.question), str(problem.answer)
                    if len(q) > settings.MAX_QUESTION_LENGTH or len(a) > settings.MAX_ANSWER_LENGTH:
                        resampled += 1
                        continue
                    lines += [q.replace("\n", " "), a.replace("\n", " ")]
            finally:
                sympy_random.rng.setstate(sympy_state)
    return lines, resampled


def write_pile_layout(folder: str, counts: dict[str, int], seed: int,
                      difficulties: tuple[str, ...] = DIFFICULTIES) -> list[str]:
    """Write generated problems as the released files: ``folder/<difficulty>/<module>.txt``; returns the paths."""
    paths = []
    for difficulty in difficulties:
        os.makedirs(os.path.join(folder, difficulty), exist_ok=True)
        for module, count in sorted(counts.items()):
            lines, _ = generate(module, difficulty, count, seed)
            path = os.path.join(folder, difficulty, f"{module}.txt")
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write("".join(line + "\n" for line in lines))
            paths.append(path)
    return paths


@register
class DMMathSource(Source):
    """DeepMind Mathematics in the Pile's layout, generated (``counts``) or read from the released files.

    Options: ``counts`` (``{module: problems per difficulty}``; ``"*"`` sets every other module; {} = generate
    nothing), ``difficulties`` (default the Pile's three train levels), ``seed``, ``problems_per_part`` (problems
    of one module and difficulty per partition), ``chunk_chars`` (8192 as the Pile), ``max_member_bytes``.
    """

    name = "dm_math"
    patterns = ("*.txt", "*.tar.gz", "*.tgz")
    drop_reasons: ClassVar[tuple[str, ...]] = ("dm_math_odd_lines", "dm_math_member_too_large", "truncated_file")

    def __init__(self, counts: dict[str, int] | None = None, difficulties: list[str] | None = None, seed: int = 1,
                 problems_per_part: int = 50_000, chunk_chars: int = CHUNK_CHARS, max_member_bytes: int = 1 << 30,
                 **options: Any) -> None:
        super().__init__(**options)
        self.counts = {str(k): int(v) for k, v in (counts or {}).items()}
        self.difficulties = tuple(difficulties) if difficulties else DIFFICULTIES
        for d in self.difficulties:
            if d not in DIFFICULTIES + TEST_REGIMES:
                raise ValueError(f"dm_math difficulty must be one of {DIFFICULTIES + TEST_REGIMES}, not {d!r}")
        self.seed = int(seed)
        self.problems_per_part = max(1, int(problems_per_part))
        self.chunk_chars = int(chunk_chars)
        self.max_member_bytes = int(max_member_bytes)

    def resolved_counts(self) -> dict[str, int]:
        """``counts`` with ``"*"`` expanded over every module of the package (unknown names are an error)."""
        if not self.counts:
            return {}
        names = module_names()
        unknown = sorted(set(self.counts) - set(names) - {"*"})
        if unknown:
            raise ValueError(f"dm_math counts name unknown module(s) {unknown}; modules: {', '.join(names)}")
        default = self.counts.get("*", 0)
        return {m: self.counts.get(m, default) for m in names if self.counts.get(m, default) > 0}

    def list_inputs(self, paths: list[str]) -> list[str]:
        """Released files under ``paths`` (``train-*/<module>.txt``, the tar.gz), then one unit per generated
        (difficulty, module, part)."""
        units = []
        for f in super().list_inputs(paths) if paths else []:
            if f.endswith((".tar.gz", ".tgz")) or _MEMBER.search(f.replace(os.sep, "/")):
                units.append(f)
        for difficulty in self.difficulties:
            for module, count in sorted(self.resolved_counts().items()):
                for part in range(0, (count + self.problems_per_part - 1) // self.problems_per_part):
                    n = min(self.problems_per_part, count - part * self.problems_per_part)
                    units.append(f"{UNIT_PREFIX}{difficulty}:{module}:{part}:{n}")
        return units

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        if path.startswith(UNIT_PREFIX):
            difficulty, module, part, n = path[len(UNIT_PREFIX):].split(":")
            lines, resampled = generate(module, difficulty, int(n), self.seed, int(part))
            if resampled:
                ledger.count("dm_math_resampled", resampled)
            from kllama.sources import dm_math_compat

            pkg = dm_math_compat.load()
            extra = {"seed": self.seed, "part": int(part),
                     "generator": f"mathematics_dataset {pkg['version']}, sympy {pkg['sympy']}, numpy {pkg['numpy']}"}
            yield from self._documents(lines, module, difficulty, f"generated:{self.seed}:{part}", extra, ledger)
            return
        if path.endswith((".tar.gz", ".tgz")):
            yield from self._archive(path, ledger)
            return
        m = _MEMBER.search(path.replace(os.sep, "/"))
        difficulty, module = m.group(1), m.group(2)
        if os.path.getsize(path) > self.max_member_bytes:
            ledger.drop("dm_math_member_too_large", 1, os.path.getsize(path))
            return
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            lines = f.read().splitlines()
        yield from self._documents(lines, module, difficulty, f"file:{os.path.basename(path)}", {}, ledger)

    def _archive(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        try:
            with open(path, "rb") as raw:
                for entry in iter_tar(raw, self.max_member_bytes):
                    m = _MEMBER.search(entry.name)
                    if entry.kind in ("dir", "unsafe") or not m:
                        if entry.kind == "unsafe":
                            ledger.count("tar_member_unsafe")
                        continue
                    if entry.kind == "too_large":
                        ledger.drop("dm_math_member_too_large", 1, entry.size)
                        continue
                    lines = entry.read().decode("utf-8", "replace").splitlines()
                    yield from self._documents(lines, m.group(2), m.group(1), f"{base}:{entry.name}", {}, ledger)
        except (TruncatedArchive, OSError) as exc:
            cause = exc.args[0] if isinstance(exc, TruncatedArchive) and exc.args else type(exc).__name__
            ledger.drop("truncated_file")
            ledger.count(f"truncated_file:{cause}")
            ledger.quarantined.append({"partition": "", "inputs": path, "error": f"truncated: {cause}",
                                       "partial": "true"})

    def _documents(self, lines: list[str], module: str, difficulty: str, origin: str, extra: dict[str, Any],
                   ledger: Ledger) -> Iterator[Document]:
        if len(lines) % 2:
            ledger.drop("dm_math_odd_lines", 1, len(lines[-1].encode("utf-8")))
            lines = lines[:-1]
        for i, chunk in enumerate(chunk_at_even_lines(lines, self.chunk_chars)):
            meta = {"module": module, "difficulty": difficulty, "pile_set_name": PILE_SET_NAME,
                    "problems": len(chunk) // 2, "chunk": i, **extra}
            yield Document(id=make_id(self.source_name, f"{origin}:{difficulty}:{module}:{i}"),
                           text="".join(line + "\n" for line in chunk), source=self.source_name, lang="en",
                           meta=meta)
