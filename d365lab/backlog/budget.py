"""One application user's service-protection budget as the client sees it, and lanes over several users.

Dataverse limits each user, per 300 s sliding window, to 6,000 requests and 1,200 s of
combined execution time (and 52 concurrent requests); over a limit it answers 429 and the
client must wait ``Retry-After``. A job that waits for the 429s loses the time of the refused
requests and stalls every lane at once. :class:`RequestBudget` keeps the job under the
limits instead: every response's measured duration (``response.elapsed``, an upper bound on
the server time it cost) is recorded over the same sliding window, and a lane asks the budget
before it sends (:meth:`RequestBudget.spend`); when the window is nearly spent the lane waits
until enough of it has drained. The ``x-ms-ratelimit-time-remaining-xrm-requests`` header,
documented as a debugging aid, is only used to slow down (never to go faster): when it says
less time is left than the lanes in flight will use, a lane waits for their answers.

:class:`UserLanes` spreads work over several users (each with its own budget) and keeps
``x-ms-dop-hint`` requests in flight per user::

    lanes = UserLanes([client, second_user_client])
    with lanes.lease(expected_requests=1) as client:
        client.records.create_multiple("lead", rows)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from d365lab.client import DataverseClient

TIME_REMAINING_HEADER = "x-ms-ratelimit-time-remaining-xrm-requests"


@dataclass(frozen=True)
class ServiceLimits:
    """Service-protection limits per user (defaults: Microsoft's documented ones)."""

    requests_per_window: int = 6000
    execution_ms_per_window: float = 1_200_000.0
    window_seconds: float = 300.0
    max_concurrent: int = 52

    def scaled(self, factor: float) -> ServiceLimits:
        """The limits of a mock served with ``--cost-scale factor`` (windows and times scaled)."""
        return ServiceLimits(self.requests_per_window, self.execution_ms_per_window * factor,
                             self.window_seconds * factor, self.max_concurrent)

    @property
    def execution_ms_per_second(self) -> float:
        """Sustained server time allowed per second of wall time (4,000 ms/s by default)."""
        return self.execution_ms_per_window / self.window_seconds

    @property
    def requests_per_second(self) -> float:
        """Sustained requests allowed per second (20/s by default)."""
        return self.requests_per_window / self.window_seconds


class RequestBudget:
    """The sliding-window budget of one user (one client); thread-safe.

    ``safety`` is the share of each limit the budget lets lanes use (the rest absorbs
    measurement error and requests sent by other tools as the same user).
    """

    def __init__(self, client: DataverseClient, limits: ServiceLimits | None = None, *, safety: float = 0.95,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.limits = limits or ServiceLimits()
        self.safety = safety
        self.clock = clock
        # (answered at, measured ms): the service forgets a request's execution time when its
        # end leaves the window, so the client does too.
        self._done: deque[tuple[float, float]] = deque()
        self._reserved_ms = 0.0
        self._reserved_requests = 0
        self._time_remaining: float | None = None
        self._changed = threading.Condition()
        self._typical_ms = 0.0
        #: Totals since creation: measured milliseconds, requests, and seconds lanes waited here.
        self.measured_ms = 0.0
        self.requests = 0
        self.waited_seconds = 0.0
        client.transport.session.hooks["response"].append(self._observe)

    def close(self) -> None:
        """Stop observing the client's answers."""
        hooks = self.client.transport.session.hooks["response"]
        if self._observe in hooks:
            hooks.remove(self._observe)

    # ------------------------------------------------------------------ observing
    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """requests' response hook: record one answer's duration and the tenant's remaining-time header."""
        elapsed_ms = response.elapsed.total_seconds() * 1000.0
        now = self.clock()
        remaining = response.headers.get(TIME_REMAINING_HEADER)
        with self._changed:
            self._done.append((now, elapsed_ms))
            self.measured_ms += elapsed_ms
            self.requests += 1
            self._typical_ms = elapsed_ms if not self._typical_ms else 0.8 * self._typical_ms + 0.2 * elapsed_ms
            if remaining is not None and remaining.strip().isdigit():
                self._time_remaining = float(remaining)
            self._changed.notify_all()

    @property
    def typical_request_ms(self) -> float:
        """Moving average of the measured request duration (0 before the first answer)."""
        with self._changed:
            return self._typical_ms

    def window_usage(self) -> tuple[float, int]:
        """Measured milliseconds and requests in the current window (answers received)."""
        with self._changed:
            self._forget(self.clock())
            return sum(ms for _, ms in self._done), len(self._done)

    def _forget(self, now: float) -> None:
        horizon = now - self.limits.window_seconds
        while self._done and self._done[0][0] <= horizon:
            self._done.popleft()

    # ------------------------------------------------------------------ spending
    @contextmanager
    def spend(self, expected_requests: int = 1, expected_ms: float | None = None) -> Iterator[None]:
        """Wait until the window can take this work, reserve it while it runs, release it after."""
        cost = expected_ms if expected_ms is not None else self.typical_request_ms * expected_requests
        self._acquire(cost, expected_requests)
        try:
            yield
        finally:
            with self._changed:
                self._reserved_ms -= cost
                self._reserved_requests -= expected_requests
                self._changed.notify_all()

    def _acquire(self, cost_ms: float, requests_count: int) -> None:
        limits = self.limits
        ms_cap = limits.execution_ms_per_window * self.safety
        request_cap = limits.requests_per_window * self.safety
        started = self.clock()
        with self._changed:
            while True:
                now = self.clock()
                self._forget(now)
                used_ms = sum(ms for _, ms in self._done) + self._reserved_ms
                used_requests = len(self._done) + self._reserved_requests
                fits = used_ms + cost_ms <= ms_cap and used_requests + requests_count <= request_cap
                header_low = (self._time_remaining is not None and self._reserved_requests > 0
                              and self._time_remaining - self._reserved_ms < cost_ms)
                if (fits and not header_low) or (not self._done and not self._reserved_requests):
                    self._reserved_ms += cost_ms
                    self._reserved_requests += requests_count
                    self.waited_seconds += now - started
                    return
                self._changed.wait(timeout=self._drain_wait(now))

    def _drain_wait(self, now: float) -> float:
        """Seconds until the oldest recorded answer leaves the window (bounded to stay responsive)."""
        if not self._done:
            return 0.05
        leaves_at = self._done[0][0] + self.limits.window_seconds
        return min(1.0, max(0.005, leaves_at - now))


class UserLanes:
    """Lanes over several users: each user has its own budget and ``x-ms-dop-hint`` lanes (capped).

    :meth:`lease` hands out the user with the most free lanes (ties: the least used), so the
    users' budgets fill evenly and a user paused by a 429 does not hold the others back.
    ``probe``: a client that has not talked to the tenant yet sends a WhoAmI first, whose
    answer carries ``x-ms-dop-hint``.
    """

    def __init__(self, clients: Sequence[DataverseClient], limits: ServiceLimits | None = None, *,
                 max_lanes_per_user: int | None = None, probe: bool = True) -> None:
        if not clients:
            raise ValueError("at least one client is needed")
        self.budgets = [RequestBudget(c, limits) for c in clients]
        for client in clients:
            if probe and client.request_count == 0:
                # The first answer carries x-ms-dop-hint, and gives the budget a first measured
                # request, so the lanes need not start one at a time.
                client.whoami()
        self.lanes = [self._lanes_of(c, max_lanes_per_user) for c in clients]
        self._busy = [0] * len(clients)
        self._free = threading.Condition()

    @staticmethod
    def _lanes_of(client: DataverseClient, cap: int | None) -> int:
        hint = max(1, int(client.recommended_parallelism))
        return max(1, min(hint, cap)) if cap else hint

    def close(self) -> None:
        """Stop observing every user's answers."""
        for budget in self.budgets:
            budget.close()

    def __enter__(self) -> UserLanes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests(self) -> int:
        """HTTP requests sent so far by every user's client."""
        return sum(b.client.request_count for b in self.budgets)

    @property
    def total_lanes(self) -> int:
        """Requests in flight at most, over every user."""
        return sum(self.lanes)

    @contextmanager
    def lease(self, expected_requests: int = 1, expected_ms: float | None = None) -> Iterator[DataverseClient]:
        """A client with a free lane, its budget spent for this work while the block runs."""
        with self._free:
            while True:
                free = [(self.lanes[i] - self._busy[i], -self.budgets[i].requests, i)
                        for i in range(len(self.lanes)) if self._busy[i] < self.lanes[i]]
                if free:
                    index = max(free)[2]
                    self._busy[index] += 1
                    break
                self._free.wait(timeout=0.5)
        budget = self.budgets[index]
        try:
            with budget.spend(expected_requests, expected_ms):
                yield budget.client
        finally:
            with self._free:
                self._busy[index] -= 1
                self._free.notify_all()
