"""plan.md: the spec and the architecture note as one document a person reads before
``hybrid implement``. spec.json stays the source of truth; this is a rendering of it."""

from __future__ import annotations

import re

from hybridcode.errors import SpecError
from hybridcode.spec import Spec, SpecItem, topological_order
from hybridcode.text import plural


def _cell(text: str) -> str:
    """Table cells may not hold pipes or line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(code: str, lang: str = "") -> str:
    # A fence longer than any backtick run inside the code, so the block cannot end early.
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{code.rstrip()}\n{ticks}"


def _nest_headings(markdown: str) -> str:
    """Shift the note's headings so its top level sits under "## Architecture" (as ###),
    keeping their relative levels; code blocks are left alone."""
    lines = markdown.splitlines()
    fenced, headings = False, []
    for n, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            headings.append(n)
    if not headings:
        return markdown
    shift = max(0, 3 - min(len(lines[n]) - len(lines[n].lstrip("#")) for n in headings))
    for n in headings:
        level = len(lines[n]) - len(lines[n].lstrip("#"))
        lines[n] = "#" * min(6, level + shift) + lines[n][level:]
    return "\n".join(lines)


def _language(path: str) -> str:
    suffix = path.rsplit(".", 1)[-1] if "." in path else ""
    return {"py": "python", "js": "javascript", "ts": "typescript", "go": "go", "md": "markdown",
            "toml": "toml", "json": "json", "yaml": "yaml", "yml": "yaml"}.get(suffix, "")


def _ordered(spec: Spec) -> list[SpecItem]:
    try:
        return topological_order(spec)
    except SpecError:
        return list(spec.items)  # a broken graph is still worth reading; validation reports it


def _item_section(n: int, item: SpecItem) -> list[str]:
    route = item.route or "not routed"
    if item.route_overridden:
        route += " (override)"
    lines = [f"### {n}. {item.title} (`{item.id}`)", ""]
    lines.append(f"- **{item.action.capitalize()}** {item.kind} `{item.target}` "
                 f"· category {item.category}")
    reason = f" — {item.route_reason}" if item.route_reason else ""
    lines.append(f"- **Route:** {route}{reason}")
    lines.append(f"- **Spec size:** ~{item.spec_size()} tokens" +
                 (f" · code written in the plan: ~{item.code_size()} tokens" if item.code else ""))
    if item.depends_on:
        lines.append("- **Depends on:** " + ", ".join(f"`{d}`" for d in item.depends_on))
    risks = item.risk.raised()
    if risks:
        lines.append("- **Risk:** " + ", ".join(r.replace("_", " ") for r in risks))
    if item.context:
        lines.append("- **Context:** " + ", ".join(f"`{c}`" for c in item.context))
    lines.append("")
    if item.signature.strip():
        lines += [_fence(item.signature, _language(item.file)), ""]
    lines += [item.description.strip(), ""]
    for heading, entries in (("Requirements", item.requirements),
                             ("Constraints", item.constraints)):
        if entries:
            lines += [f"**{heading}**", ""] + [f"- {e}" for e in entries] + [""]
    if item.examples:
        tested = [e for e in item.runnable_examples]
        title = (f"**Examples** ({len(tested)} run as tests → `{item.test_path}`)" if tested
                 else "**Examples**")
        lines += [title, "", "| Input | Expected | Note |", "|---|---|---|"]
        lines += [f"| `{_cell(e.input)}` | `{_cell(e.expected)}` | "
                  f"{_cell(e.note or ('' if e.run or not tested else 'illustration only'))} |"
                  for e in item.examples]
        lines.append("")
        if item.example_setup.strip():
            lines += ["Example setup:", "", _fence(item.example_setup, "python"), ""]
    if item.tests is not None:
        where = item.test_path or "(no path)"
        lines += [f"**Acceptance tests** → `{where}`", "",
                  _fence(item.tests.code, _language(where)), ""]
    if item.code:
        lines += ["**Code written in the plan**", "", _fence(item.code, _language(item.file)),
                  ""]
    return lines


def render_plan_markdown(spec: Spec, architecture: str) -> str:
    """Title, summary, architecture note, an overview table, then one section per item in the
    order they will be implemented."""
    items = _ordered(spec)
    lines = [f"# {spec.title}", ""]
    if spec.plan_id:
        lines += [f"Plan `{spec.plan_id}` · spec version {spec.spec_version} · "
                  f"{plural(len(spec.items), 'item')}", ""]
    if spec.summary.strip():
        lines += [spec.summary.strip(), ""]
    note = _nest_headings(architecture.strip()) or "_No architecture note._"
    lines += ["## Architecture", "", note, ""]
    lines += ["## Items", "",
              "| # | Item | Kind | Target | Action | Route | Spec tokens | Depends on |",
              "|---|---|---|---|---|---|---|---|"]
    for n, item in enumerate(items, 1):
        size = f"~{item.spec_size()}" + (f" (+{item.code_size()} code)" if item.code else "")
        lines.append(
            f"| {n} | `{item.id}` {_cell(item.title)} | {item.kind} | `{_cell(item.target)}` | "
            f"{item.action} | {item.route or '—'} | {size} | "
            f"{', '.join(item.depends_on) or '—'} |")
    total = sum(i.spec_size() + i.code_size() for i in items)
    lines += ["", f"The spec is ~{total} tokens of planner output in all (estimated).", ""]
    for n, item in enumerate(items, 1):
        lines += _item_section(n, item)
    return "\n".join(lines).rstrip() + "\n"
