"""Snowball's English and Polish stemmers without the other languages' modules.

`import snowballstemmer` imports all 36 languages' stemmers (its `__init__` builds its table of them
from every module: +3.0 MiB of RSS, measured; English and Polish alone: +0.1). Each language's module
stands alone — it imports only `basestemmer` and `among`, relatively — so the two are imported from
the installed package's folder under a package name of this module's own (`PACKAGE`): the same
source and classes, while `snowballstemmer` itself is left unimported and as it is for anyone else.
Where that fails (another layout of the package), the package's own `stemmer()` is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType

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
    return found().stemWord  # type: ignore[no-any-return]


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
