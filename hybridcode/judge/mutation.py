"""Mutation testing: do a test file's tests notice when the code under test is wrong?

A test that only calls the code ("no exception") passes against any version of it. To judge a
test file, the code under test is changed in small ways a bug would change it — a *mutant* —
and the tests are run against each mutant through the one runner (:func:`run_tests`, in the
sandbox, test by test). A mutant is *killed* when a test fails (or the run times out, or the
module no longer imports); it *survives* when every test still passes. The mutation score is
killed / total.

Five operators, on the code of the named symbol only (its docstring, annotations and decorators
are left alone):

    comparison   ``<`` made ``<=``, ``==`` made ``!=``, ``in`` made ``not in`` …
    constant     a number moved by one (``60`` made ``61``), ``True`` made ``False``
    operator     ``+`` made ``-``, ``*`` made ``/``, ``and`` made ``or`` …
    return       ``return <value>`` made ``return None``
    branch       ``if <condition>:`` made ``if False:`` (the branch removed)

Why a small mutator of our own and not mutmut, cosmic-ray or mutatest: each of those owns the
test execution — mutmut 3 copies the tree into ``mutants/`` with trampolines and runs pytest
itself (and needs fork), cosmic-ray keeps a session database and runs its own workers, mutatest
patches bytecode caches in its own runner and is unmaintained. Here every run of project code
must go through the judge's sandbox and per-test accounting, one item at a time, so what is
needed is only the mutant *sources*; the five operators above take ~150 lines of :mod:`ast`.

    mutants = generate_mutants(source, "parse_duration")
    result = run_mutation(worktree, "app/durations.py", "parse_duration",
                          ["tests/test_durations.py"], config)
    result.score, result.survived, result.feedback()
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hybridcode.judge.config import JudgeConfig
from hybridcode.judge.outcome import TestRun
from hybridcode.judge.runner import run_tests

__all__ = ["DEFAULT_MAX_MUTANTS", "DEFAULT_SCORE", "Mutant", "MutationResult",
           "generate_mutants", "peeks_at_source", "run_mutation"]

# High enough that tests which only check "no exception" fail (they kill the few mutants that
# raise, typically none to a fifth), low enough to leave room for *equivalent* mutants — ones no
# test can tell from the original, such as `<` made `<=` in `if value < low: return low`, where
# both return the same at the boundary. Complete tests score 0.92-0.95 on the bundled test tasks
# but 0.78 on a five-line clamp (two of its nine mutants are equivalent): 0.8 would refuse them.
DEFAULT_SCORE = 0.7
# Each mutant is one test run (~0.5-1 s on an idle machine); a spread-out sample of this many
# bounds the cost (tests/bench/bench_mutation.py measures it).
DEFAULT_MAX_MUTANTS = 25

_COMPARE_SWAP: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAP: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}
_BOOL_SWAP: dict[type, type] = {ast.And: ast.Or, ast.Or: ast.And}
_SYMBOLS: dict[type, str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>",
    ast.And: "and", ast.Or: "or",
}
_SHOWN = 40  # characters of a condition or a returned value shown in a mutant's description


@dataclass(frozen=True)
class Mutant:
    """One small change to the code under test: where, what it was, what it became."""

    symbol: str
    line: int
    operator: str  # comparison / constant / operator / return / branch
    before: str
    after: str
    source: str = field(repr=False, compare=False)  # the whole mutated file

    def describe(self) -> str:
        """``parse_duration``, line 14: ``<`` made ``<=``."""
        return f"`{self.symbol}`, line {self.line}: `{self.before}` made `{self.after}`"


@dataclass
class MutationResult:
    """What the tests made of each mutant. ``baseline`` is the run against the unchanged code;
    when it did not pass, no mutant was run and ``ok`` is false."""

    killed: list[Mutant] = field(default_factory=list)
    survived: list[Mutant] = field(default_factory=list)
    generated: int = 0  # mutants the code gave, before the sample was taken
    sampled: int = 0  # mutants chosen to run (the run stops early once the score is lost)
    threshold: float = DEFAULT_SCORE
    baseline: TestRun | None = None
    wall_s: float = 0.0
    could_not_run: str | None = None  # a mutant's run failed for a reason not its own

    @property
    def total(self) -> int:
        return len(self.killed) + len(self.survived)

    @property
    def score(self) -> float:
        """Killed / run; 1.0 when the code gave no mutant (nothing to tell apart)."""
        return len(self.killed) / self.total if self.total else 1.0

    @property
    def ok(self) -> bool:
        return (self.baseline is None or self.baseline.ok) and self.could_not_run is None \
            and self.score >= self.threshold

    def summary(self) -> str:
        sample = f" (a sample of {self.generated})" if self.generated > self.sampled else ""
        stopped = (f"; stopped after {self.total} of {self.sampled}: the score could no longer "
                   "reach the threshold") if self.total < self.sampled else ""
        first = f"; first survivor: {self.survived[0].describe()}" \
            if self.survived and not self.ok else ""
        return (f"mutation score {self.score:.0%}: the tests killed {len(self.killed)} of "
                f"{self.total} mutant(s){sample} of the code under test; at least "
                f"{self.threshold:.0%} must be killed{stopped}{first}")

    def feedback(self, limit: int = 15) -> str:
        """The summary, then each surviving mutant the way a failing test is reported."""
        lines = [self.summary()]
        lines += [f"- {m.describe()} and no test failed" for m in self.survived[:limit]]
        if len(self.survived) > limit:
            lines.append(f"- … and {len(self.survived) - limit} more")
        if self.survived:
            lines.append("Add assertions on the exact results (values, boundaries, error "
                         "types and messages) so that each of these changes makes a test fail.")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"score": round(self.score, 3), "threshold": self.threshold,
                "killed": len(self.killed), "total": self.total, "generated": self.generated,
                "survived": [m.describe() for m in self.survived],
                "wall_s": round(self.wall_s, 3)}


# --- generating mutants ------------------------------------------------------------------------

def _targets(tree: ast.Module, symbol: str | None) -> list[tuple[str, ast.AST]]:
    """(qualified name, node) of every function whose body is mutated."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    found: list[tuple[str, ast.AST]] = []

    def collect(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, functions):
                found.append((prefix + node.name, node))
            elif isinstance(node, ast.ClassDef):
                collect(node.body, f"{prefix}{node.name}.")

    collect(tree.body, "")
    if not symbol:
        return found
    return [(name, node) for name, node in found
            if name == symbol or name.startswith(symbol + ".")]


def _body_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """Every node of a function's body, docstring, annotations and decorators excluded, in a
    fixed order (the same on every parse of the same source)."""
    body = list(function.body)  # type: ignore[attr-defined]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        children = []
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "decorator_list", "type_comment"):
                continue
            if isinstance(value, ast.AST):
                children.append(value)
            elif isinstance(value, list):
                children += [v for v in value if isinstance(v, ast.AST)]
        stack.extend(reversed(children))


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def _sites(node: ast.AST) -> list[tuple[str, str, str]]:
    """(operator, before, after) of each mutation ``node`` offers, in a fixed order."""
    out: list[tuple[str, str, str]] = []
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) in _COMPARE_SWAP:
                out.append(("comparison", _SYMBOLS[type(op)],
                            _SYMBOLS[_COMPARE_SWAP[type(op)]]))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append(("constant", repr(node.value), repr(not node.value)))
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        out.append(("constant", repr(node.value), repr(node.value + 1)))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BINOP_SWAP:
        out.append(("operator", _SYMBOLS[type(node.op)], _SYMBOLS[_BINOP_SWAP[type(node.op)]]))
    elif isinstance(node, ast.BoolOp) and type(node.op) in _BOOL_SWAP:
        out.append(("operator", _SYMBOLS[type(node.op)], _SYMBOLS[_BOOL_SWAP[type(node.op)]]))
    elif isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        out.append(("return", f"return {_short(node.value)}", "return None"))
    elif isinstance(node, ast.If) and not (isinstance(node.test, ast.Constant)
                                           and node.test.value is False):
        out.append(("branch", f"if {_short(node.test)}:", "if False:"))
    return out


def _apply(node: ast.AST, operator: str, index: int) -> None:
    """Mutate ``node`` in place: its ``index``-th site of kind ``operator``."""
    if operator == "comparison":
        compare = node  # type: ignore[assignment]
        swappable = [i for i, op in enumerate(compare.ops) if type(op) in _COMPARE_SWAP]
        i = swappable[index]
        compare.ops[i] = _COMPARE_SWAP[type(compare.ops[i])]()
    elif operator == "constant":
        value = node.value  # type: ignore[attr-defined]
        node.value = (not value) if isinstance(value, bool) else value + 1  # type: ignore[attr-defined]
    elif operator == "operator":
        table = _BOOL_SWAP if isinstance(node, ast.BoolOp) else _BINOP_SWAP
        node.op = table[type(node.op)]()  # type: ignore[attr-defined]
    elif operator == "return":
        node.value = ast.Constant(None)  # type: ignore[attr-defined]
    elif operator == "branch":
        node.test = ast.Constant(False)  # type: ignore[attr-defined]


def generate_mutants(source: str, symbol: str | None = None) -> list[Mutant]:
    """Every mutant of ``symbol``'s code in ``source`` (all functions and methods when
    ``symbol`` is empty; a class's methods when it names a class), in source order. Source that
    does not parse gives none."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    plan: list[tuple[int, int, str, int, str, str, str, int]] = []
    for t_index, (name, function) in enumerate(_targets(tree, symbol)):
        for n_index, node in enumerate(_body_nodes(function)):
            per_kind: dict[str, int] = {}
            for operator, before, after in _sites(node):
                k = per_kind.get(operator, 0)
                per_kind[operator] = k + 1
                plan.append((t_index, n_index, operator, k, name, before, after,
                             getattr(node, "lineno", function.lineno)))  # type: ignore[attr-defined]
    mutants = []
    for t_index, n_index, operator, k, name, before, after, line in plan:
        copy_tree = copy.deepcopy(tree)
        function = _targets(copy_tree, symbol)[t_index][1]
        node = next(n for i, n in enumerate(_body_nodes(function)) if i == n_index)
        _apply(node, operator, k)
        try:
            mutated = ast.unparse(ast.fix_missing_locations(copy_tree))
        except (ValueError, TypeError, RecursionError):
            continue
        mutants.append(Mutant(name, line, operator, before, after, mutated + "\n"))
    return mutants


def sample(mutants: Sequence[Mutant], limit: int) -> list[Mutant]:
    """At most ``limit`` mutants spread evenly over the code (the same ones every time)."""
    if limit <= 0 or len(mutants) <= limit:
        return list(mutants)
    step = len(mutants) / limit
    return [mutants[int(i * step)] for i in range(limit)]


# --- running them ------------------------------------------------------------------------------

_SOURCE_READERS = frozenset({"getsource", "getsourcelines", "getsourcefile", "getfile",
                             "__code__", "co_code", "__file__", "__loader__", "__spec__"})


def peeks_at_source(test_source: str, code_file: str) -> str | None:
    """Why a test file's tests would "kill" mutants without testing behaviour — by reading the
    code under test's source or bytecode (a hash of the file fails on every mutant) — or None.
    Such tests are refused, not scored."""
    try:
        tree = ast.parse(test_source)
    except SyntaxError:
        return None
    name = Path(code_file).name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _SOURCE_READERS:
            return f"line {node.lineno}: reads `{node.attr}`"
        if isinstance(node, ast.Name) and node.id in _SOURCE_READERS and node.id != "__file__":
            return f"line {node.lineno}: reads `{node.id}`"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""]
            if any(m.split(".")[0] in ("dis", "inspect", "linecache", "marshal") for m in modules):
                return f"line {node.lineno}: imports {modules[0]}"
            if isinstance(node, ast.ImportFrom) and any(
                    a.name in _SOURCE_READERS for a in node.names):
                return f"line {node.lineno}: imports a source reader"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and name in node.value:
            return f"line {node.lineno}: names the file {name}"
    return None


def run_mutation(worktree: Path, code_file: str, symbol: str | None, test_files: list[str],
                 config: JudgeConfig, *, threshold: float = DEFAULT_SCORE,
                 max_mutants: int = DEFAULT_MAX_MUTANTS,
                 baseline: TestRun | None = None, stop_early: bool = True) -> MutationResult:
    """Run ``test_files`` against each mutant of ``symbol`` in ``code_file`` (worktree-relative)
    and sort the mutants into killed and survived.

    ``baseline`` is the tests' passing run against the unchanged code, when the caller has it;
    otherwise it is run here first, and a baseline that does not pass ends the check (mutants
    say nothing about tests that fail anyway). Each mutant is written over ``code_file`` for
    its run; the file's bytes and timestamps are put back afterwards, whatever happens. A
    mutant's run is bounded by a few times the baseline's duration: a mutant that loops forever
    is killed by the timeout. With ``stop_early`` the run ends as soon as so many mutants
    survived that the threshold cannot be reached (the survivors found so far are the
    feedback); pass False to sort every mutant (the bench and reports do)."""
    started = time.monotonic()
    worktree = Path(worktree)
    target = worktree / code_file
    original = target.read_bytes()
    result = MutationResult(threshold=threshold)
    if baseline is None:
        baseline = run_tests(worktree, test_files, config)
    result.baseline = baseline
    if not baseline.ok:
        result.wall_s = time.monotonic() - started
        return result
    everything = generate_mutants(original.decode("utf-8", "replace"), symbol)
    result.generated = len(everything)
    bounded = dataclasses.replace(
        config, timeout_s=min(config.timeout_s, max(10.0, 5 * baseline.wall_s)))
    chosen = sample(everything, max_mutants)
    result.sampled = len(chosen)
    # Once this many survive, the threshold is out of reach: the rest would only cost time.
    allowed = len(chosen) - math.ceil(threshold * len(chosen) - 1e-9)
    stat = target.stat()
    try:
        for mutant in chosen:
            target.write_text(mutant.source, encoding="utf-8")
            run = run_tests(worktree, test_files, bounded)
            if run.could_not_run and "could not be collected" not in run.summary:
                # Not the mutant's doing (a mutant that breaks the import is collected and
                # fails): counting it killed would pass tests that were never run.
                result.could_not_run = run.summary
                break
            (result.survived if run.ok else result.killed).append(mutant)
            if stop_early and len(result.survived) > allowed:
                break
    finally:
        target.write_bytes(original)
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result.wall_s = time.monotonic() - started
    return result
