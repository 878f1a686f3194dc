"""Character-level normalisation and tokenisation shared by indexing and querying.

What hotel staff actually type: ё for е, four different apostrophes in Ukrainian words, a Latin `o`
or `p` inside a Cyrillic word (same key on a dual layout), Polish without its diacritics.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from enum import Enum

APOSTROPHES = "'’ʼ`´‘ʹ′"
_OTHER_APOSTROPHES = APOSTROPHES.replace("'", "")

# Latin letters that look like Cyrillic ones (and back), applied only inside mixed-script words.
LATIN_TO_CYRILLIC = str.maketrans("aceiopxykmthbABCEHIKMOPTXY", "асеіорхукмтнвАВСЕНІКМОРТХУ")
CYRILLIC_TO_LATIN = str.maketrans("асеіорхукмтнвАВСЕНІКМОРТХУ", "aceiopxykmthbABCEHIKMOPTXY")
_LATIN_LOOKALIKES = frozenset("aceiopxykmthbABCEHIKMOPTXY")
_CYRILLIC_LOOKALIKES = frozenset("асеіорхукмтнвАВСЕНІКМОРТХУ")

POLISH_LETTERS = frozenset("ąćęłńóśźż")
_POLISH_FOLD = str.maketrans("ąćęłńóśźż", "acelnoszz")
UKRAINIAN_LETTERS = frozenset("іїєґ")
RUSSIAN_LETTERS = frozenset("ыэъё")

# A word: letters, digits and apostrophes inside it. Everything else (quotes, `*`, SQL) separates.
_HAS_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_HAS_CYRILLIC = re.compile("[\u0400-\u04ff]")
_STRESS = re.compile("(?<=[\u0400-\u04ff])[\u0300\u0301]")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# The same words in a text without `_` (`_find_words`): `\w` is then `[^\W_]`, and `re` matches it
# faster; without an apostrophe in the text a word is a run of `\w`.
_WORD_NO_UNDERSCORE = re.compile(r"\w+(?:'\w+)*")
_WORD_NO_APOSTROPHE = re.compile(r"\w+")

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ж": "zh",
    "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n",
    "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": "iu", "я": "ia", "ы": "y", "э": "e", "ъ": "",
    "'": "",
}  # fmt: skip


class Script(Enum):
    LATIN = "latin"
    CYRILLIC = "cyrillic"
    OTHER = "other"


def normalise_text(text: str) -> str:
    """NFC, lower case, one apostrophe, no stress marks on Cyrillic vowels, ё→е."""
    text = unicodedata.normalize("NFC", text)
    if "\u0300" in text or "\u0301" in text:
        text = _STRESS.sub("", text)
    return _one_apostrophe(text).lower().replace("ё", "е")


def _one_apostrophe(text: str) -> str:
    """Every apostrophe as `'`: one `str.replace` per kind present, far cheaper on a long
    Cyrillic text than `str.translate` (a dict lookup per character)."""
    for apostrophe in _OTHER_APOSTROPHES:
        if apostrophe in text:
            text = text.replace(apostrophe, "'")
    return text


def _script_of(ch: str) -> Script:
    if "a" <= ch <= "z" or "\u00c0" <= ch <= "\u024f" or "A" <= ch <= "Z":
        return Script.LATIN
    if "\u0400" <= ch <= "\u04ff":
        return Script.CYRILLIC
    return Script.OTHER


def fix_mixed_script(word: str) -> str:
    """Turn look-alike letters of the minority script into the majority script of the word."""
    if word.isascii() or not (_HAS_LATIN.search(word) and _HAS_CYRILLIC.search(word)):
        return word
    latin = sum(1 for ch in word if _script_of(ch) is Script.LATIN)
    cyrillic = sum(1 for ch in word if _script_of(ch) is Script.CYRILLIC)
    if not latin or not cyrillic:
        return word
    if cyrillic >= latin:
        if all(ch in _LATIN_LOOKALIKES for ch in word if _script_of(ch) is Script.LATIN):
            return word.translate(LATIN_TO_CYRILLIC)
    elif all(ch in _CYRILLIC_LOOKALIKES for ch in word if _script_of(ch) is Script.CYRILLIC):
        return word.translate(CYRILLIC_TO_LATIN)
    return word


def script(word: str) -> Script:
    for ch in word:
        found = _script_of(ch)
        if found is not Script.OTHER:
            return found
    return Script.OTHER


def words(text: str) -> list[str]:
    """Normalised words of `text`, mixed-script words repaired."""
    return [fix_mixed_script(w) for w in _find_words(normalise_text(text))]


def raw_word_counts(normalised: str) -> dict[str, int]:
    """How often each word of a text already through `normalise_text` occurs, before
    `fix_mixed_script` (which `words` applies to each), in order of first occurrence."""
    return Counter(_find_words(normalised))


def _find_words(text: str) -> list[str]:
    """`_WORD.findall(text)`, in ~20% less time on the generated corpus (a word never contains
    `_`: it separates words as a space does)."""
    if "_" in text:
        text = text.replace("_", " ")
    return (_WORD_NO_UNDERSCORE if "'" in text else _WORD_NO_APOSTROPHE).findall(text)


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word in the original `text` (for highlighting); same words as `words`."""
    return [m.span() for m in _WORD.finditer(_one_apostrophe(text))]


def fold_polish(word: str) -> str:
    return word.translate(_POLISH_FOLD)


def transliterate(word: str) -> str:
    """Cyrillic → Latin, close to how loanwords are spelt in English (інвойс → invois)."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in word)


_STOPWORDS_BY_LANGUAGE = """
    a an and are as at be by can do does for from how i if in is it my of on or the this to what when
    where which who why with you your not no
    і й та але або як що це в у на з із зі до за по від для про при чи не ні а же ж ще вже так
    то його її їх ми ви він вона вони я як чому коли де який яка яке які можна треба
    и в во на с со к ко по от до за из для о об про при что это как не ни а но или же ли бы
    то его ее их мы вы он она они я почему когда где какой какая какое какие можно нужно
    i w we z ze na do od za po o u a ale lub czy jak co to nie się jest są dla przy przez który
    która które jakie gdzie kiedy dlaczego można trzeba
    """
STOPWORDS = frozenset(_STOPWORDS_BY_LANGUAGE.split())
