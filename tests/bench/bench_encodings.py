"""Measure how often a legacy-encoded file reaches the reviewer as its author wrote it.

    python tests/bench/bench_encodings.py CORPUS [--bytes 20000]

CORPUS is a folder of folders named after the encoding their files are written in, the layout
of chardet's test corpus (the ``tests`` folder of the chardet repository: ``iso-8859-9-turkish/``,
``windows-1250-polish/``, ``KOI8-R/`` …). Every file of a single-byte encoding that is not valid
UTF-8 is cut to ``--bytes``, wrapped as a diff section (a new file, each line added) and given
to :func:`hybridcode.vcs.encoding.detect_encoding`. A file counts as read right when the
section decoded with the detected encoding equals the section decoded with its folder's
(code pages that agree on the file's bytes both count, and so does a Windows superset where
the labelled code page has only a control character or nothing: cp874's "•" in a file labelled
TIS-620). Printed: per folder and in total, the
files read right, and the time spent detecting.
"""

from __future__ import annotations

import argparse
import codecs
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hybridcode.vcs.encoding import detect_encoding  # noqa: E402

# Folder names that are not codec names as they stand.
ALIASES = {"iso-8859-1": "latin-1", "windows-1252": "cp1252", "MacRoman": "mac_roman",
           "MacCyrillic": "mac_cyrillic", "IBM855": "cp855", "IBM866": "cp866",
           "TIS-620": "tis-620"}


def folder_encoding(name: str) -> str | None:
    """The single-byte encoding a folder is named after (``iso-8859-9-turkish`` → iso-8859-9),
    or None for a multi-byte one, UTF-*, ASCII or an unknown name."""
    if name in ALIASES:
        return ALIASES[name]
    parts = name.split("-")
    for count in (3, 2, 1):
        candidate = "-".join(parts[:count])
        try:
            codecs.lookup(candidate)
        except LookupError:
            continue
        if candidate.lower().startswith(("utf", "ascii")):
            return None
        single = len(bytes(range(256)).decode(candidate, "replace")) == 256
        return candidate if single else None
    return None


def same_text(found: str, labelled: str) -> bool:
    """The detected reading is the labelled one wherever the label's code page has a character:
    where it has none (a C1 control, or no mapping at all), its Windows superset's punctuation
    (TIS-620 labelled files holding cp874's "•") reads the file as its author wrote it."""
    return len(found) == len(labelled) and all(
        a == b or 0x80 <= ord(b) <= 0x9F or b == "\ufffd" for a, b in zip(found, labelled))


def section(data: bytes) -> bytes:
    body = b"".join(b"+" + line + b"\n" for line in data.splitlines())
    return (b"diff --git a/f.txt b/f.txt\nnew file mode 100644\n--- /dev/null\n+++ b/f.txt\n"
            b"@@ -0,0 +1 @@\n" + body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--bytes", type=int, default=20_000)
    args = parser.parse_args()
    right = total = 0
    spent = 0.0
    for folder in sorted(p for p in args.corpus.iterdir() if p.is_dir()):
        encoding = folder_encoding(folder.name)
        if encoding is None:
            continue
        ok = count = 0
        for path in sorted(folder.iterdir()):
            data = path.read_bytes()[:args.bytes]
            try:
                data.decode("utf-8")
                continue  # pure ASCII (or UTF-8): never detected
            except UnicodeDecodeError:
                pass
            wrapped = section(data)
            start = time.perf_counter()
            found = detect_encoding(wrapped)
            spent += time.perf_counter() - start
            count += 1
            ok += bool(found) and same_text(wrapped.decode(found, "replace"),
                                            wrapped.decode(encoding, "replace"))
        if count:
            print(f"{folder.name:28s} {ok:4d} / {count:<4d} read right")
            right, total = right + ok, total + count
    print(f"{'total':28s} {right:4d} / {total:<4d} read right; "
          f"{spent:.2f} s detecting ({1000 * spent / max(total, 1):.1f} ms per file)")


if __name__ == "__main__":
    main()
