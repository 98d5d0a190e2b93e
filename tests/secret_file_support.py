"""Helpers of the rotated secret file tests: a file that looks long unchanged, a swap in place.

A password file changed in the last seconds is read again on every call,
whatever its status says (a coarse file-system clock may stamp two writes
alike). A test of the status comparison must therefore backdate the file it
has just written, or it proves nothing about that comparison.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["backdate", "rotate"]

_LONG_AGO: Final = 1_700_000_000
"""The modification time given to backdated files: fixed, so two of them are stamped alike."""


def backdate(path: Path) -> Path:
    """*path*, its modification time set long past the window in which it is always read."""
    os.utime(path, (_LONG_AGO, _LONG_AGO))
    return path


def rotate(secret: Path, value: str) -> None:
    """Replace *secret* by a new file holding *value*, as Kubernetes swaps a mounted secret.

    The new file is backdated before it takes *secret*'s place: a reader sees
    the change by its new inode (and size, if it differs), not its recent time.
    """
    rotated = secret.with_name(secret.name + ".rotated")
    rotated.write_text(value + "\n", encoding="utf-8")
    backdate(rotated).replace(secret)
