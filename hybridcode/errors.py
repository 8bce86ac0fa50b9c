"""The project's errors. Every one carries what went wrong and what to do next.

    HybridError                      exit 1 unless stated
    ├── UsageError                   exit 2: bad arguments or configuration
    │   ├── ConfigError              a config value is invalid (names key and file)
    │   └── PlanNotFoundError        no plan by that id or prefix, or no plans at all
    │       └── MissingKeyError      no API key for a backend that needs one; raised before
    │                                anything is sent (also an AuthenticationError)
    ├── ModelError                   anything a model backend raised
    │   ├── AuthenticationError      missing or rejected key
    │   ├── RateLimitedError         429 after the SDK's retries
    │   ├── OverloadedError          529 / 5xx after the SDK's retries
    │   ├── BackendUnavailableError  connection refused, DNS, server down
    │   ├── ModelTimeoutError        no answer within the configured timeout
    │   ├── ModelNotFoundError       model not pulled / unknown model id
    │   ├── ContextOverflowError     prompt larger than the window, or truncated by the server
    │   ├── OutputFormatError        output not valid against the requested schema
    │   └── ReplayMissError          the replay backend has no recording for a request
    ├── BudgetExceededError          the next call would cross the run's spend cap
    ├── GitError                     git missing, not a repository, dirty tree, locked index
    ├── SigningError                 an approval could not be signed or verified (ssh-keygen)
    │   ├── NoSigningKeyError        no SSH key configured to sign approvals with
    │   └── UntrustedApprovalError   no allowed-signers file, or a signature it does not allow
    ├── ContextError                 source could not be read, parsed or located
    │   └── PlacementError           generated code could not be placed (line + excerpt)
    ├── SpecError                    a spec document is invalid (names item and field)
    ├── SandboxError                 no sandbox to run model-written code in
    └── LedgerError                  the ledger database could not be opened or written

Foreign exceptions (SDK, sqlite, git) are translated at the module that talks to the
foreign library, with ``raise ... from exc`` so ``HYBRID_DEBUG=1`` still shows the cause.
"""

from __future__ import annotations


class HybridError(Exception):
    """Base error. ``message`` says what is wrong; ``hint`` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message


class UsageError(HybridError):
    exit_code = 2


class ConfigError(UsageError):
    pass


class PlanNotFoundError(UsageError):
    """``ref`` names no plan (``none_yet``: the repository has no plans at all). Its hint names
    the CLI command; the MCP server gives the tool instead."""

    def __init__(self, message: str, hint: str, *, ref: str | None, none_yet: bool) -> None:
        super().__init__(message, hint)
        self.ref = ref
        self.none_yet = none_yet


class ModelError(HybridError):
    """``usage`` (a :class:`hybridcode.models.base.Usage`) holds tokens already spent, if any,
    so a failed call is still costed in the ledger."""

    def __init__(self, message: str, hint: str | None = None, *, usage: object = None) -> None:
        super().__init__(message, hint)
        self.usage = usage


class AuthenticationError(ModelError):
    pass


class RateLimitedError(ModelError):
    pass


class OverloadedError(ModelError):
    pass


class BackendUnavailableError(ModelError):
    pass


class ModelTimeoutError(ModelError):
    pass


class ModelNotFoundError(ModelError):
    pass


class ContextOverflowError(ModelError):
    pass


class OutputFormatError(ModelError):
    """Output did not match the requested schema. ``raw`` keeps the text for a repair round;
    ``answers`` every answer the failed call paid for, oldest first (a backend's own repair
    round makes two), so a caller can keep them all."""

    def __init__(self, message: str, hint: str | None = None, raw: str = "", *,
                 usage: object = None, answers: list[str] | None = None) -> None:
        super().__init__(message, hint, usage=usage)
        self.raw = raw
        self.answers = list(answers) if answers else ([raw] if raw else [])


class MissingKeyError(ConfigError, AuthenticationError):
    """A backend needs a key the settings lack. Raised before any request, so it is a
    configuration error (exit 2) and never recorded as a model call."""


class ReplayMissError(ModelError):
    pass


class BudgetExceededError(HybridError):
    pass


class GitError(HybridError):
    pass


class SigningError(HybridError):
    pass


class NoSigningKeyError(SigningError):
    pass


class UntrustedApprovalError(SigningError):
    pass


class ContextError(HybridError):
    pass


class PlacementError(ContextError):
    """Code could not be placed. ``line`` and ``excerpt`` locate the problem for a retry prompt."""

    def __init__(
        self, message: str, hint: str | None = None, line: int | None = None, excerpt: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.line = line
        self.excerpt = excerpt


class SpecError(HybridError):
    pass


class LedgerError(HybridError):
    pass


class SandboxError(HybridError):
    """Model-written code would have to run without a sandbox: it is not run."""

