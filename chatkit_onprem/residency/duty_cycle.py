"""A background job's share of time: work a slice, then pause so serving gets the rest.

Admin jobs (key rotation, exports) share the process, its event loop's GIL and usually its
cores with the streams people are waiting on. A job that runs flat out takes them; one that
keeps to ``share`` of the time leaves the rest. The job calls ``tick`` (on a thread) or
``pause`` (on the event loop) between units of work; both are cheap until a slice is used.
"""

from __future__ import annotations

import asyncio
import time


class DutyCycle:
    """Work at most ``share`` of the time, in slices of about ``slice_seconds``.

    After a slice that took ``busy`` seconds the job pauses ``busy * (1 / share - 1)``: at
    0.5 it pauses as long as it worked; at 1.0 it never pauses. A pause releases the GIL."""

    def __init__(self, share: float, *, slice_seconds: float = 0.01) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self.slice = slice_seconds
        self._began = time.monotonic()

    @property
    def throttled(self) -> bool:
        return self.share < 1.0

    def _due(self) -> float:
        """Seconds to pause now (0 while the slice lasts); starts the next slice when due."""
        if not self.throttled:
            return 0.0
        busy = time.monotonic() - self._began
        if busy < self.slice:
            return 0.0
        return busy * (1 / self.share - 1)

    def tick(self) -> None:
        """On a worker thread, between units of work."""
        pause = self._due()
        if pause:
            time.sleep(pause)
            self._began = time.monotonic()

    async def pause(self) -> None:
        """On the event loop, between units of work (each unit may be longer than a slice)."""
        pause = self._due()
        if pause:
            await asyncio.sleep(pause)
            self._began = time.monotonic()

    def restart(self) -> None:
        """A new slice starts now (after waiting on something that was not the job's work)."""
        self._began = time.monotonic()
