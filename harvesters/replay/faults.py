"""Injected faults for the replay Hub: latency, 429 with Retry-After, 5xx, dropped connections, truncated bodies.

A ``FaultPlan`` is an ordered list of ``FaultRule``s checked before normal handling of every request.
Every matching rule with budget left adds its ``delay_s``; the first matching rule with an action
(``status``, ``drop_connection`` or ``truncate``) decides what happens to the request. ``times`` bounds how
often a rule fires (``None``: forever) and ``probability`` rolls a seeded RNG, so a plan replays identically.
The plan is consulted per request, so ``hub.faults = FaultPlan([...])`` changes it at run time.
``max_per_request`` bounds how often one request (method and path) gets an action, so that a client's
retries get through in the end. ``FaultPlan.from_spec`` reads the ``replay-hub --faults SPEC`` text.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

from hubcensus.errors import InvalidInput


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

    def __init__(self, rules: list[FaultRule] | tuple[FaultRule, ...] = (), seed: int = 0, max_per_request: int | None = None) -> None:
        self.rules = list(rules)
        self.max_per_request = max_per_request
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._actions_per_request: dict[tuple[str, str, str], int] = {}

    def __repr__(self) -> str:
        return f"FaultPlan({self.rules!r})"

    @classmethod
    def from_spec(cls, spec: str, seed: int = 0) -> FaultPlan:
        """A plan from ``replay-hub --faults`` text (see ``parse_spec``); raises FaultSpecError."""
        rules, max_per_request = parse_spec(spec)
        return cls(rules, seed=seed, max_per_request=max_per_request)

    def decide(self, method: str, path: str, query: str = "") -> Fault | None:
        """Consume budget of the rules matching this request; None when nothing applies.

        Rules match on the method and path; ``max_per_request`` counts per method, path and query.
        """
        delay, chosen = 0.0, None
        with self._lock:
            key = (method.upper(), path, query)
            capped = self.max_per_request is not None and self._actions_per_request.get(key, 0) >= self.max_per_request
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                if rule.is_action and (chosen is not None or capped):
                    continue  # one action per request; later action rules keep their budget
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                delay += rule.delay_s
                if rule.is_action:
                    chosen = rule
            if chosen is not None and self.max_per_request is not None:
                self._actions_per_request[key] = self._actions_per_request.get(key, 0) + 1
        if chosen is None and not delay:
            return None
        return Fault(delay_s=delay, rule=chosen)


# ---------------------------------------------------------------- the --faults SPEC
class FaultSpecError(InvalidInput):
    """A ``--faults`` SPEC that cannot be read; the message says what is wrong and what is expected."""


SPEC_HELP = (
    "comma-separated KIND:PROBABILITY[:ARG][@WHERE] rules and settings, e.g. "
    "'429:0.1,503:0.05,reset:0.03,truncate:0.02,slow:0.05:2s,retry-after=2'. KIND: 408, 429 or a 5xx status, "
    "reset (dropped connection), truncate[:FRACTION sent, default 0.5] (GETs), slow:P:DURATION (2s, 500ms); "
    "WHERE: listing, info or files; settings: retry-after=SECONDS (of the 429s, default 1), where=WHERE (rules without "
    "their own), max-per-request=N (one request faults at most N times)"
)
WHERE = {"listing": r"^/api/models$", "info": r"^/api/models/.", "files": r"/resolve/"}
_STATUS_KINDS = {408, 429, *range(500, 600)}


def _number(text: str, what: str, item: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"{what} {text!r} in {item!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FaultSpecError(f"{what} {text!r} in {item!r} is not a finite number")
    return value


def _duration(text: str, item: str) -> float:
    """``2s``, ``500ms`` or ``1.5`` (seconds) -> seconds."""
    scale = 0.001 if text.endswith("ms") else 1.0
    value = _number(text.removesuffix("ms").removesuffix("s"), "duration", item) * scale
    if value < 0:
        raise FaultSpecError(f"duration {text!r} in {item!r} is negative")
    return value


def _rule(item: str, default_where: str | None) -> tuple[FaultRule, str | None]:
    body, _, where = item.partition("@")
    where = where.strip() or default_where
    if where is not None and where not in WHERE:
        raise FaultSpecError(f"unknown path filter {where!r} in {item!r}: use listing, info, files")
    parts = [p.strip() for p in body.split(":")]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise FaultSpecError(f"{item!r} is not KIND:PROBABILITY[:ARG]")
    kind, probability, args = parts[0].lower(), _number(parts[1], "probability", item), parts[2:]
    if not 0 <= probability <= 1:
        raise FaultSpecError(f"probability {parts[1]} in {item!r} must be between 0 and 1")
    common = {"path": WHERE[where] if where else ".*", "times": None, "probability": probability}
    if kind == "slow":
        if len(args) != 1:
            raise FaultSpecError(f"{item!r}: slow needs a duration, e.g. slow:0.05:2s")
        return FaultRule(delay_s=_duration(args[0], item), **common), where
    if len(args) > (1 if kind == "truncate" else 0):
        raise FaultSpecError(f"{item!r} has too many ':' parts")
    if kind == "reset":
        return FaultRule(drop_connection=True, **common), where
    if kind == "truncate":
        fraction = _number(args[0], "fraction", item) if args else 0.5
        if not 0 <= fraction < 1:
            raise FaultSpecError(f"truncate fraction {args[0]} in {item!r} must be in [0, 1)")
        return FaultRule(truncate=fraction, method="GET", **common), where  # a HEAD has no body to cut
    if kind.isdigit() and int(kind) in _STATUS_KINDS:
        return FaultRule(status=int(kind), **common), where
    raise FaultSpecError(f"unknown fault {parts[0]!r} in {item!r}: use 408, 429, 500-599, reset, truncate or slow")


def _settings(items: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        key = key.strip().lower()
        if key not in ("retry-after", "where", "max-per-request"):
            raise FaultSpecError(f"unknown setting {key!r} in {item!r}: use retry-after=, where=, max-per-request=")
        found[key] = value.strip()
    return found


def _exact_rates(rules: list[tuple[FaultRule, str | None]]) -> None:
    """Make each action rule's probability its share of all requests (rules are tried in order).

    A later rule only sees the requests earlier rules left alone, so its roll is conditioned on them.
    Exact when the rules share a path filter (or have disjoint ones).
    """
    for group in ("listing", "info", "files"):
        total = sum(r.probability for r, where in rules if r.is_action and where in (None, group))
        if total > 1 + 1e-9:
            raise FaultSpecError(f"fault probabilities add up to {total:g} for {group} requests: at most 1")
    for i, (rule, where) in enumerate(rules):
        if not rule.is_action:
            continue
        before = sum(r.probability for r, w in rules[:i] if r.is_action and (w is None or where is None or w == where))
        rule.probability = min(rule.probability / (1 - before), 1.0) if before < 1 else 0.0


def parse_spec(spec: str) -> tuple[list[FaultRule], int | None]:
    """``--faults`` text -> (rules in order, max_per_request). See SPEC_HELP for the grammar."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise FaultSpecError(f"empty fault spec: expected {SPEC_HELP}")
    settings = _settings([i for i in items if "=" in i])
    default_where = settings.get("where") or None
    if default_where is not None and default_where not in WHERE:
        raise FaultSpecError(f"unknown path filter where={default_where!r}: use listing, info, files")
    rules = [_rule(item, default_where) for item in items if "=" not in item]
    retry_after = None
    if "retry-after" in settings:
        retry_after = _duration(settings["retry-after"], "retry-after=" + settings["retry-after"])
    for rule, _ in rules:
        if rule.status == 429:
            rule.retry_after = 1.0 if retry_after is None else retry_after  # the Hub always says when to come back
    _exact_rates(rules)
    max_per_request = None
    if "max-per-request" in settings:
        value = settings["max-per-request"]
        if not value.isdigit() or int(value) < 1:
            raise FaultSpecError(f"max-per-request={value!r}: expected a whole number of at least 1")
        max_per_request = int(value)
    return [rule for rule, _ in rules], max_per_request
