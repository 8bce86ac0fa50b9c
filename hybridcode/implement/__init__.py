"""The implement stage: a local model implements each spec item inside a git worktree."""
