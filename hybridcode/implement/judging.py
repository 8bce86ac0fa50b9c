"""One answer tried in the worktree: placed, judged by its tests, and undone unless it passed.

Model-written code is hostile. An answer may change only its item's file: anything else it
creates, changes or deletes — while being placed or while its tests run — refuses it and restores
the whole worktree. The acceptance tests' checksums are checked before and after every test run;
a change restores them and refuses the answer. A failing answer is reverted, so the worktree
always holds only code that passed.

Every step is crash-safe: the item's file is snapshotted (:class:`~.state.RunState`) before the
answer is placed, so a process killed part-way leaves a snapshot that a resume rolls back — and
an answer saved but not judged is judged again without a new call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hybridcode.errors import PlacementError
from hybridcode.implement import ladder as feedback
from hybridcode.implement.state import COULD_NOT_RUN

if TYPE_CHECKING:
    from hybridcode.implement.parse import ParsedCode
    from hybridcode.implement.state import RunState
    from hybridcode.judge import JudgeConfig, TestRun
    from hybridcode.spec import Spec, SpecItem
    from hybridcode.vcs.worktree import Worktree


@dataclass(frozen=True)
class Judged:
    """The verdict on one answer. ``outcome`` is an attempt outcome (passed, refused,
    placement_error, syntax_error, test_failed); ``feedback`` goes into the next attempt;
    ``note`` is a run-wide message to show first."""

    outcome: str
    feedback: str = ""
    note: str | None = None
    run: TestRun | None = None  # the judge's run, once the tests were run


    @property
    def ok(self) -> bool:
        return self.outcome == "passed"


class Judging:
    def __init__(self, worktree: Worktree, state: RunState, spec: Spec,
                 judge: JudgeConfig) -> None:
        self.worktree = worktree
        self.state = state
        self.spec = spec
        self.judge = judge
        self.checksums: dict[str, str] = {}  # acceptance test file → sha256, as written

    def write_tests(self) -> None:
        """The spec's acceptance tests into the worktree; their checksums are the reference."""
        from hybridcode.implement.acceptance import write_acceptance_tests

        self.checksums = write_acceptance_tests(self.worktree.path, self.spec)

    def test_files(self) -> list[str]:
        return sorted(self.checksums)

    def judge_answer(self, item: SpecItem, parsed: ParsedCode, attempt_id: str,
                     passed: list[str], on_pass) -> Judged:
        """Place ``parsed`` and judge it (``passed``: the items accepted so far, whose tests run
        as the related stage). On a pass ``on_pass`` records it before the snapshot is dropped,
        so a crash between the two keeps the code (see RunState.recover_snapshot)."""
        from hybridcode.implement.apply import RefusedOutputError, apply_item, revert
        from hybridcode.implement.verify import verify_item
        from hybridcode.judge import Snapshot

        wt = self.worktree.path
        self.state.save_snapshot(wt, item.id, attempt_id, [item.file])
        # The whole worktree as it was: an attempt may change only its item's file.
        before = Snapshot.take(wt)
        target = wt / item.file
        original = target.read_bytes() if target.is_file() else None  # doc items compare
        allowed = {item.file}
        settled = False
        try:
            try:
                change = apply_item(wt, item, parsed, set(self.checksums))
            except RefusedOutputError as exc:
                self.state.restore_snapshot(wt)
                settled = True
                return Judged("refused", feedback.refused_feedback(str(exc)))
            except PlacementError as exc:
                self.state.restore_snapshot(wt)
                settled = True
                return Judged("placement_error", feedback.placement_feedback(exc))
            stray = self._stray_changes(item, before, allowed, "placing it")
            if stray is not None:
                settled = True
                return stray
            tampered = self._tests_tampered("before")
            if tampered is not None:
                settled = True
                return self._refuse_tampered(change, tampered, "placing it")
            placed = (wt / item.file).read_bytes()
            result = verify_item(wt, item, self.spec, passed, self.judge, before=original)
            ran = result.run
            if not target.is_file() or target.read_bytes() != placed:
                allowed = set()  # the tests rewrote the item's own file: that is stray too
            stray = self._stray_changes(item, before, allowed, "running its tests")
            if stray is not None:
                settled = True
                return replace(stray, run=ran)
            tampered = self._tests_tampered("after")
            if tampered is not None:
                settled = True
                return replace(self._refuse_tampered(change, tampered, "running it"), run=ran)
            if result.ok:
                on_pass()
                self.state.clear_snapshot()
                settled = True
                return Judged("passed", run=ran)
            revert(wt, change)
            self.state.clear_snapshot()
            settled = True
            if ran is not None and ran.blames_environment({item.file}):
                return Judged(COULD_NOT_RUN, run=ran)  # not the answer's fault (see Attempts)
            outcome = "syntax_error" if result.stage == "syntax" else "test_failed"
            return Judged(outcome, feedback.test_feedback(result.stage, result.output), run=ran)
        finally:
            if not settled and self.state.snapshot_path.is_file():
                # Ctrl-C or an error mid-way: put the files back; the saved output stays
                # "generated", so a resume verifies it again without paying for it.
                self.state.restore_snapshot(wt)
                before.restore(wt)

    def _stray_changes(self, item: SpecItem, before, allowed: set[str],
                       when: str) -> Judged | None:
        """Refused when anything besides ``allowed`` was created, changed or deleted since
        ``before``; the whole worktree is then restored from it."""
        stray = before.changes(self.worktree.path, allowed)
        if not stray:
            return None
        before.restore(self.worktree.path)
        self.state.clear_snapshot()
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        return Judged("refused", feedback.refused_feedback(
            f"{when} {shown} — an attempt may change only {item.file}; the whole worktree "
            "was restored"),
            note=f"{item.id}: {when} {shown}; refused the attempt and restored the worktree")

    def _refuse_tampered(self, change, note: str, what: str) -> Judged:
        """The acceptance tests changed while ``what`` happened: undo the item's change and
        refuse the answer (the tests were already restored by :meth:`_tests_tampered`)."""
        from hybridcode.implement.apply import revert

        revert(self.worktree.path, change)
        self.state.clear_snapshot()
        return Judged("refused", feedback.refused_feedback(f"{what} changed the acceptance tests"),
                      note=note)

    def _tests_tampered(self, when: str) -> str | None:
        """None while the acceptance tests are as written; else they are written again and the
        note saying so is returned."""
        from hybridcode.implement.acceptance import check_acceptance_tests

        changed = check_acceptance_tests(self.worktree.path, self.checksums)
        if not changed:
            return None
        self.write_tests()
        return (f"acceptance tests changed {when} a test run ({', '.join(sorted(changed))}); "
                "restored them and refused that output")
