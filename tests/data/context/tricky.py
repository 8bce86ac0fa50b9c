"""A module with every shape placement must survive: décorateurs, ünïcode, overloads."""
from __future__ import annotations

import functools
from typing import overload


def trace(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


class Outer:
    """Outer doc."""

    class Inner:
        def method(self) -> str:
            return "inner — ünïcode"

    @property
    def value(self) -> int:
        return self._value

    @value.setter
    def value(self, new: int) -> None:
        self._value = new

    @trace
    async def fetch(self, url: str) -> bytes:   
        """Trailing spaces on the line above stay."""
        text = """
raw string content at column 0
    keeps its indentation
"""
        return text.encode()


@overload
def parse(x: int) -> int: ...
@overload
def parse(x: str) -> str: ...
def parse(x):
    return x


def größe(maß: float) -> float:
    return maß * 2


if __name__ == "__main__":
    print(parse(1))
