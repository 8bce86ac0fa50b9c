"""hybridcode: Claude plans and reviews, a local model implements, a gate guards every commit."""

__version__ = "0.1.0"
