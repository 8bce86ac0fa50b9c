"""pytest's console output cut to what explains a failure (for a model or a reviewer)."""

from __future__ import annotations

import re

__all__ = ["trim_output"]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SECTION = re.compile(r"^={3,} ?(.*?) ?={3,}$")
_BLOCK = re.compile(r"^_{3,} (.+?) _{3,}$")
_FRAME_SEP = re.compile(r"^(?:_ ){3,}_?$")
_PROGRESS = re.compile(r"^[.FEsxXp]+\s*(\[\s*\d+%\])?\s*$")
_FINAL = re.compile(r"^=*\s*(?:\d+ (?:failed|passed|errors?|skipped|xfailed|xpassed|warnings?"
                    r"|deselected)|no tests ran)\b.*$")
_KEEP_SECTIONS = ("FAILURES", "ERRORS", "short test summary info")


def trim_output(text: str, limit: int = 4000) -> str:
    """pytest output cut to what explains a failure: the failure sections (assertion lines,
    the failing line, the last traceback frame), the short summary and the final count —
    without the session header, progress dots, passing noise and warnings."""
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    lines = text.rstrip("\n").split("\n")
    sections: list[tuple[str, list[str]]] = []
    loose: list[str] = []
    final = ""
    current: list[str] | None = None
    for line in lines:
        header = _SECTION.match(line)
        if _FINAL.match(line.strip()):
            final = line.strip().strip("= ")
            current = None
        elif header:
            title = header.group(1).strip()
            current = [] if any(k in title for k in _KEEP_SECTIONS) else None
            if current is not None:
                sections.append((title, current))
        elif current is not None:
            current.append(line)
        elif not sections and not _PROGRESS.match(line.strip()):
            loose.append(line)
    if not sections and not final:
        return _cap(_from_last_traceback(lines), limit)
    parts = [f"== {title} ==\n" + "\n".join(body).strip("\n") for title, body in sections]
    # Text before any section that is not pytest's own header: a collection crash, a print.
    stray = [ln for ln in loose if ln.strip() and not ln.startswith(
        ("platform ", "rootdir:", "configfile:", "plugins:", "collected ", "cachedir:"))]
    result = "\n".join(([_cap("\n".join(stray), limit // 4)] if stray else []) + parts
                       + ([final] if final else []))
    if len(result) <= limit:
        return result
    compact = [f"== {title} ==\n" + "\n".join(_compress(body)) for title, body in sections]
    result = "\n".join(compact + ([final] if final else []))
    return _cap(result, limit, keep_tail=final)


def _compress(body: list[str]) -> list[str]:
    """Per failing test: its header, the ``>``/``E`` lines of each frame, the last frame whole
    (capped), and location lines; captured output only by its last lines."""
    blocks: list[list[str]] = []
    for line in body:
        if _BLOCK.match(line) or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    out: list[str] = []
    for block in blocks:
        frames: list[list[str]] = [[]]
        captured: list[str] = []
        for line in block[1:]:
            if line.startswith("-" * 3) and "Captured" in line:
                captured = [line]
            elif captured:
                captured.append(line)
            elif _FRAME_SEP.match(line.strip()):
                frames.append([])
            else:
                frames[-1].append(line)
        out.append(block[0])
        for frame in frames[:-1]:
            out += [ln for ln in frame if ln.startswith((">", "E ")) or re.match(r"^\S+:\d+: ", ln)]
        last = frames[-1]
        out += last if len(last) <= 40 else last[:5] + ["    ..."] + last[-30:]
        if captured:
            out += captured[:1] + captured[1:][-10:]
    return out


def _from_last_traceback(lines: list[str]) -> str:
    starts = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call")]
    return "\n".join(lines[starts[-1]:] if starts else lines).strip("\n")


def _cap(text: str, limit: int, keep_tail: str = "") -> str:
    if len(text) <= limit:
        return text
    marker = "\n… ({} characters left out) …\n"
    tail_size = max(limit // 3, len(keep_tail) + 1)
    head_size = max(limit - tail_size - len(marker) - 8, 0)
    cut = len(text) - head_size - tail_size
    return text[:head_size] + marker.format(cut) + text[-tail_size:]
