"""Child processes that a test interrupts with Ctrl-C (SIGINT).

A process started in the background by a non-interactive shell (``bash .ci/run &``) inherits
SIGINT *ignored*, and so does every process it starts; Python then installs no
KeyboardInterrupt handler, and the signal a test sends does nothing. A test that sends SIGINT
therefore sets the disposition its child starts with, whatever the suite inherited.
"""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """``preexec_fn`` for :class:`subprocess.Popen`: the child starts with SIGINT's default
    disposition, so the interpreter installs its KeyboardInterrupt handler as it would in a
    terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
