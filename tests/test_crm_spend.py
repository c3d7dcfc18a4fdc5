"""Spend -> leads curves (issue 16): fitted from a spend file, or imported from a media-mix model.

The curve is the one a scenario's ``response`` section gives the simulation: expected leads in
month t = ``leads_at_saturation * hill(a_t; half_saturation, shape)``, ``a_t = spend_t +
adstock * a_{t-1}`` from 0 at the export's first month, a partial month scaled by the share of
it the export covers. Checked here: that expectation against a hand computation and against
the simulation's own; the Poisson maximum-likelihood fit recovering known curves with Wald
intervals that cover at their nominal rate; the calibrated scenario writing the spend and the
curve (and lining its months up with the back-test's replay); a response file imported, or
refused with located errors; ``export-crm`` writing ``spend.csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from funnelsim.calibration import calibrate
from funnelsim.crm.data import Export
from funnelsim.crm.fits import (
    ResponseFit,
    carried,
    covered_share,
    export_months,
    fit,
    fit_response,
    response_means,
)
from funnelsim.crm.read import read_export
from funnelsim.curves import SpendResponse
from funnelsim.model.population import expected_monthly_leads
from funnelsim.scenario.load import ScenarioError, parse_yaml, validate_document, with_settings
from funnelsim.scenario.schema import InboundSource, Scenario
from helpers import ROOT, SCENARIOS, assert_refused, invoke, ok

PARAMETERS = ("leads_at_saturation", "half_saturation", "shape", "adstock")
# 24 months of spend that moves (a launch, two pushes, a pause), in dollars
SPEND = 1000.0 * np.array([5, 10, 20, 40, 60, 30, 15, 8, 25, 50, 70, 45,
                           20, 10, 35, 55, 65, 40, 12, 6, 30, 60, 80, 50])  # fmt: skip
TRUTH = {"leads_at_saturation": 400.0, "half_saturation": 30000.0, "shape": 1.5, "adstock": 0.4}


# -- (a) the expectation, by hand -----------------------------------------------------------------
def test_the_monthly_expectation_is_the_one_computed_by_hand() -> None:
    """Three months: $100, nothing, $200, carry-over 0.5: adstock 100, 50, 225. With the
    half-saturation at 100 and the shape 1, the curve is a / (a + 100): 1/2, 1/3, 9/13 of 30
    leads; the first month is half covered."""
    spend, share = np.array([100.0, 0.0, 200.0]), np.array([0.5, 1.0, 1.0])
    assert carried(spend, 0.5).tolist() == [100.0, 50.0, 225.0]
    by_hand = [0.5 * 30 * 1 / 2, 30 * 1 / 3, 30 * 9 / 13]
    means = response_means(spend, share, 30.0, 100.0, 1.0, 0.5)
    print("by hand", by_hand, "fit's", means.tolist())
    assert means == pytest.approx(by_hand, rel=1e-12)
    # shape 2: a^2 / (a^2 + 100^2)
    squared = [0.5 * 30 * 1 / 2, 30 * 2500 / 12500, 30 * 50625 / 60625]
    assert response_means(spend, share, 30.0, 100.0, 2.0, 0.5) == pytest.approx(squared)
    # the simulation's own curve (funnelsim.curves), months wholly covered
    simulated = SpendResponse("hill", 30.0, k=100.0, s=2.0, adstock=0.5).leads(spend)
    print("simulation's", simulated.tolist())
    assert response_means(spend, np.ones(3), 30.0, 100.0, 2.0, 0.5) == pytest.approx(simulated)
    # and a fit's means are the same function at its numbers
    held = ResponseFit(
        {}, {p: (v, "") for p, v in zip(PARAMETERS, (30, 100, 2, 0.5), strict=True)}, 3, 0
    )
    assert held.means(spend, share) == pytest.approx(squared)


def test_partial_months_count_the_share_of_the_month_covered() -> None:
    """An export from 16 January to 11 March 00:00: January's last 16 of 31 days, February
    whole, March's first 10 of 31 days; a month that begins at the export's end is not one."""
    start, at = pd.Timestamp("2025-01-16"), pd.Timestamp("2025-03-11")
    months = export_months(start, at)
    assert [f"{m:%Y-%m}" for m in months] == ["2025-01", "2025-02", "2025-03"]
    share = covered_share(months, start, at)
    print("shares", share.tolist())
    assert share == pytest.approx([16 / 31, 1.0, 10 / 31])
    assert len(export_months(start, pd.Timestamp("2025-03-01"))) == 2
    # weighed by the arrivals' shape: weekend days count for nothing
    workdays = covered_share(months[:1], start, at, weekdays=(1, 1, 1, 1, 1, 0, 0))
    assert workdays[0] == pytest.approx(12 / 23)  # Jan 16-31: 12 of the month's 23 workdays


# -- (b) recovery ---------------------------------------------------------------------------------
@pytest.mark.seed(16)
def test_the_fit_recovers_known_curves_and_its_intervals_cover(seed: int) -> None:
    """Monthly Poisson counts from a known curve over 24 months of varying spend, 40 times:
    each 95% Wald interval holds the truth at a rate a binomial test cannot tell from 95%
    (one-sided, at 0.1% over the four numbers: 0.025% each, failing at 31 of 40 or fewer).
    Over 600 datasets the four cover 93.7-95.7% of the time."""
    rng = np.random.default_rng(seed)
    means = response_means(SPEND, np.ones(len(SPEND)), *TRUTH.values())
    datasets = 40
    covered = dict.fromkeys(PARAMETERS, 0)
    for d in range(datasets):
        leads = rng.poisson(means).astype(float)
        found = fit_response(SPEND, leads)
        assert isinstance(found, ResponseFit), found
        assert set(found.fits) == set(PARAMETERS), found.fixed  # 24 months: all four fitted
        for name, truth in TRUTH.items():
            f = found.fits[name]
            covered[name] += f.ci_low <= truth <= f.ci_high
            if d == 0:
                print(f"{name}: truth {truth:g}, fitted {f.estimate:.4g} [{f.ci_low:.4g}, "
                      f"{f.ci_high:.4g}], n={f.n}")  # fmt: skip
        if d == 0:
            assert fit_response(SPEND, leads) == found  # a pure function of the data
    for name, hits in covered.items():
        p = float(stats.binom.cdf(hits, datasets, 0.95))
        print(f"{name}: {hits} of {datasets} intervals cover the truth; P(<= {hits}) = {p:.3g}")
        assert p > 0.001 / len(PARAMETERS), name


def test_what_the_months_cannot_tell_is_held_or_skipped_with_a_reason() -> None:
    """Few months hold the shape at 1; steady spend or too few months fit no curve, and say
    why in ``skipped``; none is an exception."""
    means = response_means(SPEND, np.ones(24), *TRUTH.values())
    leads = np.round(means)
    short = fit_response(SPEND[:12], leads[:12], free_shape=False)
    assert isinstance(short, ResponseFit)
    assert short.fixed["shape"][0] == 1.0
    assert "shape" not in short.fits
    assert fit_response(SPEND, np.zeros(24)) == "no leads in the months with spend"
    steady = export_with(np.full(14, 20000.0), seed=1)
    found = fit(steady)
    print(found.skipped)
    assert "spend nearly constant" in found.skipped["response.paid_search"]
    assert "names no source" in found.skipped["response.events"]
    few = export_with(SPEND[:5], seed=2)
    assert "a curve needs 6" in fit(few).skipped["response.paid_search"]


# -- (c) the calibrated scenario ------------------------------------------------------------------
FIRST = dt.datetime(2025, 1, 16)


def export_with(spend: np.ndarray, seed: int, truth: dict[str, float] = TRUTH) -> Export:
    """Leads of 'Paid Search' drawn month by month from the curve over ``spend`` (from mid-
    January 2025, the last month cut after its 10th day), 'Webinar' at a steady 40 a month,
    and a spend file that also names 'Events', which is no source."""
    rng = np.random.default_rng(seed)
    months = len(spend)
    start = pd.Timestamp(FIRST)
    at = (start.to_period("M").to_timestamp() + pd.DateOffset(months=months - 1)
          + pd.Timedelta(days=10))  # fmt: skip
    firsts = export_months(start, at)
    share = covered_share(firsts, start, at)
    means = response_means(spend, share, *truth.values())
    rows = []
    for first, mean, part in zip(firsts, means, share, strict=True):
        begin = max(first, start)
        span = (min(first + pd.offsets.MonthBegin(1), at) - begin) / pd.Timedelta(hours=1)
        for source, count in (("Paid Search", rng.poisson(mean)),
                              ("Webinar", rng.poisson(40 * part))):  # fmt: skip
            hours = np.sort(rng.uniform(0, span, count))
            rows += [(source, begin + pd.Timedelta(hours=h)) for h in hours]
    leads = pd.DataFrame(
        {
            "id": [f"L{i}" for i in range(len(rows))],
            "created": pd.to_datetime([t for _, t in rows]).floor("min"),
            "source": [s for s, _ in rows],
            "kind": "inbound",
            "mql_at": pd.NaT,
            "sql_at": pd.NaT,
            "first_touch_at": pd.NaT,
            "activities": math.nan,
            "industry": None,
            "employees": math.nan,
            "segment": "unknown",
        }
    )
    deals = pd.DataFrame({"id": [], "lead_id": [], "created": pd.to_datetime([]),
                          "closed": pd.to_datetime([]), "outcome": [], "amount": []})  # fmt: skip
    spend_rows = pd.DataFrame(
        {
            "month": list(firsts) * 2,
            "channel": ["Paid Search"] * months + ["Events"] * months,
            "spend": [*spend, *([5000.0] * months)],
        }
    )
    files = {"contacts": "contacts.csv", "spend": "spend.csv"}
    return Export(leads, deals, spend_rows, at.to_pydatetime(), files)


@pytest.fixture(scope="module")
def spent() -> Export:
    return export_with(SPEND, seed=7)


def test_the_calibrated_scenario_buys_its_leads_with_spend(spent: Export) -> None:
    found = calibrate(spent, None, name="Spent")
    data = yaml.safe_load(found.text)
    search = data["sources"]["paid_search"]
    print(yaml.safe_dump(search, sort_keys=False, width=200))
    assert search["spend"] == {
        "by_month": [round(x) for x in SPEND],
        "first_month": f"{FIRST:%Y-%m}",
    }
    response = search["response"]
    assert list(response) == ["curve", *PARAMETERS]
    assert response["curve"] == "hill"
    for name in PARAMETERS:
        number = response[name]
        assert set(number) == {"value", "low", "high", "source", "grade"}, name
        assert "n=24 months" in number["source"], name
        assert number["grade"] == "B", name
        assert number["low"] <= TRUTH[name] <= number["high"], (name, number)
    assert set(search["arrivals"]) == {"weekdays", "hours"}  # no rate, no month shape
    assert "rate" in data["sources"]["webinar"]["arrivals"]  # no spend: as before
    assert "spend" not in data["sources"]["webinar"]
    print("\n".join(found.notes))
    assert any(n.startswith("spend -> leads curves for paid_search") for n in found.notes)
    assert any("'Events' names no source" in n for n in found.notes)
    assert "spend -> leads curve fitted from 24 months" in found.text  # the source's comment
    # the file validates as it is written
    scenario = validate_document(parse_yaml(found.text, "calibrated"), Scenario)
    assert isinstance(scenario.sources["paid_search"], InboundSource)


def test_the_back_tests_replay_lines_the_months_up(spent: Export) -> None:
    """Replayed from the export's first day with no warm-up (as the back-test replays a history
    that starts with the company), month 1 of ``by_month`` is the export's first month: the
    model's expected leads per month are the fit's, month by month."""
    found = calibrate(spent, None, name="Spent")
    at = pd.Timestamp(spent.exported_at)
    replay = with_settings(
        found.scenario,
        {"start": f"{FIRST:%Y-%m-%d %H:%M}", "warmup": "0d",
         "horizon": f"{math.ceil((at - pd.Timestamp(FIRST)) / pd.Timedelta(minutes=1))}m"},
        "replay", "test",
    )  # fmt: skip
    source = replay.sources["paid_search"]
    assert isinstance(source, InboundSource)
    assert source.response is not None
    assert replay.origin == FIRST
    model = expected_monthly_leads(source, replay.origin, replay.horizon_hours)
    r = source.response
    fitted = response_means(SPEND, np.ones(24), r.leads_at_saturation, r.half_saturation or 0,
                            r.shape, r.adstock)  # fmt: skip
    print("model", np.round(model[:6], 2), "fit", np.round(fitted[:6], 2))
    assert len(model) == 24
    assert model == pytest.approx(fitted, rel=1e-9)


def test_a_warm_up_keeps_the_spend_on_its_calendar_months(spent: Export) -> None:
    """With a warm-up, the simulation starts months before the export: the spend history keeps
    its calendar months (``first_month``), and the warm-up's months spend as the first did."""
    found = calibrate(spent, None, name="Spent")
    replay = with_settings(
        found.scenario, {"start": f"{FIRST:%Y-%m-%d %H:%M}", "warmup": "10w"}, "replay", "test"
    )
    source = replay.sources["paid_search"]
    assert isinstance(source, InboundSource)
    assert source.spend is not None
    before = (FIRST.year - replay.origin.year) * 12 + FIRST.month - replay.origin.month
    plan = source.spend.plan(before + len(SPEND), replay.origin)
    print(f"origin {replay.origin:%Y-%m-%d}, {before} month(s) before {FIRST:%Y-%m}:", plan[:6])
    assert before == 2  # 10 weeks before 2025-01-16 reach back into November
    assert plan[:before] == [round(SPEND[0])] * before
    assert plan[before:] == [round(x) for x in SPEND]


@pytest.mark.parametrize("written", ["2025-13", "2025-01-01"])
def test_a_first_month_that_is_not_a_month_is_refused_where_it_is(
    spent: Export, tmp_path: Path, written: str
) -> None:
    text = calibrate(spent, None, name="Spent").text
    text = text.replace(f"first_month: {FIRST:%Y-%m}", f"first_month: {written}")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    lines = assert_refused(invoke("validate", path))
    line = 1 + text[: text.index(f"first_month: {written}")].count("\n")
    assert lines == [f"{path}:{line}:20: sources.paid_search.spend.first_month: expected a "
                     f"calendar month YYYY-MM, e.g. 2027-01; got {written}"]  # fmt: skip


# -- (d) curves imported from a media-mix model ---------------------------------------------------
GOOD = """\
Paid Search:
  curve: hill
  leads_at_saturation: {value: 420, low: 360, high: 500, source: "MMM 2025-Q4", grade: B}
  half_saturation: 38000
  shape: 1.2
  adstock: {value: 0.25, low: 0.1, high: 0.4}
Brand TV: {curve: logistic, leads_at_saturation: 90, steepness: 0.00004}
"""


def test_an_imported_curve_replaces_the_fitted_one(spent: Export, tmp_path: Path) -> None:
    path = tmp_path / "response.yaml"
    path.write_text(GOOD)
    found = calibrate(spent, None, name="Imported", responses=path)
    search = yaml.safe_load(found.text)["sources"]["paid_search"]
    print(search["response"])
    assert search["response"] == yaml.safe_load(GOOD)["Paid Search"]  # as written, ranges kept
    assert search["spend"] == {
        "by_month": [round(x) for x in SPEND],
        "first_month": f"{FIRST:%Y-%m}",
    }
    assert f"its curve imported from {path}" in found.text
    print("\n".join(found.notes))
    assert any(n.startswith("imported curve of 'Brand TV'") and "not used" in n
               for n in found.notes)  # fmt: skip
    scenario = found.scenario.sources["paid_search"]
    assert isinstance(scenario, InboundSource)
    assert scenario.response is not None
    assert scenario.response.leads_at_saturation == 420


def test_a_misspelled_response_file_is_refused_where_it_is_wrong(
    spent: Export, tmp_path: Path
) -> None:
    path = tmp_path / "response.yaml"
    path.write_text(GOOD.replace("half_saturation", "half_saturaton").replace("0.4}", "1.4}"))
    output = tmp_path / "calibrated.yaml"
    with pytest.raises(ScenarioError) as raised:
        output.write_text(calibrate(spent, None, name="Typo", responses=path).text)
    lines = raised.value.lines()
    print("\n".join(lines))
    assert f"{path}:4:3: Paid Search.half_saturaton: unknown key 'half_saturaton' (did you " \
           "mean 'half_saturation'?)" in lines[0]  # fmt: skip
    assert any(line.startswith(f"{path}:6:") and "adstock: high:" in line for line in lines)
    assert len(lines) == 2  # the missing half-saturation is the typo, said once
    assert not output.exists()


def test_the_bundled_example_takes_its_content_curve_from_a_media_mix_model(
    tmp_path: Path,
) -> None:
    """On the command line: the example's steady content spend fits no curve, and the bundled
    response file (the true scenario's curve, as a media-mix model would hand it over) gives
    it one; a misspelled key in that file is exit 2, located, and nothing written."""
    crm = ROOT / "examples" / "crm"
    files = [crm / "hubspot" / "contacts.csv", "--deals", crm / "hubspot" / "deals.csv",
             "--spend", crm / "hubspot" / "spend.csv", "--format", crm / "hubspot" / "mapping.yaml",
             "--refine", "0"]  # fmt: skip
    output = tmp_path / "mine.yaml"
    printed = ok(
        "calibrate", *files, "--response", crm / "response.yaml", "--output", output
    ).output
    assert "response.content: spend nearly constant" in printed
    sources = yaml.safe_load(output.read_text())["sources"]
    truth = yaml.safe_load((crm / "true-scenario.yaml").read_text())["sources"]["content"]
    print(sources["content"]["response"])
    assert sources["content"]["response"]["curve"] == "logistic"
    for key in ("leads_at_saturation", "steepness", "adstock"):
        assert sources["content"]["response"][key]["value"] == truth["response"][key]["value"]
    assert sources["search"]["response"]["curve"] == "hill"  # fitted from the spend file
    assert "rate" not in sources["content"]["arrivals"]
    bad = tmp_path / "response.yaml"
    bad.write_text((crm / "response.yaml").read_text().replace("steepness:", "steepnes:"))
    refused = tmp_path / "refused.yaml"
    lines = assert_refused(invoke("calibrate", *files, "--response", bad, "--output", refused))
    assert lines[0].startswith(f"{bad}:")
    assert "did you mean 'steepness'?" in lines[0]
    assert not refused.exists()


# -- (e) export-crm writes the spend --------------------------------------------------------------
def test_export_crm_writes_the_spend_the_scenario_had(tmp_path: Path) -> None:
    run, out = tmp_path / "run", tmp_path / "hubspot"
    ok("run", SCENARIOS / "baseline.yaml", "-n", "1", "-w", "1", "--set", "horizon=6w",
       "--set", "warmup=2w", "--set", "sources.search.spend={by_month: [10000, 20000, 30000]}",
       "--out", run)  # fmt: skip
    ok("export-crm", run, "--format", "hubspot", "--out", out)
    with (out / "spend.csv").open(newline="") as stream:
        rows = list(csv.reader(stream))
    print(rows)
    assert rows[0] == ["month", "channel", "spend"]
    # baseline: start 2027-01-04, warm-up from 2026-12-21, end 2027-02-15: three months
    assert rows[1:] == [
        ["2026-12", "Search", "10000.00"], ["2026-12", "Content", "15000.00"],
        ["2027-01", "Search", "20000.00"], ["2027-01", "Content", "15000.00"],
        ["2027-02", "Search", "30000.00"], ["2027-02", "Content", "15000.00"],
    ]  # fmt: skip
    contacts = pd.read_csv(out / "contacts.csv", dtype=str)
    assert {"Search", "Content"} <= set(contacts["Original Source"])  # the same names
    export = read_export(out / "contacts.csv", out / "deals.csv", out / "spend.csv",
                         out / "mapping.yaml", timezone=None, strict=True)  # fmt: skip
    assert export.spend is not None
    assert len(export.spend) == 6
