"""Everything that talks to git lives in this package: worktrees, diffs, commits and trailers.

Stages call these functions; nothing else runs git or imports GitPython.
"""
