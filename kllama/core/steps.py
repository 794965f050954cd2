"""Base classes for pipeline steps and sources, and the registry that recipes name them by.

A *source* turns one raw input file into Documents. A *step* is one small class with one job: its
thresholds are keyword arguments (set from the recipe) and every document it drops has a named reason, declared
in its ``drop_reasons`` (``kllama steps`` lists them; a test checks that the demo emits no undeclared one).
Three kinds of step:

- ``Filter``: ``keep(doc)`` returns ``True`` or the name of the drop reason.
- ``Mapper``: ``transform(doc, ledger)`` returns the (changed) document, or a drop reason string.
- ``Step``: the general form, ``process(docs, ledger)`` over a whole partition's batch (for C-accelerated work).

A ``GlobalStep`` needs to see the whole source (dedup): it emits small key tables per partition, the engine
shuffles them by key into buckets, ``resolve`` decides per bucket, and ``apply`` edits each partition.
Only hashes travel between partitions, never texts. Nothing here imports Dask; recipes name these classes
through :mod:`kllama.core.registry`.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa

from kllama.core.document import Document
from kllama.core.files import expand_inputs
from kllama.core.ledger import Ledger


class Step(ABC):
    """A per-partition step over a batch of documents."""

    name: ClassVar[str] = ""
    #: stage columns this step adds to documents (name -> Arrow type)
    columns: ClassVar[dict[str, pa.DataType]] = {}
    #: every reason this step can drop a document for
    drop_reasons: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def process(self, docs: list[Document], ledger: Ledger) -> list[Document]:
        ...

    def declared_reasons(self) -> tuple[str, ...]:
        """The drop reasons of this instance (a step whose reason is an option adds it)."""
        return type(self).drop_reasons


class Filter(Step):
    """Keep or drop each document; ``keep`` returns True or a drop reason."""

    @abstractmethod
    def keep(self, doc: Document) -> bool | str:
        ...

    def process(self, docs: list[Document], ledger: Ledger) -> list[Document]:
        out = []
        for doc in docs:
            verdict = self.keep(doc)
            if verdict is True:
                out.append(doc)
            else:
                ledger.drop(verdict if isinstance(verdict, str) else self.name, 1, doc.nbytes, doc=doc)
        return out


class Mapper(Step):
    """Change each document; ``transform`` returns the document or a drop reason (statistics that are not
    drops, such as lines removed, go to ``ledger.count``)."""

    @abstractmethod
    def transform(self, doc: Document, ledger: Ledger) -> Document | str:
        ...

    def process(self, docs: list[Document], ledger: Ledger) -> list[Document]:
        out = []
        for doc in docs:
            result = self.transform(doc, ledger)
            if isinstance(result, str):
                ledger.drop(result, 1, doc.nbytes, doc=doc)
            else:
                out.append(result)
        return out


class GlobalStep(ABC):
    """A step that needs the whole source: keys per partition -> buckets -> decisions -> apply.

    The engine calls, in order:

    1. ``emit_keys(table)`` on each partition's Arrow table: a table with a ``key`` column (uint64) and
       any other small columns; the engine adds ``part`` (int32) and ``row`` (int64 if not present) and
       routes each row to bucket ``key % num_buckets``.
    2. ``resolve(keys)`` once per bucket on all partitions' rows of that bucket: returns a decisions
       table with a ``part`` column (other columns are the step's own).
    3. ``combine(decisions)`` once over all buckets' decisions (default: unchanged), for steps that need a
       global pass over the small decision tables (e.g. union-find over candidate pairs).
    4. ``apply(table, decisions, ledger)`` on each partition with the decisions whose ``part`` is its own;
       returns the new table and counts drops in the ledger.

    A step that compares a source with *other* sources names them in ``references()``: the engine runs those
    sources first and adds the key rows of their final partitions (``emit_keys`` of this step, ``part`` < 0) to
    every bucket, so ``resolve`` sees them beside the source's own rows; only the own partitions are applied to.
    """

    name: ClassVar[str] = ""
    columns: ClassVar[dict[str, pa.DataType]] = {}
    #: every reason this step can drop a document for
    drop_reasons: ClassVar[tuple[str, ...]] = ()
    num_buckets: int = 16

    def declared_reasons(self) -> tuple[str, ...]:
        """The drop reasons of this instance (a step whose reason is an option adds it)."""
        return type(self).drop_reasons

    @abstractmethod
    def emit_keys(self, table: pa.Table) -> pa.Table:
        ...

    @abstractmethod
    def resolve(self, keys: pa.Table) -> pa.Table:
        ...

    def combine(self, decisions: pa.Table) -> pa.Table:
        return decisions

    def references(self) -> tuple[str, ...]:
        """Recipe names of the other sources whose final documents this step compares against (run before this
        source; their key rows come with ``part`` < 0). Empty for a step that looks at its own source only."""
        return ()

    @abstractmethod
    def apply(self, table: pa.Table, decisions: pa.Table, ledger: Ledger) -> pa.Table:
        ...


class Source(ABC):
    """Reads one kind of raw dump. ``list_inputs`` names the partition units (usually files),
    ``read`` yields the Documents of one unit and counts each bad record in the ledger as a named drop
    (``ledger.drop``; the engine counts them as inputs too). Exceptions escaping ``read`` quarantine the whole unit.
    A subclass takes its options as keyword arguments and passes the rest (``**options``) up to here, where
    any left over is an unknown option.
    """

    name: ClassVar[str] = ""
    #: file name patterns looked for when an input is a folder
    patterns: ClassVar[tuple[str, ...]] = ("*",)
    #: every reason this reader can drop a record for
    drop_reasons: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        if options:
            known = ", ".join(sorted(option_parameters(type(self))[0])) or "none"
            raise TypeError(f"{type(self).__name__}: unknown option(s) {', '.join(sorted(options))} "
                            f"(options: {known})")
        self.options: dict[str, Any] = {}
        #: the recipe's name for this source (``[sources.NAME]``); set by the engine, defaults to ``name``
        self.source_name = self.name

    def declared_reasons(self) -> tuple[str, ...]:
        return type(self).drop_reasons

    def list_inputs(self, paths: list[str]) -> list[str]:
        """Sorted list of partition units (files) under ``paths`` (files, folders or globs)."""
        return expand_inputs(paths, self.patterns)

    @abstractmethod
    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        ...


_BASES = (Step, Filter, Mapper, GlobalStep, Source)


def option_parameters(cls: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """The options (keyword parameters) of a step or source class and whether it also takes any other name.

    A ``**options`` parameter counts as passing the rest up the class chain; a source's chain ends at
    :class:`Source`, which takes no option, so its set is closed. A class whose ``**kwargs`` reach no
    parent ``__init__`` consumes them itself: its set is open.
    """
    params: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass in _BASES or klass is object:
            if klass is Source:
                return params, False
            continue
        forwards = False
        for p in list(inspect.signature(init).parameters.values())[1:]:
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                forwards = True
            elif p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
                params.setdefault(p.name, p)
        if not forwards:
            return params, False
        if not any(k.__dict__.get("__init__") is not None and k is not object
                   for k in klass.__mro__[1:] if k not in _BASES or k is Source):
            return params, True
    return params, False
