"""Erlang B, C and A: service level, speed of answer and staffing for a pooled queue.

Invariants:
- ``servers`` is a non-negative integer, rates and times are positive; results are
  probabilities in [0, 1] or non-negative seconds (``math.inf`` when a queue without
  abandonment is unstable).
- Numerically stable for thousands of servers: Erlang B by its recursion
  ``B(k) = A B(k-1) / (k + A B(k-1))`` (no factorials, no powers), Erlang A's queue states in
  the log domain, and its waiting-time distribution by uniformization (Poisson weights in the
  log domain), truncated where the neglected mass is below 1e-12.

Service level here is the fraction of *all arriving calls* answered within ``t`` seconds (for
Erlang A, a caller who abandons is never answered), matching the simulator's definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_TAIL = 1e-12


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/n/n with ``load`` Erlangs offered."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must be non-negative")
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that a call waits in M/M/n (1 when the queue is unstable)."""
    if servers <= load:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1.0 - b))


def service_level_c(servers: int, rate_per_s: float, aht_s: float, t_s: float) -> float:
    """Erlang C: fraction of calls answered within ``t_s``."""
    load = rate_per_s * aht_s
    if servers <= load:
        return 0.0
    c = erlang_c(servers, load)
    return 1.0 - c * math.exp(-(servers - load) * t_s / aht_s)


def asa_c(servers: int, rate_per_s: float, aht_s: float) -> float:
    """Erlang C: average speed of answer in seconds (inf when unstable)."""
    load = rate_per_s * aht_s
    if servers <= load:
        return math.inf
    return erlang_c(servers, load) * aht_s / (servers - load)


@dataclass(frozen=True, slots=True)
class ErlangA:
    """M/M/n+M (Palm / Erlang A) figures for one stationary interval."""

    p_wait: float  # an arrival finds every server busy
    p_abandon: float
    service_level: float  # answered within t, over all arrivals
    asa_s: float  # mean wait of answered calls
    occupancy: float


def _log_queue_weights(servers: int, rate: float, mu: float, theta: float) -> list[float]:
    """log r_j for j = 0.. where r_j = prod_{i<=j} rate / (n mu + i theta), r_0 = 1."""
    logs = [0.0]
    peak_j = max(0.0, (rate - servers * mu) / theta)
    j = 0
    while True:
        j += 1
        logs.append(logs[-1] + math.log(rate / (servers * mu + j * theta)))
        if j > peak_j and logs[-1] < max(logs) + math.log(_TAIL) - 10:
            return logs


def _log_inv_erlang_b(servers: int, load: float) -> float:
    """log(1 / B(n, A)) by the inverse recursion 1/B(k) = 1 + (k / A) / B(k-1), in logs."""
    log_inv = 0.0
    log_load = math.log(load)
    for k in range(1, servers + 1):
        x = math.log(k) - log_load + log_inv
        log_inv = x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))
    return log_inv


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _within_t(servers: int, mu: float, theta: float, t_s: float, limit: int) -> list[float]:
    """P(V'_j <= t) for j < limit, V'_j = sum_{k=0..j} Exp(n mu + (k+1) theta)."""
    rates = [servers * mu + (k + 1) * theta for k in range(limit)]
    big = rates[-1]
    mean = big * t_s
    steps = int(mean + 12.0 * math.sqrt(mean) + 30)
    h = [0.0] * limit  # P(absorbed within m uniformized jumps | k ahead)
    result = [0.0] * limit
    log_mean = math.log(mean) if mean > 0 else -math.inf
    for m in range(1, steps + 1):
        below = 1.0
        for k in range(limit):
            p = rates[k] / big
            below, h[k] = h[k], p * below + (1.0 - p) * h[k]
        weight = math.exp(-mean + m * log_mean - math.lgamma(m + 1))
        for k in range(min(m, limit)):
            result[k] += weight * h[k]
    return [min(1.0, r) for r in result]


def _sl_limit(servers: int, mu: float, theta: float, t_s: float, available: int) -> int:
    """Queue lengths beyond this are never answered within t (mass below 1e-12)."""
    j = 0
    while j < available:
        mean = (servers * mu + (j + 1) * theta) * t_s
        if j + 1 > mean + 12.0 * math.sqrt(mean) + 30:
            return j
        j += 1
    return available


def erlang_a(
    servers: int, rate_per_s: float, aht_s: float, patience_s: float, t_s: float
) -> ErlangA:
    """Erlang A with exponential patience of mean ``patience_s``."""
    if rate_per_s <= 0 or aht_s <= 0 or patience_s <= 0 or t_s < 0 or servers < 0:
        raise ValueError("rate, aht and patience must be positive; servers and t non-negative")
    mu, theta, load = 1.0 / aht_s, 1.0 / patience_s, rate_per_s * aht_s
    logs = _log_queue_weights(servers, rate_per_s, mu, theta)
    log_busy_rel = _logsumexp(logs)  # sum_j r_j, relative to pi_n
    # States with a free server, relative to pi_n: 1/B(n, A) - 1 (state n itself is r_0).
    log_inv_b = _log_inv_erlang_b(servers, load)
    if log_inv_b > 0:
        log_idle_rel = log_inv_b + math.log1p(-math.exp(-log_inv_b))
        log_total = _logsumexp([log_idle_rel, log_busy_rel])
    else:
        log_total = log_busy_rel
    probs = [math.exp(v - log_total) for v in logs]  # P(arrival finds j waiting)
    p_wait = sum(probs)
    served, wait_served, answered_in_t = 0.0, 0.0, 1.0 - p_wait
    p_served_j, mean_sum = 1.0, 0.0
    limit = _sl_limit(servers, mu, theta, t_s, len(probs))
    within = _within_t(servers, mu, theta, t_s, max(limit, 1))
    for j, p in enumerate(probs):
        rate_j = servers * mu + j * theta
        p_served_j *= rate_j / (rate_j + theta) if rate_j > 0 else 0.0
        mean_sum += 1.0 / (rate_j + theta)
        served += p * p_served_j
        wait_served += p * p_served_j * mean_sum
        if j < limit:
            answered_in_t += p * p_served_j * within[j]
    p_abandon = p_wait - served
    answered = 1.0 - p_abandon
    return ErlangA(
        p_wait=p_wait,
        p_abandon=max(0.0, p_abandon),
        service_level=min(1.0, max(0.0, answered_in_t)),
        asa_s=wait_served / answered if answered > 0 else math.inf,
        occupancy=min(1.0, rate_per_s * answered * aht_s / servers) if servers else 1.0,
    )


def agents_needed(
    rate_per_s: float,
    aht_s: float,
    target: float,
    within_s: float,
    *,
    patience_s: float | None = None,
    max_servers: int = 100_000,
) -> int:
    """Fewest servers reaching ``target`` answered within ``within_s`` (Erlang C, or Erlang A
    with ``patience_s``). Raises ValueError when ``max_servers`` is not enough."""
    if not 0 < target < 1:
        raise ValueError("target must be a fraction in (0, 1)")
    if rate_per_s <= 0:
        return 0

    def level(servers: int) -> float:
        if patience_s is None:
            return service_level_c(servers, rate_per_s, aht_s, within_s)
        return erlang_a(servers, rate_per_s, aht_s, patience_s, within_s).service_level

    # The service level grows with the number of servers: gallop up, then bisect.
    low, high = 0, max(1, math.ceil(rate_per_s * aht_s))
    while level(high) < target:
        low, high = high, high * 2
        if low >= max_servers:
            raise ValueError(f"more than {max_servers} servers needed")
    while high - low > 1:
        middle = (low + high) // 2
        if level(middle) >= target:
            high = middle
        else:
            low = middle
    return high
