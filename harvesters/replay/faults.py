"""Injected faults for the replay Hub: latency, 429 with Retry-After, 5xx, dropped connections, truncated bodies.

A ``FaultPlan`` is an ordered list of ``FaultRule``s checked before normal handling of every request.
Every matching rule with budget left adds its ``delay_s``; the first matching rule with an action
(``status``, ``drop_connection`` or ``truncate``) decides what happens to the request. ``times`` bounds how
often a rule fires (``None``: forever) and ``probability`` rolls a seeded RNG, so a plan replays identically.
The plan is consulted per request, so ``hub.faults = FaultPlan([...])`` changes it at run time.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """One fault: which requests (method and path regexes, searched) and what happens to them."""

    path: str = ".*"
    method: str = ".*"
    times: int | None = 1
    probability: float = 1.0
    delay_s: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    drop_connection: bool = False
    truncate: float | None = None  # fraction of the body sent before the connection is closed
    message: str | None = None
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        actions = [self.status is not None, self.drop_connection, self.truncate is not None]
        if sum(actions) > 1:
            raise ValueError("a FaultRule takes one of status, drop_connection or truncate, not several")
        if self.truncate is not None and not 0 <= self.truncate < 1:
            raise ValueError(f"truncate is the fraction of the body sent, in [0, 1): got {self.truncate}")
        if not 0 <= self.probability <= 1:
            raise ValueError(f"probability must be in [0, 1]: got {self.probability}")
        self._path_re = re.compile(self.path)
        self._method_re = re.compile(self.method, re.IGNORECASE)

    @property
    def is_action(self) -> bool:
        return self.status is not None or self.drop_connection or self.truncate is not None

    def matches(self, method: str, path: str) -> bool:
        return (
            (self.times is None or self.hits < self.times)
            and self._method_re.fullmatch(method) is not None
            and self._path_re.search(path) is not None
        )

    # Readable constructors for the faults the harvester must survive.
    @classmethod
    def rate_limited(cls, path: str = ".*", times: int | None = 1, retry_after: float = 1, **kw) -> FaultRule:
        return cls(path=path, times=times, status=429, retry_after=retry_after, **kw)

    @classmethod
    def server_error(cls, path: str = ".*", times: int | None = 1, status: int = 503, **kw) -> FaultRule:
        return cls(path=path, times=times, status=status, **kw)

    @classmethod
    def dropped(cls, path: str = ".*", times: int | None = 1, **kw) -> FaultRule:
        return cls(path=path, times=times, drop_connection=True, **kw)

    @classmethod
    def truncated(cls, path: str = ".*", times: int | None = 1, fraction: float = 0.5, **kw) -> FaultRule:
        return cls(path=path, times=times, truncate=fraction, **kw)

    @classmethod
    def latency(cls, delay_s: float, path: str = ".*", times: int | None = None, **kw) -> FaultRule:
        return cls(path=path, times=times, delay_s=delay_s, **kw)


@dataclass(frozen=True)
class Fault:
    """What the plan decided for one request."""

    delay_s: float = 0.0
    rule: FaultRule | None = None  # the rule whose action applies, if any

    @property
    def name(self) -> str | None:
        if self.rule is None:
            return "delay" if self.delay_s else None
        if self.rule.drop_connection:
            return "drop_connection"
        if self.rule.truncate is not None:
            return "truncate"
        return f"status_{self.rule.status}"


class FaultPlan:
    """Ordered, seeded, thread-safe fault rules."""

    def __init__(self, rules: list[FaultRule] | tuple[FaultRule, ...] = (), seed: int = 0) -> None:
        self.rules = list(rules)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaultPlan({self.rules!r})"

    def decide(self, method: str, path: str) -> Fault | None:
        """Consume budget of the rules matching this request; None when nothing applies."""
        delay, chosen = 0.0, None
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                if rule.is_action and chosen is not None:
                    continue  # one action per request; later action rules keep their budget
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                delay += rule.delay_s
                if rule.is_action:
                    chosen = rule
        if chosen is None and not delay:
            return None
        return Fault(delay_s=delay, rule=chosen)
