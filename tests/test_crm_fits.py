"""The fits of ``funnelsim calibrate`` (issue 16, item 2) on exports whose truth is known.

The synthetic exports are drawn here with numpy from known parameters (not from the
simulator), so every fitted number has an exact true value: weekly arrival rates with weekday
and hour shapes, stage conversions, an exponential decay of MQL -> SQL with the wait for a first
touch, a Weibull time to close censored at the export date, lognormal deal sizes by segment.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from funnelsim.crm.data import Export, segment_of
from funnelsim.crm.fits import Fit, Fits, fit, kaplan_meier_median, pava_decreasing

START = pd.Timestamp("2027-01-04 00:00")  # a Monday


# -- a synthetic export from known parameters ---------------------------------------------------
@dataclass(frozen=True)
class Truth:
    weeks: int = 60  # an export of 60 whole weeks: more than 12 months, every weekday alike
    rates: tuple[tuple[str, str, float], ...] = (
        ("Organic Search", "inbound", 60.0),
        ("Paid Social", "inbound", 25.0),
        ("Outbound List", "outbound", 30.0),
    )
    p_mql: tuple[float, ...] = (0.5, 0.3, 0.2)  # lead -> MQL, per source
    p_sql_now: tuple[float, ...] = (0.6, 0.5, 0.4)  # MQL -> SQL when touched at once
    half_life_h: float = 12.0  # conversion halves for every 12 hours of wait
    immediate_share: float = 0.15  # touched within 3 minutes; the rest wait ~ exp(mean 10 h)
    immediate_h: float = 0.05
    wait_mean_h: float = 10.0
    p_opportunity: float = 0.6  # SQL -> opportunity
    segment_mix: tuple[float, float, float] = (0.55, 0.35, 0.10)  # smb, mid, ent
    win: tuple[float, float, float] = (0.45, 0.40, 0.30)
    size_mean: tuple[float, float, float] = (14000.0, 35000.0, 95000.0)
    size_sd: tuple[float, float, float] = (7000.0, 15000.0, 45000.0)
    close_shape: float = 1.5  # Weibull time from opportunity to close, days
    close_scale: float = 40.0
    weekday_weights: tuple[float, ...] = (1.2, 1.2, 1.1, 1.0, 0.8, 0.35, 0.35)  # mean 0.857

    @property
    def decay_rate(self) -> float:  # per hour
        return math.log(2) / self.half_life_h

    def decay(self, hours: float) -> float:
        """The multiplier after ``hours`` relative to the fits' immediate bin (the first 5
        minutes, where every wait of the immediate group falls: uniform on [0, 0.05 h])."""
        a = self.decay_rate * self.immediate_h
        immediate = (1 - math.exp(-a)) / a
        return math.exp(-self.decay_rate * hours) / immediate

    def mean_decay(self) -> float:
        """E[exp(-lambda W)] over the wait's mixture: immediate, or exponential."""
        a = self.decay_rate * self.immediate_h
        rest = 1 / (1 + self.decay_rate * self.wait_mean_h)
        return self.immediate_share * (1 - math.exp(-a)) / a + (1 - self.immediate_share) * rest

    def values(self) -> dict[str, float]:
        """The true value of every fit the recovery test checks."""
        win = float(np.dot(self.segment_mix, self.win))
        won_mix = np.array(self.segment_mix) * np.array(self.win) / win
        out = {
            "rate_sql_to_opportunity": self.p_opportunity,
            "rate_opportunity_to_won": win,
            "deal_size_mean": float(np.dot(won_mix, self.size_mean)),
            "days_opportunity_to_close_median": self.close_scale
            * math.log(2) ** (1 / self.close_shape),
            "days_opportunity_to_close.weibull_shape": self.close_shape,
            "days_opportunity_to_close.weibull_scale": self.close_scale,
            "decay_at_1h": self.decay(1.0),
            "decay_at_24h": self.decay(24.0),
            "attempts_mean": 3.0,
        }
        for (source, _, rate), p_mql, p_sql in zip(
            self.rates, self.p_mql, self.p_sql_now, strict=True
        ):
            name = source.lower().replace(" ", "_")
            out[f"arrivals_per_week.{name}"] = rate
            out[f"rate_lead_to_mql.{name}"] = p_mql
            out[f"rate_mql_to_sql.{name}"] = p_sql * self.mean_decay()
        for seg, p, mean in zip(("smb", "mid", "ent"), self.win, self.size_mean, strict=True):
            out[f"rate_opportunity_to_won.segment.{seg}"] = p
            out[f"deal_size_mean.segment.{seg}"] = mean
        mean_weight = sum(self.weekday_weights) / 7
        for day, w in (("mon", self.weekday_weights[0]), ("sat", self.weekday_weights[5])):
            out[f"weekdays.organic_search.{day}"] = w / mean_weight
        return out


EMPLOYEES = {"smb": 50.0, "mid": 500.0, "ent": 5000.0}


def synthetic(rng: np.random.Generator, truth: Truth) -> Export:
    """Leads and deals drawn from ``truth``; anything after the export date is not yet known."""
    exported_at = START + pd.Timedelta(weeks=truth.weeks)
    hours_shape = np.array([0.2] * 7 + [1.0] * 11 + [0.5] * 6)  # quiet nights, busy days
    day_weight = np.tile(truth.weekday_weights, truth.weeks)
    lead_rows: list[pd.DataFrame] = []
    for index, (source, kind, rate) in enumerate(truth.rates):
        mean_count = rate * truth.weeks
        count = rng.poisson(mean_count)
        day = rng.choice(len(day_weight), size=count, p=day_weight / day_weight.sum())
        hour = rng.choice(24, size=count, p=hours_shape / hours_shape.sum())
        created = START + pd.to_timedelta(day * 24 + hour + rng.random(count), unit="h")
        segment = rng.choice(3, size=count, p=truth.segment_mix)
        mql = rng.random(count) < truth.p_mql[index]
        mql_at = created + pd.to_timedelta(rng.exponential(2.0, count), unit="D")
        immediate = rng.random(count) < truth.immediate_share
        wait_h = np.where(
            immediate,
            rng.uniform(0, truth.immediate_h, count),
            rng.exponential(truth.wait_mean_h, count),
        )
        touch_at = mql_at + pd.to_timedelta(wait_h, unit="h")
        p_sql = truth.p_sql_now[index] * np.exp(-truth.decay_rate * wait_h)
        sql = mql & (rng.random(count) < p_sql)
        sql_at = touch_at + pd.to_timedelta(rng.exponential(1.0, count), unit="D")
        lead_rows.append(
            pd.DataFrame(
                {
                    "id": [f"{index}-{i}" for i in range(count)],
                    "created": created,
                    "source": source,
                    "kind": kind,
                    "mql_at": pd.Series(mql_at).where(mql),
                    "sql_at": pd.Series(sql_at).where(sql),
                    "first_touch_at": pd.Series(touch_at).where(mql),
                    "activities": np.where(mql, 1 + rng.poisson(2.0, count), np.nan),
                    "industry": rng.choice(["Software", "Retail"], size=count),
                    "employees": np.array([EMPLOYEES[s] for s in ("smb", "mid", "ent")])[segment],
                }
            )
        )
    leads = pd.concat(lead_rows, ignore_index=True)
    leads["segment"] = leads["employees"].map(segment_of)
    # opportunities: SQLs that become one, a few days later; Weibull time to close, won or lost
    sqls = leads[leads["sql_at"].notna()]
    opp = sqls[rng.random(len(sqls)) < truth.p_opportunity]
    created = opp["sql_at"] + pd.to_timedelta(rng.exponential(3.0, len(opp)), unit="D")
    seg = opp["segment"].map({"smb": 0, "mid": 1, "ent": 2}).to_numpy()
    won = rng.random(len(opp)) < np.array(truth.win)[seg]
    cycle = truth.close_scale * rng.weibull(truth.close_shape, len(opp))
    closed = created + pd.to_timedelta(cycle, unit="D")
    mean, sd = np.array(truth.size_mean)[seg], np.array(truth.size_sd)[seg]
    sigma2 = np.log(1 + (sd / mean) ** 2)
    amount = rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2))
    deals = pd.DataFrame(
        {
            "id": [f"d{i}" for i in range(len(opp))],
            "lead_id": opp["id"].to_numpy(),
            "created": created.to_numpy(),
            "closed": closed.to_numpy(),
            "outcome": np.where(won, "won", "lost"),
            "amount": amount,
        }
    )
    # the export date: what had not happened yet is unknown
    leads = leads[leads["created"] <= exported_at].reset_index(drop=True)
    for column in ("mql_at", "sql_at", "first_touch_at"):
        leads[column] = leads[column].where(leads[column] <= exported_at)
    deals = deals[deals["created"] <= exported_at].reset_index(drop=True)
    still_open = deals["closed"] > exported_at
    deals["closed"] = deals["closed"].where(~still_open)
    deals["outcome"] = deals["outcome"].where(~still_open, "open")
    return Export(leads, deals, None, exported_at.to_pydatetime(), {"contacts": "synthetic.csv"})


def covers(f: Fit, value: float) -> bool:
    return f.ci_low <= value <= f.ci_high


def table(fits: Fits, truth: dict[str, float]) -> list[tuple[str, float, Fit]]:
    """(name, truth, fit) for every checked fit, printed as a table."""
    rows = []
    for name, value in truth.items():
        if name.startswith("weekdays."):
            _, source, day = name.split(".")
            f = fits.profiles[f"weekdays.{source}"].values[day]
        else:
            f = fits.fits[name]
        rows.append((name, value, f))
    print(f"\n{'fit':48} {'truth':>10} {'estimate':>10}  95% CI                  n")
    for name, value, f in rows:
        mark = "" if covers(f, value) else "  <- misses"
        print(
            f"{name:48} {value:10.4g} {f.estimate:10.4g}  [{f.ci_low:9.4g}, {f.ci_high:9.4g}]"
            f" {f.n:6d}{mark}"
        )
    return rows


# -- recovery -----------------------------------------------------------------------------------
@pytest.mark.seed(16)
def test_every_fitted_parameter_covers_its_truth(seed: int) -> None:
    truth = Truth()
    fits = fit(synthetic(np.random.default_rng(seed), truth), seed=seed)
    rows = table(fits, truth.values())
    missed = [name for name, value, f in rows if not covers(f, value)]
    # ~30 intervals at 95%: one or two may miss by chance; more is a bias
    assert len(missed) <= 2, missed
    assert fits.durations["opportunity_to_close"].family == "weibull"
    assert "months.organic_search" in fits.profiles  # 60 weeks: seasonality is fitted
    decay = fits.decay
    assert decay is not None
    assert all(a >= b for a, b in zip(decay.multiplier, decay.multiplier[1:], strict=False))


MAIN = (
    "arrivals_per_week.organic_search",
    "arrivals_per_week.outbound_list",
    "rate_mql_to_sql.organic_search",
    "rate_mql_to_sql.paid_social",
    "rate_sql_to_opportunity",
    "rate_opportunity_to_won",
    "deal_size_mean",
    "days_opportunity_to_close_median",
    "days_opportunity_to_close.weibull_shape",
    "decay_at_1h",
    "decay_at_24h",
)


@pytest.mark.slow
@pytest.mark.seed(1600)
def test_the_main_intervals_cover_at_close_to_their_nominal_rate(seed: int) -> None:
    truth = Truth(weeks=30)  # half the data: the intervals, not the data, are under test
    values = truth.values()
    rng = np.random.default_rng(seed)
    hits: Counter[str] = Counter()
    runs = 40
    for run in range(runs):
        fits = fit(synthetic(rng, truth), seed=seed + run, bootstrap=200)
        hits.update(name for name in MAIN if covers(fits.fits[name], values[name]))
    print(f"\ncoverage of 95% intervals over {runs} synthetic exports:")
    for name in MAIN:
        low, high = stats.binomtest(hits[name], runs).proportion_ci(0.95, method="wilson")
        print(f"  {name:44} {hits[name] / runs:6.1%}  (Wilson 95% CI {low:.1%}-{high:.1%})")
    pooled = sum(hits.values()) / (runs * len(MAIN))
    print(f"  {'pooled':44} {pooled:6.1%}  over {runs * len(MAIN)} intervals")
    assert pooled >= 0.88
    assert min(hits[name] for name in MAIN) >= 0.8 * runs  # no one fit far off nominal


# -- censoring ----------------------------------------------------------------------------------
@pytest.mark.seed(1601)
def test_the_censored_median_is_unbiased_where_closed_deals_alone_are_not(seed: int) -> None:
    """Deals opened over 90 days, exported at day 90: the slow ones are still open, so the
    closed deals' median is short; Kaplan-Meier counts the open ones as at least this old."""
    rng = np.random.default_rng(seed)
    shape, scale, n = 1.5, 40.0, 1500
    true_median = scale * math.log(2) ** (1 / shape)
    opened = rng.uniform(0, 90, n)
    cycle = scale * rng.weibull(shape, n)
    closed = opened + cycle <= 90
    observed = np.where(closed, cycle, 90 - opened)
    km = kaplan_meier_median(observed, closed, 0.95)
    naive = float(np.median(cycle[closed]))
    print(
        f"\ntrue median {true_median:.1f} d; {(~closed).mean():.0%} of deals open at export\n"
        f"Kaplan-Meier median {km.estimate:.1f} d [{km.ci_low:.1f}, {km.ci_high:.1f}] (n={km.n})\n"
        f"median of closed deals only {naive:.1f} d"
    )
    assert km.ci_low <= true_median <= km.ci_high
    assert naive < km.ci_low
    assert naive < 0.8 * true_median


# -- a tiny export computed by hand --------------------------------------------------------------
def ts(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text) if text else pd.NaT


def tiny() -> Export:
    """Six leads and five deals; every lag is short, every record old at export."""
    rows = [  # id, created, source, mql, first touch, sql, activities, employees
        ("L1", "2027-01-04 09:00", "Web", "2027-01-04 10:00", "2027-01-04 10:00",
         "2027-01-05 10:00", 2.0, 50.0),
        ("L2", "2027-01-05 09:00", "Web", "2027-01-05 10:00", "2027-01-05 12:00", None, 4.0,
         50.0),
        ("L3", "2027-01-06 09:00", "Web", None, None, None, math.nan, 500.0),
        ("L4", "2027-01-07 09:00", "Event", "2027-01-07 10:00", "2027-01-07 11:00",
         "2027-01-08 10:00", 3.0, 500.0),
        ("L5", "2027-01-08 09:00", "Event", None, None, None, math.nan, math.nan),
        ("L6", "2027-01-11 09:00", "Web", "2027-01-11 10:00", "2027-01-11 10:30",
         "2027-01-12 10:00", 1.0, 5000.0),
    ]  # fmt: skip
    leads = pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "created": [ts(r[1]) for r in rows],
            "source": [r[2] for r in rows],
            "kind": "inbound",
            "mql_at": [ts(r[3]) for r in rows],
            "first_touch_at": [ts(r[4]) for r in rows],
            "sql_at": [ts(r[5]) for r in rows],
            "activities": [r[6] for r in rows],
            "industry": ["Software", "Software", None, "Retail", None, "Retail"],
            "employees": [r[7] for r in rows],
        }
    )
    leads["segment"] = leads["employees"].map(segment_of)
    deals = pd.DataFrame(
        {  # time to close: 10, 20, open (45 at export), 30, 5 days
            "id": ["D1", "D2", "D3", "D4", "D5"],
            "lead_id": ["L1", "L4", "L1", "L1", "L4"],
            "created": [
                ts(d)
                for d in ("2027-01-10", "2027-01-10", "2027-01-15", "2027-01-15", "2027-01-20")
            ],
            "closed": [
                ts(d) for d in ("2027-01-20", "2027-01-30", None, "2027-02-14", "2027-01-25")
            ],
            "outcome": ["won", "lost", "open", "won", "won"],
            "amount": [10000.0, 5000.0, 8000.0, 30000.0, 20000.0],
        }
    )
    return Export(leads, deals, None, dt.datetime(2027, 3, 1), {"contacts": "tiny.csv"})


def test_a_tiny_export_gives_the_fits_computed_by_hand() -> None:
    fits = fit(tiny())
    got = fits.fits

    def wilson(k: int, n: int) -> tuple[float, float]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        return float(ci.low), float(ci.high)

    expected_rates = {
        "rate_lead_to_mql.web": (3, 4),  # L1, L2, L6 of L1, L2, L3, L6
        "rate_lead_to_mql.event": (1, 2),
        "rate_mql_to_sql": (3, 4),  # L1, L4, L6 of the four MQLs
        "rate_mql_to_sql.web": (2, 3),
        "rate_mql_to_sql.segment.smb": (1, 2),  # L1 of L1, L2
        "rate_sql_to_opportunity": (2, 3),  # L1 and L4 have deals, L6 not
        "rate_opportunity_to_won": (3, 5),  # the open D3, 45 days old, counts as not won
        "rate_opportunity_to_won.segment.smb": (2, 3),  # L1's D1, D3, D4
        "rate_opportunity_to_won.industry.retail": (1, 2),  # L4's D2, D5
    }
    for name, (k, n) in expected_rates.items():
        f = got[name]
        print(f"{name:40} {f.estimate:.4f} [{f.ci_low:.4f}, {f.ci_high:.4f}] n={f.n}")
        assert (f.estimate, f.n) == (pytest.approx(k / n), n), name
        assert (f.ci_low, f.ci_high) == pytest.approx(wilson(k, n), abs=1e-9), name
    # 4 web leads over 55 days 15 hours
    weeks = (pd.Timestamp("2027-03-01") - pd.Timestamp("2027-01-04 09:00")) / pd.Timedelta(weeks=1)
    web = got["arrivals_per_week.web"]
    low, high = stats.chi2.ppf(0.025, 8) / 2, stats.chi2.ppf(0.975, 10) / 2  # Garwood, 4 leads
    assert (web.estimate, web.ci_low, web.ci_high) == pytest.approx(
        (4 / weeks, low / weeks, high / weeks)
    )
    # Kaplan-Meier: 5 (4/5 left), 10 (x 3/4: 0.6), 20 (x 2/3: 0.4 <= 1/2): median 20 days
    assert got["days_opportunity_to_close_median"].estimate == pytest.approx(20.0)
    assert got["days_opportunity_to_close_median"].n == 5
    assert got["deal_size_mean"].estimate == pytest.approx(20000.0)  # won: 10k, 30k, 20k
    assert got["deal_size_sd"].estimate == pytest.approx(10000.0)
    assert got["attempts_mean"].estimate == pytest.approx(2.5)  # touched: 2, 4, 3, 1
    assert fits.profiles["attempts"].values["4"].estimate == pytest.approx(0.25)
    numbers = fits.scenario_numbers()
    assert numbers["segments.smb.win_rate"]["value"] == pytest.approx(2 / 3, rel=1e-3)
    assert numbers["segments.smb.win_rate"]["source"].startswith("tiny.csv n=3: ")
    assert numbers["segments.smb.win_rate"]["grade"] == "B"
    assert numbers["sources.web.arrivals.rate"]["value"].endswith("/w")
    assert set(fits.as_json()["fits"]["deal_size_mean"]) == {"estimate", "ci_low", "ci_high", "n"}


def test_pava_pools_increasing_neighbours() -> None:
    fitted = pava_decreasing(np.array([0.5, 0.6, 0.3, 0.4, 0.1]), np.array([1.0, 1, 1, 3, 1]))
    assert fitted == pytest.approx([0.55, 0.55, 0.375, 0.375, 0.1])


# -- what an export cannot tell is skipped, not raised -------------------------------------------
def test_an_export_without_deals_lists_the_deal_fits_as_skipped() -> None:
    export = tiny()
    export.deals = export.deals.iloc[0:0]
    fits = fit(export)
    for name in (
        "rate_sql_to_opportunity",
        "rate_opportunity_to_won",
        "days_opportunity_to_close_median",
        "deal_size_mean",
    ):
        assert name not in fits.fits
        assert "no deal" in fits.skipped[name], (name, fits.skipped.get(name))
    assert "rate_mql_to_sql.web" in fits.fits  # the rest is fitted
    print(fits.skipped)


def test_an_export_without_mql_dates_lists_the_mql_fits_as_skipped() -> None:
    export = tiny()
    export.leads["mql_at"] = pd.NaT
    fits = fit(export)
    for name in ("rate_lead_to_mql", "rate_mql_to_sql", "days_mql_to_sql_median"):
        assert name not in fits.fits
        assert name in fits.skipped, name
    assert "months.web" in fits.skipped  # 8 weeks: no seasonality, and why
    assert fits.fits["deal_size_mean"].n == 3
    print(fits.skipped)


def test_an_export_without_leads_fits_nothing_and_says_so() -> None:
    export = tiny()
    export.leads = export.leads.iloc[0:0]
    export.deals = export.deals.iloc[0:0]
    fits = fit(export)
    assert fits.fits == {}
    assert fits.skipped


@pytest.mark.seed(1602)
def test_the_decay_table_is_a_valid_scenario_table(seed: int) -> None:
    from funnelsim.scenario.schema import TableDecay

    fits = fit(synthetic(np.random.default_rng(seed), Truth(weeks=20)), seed=seed, bootstrap=50)
    assert fits.decay is not None
    points = fits.decay.points()
    print(points)
    table = TableDecay.model_validate({"kind": "table", "points": points})
    assert table.points[0][1] == 1.0
