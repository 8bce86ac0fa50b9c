"""Model backends behind one small interface. Nothing outside this package imports an SDK."""

from hybridcode.models.base import (
    Backend,
    Block,
    Message,
    ModelRequest,
    ModelResult,
    Progress,
    Usage,
    estimate_tokens,
)

__all__ = [
    "Backend", "Block", "Message", "ModelRequest", "ModelResult", "Progress", "Usage",
    "estimate_tokens",
]
