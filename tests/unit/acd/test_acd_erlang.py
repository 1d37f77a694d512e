"""Erlang B/C/A against known values and an independent high-precision reference."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.erlang import agents_needed, asa_c, erlang_a, erlang_b, erlang_c, service_level_c


def test_erlang_b_and_c_known_values() -> None:
    assert erlang_b(10, 10.0) == pytest.approx(0.21458, abs=1e-5)
    assert erlang_c(11, 10.0) == pytest.approx(0.68212, abs=1e-5)
    assert erlang_c(12, 10.0) == pytest.approx(0.44939, abs=1e-5)
    assert erlang_c(10, 10.0) == 1.0
    assert asa_c(12, 10 / 180, 180) == pytest.approx(0.44939 * 180 / 2, rel=1e-4)
    assert service_level_c(12, 10 / 180, 180, 20) == pytest.approx(
        1 - 0.44939 * math.exp(-2 * 20 / 180), rel=1e-4
    )
    assert asa_c(10, 10 / 180, 180) == math.inf


def test_seed_figures_from_the_design_notes() -> None:
    rate = 206 / 180  # ~206 Erlangs at the seed peak with a 3-minute handle time
    assert agents_needed(rate, 180, 0.8, 20) in (214, 215)
    assert service_level_c(225, rate, 180, 15) == pytest.approx(0.97, abs=0.005)


def test_stable_for_hundreds_and_thousands_of_servers() -> None:
    assert 0 < erlang_b(5000, 4900.0) < 1
    assert 0 <= service_level_c(500, 480 / 180, 180, 20) <= 1
    result = erlang_a(500, 2.7, 180, 120, 20)
    assert all(math.isfinite(x) for x in (result.service_level, result.asa_s, result.p_abandon))
    assert 0 <= result.service_level <= 1 and 0 <= result.p_abandon <= 1
    overloaded = erlang_a(100, 3.0, 180, 100, 20)  # 540 Erlangs on 100 servers
    assert overloaded.p_abandon == pytest.approx(1 - 100 / 540, abs=0.01)
    assert erlang_a(500, 0.01, 180, 100, 20).service_level == pytest.approx(1.0)


def test_erlang_a_tends_to_erlang_c_without_abandonment() -> None:
    a = erlang_a(12, 10 / 180, 180, 1e9, 20)
    assert a.p_wait == pytest.approx(erlang_c(12, 10.0), rel=1e-6)
    assert a.service_level == pytest.approx(service_level_c(12, 10 / 180, 180, 20), rel=1e-6)
    assert a.asa_s == pytest.approx(asa_c(12, 10 / 180, 180), rel=1e-4)


def _reference_erlang_a(
    n: int, rate: float, aht: float, patience: float, t: float
) -> tuple[float, float]:
    """(service level, abandonment) of M/M/n+M from the birth-death chain and the
    hypoexponential waiting time in closed form, in 80-digit decimals."""
    getcontext().prec = 80
    lam, mu, theta, T = Decimal(rate), 1 / Decimal(aht), 1 / Decimal(patience), Decimal(t)
    size = 80
    weights = [Decimal(1)]
    for k in range(1, size):
        death = min(k, n) * mu + max(k - n, 0) * theta
        weights.append(weights[-1] * lam / death)
    total = sum(weights, Decimal(0))
    level: Decimal = sum(weights[:n], Decimal(0)) / total
    abandon = Decimal(0)
    for j in range(size - n):
        p = weights[n + j] / total
        rates = [n * mu + k * theta for k in range(j + 1)]
        served_in_t = Decimal(0)
        served = Decimal(1)
        for r in rates:
            served *= r / (r + theta)
        for i, ri in enumerate(rates):
            c = Decimal(1)
            for k, rk in enumerate(rates):
                if k != i:
                    c *= rk / (rk - ri)
            served_in_t += c * ri * (1 - (-(ri + theta) * T).exp()) / (ri + theta)
        level += p * served_in_t
        abandon += p * (1 - served)
    return float(level), float(abandon)


@pytest.mark.parametrize(
    ("n", "rate", "aht", "patience"), [(3, 1 / 60, 100, 50), (2, 1 / 40, 60, 90)]
)
def test_erlang_a_against_an_independent_reference(
    n: int, rate: float, aht: float, patience: float
) -> None:
    level, abandon = _reference_erlang_a(n, rate, aht, patience, 20.0)
    result = erlang_a(n, rate, aht, patience, 20.0)
    assert result.service_level == pytest.approx(level, abs=1e-9)
    assert result.p_abandon == pytest.approx(abandon, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    servers=st.integers(1, 300),
    load_ratio=st.floats(0.3, 1.3),
    patience=st.sampled_from([None, 60.0, 300.0]),
)
def test_more_servers_never_lower_the_service_level(
    servers: int, load_ratio: float, patience: float | None
) -> None:
    rate = servers * load_ratio / 180

    def level(n: int) -> float:
        if patience is None:
            return service_level_c(n, rate, 180, 20)
        return erlang_a(n, rate, 180, patience, 20).service_level

    assert level(servers + 1) >= level(servers) - 1e-12


def test_agents_needed_meets_the_target_with_the_fewest_servers() -> None:
    for patience in (None, 180.0):
        n = agents_needed(0.8, 200, 0.8, 20, patience_s=patience)

        def level(k: int, patience: float | None = patience) -> float:
            if patience is None:
                return service_level_c(k, 0.8, 200, 20)
            return erlang_a(k, 0.8, 200, patience, 20).service_level

        assert level(n) >= 0.8 > level(n - 1)
    assert agents_needed(0.0, 200, 0.8, 20) == 0
    with pytest.raises(ValueError, match="fraction"):
        agents_needed(1.0, 200, 1.5, 20)
