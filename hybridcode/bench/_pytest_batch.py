"""Run many small pytest sessions in one interpreter: ``python -m hybridcode.bench._pytest_batch
JOBS.json``, where JOBS is a list of ``{"dir": ..., "files": [...], "junit": ...}``.

The suite's self-check runs three sessions per task; a fresh interpreter and pytest start-up for
each costs far more than the tests themselves. Between sessions every module loaded from the
session's folder is dropped, so tasks that reuse package names (``accounts``, ``notes``) or the
same test file names never see each other's code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _forget_modules(directory: str) -> None:
    prefix = os.path.realpath(directory) + os.sep
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path).startswith(prefix):
            del sys.modules[name]


def main(jobs_file: str) -> int:
    import pytest

    jobs = json.loads(Path(jobs_file).read_text(encoding="utf-8"))
    home = os.getcwd()
    for job in jobs:
        directory = job["dir"]
        sys.path.insert(0, directory)
        os.chdir(directory)
        try:
            pytest.main(["-q", "-p", "no:cacheprovider", "-c", job["ini"], "--rootdir",
                         directory, f"--junitxml={job['junit']}", *job["files"]])
        finally:
            os.chdir(home)
            sys.path.remove(directory)
            _forget_modules(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
