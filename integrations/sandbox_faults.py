"""Faults a provider sandbox can play, and the count of what it accepted.

Real providers time out after accepting, answer 5xx after accepting, stall, and fail. A sandbox
asks `Faults.draw()` once per send request and plays the fault it gets:

- `FAIL`: answer a 5xx without accepting anything;
- `STALL`: wait `seconds`, then process the request normally (a slow provider; past the
  client's timeout the message is still accepted, later);
- `ACCEPT_THEN_TIMEOUT`: accept and record the message, then hold the answer `seconds` (longer
  than the client's timeout), so the client never sees it;
- `ACCEPT_THEN_5XX`: accept and record the message, then answer a 5xx.

Each switch is armed for the next N requests (`next`) or at a rate (`rate`, e.g. 0.05), drawn
with a seeded generator so a run can be replayed. `SendLedger` counts the messages accepted per
(to, body): duplicates on a phone are what the tests and the benchmark look for. Sandboxes
de-duplicate nothing a real API does not document.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum


class FaultMode(StrEnum):
    FAIL = "fail"
    STALL = "stall"
    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"
    ACCEPT_THEN_5XX = "accept_then_5xx"


@dataclass(frozen=True)
class Fault:
    mode: FaultMode
    status: int = 500
    seconds: float = 5.0

    @property
    def before_accepting(self) -> bool:
        return self.mode in (FaultMode.FAIL, FaultMode.STALL)


@dataclass
class _Switch:
    fault: Fault
    remaining: int = 0
    rate: float = 0.0


class Faults:
    """The fault switches of one sandbox. Thread-safe; `release()` ends every held answer."""

    def __init__(self, seed: int | None = 0) -> None:
        self._lock = threading.Lock()
        self._switches: dict[FaultMode, _Switch] = {}
        self._random = random.Random(seed)
        self._released = threading.Event()
        self.played: Counter[FaultMode] = Counter()

    def next(self, n: int, mode: FaultMode | str, *, status: int = 500, seconds: float = 5.0) -> None:
        """Play `mode` on the next `n` send requests (before any rate is drawn)."""
        self._set(FaultMode(mode), status, seconds, remaining=n)

    def rate(self, rate: float, mode: FaultMode | str, *, status: int = 500, seconds: float = 5.0) -> None:
        """Play `mode` on a fraction `rate` (0..1) of send requests until cleared."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate}")
        self._set(FaultMode(mode), status, seconds, rate=rate)

    def clear(self, mode: FaultMode | str | None = None) -> None:
        with self._lock:
            if mode is None:
                self._switches.clear()
            else:
                self._switches.pop(FaultMode(mode), None)

    def _set(self, mode: FaultMode, status: int, seconds: float, remaining: int = 0,
             rate: float = 0.0) -> None:
        if mode in (FaultMode.FAIL, FaultMode.ACCEPT_THEN_5XX) and not 500 <= status <= 599:
            raise ValueError(f"{mode} answers a 5xx, not {status}")
        with self._lock:
            self._switches[mode] = _Switch(Fault(mode, status, seconds), remaining, rate)

    def draw(self) -> Fault | None:
        """The fault to play on this request, if any: counted switches first, then rates."""
        with self._lock:
            for switch in self._switches.values():
                if switch.remaining > 0:
                    switch.remaining -= 1
                    self.played[switch.fault.mode] += 1
                    return switch.fault
            for switch in self._switches.values():
                if switch.rate and self._random.random() < switch.rate:
                    self.played[switch.fault.mode] += 1
                    return switch.fault
        return None

    def hold(self, fault: Fault) -> None:
        """Wait as the fault says (a stall, or an answer held past the client's timeout)."""
        self._released.wait(fault.seconds)

    def release(self) -> None:
        """Stop holding answers (the sandbox is closing)."""
        self._released.set()


class SendLedger:
    """How many messages a sandbox accepted for each (to, body)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, to: str, body: str) -> None:
        with self._lock:
            self._counts[(to, body)] += 1

    def count(self, to: str, body: str) -> int:
        with self._lock:
            return self._counts[(to, body)]

    @property
    def accepted(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    @property
    def duplicates(self) -> int:
        """Messages accepted beyond the first for the same phone and text."""
        with self._lock:
            return sum(n - 1 for n in self._counts.values() if n > 1)
