"""The registry that recipes name sources and steps by.

Built-in classes live in kllama's ``sources``, ``filters``, ``dedup`` and ``tokenize`` packages and are found by
importing those packages by name (the core layer never imports them statically). A user's own step or reader
needs no fork: a package that declares an entry point in the ``kllama.plugins`` group (pointing at a module
or a class decorated with :func:`register`) is loaded the same way. Two classes with one name are an error.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from importlib.metadata import entry_points
from typing import Any

from kllama.core.steps import GlobalStep, Source, Step, option_parameters

#: entry-point group through which other packages add sources and steps
ENTRY_POINT_GROUP = "kllama.plugins"
#: packages whose modules hold kllama's own sources and steps
BUILTIN_PACKAGES = ("kllama.sources", "kllama.filters", "kllama.dedup", "kllama.tokenize")

_STEPS: dict[str, type] = {}
_SOURCES: dict[str, type] = {}
_DISCOVERED = False


def register(cls: type) -> type:
    """Class decorator: make a Step/GlobalStep or a Source nameable by ``cls.name`` (unique per kind)."""
    table = _SOURCES if issubclass(cls, Source) else _STEPS
    if not getattr(cls, "name", ""):
        raise ValueError(f"{cls.__module__}.{cls.__qualname__} has no name to register under")
    old = table.get(cls.name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        kind = "source" if table is _SOURCES else "step"
        raise ValueError(f"two {kind}s named {cls.name!r}: {old.__module__}.{old.__qualname__} and "
                         f"{cls.__module__}.{cls.__qualname__}")
    table[cls.name] = cls
    return cls


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for pkg_name in BUILTIN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg_name}.{mod.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        loaded = ep.load()
        if isinstance(loaded, type) and issubclass(loaded, (Step, GlobalStep, Source)):
            register(loaded)


def step_class(name: str) -> type:
    """The registered step class called ``name``."""
    _discover()
    if name not in _STEPS:
        raise KeyError(f"unknown step {name!r}; known: {', '.join(sorted(_STEPS))}")
    return _STEPS[name]


def source_class(name: str) -> type[Source]:
    """The registered source class called ``name``."""
    _discover()
    if name not in _SOURCES:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(sorted(_SOURCES))}")
    return _SOURCES[name]


def known_sources() -> list[str]:
    """Names of every registered source."""
    _discover()
    return sorted(_SOURCES)


def known_steps() -> list[str]:
    """Names of every registered step."""
    _discover()
    return sorted(_STEPS)


def build_step(spec: dict[str, Any]) -> Step | GlobalStep:
    """Instantiate a step from a recipe entry ``{"step": NAME, **kwargs}``."""
    kwargs = {k: v for k, v in spec.items() if k != "step"}
    return step_class(spec["step"])(**kwargs)


def describe(cls: type) -> dict[str, Any]:
    """What ``kllama steps`` shows of a registered class: name, kind (``source``, ``step``, ``global step``),
    where it is defined, its docstring (and its first line), its options with their defaults (``required``
    when none) and its drop reasons."""
    params, open_ = option_parameters(cls)
    doc = inspect.getdoc(cls) or ""
    kind = "source" if issubclass(cls, Source) else "global step" if issubclass(cls, GlobalStep) else "step"
    return {
        "name": cls.name,
        "kind": kind,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "summary": doc.split("\n\n")[0].replace("\n", " ").strip(),
        "doc": doc,
        "options": {n: ("required" if p.default is inspect.Parameter.empty else repr(p.default))
                    for n, p in params.items()},
        "more_options": open_,
        "drop_reasons": list(getattr(cls, "drop_reasons", ())),
    }
