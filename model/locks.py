"""The one cross-process lock of the project: for the registry's writers and for `rawan quantize` on a version.

An flock on a lock file, which the kernel releases when the holder dies, so a killed process never leaves it
held. Written here because both users need that exact behaviour and their own error when the lock is taken.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def exclusive_lock(path: str | Path, *, wait: bool = True,
                   busy: Callable[[Path], Exception] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing). With `wait=False` a lock held elsewhere raises
    `busy(path)` at once (default: BlockingIOError); errors inside the block pass through unchanged."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            if busy is None:
                raise
            raise busy(path) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
