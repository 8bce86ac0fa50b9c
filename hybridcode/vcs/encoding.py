"""The encoding of text that is not UTF-8: a diff section of a Latin-1, Turkish, Polish,
Cyrillic or Shift-JIS file, read the way its author wrote it.

charset-normalizer proposes: its candidates are the encodings that decode the bytes without
mess. On a few lines of text it cannot tell the single-byte code pages apart — Turkish in
ISO-8859-9 decodes without mess in cp1252 too (``Savaþçýsý`` for ``Savaşçısı``), Polish in
ISO-8859-2 in Latin-6 (``Zaŋóģæ`` for ``Zażółć``) — because the bytes that differ are letters
in both. What tells them apart is which letters occur *together*: no language writes ``þ``
beside ``ç``. So each single-byte candidate is scored by the share of its non-ASCII
characters that belong to one language's alphabet (:data:`ALPHABETS`), and the best wins;
between equally plausible readings cp1252 (the most common by far) wins if it is one of them,
else charset-normalizer's own ranking decides; among code pages that read the text the same,
the more common (:data:`COMMON`) names it, so Western text stays cp1252.
A multi-byte answer (Shift-JIS, GBK …) is charset-normalizer's, unless a code page reads the
text plainly as one language while the answer reads it less plainly as CJK (versions differ:
3.4 reads Thai in TIS-620 as half-width katakana in cp932, 3.5 as Thai).

Only encodings that keep ASCII as ASCII qualify: a diff's headers and ``+``/``-`` markers
must read the same.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from functools import lru_cache

# The letters beyond ASCII that each language writes (lower case), for the languages whose
# files are still met in a legacy single-byte code page.
ALPHABETS: dict[str, str] = {
    "French": "àâæçéèêëîïôœùûüÿ",
    "German": "äöüß",
    "Spanish": "áéíñóúü",
    "Portuguese": "áâãàçéêíóôõú",
    "Italian": "àèéìíîòóù",
    "Catalan": "àçèéíïòóúü",
    "Dutch": "áäéëíïóöúü",
    "Danish/Norwegian": "æøåéó",
    "Swedish/Finnish": "åäöéšž",
    "Icelandic": "áðéíóúýþæö",
    "Turkish": "çğıöşüâîû",  # and "i̇", which is what "İ".lower() gives
    "Polish": "ąćęłńóśźż",
    "Czech": "áčďéěíňóřšťúůýž",
    "Slovak": "áäčďéíĺľňóôŕšťúýž",
    "Hungarian": "áéíóöőúüű",
    "Romanian": "ăâîșțşţ",
    "Croatian/Slovene": "čćđšž",
    "Albanian": "çë",
    "Lithuanian": "ąčęėįšųūž",
    "Latvian": "āčēģīķļņšūž",
    "Estonian": "äõöüšž",
    "Russian": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "Ukrainian": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "Belarusian": "абвгдеёжзійклмнопрстуўфхцчшыьэюя",
    "Bulgarian": "абвгдежзийклмнопрстуфхцчшщъьюя",
    "Serbian/Macedonian": "абвгдђѓежзѕијклљмнњопрстћќуфхцчџш",
    "Greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰς",
    # Scripts whose languages share one legacy code page: the script's letters.
    "Hebrew": "".join(map(chr, range(0x5D0, 0x5EB))),
    "Arabic/Farsi": "".join(map(chr, range(0x621, 0x64B))) + "پچژگکی",
    "Thai": "".join(map(chr, [*range(0xE01, 0xE3B), *range(0xE40, 0xE4F)])),
}
_SETS = {language: frozenset(letters) | ({"i̇"} if language == "Turkish" else set())
         for language, letters in ALPHABETS.items()}
# Single-byte code pages, most common first: always candidates, and among those that read a
# text the same, the earlier names it. Each ISO page comes before its Windows sibling: they
# agree on the letters, and the Windows page wins where they differ (its 0x80–0x9F are letters
# and quotes, the ISO page's control characters).
COMMON = ("cp1252", "iso8859_2", "cp1250", "iso8859_9", "cp1254", "iso8859_15", "iso8859_13",
          "cp1257", "iso8859_4", "iso8859_10", "iso8859_16", "iso8859_3", "mac_roman",
          "cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp866", "iso8859_7", "cp1253", "cp850",
          "cp437",
          # Scripts with a code page of their own, for when charset-normalizer proposes none.
          "cp1255", "iso8859_8", "cp1256", "iso8859_6", "cp874")


_NON_ASCII = re.compile("[^\x00-\x7f]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
# Punctuation that stands inside words: an apostrophe, Hebrew geresh and gershayim, the
# Catalan middle dot, hyphens.
_JOINERS = frozenset("’׳״·‐‑")
# The non-ASCII bytes scored: plenty for a verdict, and a bound on the work for a huge file.
_SAMPLE = 2000
_TIE = 1e-6  # equal but for float rounding
# Where charset-normalizer sees no text, a reading must be this plainly one language's letters.
_CLEAR = 0.95
# The scripts a multi-byte (CJK) reading is plausible in. Half-width katakana ("HALFWIDTH")
# is not among them: it is what single-byte text looks like misread as Shift-JIS.
_CJK = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "FULLWIDTH", "BOPOMOFO"})


def _sample(data: bytes) -> bytes:
    """The lines of ``data`` that hold its first ``_SAMPLE`` non-ASCII bytes (the rest read
    the same in every candidate)."""
    lines, count, covered = [], 0, -1
    for match in _HIGH_BYTE.finditer(data):
        count += 1
        if match.start() > covered:
            begin = data.rfind(b"\n", 0, match.start()) + 1
            covered = data.find(b"\n", match.start())
            covered = len(data) if covered == -1 else covered
            lines.append(data[begin:covered])
        if count >= _SAMPLE:
            break
    return b"\n".join(lines)


def detect_encoding(data: bytes) -> str:
    """The encoding ``data`` (not UTF-8) was most likely written in, as Python names it
    (``cp1252``, ``iso8859-9``, ``shift_jis`` …); "" when none fits."""
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    proposed = [match.encoding for match in results]
    best = results.best()
    multi_byte = best is not None and not _single_byte(best.encoding)
    single = _best_single_byte(data, proposed, recognised=best is not None)
    if multi_byte:
        # Its guess stands unless a code page reads the text plainly as one language's
        # letters and the guess reads it less plainly as CJK (Thai in TIS-620 is, to some
        # versions of charset-normalizer, half-width katakana in cp932).
        if single and single[1] >= _CLEAR and single[1] > _cjk_share(data, best.encoding):
            return _name(single[0])
        return _name(best.encoding) if _keeps_ascii(best.encoding) else ""
    return _name(single[0]) if single else ""


def _best_single_byte(data: bytes, proposed: list[str],
                      recognised: bool) -> tuple[str, float] | None:
    """The single-byte code page that reads ``data`` most plausibly, with its plausibility;
    None when none reads it (or, where charset-normalizer saw no text, none reads it
    clearly)."""
    candidates = [name for name in dict.fromkeys([*COMMON, *proposed])
                  if _single_byte(name) and _keeps_ascii(name)]
    sample = _sample(data)
    readings: dict[str, list[str]] = {}  # decoded sample → the candidates that give it
    for name in candidates:
        try:
            readings.setdefault(sample.decode(name), []).append(name)
        except UnicodeDecodeError:
            continue
    if not readings:
        return None
    scores = {text: _plausibility(text) for text in readings}
    top = max(scores.values())
    if not recognised and top < _CLEAR:
        return None  # neither charset-normalizer nor the letters recognise it
    # Equally plausible readings (Hebrew read as cp1251 is all Cyrillic letters too):
    # charset-normalizer's language models rank them. Among the code pages that give the
    # same reading, the most common names it.
    # cp1252, the most common legacy code page by far, wins a tie it is part of ("£" or "Ł"?).
    order = {name: i for i, name in enumerate(proposed)}
    best_reading = min((text for text, score in scores.items() if score >= top - _TIE),
                       key=lambda text: ("cp1252" not in readings[text],
                                         min(order.get(n, len(order)) for n in readings[text])))
    return readings[best_reading][0], top


def _cjk_share(data: bytes, encoding: str) -> float:
    """The share of ``data``'s non-ASCII characters, read in ``encoding``, that are CJK
    ideographs, full-width kana or Hangul (punctuation is neutral)."""
    try:
        text = _sample(data).decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return 0.0
    letters = [ch for ch in _NON_ASCII.findall(text) if ch.isalpha()]
    if not letters:
        return 1.0
    return sum(_script(ch) in _CJK for ch in letters) / len(letters)


def _plausibility(text: str) -> float:
    """The share of ``text``'s non-ASCII characters that are letters of the one language that
    explains most of them (1.0: every one of them).

    Inside a word, a symbol counts against (``Za¿ó³æ``: Polish read as cp1252), and so does a
    letter of another script than the letter before it (``Savaюзэsэ``) or a capital right
    after a small letter (KOI8-R read as cp1251 gives Russian letters in the wrong case).
    Punctuation and symbols between words (``¿Dónde``, ``“quoted”``, ``© 2024``) are neutral;
    a control character (what an ISO page makes of cp1254's curly quotes) never is; a
    combining mark belongs to its letter.
    """
    found = 0
    letters: Counter[str] = Counter()
    for match in _NON_ASCII.finditer(text):
        i, ch = match.start(), match.group()
        before = text[i - 1] if i else " "
        if not ch.isalpha():
            if ch in _JOINERS or _mark(ch):  # l’homme, צה״ל; Hebrew points, Thai vowels
                continue
            after = text[i + 1] if i + 1 < len(text) else " "
            found += (before.isalpha() and after.isalpha()) or _control(ch)
            continue
        found += 1
        if before.isalpha() and (_script(before) != _script(ch)
                                 or (ch.isupper() and before.islower())):
            continue
        letters[ch.lower()] += 1
    if not found:
        return 1.0
    return max(sum(n for letter, n in letters.items() if letter in alphabet)
               for alphabet in _SETS.values()) / found


def _control(ch: str) -> bool:
    return 0x80 <= ord(ch) <= 0x9F  # the C1 controls: an ISO page's reading of 0x80–0x9F


@lru_cache(maxsize=4096)
def _mark(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch).startswith("M")


@lru_cache(maxsize=4096)
def _script(letter: str) -> str:
    """LATIN, CYRILLIC, GREEK …: the first word of the letter's Unicode name."""
    import unicodedata

    return unicodedata.name(letter, "?").partition(" ")[0]


@lru_cache(maxsize=None)
def _single_byte(encoding: str) -> bool:
    try:
        return len(bytes(range(256)).decode(encoding, "replace")) == 256
    except LookupError:
        return False


@lru_cache(maxsize=None)
def _keeps_ascii(encoding: str) -> bool:
    try:
        return "diff --git +-@".encode(encoding) == b"diff --git +-@"
    except (LookupError, UnicodeError):
        return False


def _name(encoding: str) -> str:
    return codecs.lookup(encoding).name
