"""A thin compatibility layer that lets DeepMind's ``mathematics_dataset`` 1.0.1 (PyPI, 2019) run on current
sympy and numpy, without vendoring or editing it.

Three things in the package no longer work, all in ``mathematics_dataset/sample/polynomials.py``:

1. ``from sympy.solvers.diophantine import base_solution_linear``: sympy 1.6 moved diophantine into a
   subpackage and no longer re-exports the function from ``sympy.solvers.diophantine``; it still lives in
   ``sympy.solvers.diophantine.diophantine`` with the same signature and results. The shim puts that function
   back on the package module before ``mathematics_dataset`` is imported.
2. ``np.object`` (removed in numpy 1.24) and 3. ``ndarray.itemset`` (removed in numpy 2.0): the module's ``np``
   global is replaced by a proxy of numpy (every attribute forwarded) whose ``object`` is the builtin and whose
   ``zeros``/``empty`` return an ndarray subclass that still has ``itemset(index, value)`` (``a[index] = value``,
   a flat position for a single integer, as numpy 1.x did). numpy itself is not modified.

Pinning sympy <= 1.5.1 instead would fix (1) only, and sympy 1.5 does not support numpy 2 / Python 3.12.

Two more things, through the ``random`` global of every ``mathematics_dataset`` module (replaced by a proxy of the
standard ``random`` module; the process-wide generator and its state are the same):

- determinism: the package picks variable names with ``random.choice(list(a_set_of_letters))`` and shuffles
  ``list(a_set_of_entities)`` (``util/composition.py``), so the same seed gave different problems under another
  ``PYTHONHASHSEED`` (every Dask worker has its own) or memory layout. The proxy's ``choice`` and ``shuffle`` first
  put a population of strings (or of the package's ``Entity`` objects) in a canonical order; the distribution is
  unchanged.
- ``random.randint``/``randrange`` with integral floats (deprecated in Python 3.10, an error from 3.12): the proxy
  passes them on as ints.
"""

from __future__ import annotations

import contextlib
import importlib
import random
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import numpy

_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}


class ItemsetArray(numpy.ndarray):
    """An ndarray with numpy 1.x's ``itemset`` (``itemset(index, value)``)."""

    def itemset(self, *args: Any) -> None:
        if len(args) < 2:
            raise TypeError("itemset needs an index and a value")
        *index, value = args
        if len(index) == 1:
            index = index[0]
        if isinstance(index, (int, numpy.integer)) and self.ndim != 1:
            self.reshape(-1)[int(index)] = value  # numpy 1.x: a single integer is a flat position
        else:
            self[tuple(index) if isinstance(index, list) else index] = value


#: the generators the package draws from: the process-wide ones, or private ones inside :func:`private_generators`
_GENERATORS: dict[str, Any] = {"random": random, "np_random": numpy.random}


@contextlib.contextmanager
def private_generators(rng: random.Random, np_state: numpy.random.RandomState) -> Iterator[None]:
    """Let the package draw from ``rng`` and ``np_state`` instead of the process-wide ``random``/``np.random``,
    which other threads of the process (a Dask worker's own) may draw from between two of its calls."""
    saved = dict(_GENERATORS)
    _GENERATORS.update(random=rng, np_random=np_state)
    try:
        yield
    finally:
        _GENERATORS.update(saved)


class NumpyPrivateRandom(types.ModuleType):
    """numpy as ``mathematics_dataset`` sees it: ``np.random`` is the current generator of :data:`_GENERATORS`."""

    def __init__(self) -> None:
        super().__init__("numpy")

    def __getattr__(self, name: str) -> Any:
        if name == "random":
            return _GENERATORS["np_random"]
        return getattr(numpy, name)


class NumpyCompat(NumpyPrivateRandom):
    """numpy, seen by one module of ``mathematics_dataset``: ``object``, ``zeros`` and ``empty`` as numpy 1.x."""

    object = object

    @staticmethod
    def zeros(*args: Any, **kwargs: Any) -> ItemsetArray:
        return numpy.zeros(*args, **kwargs).view(ItemsetArray)

    @staticmethod
    def empty(*args: Any, **kwargs: Any) -> ItemsetArray:
        return numpy.empty(*args, **kwargs).view(ItemsetArray)


def canonical(seq: Any) -> Any:
    """``seq`` in a canonical order when it is a population of strings or of ``Entity`` objects, else as is."""
    items = list(seq)
    if items and all(isinstance(i, str) for i in items):
        return sorted(items)
    if items and all(hasattr(i, "_handle") and hasattr(i, "_description") for i in items):
        # an entity's description names its handle ("Let q = -12 - -14."); handles themselves refuse str()
        return sorted(items, key=lambda e: (str(e._description), str(getattr(e, "_child_description", ""))))
    return seq


def _as_int(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x


class DeterministicRandom(types.ModuleType):
    """``random``, as ``mathematics_dataset`` sees it: ``choice``/``shuffle`` in canonical order, integral floats
    accepted by ``randint``/``randrange``."""

    def __init__(self) -> None:
        super().__init__("random")

    def __getattr__(self, name: str) -> Any:
        return getattr(_GENERATORS["random"], name)

    @staticmethod
    def choice(seq: Any) -> Any:
        return _GENERATORS["random"].choice(canonical(seq))

    @staticmethod
    def shuffle(x: list) -> None:
        x[:] = canonical(x)
        _GENERATORS["random"].shuffle(x)

    @staticmethod
    def randint(a: Any, b: Any) -> int:
        return _GENERATORS["random"].randint(_as_int(a), _as_int(b))

    @staticmethod
    def randrange(start: Any, stop: Any = None, step: int = 1) -> int:
        if stop is None:
            return _GENERATORS["random"].randrange(_as_int(start))
        return _GENERATORS["random"].randrange(_as_int(start), _as_int(stop), _as_int(step))


def _patch_sympy() -> None:
    importlib.import_module("sympy.solvers.diophantine")
    package = sys.modules["sympy.solvers.diophantine"]  # not the attribute: sympy.solvers re-exports a function
    if not hasattr(package, "base_solution_linear"):
        from sympy.solvers.diophantine.diophantine import base_solution_linear

        package.base_solution_linear = base_solution_linear


def load() -> dict[str, Any]:
    """Import ``mathematics_dataset`` with the shims applied; returns ``{"modules", "settings", "version"}``."""
    with _LOCK:
        if _LOADED:
            return _LOADED
        _patch_sympy()
        polynomials = importlib.import_module("mathematics_dataset.sample.polynomials")
        polynomials.np = NumpyCompat()
        modules = importlib.import_module("mathematics_dataset.modules.modules")
        proxy, np_proxy = DeterministicRandom(), NumpyPrivateRandom()
        for name, mod in list(sys.modules.items()):
            if name.startswith("mathematics_dataset.") and getattr(mod, "random", None) is random:
                mod.random = proxy
            if name.startswith("mathematics_dataset.") and getattr(mod, "np", None) is numpy:
                mod.np = np_proxy
        settings = importlib.import_module("mathematics_dataset.generate_settings")
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = version("mathematics_dataset")
        except PackageNotFoundError:  # pragma: no cover - importable but not installed as a distribution
            ver = "unknown"
        import sympy

        _LOADED.update(modules=modules, settings=settings, version=ver, sympy=sympy.__version__,
                       numpy=numpy.__version__)
        return _LOADED
