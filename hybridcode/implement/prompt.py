"""The implementer's request for one spec item: what it needs and nothing more.

Small prompts are cheaper, faster and more accurate for small models, so the user message holds
only: the item itself, the acceptance tests that will judge it (read-only), the current code when
the item modifies it, the target file's skeleton, the code the item's ``context`` names, the
paragraphs of the architecture note that concern the item, and one neighbouring definition as an
example of the project's style.

Sizing: when ``window_tokens`` is given, the whole request plus ``output_tokens`` must fit.
Sections are dropped lowest-priority first — the style example, the architecture excerpt, the
context entries (last first), the skeleton, the tests — and the message says what was left out.
The item, the current code and the feedback are never dropped; when they alone do not fit,
:class:`ContextOverflowError` says so (a longer window, i.e. the next rung, is the remedy).

Fix rounds (``review``): the reviewer's findings for the item, rendered into
``prompts/review_feedback.md``, follow the item's current code in the first message. Like the
item and the current code they are never dropped, and being in the first message they stay in
view on every retry and rung of the round (a retry's feedback is about the tests, not the review).

Caching (``cache``): the system prompt is the same for every item and the first user message is
the same for every attempt of an item; both end a cache breakpoint for a backend that caches.
Claude rungs ask with ``cache=False``: their calls are single-shot (a Claude rung taking over a
failing attempt gets the short prompt of :mod:`.escalation` instead), so a breakpoint would only
write a cache that is never read. Retries continue the conversation: the previous answer as the
assistant's turn, then the feedback (``prompts/implement_feedback.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hybridcode.context.extract import skeleton, source_of
from hybridcode.context.files import find_secret, name_reason
from hybridcode.context.languages import language_for_path
from hybridcode.context.symbols import Symbol, decode, encode, list_symbols
from hybridcode.errors import ContextError, ContextOverflowError
from hybridcode.models.base import Block, Message, ModelRequest, estimate_tokens
from hybridcode.prompts import load_prompt, render_prompt
from hybridcode.spec import Spec, SpecItem

__all__ = ["architecture_excerpt", "build_item_request", "style_example"]

ARCHITECTURE_CHARS = 2400
FEEDBACK_CHARS = 6000
RAW_CONTEXT_CHARS = 4000
EXAMPLE_MAX_LINES = 30
# Tokens kept free besides the output: the chat template's own tokens and estimate error.
MARGIN_TOKENS = 64

_STOPWORDS = frozenset(
    "about after allow before between class create each every from function have into make "
    "method module only other should their there these this those under using which while "
    "with within without return returns value values".split())


@dataclass
class _Section:
    key: str
    text: str


def build_item_request(item: SpecItem, spec: Spec, architecture: str, worktree: Path, *,
                       feedback: str | None = None, previous_output: str | None = None,
                       review: str | None = None, window_tokens: int | None = None,
                       output_tokens: int = 4096, cache: bool = True) -> ModelRequest:
    """``review``: the reviewer's findings for this item in a fix round (see the docstring).
    ``cache``: whether the stable parts end a cache breakpoint."""
    worktree = Path(worktree)
    system = (Block(load_prompt("implementer.md").strip(), cache=cache),)
    sections = _sections(item, spec, architecture, worktree, review)
    drop_order = ["example", "architecture"] + [
        s.key for s in reversed(sections) if s.key.startswith("context:")] + ["skeleton", "tests"]
    dropped: list[str] = []
    previous = previous_output
    while True:
        request = _request(system, sections, dropped, item, feedback, previous, output_tokens,
                           cache)
        if window_tokens is None or _fits(request, window_tokens, output_tokens):
            return request
        present = {s.key for s in sections}
        candidates = [k for k in drop_order if k in present and k not in dropped]
        if candidates:
            dropped.append(candidates[0])
        elif previous is not None and previous != _PREVIOUS_LEFT_OUT:
            previous = _PREVIOUS_LEFT_OUT
        else:
            needed = estimate_tokens(request.prompt_text()) + output_tokens + MARGIN_TOKENS
            raise ContextOverflowError(
                f"the prompt for item {item.id} needs about {needed} tokens with its output, "
                f"more than the model's window of {window_tokens}",
                "escalate to a model with a longer window, or split the item in spec.json")


_PREVIOUS_LEFT_OUT = "(my previous answer is left out here to fit the context window)"


def _fits(request: ModelRequest, window_tokens: int, output_tokens: int) -> bool:
    return estimate_tokens(request.prompt_text()) + output_tokens + MARGIN_TOKENS \
        <= window_tokens


def _request(system: tuple[Block, ...], sections: list[_Section], dropped: list[str],
             item: SpecItem, feedback: str | None, previous: str | None,
             output_tokens: int, cache: bool) -> ModelRequest:
    parts = [s.text for s in sections if s.key not in dropped]
    if dropped:
        names = ", ".join(_LABELS.get(k.split(":")[0], k) + (f" {k.split(':', 1)[1]}"
                                                              if ":" in k else "")
                          for k in dropped)
        parts.append(f"(Left out to fit the context window: {names}.)")
    parts.append(_closing(item))
    first = "\n\n".join(parts)
    messages = [Message("user", (Block(first, cache=cache),))]
    if feedback is not None:
        retry = render_prompt("implement_feedback.md", feedback=_trim(feedback)).strip()
        if previous is not None:
            messages += [Message("assistant", previous or "(empty answer)"),
                         Message("user", retry)]
        else:
            messages = [Message("user", (Block(first, cache=cache), Block("\n\n" + retry)))]
    return ModelRequest(messages=tuple(messages), system=system, max_tokens=output_tokens)


# How the implementer is told what judges its code (go vet / tsc run before the tests).
_RUNNER_NAMES = {"pytest": "pytest", "go": "go vet and go test", "vitest": "vitest",
                 "jest": "jest", "node": "node --test"}

_LABELS = {"example": "the style example", "architecture": "the architecture excerpt",
           "under_test": "the code under test", "like": "the pattern to follow",
           "context": "the related code", "skeleton": "the file skeleton",
           "tests": "the acceptance tests"}


# --- sections -----------------------------------------------------------------------------------

def _sections(item: SpecItem, spec: Spec, architecture: str, worktree: Path,
              review: str | None = None) -> list[_Section]:
    language = language_for_path(item.file)
    tag = language or PurePosixPath(item.file).suffix.lstrip(".") or "text"
    target = worktree / item.file
    text = _read(target)
    out = [_Section("item", _render_item(item, spec, tag))]
    if review is not None:
        reviewed = _reviewed_code(target, item, language, text)
        if reviewed is not None:
            reviewed = _redact_secrets(item.file, reviewed)
            out.append(_Section("current", f"## Current code of {item.target} (reviewed; "
                                f"change it as the review asks)\n\n{_fence(reviewed, tag)}"))
        out.append(_Section("review", render_prompt("review_feedback.md",
                                                    findings=_trim(review)).strip()))
    elif item.action == "modify" and text is not None:
        current = text
        if item.symbol and language:
            try:
                current = source_of(target, item.symbol).text
            except ContextError:
                current = text
        _refuse_secret(item, current)
        out.append(_Section("current", f"## Current code of {item.target} (to be changed)\n\n"
                            f"{_fence(current, tag)}"))
    if item.kind == "test" and item.under_test:
        out.append(_Section("under_test", _source_section(
            worktree, item.under_test, "Code under test (import it as the project does; "
            "your tests must catch any change to it)")))
    if item.like:
        out.append(_Section("like", _source_section(
            worktree, item.like, "The pattern to follow (write the new code the same way, "
            "with only the differences the item describes)")))
    if item.tests is not None:
        runner = f", run with {_RUNNER_NAMES[item.tests.runner]}" if item.tests.runner in \
            _RUNNER_NAMES else ""
        out.append(_Section("tests", f"## Acceptance tests ({item.test_path or 'not written'}"
                            f"{runner}; read-only — your code must pass them)\n\n"
                            f"{_fence(item.tests.code, _tag_of(item.test_path) or tag)}"))
    if text is not None and language and item.symbol:
        outline = skeleton(text, language)
        if _secret_in(item.file, outline) is None:  # the skeleton is context: left out
            out.append(_Section("skeleton", f"## Skeleton of {item.file} (bodies elided)\n\n"
                                f"{_fence(outline, tag)}"))
    for entry in item.context:
        out.append(_Section(f"context:{entry}", _context_section(worktree, entry)))
    excerpt = architecture_excerpt(architecture, item)
    if excerpt:
        out.append(_Section("architecture", f"## From the architecture note\n\n{excerpt}"))
    if item.symbol and item.action == "create" and language:
        example = style_example(worktree, item)
        if example:
            where, code = example
            out.append(_Section("example", f"## Example of the project's style ({where}; for "
                                f"style only — do not return it)\n\n{_fence(code, tag)}"))
    return out


def _reviewed_code(target: Path, item: SpecItem, language: str | None,
                   text: str | None) -> str | None:
    """The item's code as the reviewer saw it: its symbol (whatever the action — a created
    symbol exists by now), or the whole file for file items; None when it is not there."""
    if text is None:
        return None
    if not item.symbol:
        return text
    if language is None:
        return None
    try:
        return source_of(target, item.symbol).text
    except ContextError:
        return None


def _render_item(item: SpecItem, spec: Spec, tag: str) -> str:
    where = f"`{item.symbol}` in `{item.file}`" if item.symbol else f"`{item.file}`"
    doing = ("create " + ("the new " + item.kind if item.symbol else "this new file")
             if item.action == "create" else "change the existing " +
             (item.kind if item.symbol else "file") + "; return its whole new version")
    task = f"Implement {where}: {doing}."
    if item.kind == "test" and item.under_test:
        task = (f"Write the test file `{item.file}` for `{item.under_test}`: one test per "
                "behaviour below, asserting exact results, boundaries and error messages. "
                "The tests must pass against the code as it is, and each must fail when that "
                "code is changed (a comparison, a constant, an operator, a return value, a "
                "branch): tests that only call it are refused.")
    elif item.kind == "doc" and item.doc_symbols:
        style = f" in the {item.doc_style} convention" if item.doc_style else \
            " in the style the file already uses"
        task = (f"Add docstrings to {', '.join(f'`{d}`' for d in item.doc_symbols)} in "
                f"`{item.file}`{style}. Change nothing else: the code must stay identical "
                "(only docstrings and comments may change)" +
                ("." if item.symbol else "; return the whole file."))
    lines = [f"# Item `{item.id}`: {item.title}", "", f"{task} (Part of: {spec.title}.)"]
    if item.signature.strip():
        lines += ["", "## Signature (keep it exactly)", "", _fence(item.signature, tag)]
    lines += ["", "## What it does", "", item.description.strip()]
    for title, entries in (("Behaviours to cover" if item.kind == "test" else "Requirements",
                            item.requirements),
                           ("Constraints", item.constraints)):
        if entries:
            lines += ["", f"## {title}", ""] + [f"- {e}" for e in entries]
    if item.examples:
        tested = bool(item.runnable_examples)
        lines += ["", "## Examples" + (" (each is an acceptance test: `call` → `expected`, "
                                       "compared with ==)" if tested else ""), ""]
        for ex in item.examples:
            note = f"  ({ex.note})" if ex.note else ""
            lines.append(f"- `{ex.input}` → `{ex.expected}`{note}")
        if item.example_setup.strip():
            lines += ["", "The example tests first run:", "", _fence(item.example_setup, tag)]
    return "\n".join(lines)


def _closing(item: SpecItem) -> str:
    tag = language_for_path(item.file) or PurePosixPath(item.file).suffix.lstrip(".") or "text"
    if item.kind == "test" and item.under_test:
        return (f"Return the complete test file `{item.file}` with its imports, in one "
                f"```{tag} block, and nothing else.")
    what = f"the complete {item.kind} `{item.symbol}`" if item.symbol else \
        f"the complete content of `{item.file}`"
    imports = " with the imports it needs at the top" if language_for_path(item.file) else ""
    return f"Return {what}{imports}, in one ```{tag} block, and nothing else."


def _source_section(worktree: Path, entry: str, title: str) -> str:
    """The whole source of ``file::symbol`` (or of the file) for a test item's code under test
    or a look-alike item's pattern: the model must read the code itself, not a skeleton."""
    path, _, symbol = entry.partition("::")
    held = name_reason(path)
    target = worktree / path
    text = None if held or ".." in PurePosixPath(path).parts else _read(target)
    language = language_for_path(path)
    if text is None:
        return f"## {title}: {entry}\n\n({held or 'not found in the worktree'})"
    if symbol and language:
        try:
            text = source_of(target, symbol).text
        except ContextError:
            return f"## {title}: {entry}\n\n(not found in {path})"
    if len(text) > FEEDBACK_CHARS:
        text = text[:FEEDBACK_CHARS] + "\n… (cut)"
    secret = _secret_in(path, text)
    if secret is not None:
        return f"## {title}: {entry}\n\n(left out: it holds a secret ({secret}))"
    module = ""
    if path.endswith(".py"):
        from hybridcode.spec.examples import module_of

        module = f" — module `{module_of(path)}`"
    tag = language or PurePosixPath(path).suffix.lstrip(".") or "text"
    return f"## {title}: {entry}{module}\n\n{_fence(text, tag)}"


def _context_section(worktree: Path, entry: str) -> str:
    path, _, symbol = entry.partition("::")
    held = name_reason(path)
    if held is not None:  # an env, key or certificate file is never read for a prompt
        return f"## {entry}\n\n(left out: {held})"
    target = worktree / path
    language = language_for_path(path)
    tag = language or PurePosixPath(path).suffix.lstrip(".") or "text"
    text = _read(target) if ".." not in PurePosixPath(path).parts else None
    if text is None:
        return f"## {entry}\n\n(not found in the worktree)"
    if symbol and language:
        try:
            title, shown = entry, source_of(target, symbol).text
        except ContextError:
            return f"## {entry}\n\n(not found in {path})"
    elif language:
        title, shown = f"{path} (skeleton)", skeleton(text, language)
    else:
        title, shown = path, text
        if len(shown) > RAW_CONTEXT_CHARS:
            shown = shown[:RAW_CONTEXT_CHARS] + "\n… (cut)"
    secret = _secret_in(path, shown)
    if secret is not None:
        return (f"## {title}\n\n(left out: it holds a secret ({secret}); secrets never go to "
                "a model)")
    return f"## {title}\n\n{_fence(shown, tag)}"


def _secret_in(path: str, text: str) -> str | None:
    """The kind of secret detect-secrets finds in ``text`` (the exact text to be sent)."""
    found = find_secret(path, text)
    return None if found is None else found[0]


def _redact_secrets(path: str, code: str) -> str:
    """Generated code under review with every line holding a secret withheld (the secrets
    check sends such code back; the model rewrites the line without one, unseen)."""
    lines = code.split("\n")
    for _ in range(len(lines)):
        found = find_secret(path, "\n".join(lines))
        if found is None:
            break
        kind, number = found
        lines[number - 1] = f"<line {number} withheld: it held a secret ({kind}); write it " \
                            "without one>"
    return "\n".join(lines)


def _refuse_secret(item: SpecItem, code: str) -> None:
    """The item's own code is what the model must change: with a secret in it, no prompt."""
    secret = _secret_in(item.file, code)
    if secret is not None:
        raise ContextError(
            f"the current code of {item.target} holds a secret ({secret}); hybridcode never "
            "sends secrets to a model",
            "move the secret out of the code (an environment variable or a config file git "
            "ignores), commit that, and run the item again")


def architecture_excerpt(architecture: str, item: SpecItem,
                         limit: int = ARCHITECTURE_CHARS) -> str:
    """The paragraphs of the architecture note that mention the item's file, symbol or id
    (or at least two words of its title), in their order, each under its heading, capped."""
    file = PurePosixPath(item.file)
    strong = {item.file, file.name, item.id}
    if len(file.stem) >= 4 and file.stem not in ("__init__", "index", "main"):
        strong.add(file.stem)
    if item.symbol:
        strong.add(item.symbol)
        strong.update(p for p in item.symbol.split(".") if len(p) >= 3 and p != "__init__")
    weak = {w for w in re.findall(r"[a-z][a-z0-9_]{4,}", item.title.lower())
            if w not in _STOPWORDS}
    scored: list[tuple[int, int, str]] = []
    heading = ""
    for index, para in enumerate(re.split(r"\n\s*\n", architecture.strip())):
        para = para.strip()
        if re.match(r"^#{1,6} ", para) and "\n" not in para:
            # Shown below the prompt's own "##" sections, so one level deeper than them.
            heading = "### " + para.lstrip("#").strip()
            continue
        hits = sum(1 for term in strong if re.search(
            rf"(?<![\w.]){re.escape(term)}(?![\w])", para))
        words = set(re.findall(r"[a-z][a-z0-9_]{4,}", para.lower()))
        score = 10 * hits + len(weak & words)
        if hits or len(weak & words) >= 2:
            scored.append((score, index, f"{heading}\n{para}" if heading else para))
    chosen: list[tuple[int, str]] = []
    size = 0
    for score, index, text in sorted(scored, key=lambda s: (-s[0], s[1])):
        if size + len(text) > limit:
            continue
        chosen.append((index, text))
        size += len(text) + 2
    excerpt = "\n\n".join(text for _, text in sorted(chosen))
    seen_heads: set[str] = set()
    out: list[str] = []
    for block in excerpt.split("\n\n") if excerpt else []:
        head, _, rest = block.partition("\n")
        if head.startswith("#") and rest:
            if head in seen_heads:
                block = rest
            seen_heads.add(head)
        out.append(block)
    return "\n\n".join(out)


def style_example(worktree: Path, item: SpecItem) -> tuple[str, str] | None:
    """A short neighbouring definition of the same kind — another method of the class, a
    function of the file, else one from a file next to it — to show the project's style."""
    assert item.symbol is not None
    owner = item.symbol.rpartition(".")[0] or None
    target = Path(worktree) / item.file
    files = [target] if target.is_file() else []
    if target.parent.is_dir():
        files += sorted(p for p in target.parent.glob(f"*{target.suffix}")
                        if p != target and p.is_file())[:5]
    for path in files:
        language = language_for_path(path)
        text = _read(path)
        if language is None or text is None:
            continue
        data = encode(text)
        symbols = list_symbols(data, language)
        same_file = path == target
        wanted = [s for s in symbols if s.qualified_name != item.symbol
                  and s.kind in ("function", "method")
                  and (s.parent == owner if same_file else s.parent is None)
                  and 3 <= s.end_line - s.start_line + 1 <= EXAMPLE_MAX_LINES
                  and not s.name.startswith("test")]
        if wanted:
            best = max(wanted, key=lambda s: (s.end_line - s.start_line, -s.start_byte))
            rel = path.relative_to(worktree).as_posix()
            return f"{rel}::{best.qualified_name}", _symbol_text(data, best)
    return None


def _symbol_text(data: bytes, symbol: Symbol) -> str:
    line_start = data.rfind(b"\n", 0, symbol.start_byte) + 1
    if data[line_start:symbol.start_byte].strip():
        line_start = symbol.start_byte
    return decode(data[line_start:symbol.end_byte])


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape") if path.is_file() else None
    except OSError:
        return None


def _fence(code: str, tag: str) -> str:
    # A longer fence when the code itself holds ``` (Markdown in a docstring, say).
    ticks = "````" if "```" in code else "```"
    return f"{ticks}{tag}\n{code.rstrip()}\n{ticks}"


def _tag_of(path: str | None) -> str | None:
    return language_for_path(path) if path else None


def _trim(feedback: str) -> str:
    feedback = feedback.strip()
    if len(feedback) <= FEEDBACK_CHARS:
        return feedback
    head = FEEDBACK_CHARS // 3
    tail = FEEDBACK_CHARS - head
    return feedback[:head] + "\n… (cut) …\n" + feedback[-tail:]
