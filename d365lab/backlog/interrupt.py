"""Ctrl-C that stops a job between two requests instead of in the middle of one.

The first Ctrl-C sets an event the job checks before each new request (the requests in
flight finish, so the tenant and the job's report agree); a second Ctrl-C interrupts at
once, as usual.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def stop_on_ctrl_c(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside, the first Ctrl-C (SIGINT) sets ``stop``; the next raises KeyboardInterrupt.

    Outside the main thread (where handlers cannot be installed) Ctrl-C keeps its usual effect.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)

    def first_ctrl_c(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first_ctrl_c)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
