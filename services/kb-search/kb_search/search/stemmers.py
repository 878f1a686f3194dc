"""Snowball's English and Polish stemmers without the other languages' modules.

`import snowballstemmer` imports all 36 languages' stemmers (its `__init__` builds its table of them
from every module: +3.0 MiB of RSS, measured; English and Polish alone: +0.1). Each language's module
stands alone — it imports only `basestemmer` and `among`, relatively — so the two are imported from
the installed package's folder under a package name of this module's own (`PACKAGE`): the same
source and classes, while `snowballstemmer` itself is left unimported and as it is for anyone else.
Where that fails (another layout of the package), the package's own `stemmer()` is used.

The stemmers found so are subclassed with Snowball's `among` lookups (`find_among`, `find_among_b`:
the longest of a table's strings at the cursor, then the shorter ones its entry names while a
routine rejects) by one dict lookup per length of the table's strings instead of the generated
code's binary search a character at a time in Python: half of an English word's stemming, the
most CPU of a new word's analysis after the dictionaries'. Same entries tried in the same order.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

PACKAGE = "_kb_search_snowball"
CLASSES = {"english": ("english_stemmer", "EnglishStemmer"), "polish": ("polish_stemmer", "PolishStemmer")}


def stemmer(language: str) -> Callable[[str], str]:
    """`language`'s `stemWord` ("english" or "polish")."""
    module, name = CLASSES[language]
    try:
        _package()
        found = getattr(importlib.import_module(f"{PACKAGE}.{module}"), name)
    except (ImportError, AttributeError):
        import snowballstemmer

        return snowballstemmer.stemmer(language).stemWord  # type: ignore[no-any-return]
    faster = type(name, (found,), {"find_among": _find_among, "find_among_b": _find_among_b})
    return faster().stemWord  # type: ignore[no-any-return]


# A table's (strings' lengths, longest first; string -> its index), per table (`Among` tuple).
_TABLES: dict[int, tuple[Sequence[Any], list[int], dict[str, int]]] = {}


def _table(among: Sequence[Any]) -> tuple[list[int], dict[str, int]]:
    found = _TABLES.get(id(among))
    if found is None or found[0] is not among:
        index = {entry.s: i for i, entry in enumerate(among)}
        found = _TABLES[id(among)] = (among, sorted({len(s) for s in index}, reverse=True), index)
    return found[1], found[2]


def _find_among(self: Any, among: Sequence[Any]) -> int:
    """`BaseStemmer.find_among`: the longest of `among`'s strings at the cursor, forwards."""
    lengths, index = _table(among)
    c, current = self.cursor, self.current
    room = self.limit - c
    for length in lengths:
        if length <= room:
            i = index.get(current[c : c + length])
            if i is not None:
                return _accepted(self, among, i, c, 1)
    return 0


def _find_among_b(self: Any, among: Sequence[Any]) -> int:
    """`BaseStemmer.find_among_b`: the longest of `among`'s strings ending at the cursor."""
    lengths, index = _table(among)
    c, current = self.cursor, self.current
    room = c - self.limit_backward
    for length in lengths:
        if length <= room:
            i = index.get(current[c - length : c])
            if i is not None:
                return _accepted(self, among, i, c, -1)
    return 0


def _accepted(self: Any, among: Sequence[Any], i: int, c: int, direction: int) -> int:
    """The result of entry `i` (matched at `c`) or of the first shorter one it names (each a part of
    it, so matched too) that its routine accepts, the cursor past it; 0 when none does."""
    while True:
        entry = among[i]
        self.cursor = c + direction * len(entry.s)
        if entry.method is None:
            return entry.result  # type: ignore[no-any-return]
        if entry.method(self):
            self.cursor = c + direction * len(entry.s)
            return entry.result  # type: ignore[no-any-return]
        i = entry.substring_i
        if i < 0:
            return 0


def _package() -> None:
    """The installed package's folder as `PACKAGE` (its `__init__` not run)."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec("snowballstemmer")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("snowballstemmer is not installed as a package folder")
    package = ModuleType(PACKAGE)
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules[PACKAGE] = package
