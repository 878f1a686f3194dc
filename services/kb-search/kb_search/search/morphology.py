"""pymorphy3's dictionaries with the prediction DAWGs read from their files as they are needed.

A morphological analyser reads each dictionary's DAWGs whole into arrays (dawg-python): for uk and
ru 24 MiB, of which 8.6 MiB are the prediction-by-suffix DAWGs, consulted only for a word the
dictionary does not know. Those are mapped from their files instead (read-only; the page cache
holds them once for every replica on a host): only the pages a lookup reaches become resident —
0.35 MiB of the 8.6 after indexing 2,000 generated articles and the wiki set (4 KiB pages; the
kernel maps up to 64 KiB around a fault, 3.4 MiB), and never more than the arrays took. The
words DAWGs are not mapped: indexing reaches nearly all of their pages, and lookups fault them in
on the request path. The bytes read are the same, so the analyses are too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import sys
from array import array
from typing import Any

PREDICTION_FILE = "prediction-suffixes-{}.dawg"


def map_prediction_dawgs(morph: Any) -> int:
    """Swap the arrays of `morph`'s prediction DAWGs for views of their files; the bytes mapped."""
    dictionary = morph.dictionary
    mapped = 0
    for prefix_id, dawg in enumerate(dictionary.prediction_suffixes_dawgs):
        if not isinstance(getattr(dawg.dct, "_units", None), array):
            continue  # not dawg-python's arrays (the C `dawg` package): left as loaded
        units, guide = _views(os.path.join(dictionary.path, PREDICTION_FILE.format(prefix_id)))
        if len(units) != len(dawg.dct._units) or len(guide) != len(dawg.guide._units):
            raise ValueError(f"{dictionary.path}: a prediction DAWG differs from its file")
        dawg.dct._units, dawg.guide._units = units, guide
        mapped += units.nbytes + guide.nbytes
    _return_freed_memory()
    return mapped


def _return_freed_memory() -> None:
    """The arrays just dropped lie in the middle of glibc's heap, which keeps such free space for
    the process: hand it back (elsewhere than glibc nothing to do)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes = (ctypes.c_size_t,)
    trim(0)


def _views(path: str) -> tuple[memoryview, memoryview]:
    """A dawg-python completion DAWG file (units count, units as native uint32, guide count,
    guide as bytes in pairs) as its units and guide, without reading them."""
    with open(path, "rb") as file:
        region = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    region.madvise(mmap.MADV_RANDOM)  # lookups jump: no read-ahead on a cold page cache
    view = memoryview(region)
    count = int.from_bytes(view[:4], sys.byteorder)
    units_end = 4 + 4 * count
    guide_count = int.from_bytes(view[units_end : units_end + 4], sys.byteorder)
    guide_end = units_end + 4 + 2 * guide_count
    if guide_end != len(view):
        raise ValueError(f"{path}: not a completion DAWG of {count} units")
    return view[4:units_end].cast("I"), view[units_end + 4 : guide_end]
