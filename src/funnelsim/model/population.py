"""Who enters the funnel in one replication: every lead and contact, drawn up front.

Inbound channels turn monthly spend into expected leads through their response curve, and
leads arrive as a Poisson process shaped by the week; outbound programs load a target list each
month. Each lead gets its segment, fit, intent and the random numbers that will decide its fate
(work times, connects, qualification, win, deal size), all drawn in vectorised blocks from
streams named after the source, so a change to one source never moves another's numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from funnelsim.calendar import month_bounds
from funnelsim.model.sources import arrival_times, hourly_intensity, invert_intensity
from funnelsim.records import Entry, Kind
from funnelsim.rng import Streams
from funnelsim.scenario.schema import (
    InboundSource,
    OpenMqls,
    OpenOpportunities,
    OutboundSource,
    Scenario,
    Spend,
)

if TYPE_CHECKING:
    from funnelsim.calendar import FloatArray
    from funnelsim.curves import SpendResponse

INBOUND, OUTBOUND = Kind.INBOUND, Kind.OUTBOUND
NEW, OPEN_MQL, OPEN_OPPORTUNITY = Entry.NEW, Entry.OPEN_MQL, Entry.OPEN_OPPORTUNITY


def spend_by_month(spend: Spend, months: int, origin: dt.datetime) -> FloatArray:
    return np.array(spend.plan(months, origin), dtype=float)


def response_of(source: InboundSource) -> SpendResponse:
    assert source.response is not None
    return source.response.spend_response()


def expected_monthly_leads(source: InboundSource, origin: dt.datetime, span_h: float) -> FloatArray:
    """Expected leads in each calendar month of the simulation, from spend and response
    (``theory.offered_load`` computes them without numpy, for ``funnelsim validate``)."""
    assert source.spend is not None
    months, _ = month_bounds(origin, span_h)
    return response_of(source).leads(spend_by_month(source.spend, len(months), origin))


def _spend_arrivals(
    source: InboundSource, origin: dt.datetime, span_h: float, rng: np.random.Generator
) -> FloatArray:
    """NHPP arrivals: each month's expected leads spread over its hours by the weekly shape.

    The shape is weighed over whole calendar months, so a month the simulation only partly
    covers gets its share of the month's leads, no more.
    """
    months, month_ends = month_bounds(origin, span_h)
    season = np.asarray(source.arrivals.month_weights())
    leads = expected_monthly_leads(source, origin, span_h)
    leads = leads * season[(origin.month - 1 + np.arange(len(leads))) % 12]  # seasonal demand
    first = dt.datetime(origin.year, origin.month, 1)
    shift = -months[0]  # hours from the 1st of the month to the origin
    starts, weights = hourly_intensity(
        source.arrivals, first, shift + month_ends[-1], rate_per_hour=1.0
    )
    starts = starts - shift
    month_of = np.searchsorted(months, starts, side="right") - 1
    ends = np.append(starts[1:], month_ends[-1])
    mass = np.bincount(month_of, weights=weights * (ends - starts), minlength=len(months))
    rates = weights * (leads / np.where(mass > 0, mass, 1.0))[month_of]
    inside = ends > 0
    return invert_intensity(np.clip(starts[inside], 0.0, None), rates[inside], span_h, rng)


@dataclass
class Population:
    """Every lead of a replication, sorted by arrival; columns are parallel arrays."""

    kind: np.ndarray  # INBOUND / OUTBOUND
    source: np.ndarray  # index into source_names
    segment: np.ndarray  # index into segment_names
    arrival_h: FloatArray
    fit: FloatArray
    intent: FloatArray
    score: FloatArray  # the source's own score (used without a marketing section)
    work_h: FloatArray  # first touch (inbound) or first prospecting touch (outbound)
    patience_h: FloatArray
    entry: np.ndarray  # NEW, OPEN_MQL, or OPEN_OPPORTUNITY + stage
    age_h: FloatArray  # for open MQLs: how long they have waited already
    uniforms: dict[str, FloatArray]  # named per-lead random numbers, shape (n,) or (n, k)
    draws: dict[str, FloatArray]  # other per-lead random quantities (work times, deal sizes)
    source_names: tuple[str, ...]
    segment_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.arrival_h)


def _segments(
    mix: dict[str, float] | None, names: tuple[str, ...], rng: np.random.Generator, n: int
) -> np.ndarray:
    weights = np.array([1.0 if mix is None else mix.get(s, 0.0) for s in names])
    return rng.choice(len(names), size=n, p=weights / weights.sum())


def _outbound_arrivals(
    source: OutboundSource, origin: dt.datetime, span_h: float, rng: np.random.Generator
) -> FloatArray:
    """Each month's list is loaded across the month: contacts become workable at random times.

    A month the simulation covers only in part gets that part of its list.
    """
    times: list[FloatArray] = []
    for start, end in zip(*month_bounds(origin, span_h), strict=True):
        lo, hi = max(start, 0.0), min(end, span_h)
        expected = source.contacts_per_month * (hi - lo) / (end - start)
        count = int(expected) + int(rng.random() < expected - int(expected))
        times.append(np.sort(rng.uniform(lo, hi, count)))
    return np.concatenate(times) if times else np.array([])


def _stack(columns: list[np.ndarray | None], parts: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Concatenate one column over sources; a source without it gets nan (never read)."""
    width = max((c.shape[1] for c in columns if c is not None and c.ndim == 2), default=0)
    out = []
    for column, part in zip(columns, parts, strict=True):
        n = len(part["arrival_h"])
        if column is None:
            column = np.full((n, width) if width else n, np.nan)
        elif width and column.shape[1] < width:
            column = np.pad(column, ((0, 0), (0, width - column.shape[1])), constant_values=np.nan)
        out.append(column)
    return np.concatenate(out)


def _draw_part(
    scenario: Scenario,
    streams: Streams,
    index: int,
    name: str,
    times: FloatArray,
    prefix: str = "",
) -> dict[str, np.ndarray]:
    """Attributes and random numbers of ``len(times)`` leads of one source.

    Stream names start with ``prefix`` so that leads of the starting state draw apart from
    the source's new leads.
    """
    source = scenario.sources[name]
    sdr, ae = scenario.teams.sdr, scenario.teams.ae
    segment_names = tuple(scenario.segments or {"all": None})
    n = len(times)

    def gen(stream: str) -> np.random.Generator:
        return streams.generator(f"{prefix}{stream}/{name}")

    if isinstance(source, InboundSource):
        kind, touches, touch_dist = INBOUND, (sdr.attempts.max if sdr.attempts else 1), None
        fit = source.fit.sample(gen("fit"), n)
        intent = source.intent.sample(gen("intent"), n)
        score = source.score.sample(gen("score"), n)
        touch_dist = sdr.first_touch_time
    else:
        kind, touches = OUTBOUND, source.sequence.touches
        fit = source.fit_distribution().sample(gen("fit"), n)
        intent, score = np.zeros(n), fit
        touch_dist = source.sequence.touch_time
    patience = scenario.handoff.expire_after
    part: dict[str, np.ndarray] = {
        "kind": np.full(n, kind),
        "source": np.full(n, index),
        "segment": _segments(source.segment_mix, segment_names, gen("segment"), n),
        "arrival_h": times,
        "fit": fit,
        "intent": intent,
        "score": score,
        "work_h": touch_dist.sample(streams.generator(f"{prefix}work/sdr/{name}"), n),
        "patience_h": (
            np.full(n, np.inf)
            if patience is None or kind == OUTBOUND
            else patience.sample(gen("patience"), n)
        ),
    }
    if kind == OUTBOUND or sdr.attempts is not None or sdr.qualification is not None:
        part["u/connect"] = gen("connect").random((n, touches))
    if touches > 1:
        part["d/touch"] = touch_dist.sample(gen("touches"), n * touches).reshape(n, touches)
    if sdr.qualification is not None or kind == OUTBOUND:
        part["u/qualify"] = gen("qualify").random(n)
    if sdr.qualification is not None and kind == INBOUND:
        part["d/qualification"] = sdr.qualification.time.sample(gen("call"), n)
    if scenario.marketing is not None and kind == INBOUND:
        part["u/noise"] = gen("scoring").standard_normal(n)
        part["u/nurture"] = gen("nurture").random(n)
    if ae is not None:
        assert scenario.segments is not None
        part["u/advance"] = gen("advance").random((n, len(ae.stages)))
        part["u/win"] = gen("win").random(n)
        part["d/stage"] = np.stack(
            [
                st.work.sample(streams.generator(f"{prefix}ae/{name}/{st.name}"), n)
                for st in ae.stages
            ],
            axis=1,
        )
        deal = np.zeros(n)
        deal_gen = gen("deal")
        for s, segment in enumerate(scenario.segments.values()):
            mask = part["segment"] == s
            deal[mask] = segment.deal_size.sample(deal_gen, int(mask.sum()))
            part["d/stage"][mask] *= segment.ae_work  # a segment's deals take more AE work
        part["d/deal"] = deal
    return part


def draw_population(scenario: Scenario, streams: Streams, span_h: float) -> Population:
    """All leads and contacts of one replication, with their attributes and random numbers.

    Leads of the starting state (open MQLs, open opportunities) enter at hour 0; their
    ``entry`` says where (0: an MQL aged ``age_h``, s + 1: an opportunity in stage s).
    """
    origin = scenario.origin
    source_names = tuple(scenario.sources)
    parts: list[dict[str, np.ndarray]] = []
    for index, (name, source) in enumerate(scenario.sources.items()):
        arrivals = streams.generator(f"arrivals/{name}")
        if isinstance(source, OutboundSource):
            times = _outbound_arrivals(source, origin, span_h, arrivals)
        elif source.spend is not None:
            times = _spend_arrivals(source, origin, span_h, arrivals)
        else:
            times = arrival_times(source.arrivals, origin, span_h, arrivals)
        part = _draw_part(scenario, streams, index, name, times)
        part["entry"] = np.full(len(times), NEW)
        part["age_h"] = np.zeros(len(times))
        parts.append(part)
    initial = scenario.initial
    stages = [st.name for st in scenario.teams.ae.stages] if scenario.teams.ae else []
    entries: list[tuple[str, int, OpenMqls | OpenOpportunities]] = [
        ("mqls", i, item) for i, item in enumerate(initial.open_mqls if initial else [])
    ] + [
        ("opportunities", i, item)
        for i, item in enumerate(initial.open_opportunities if initial else [])
    ]
    for group, i, item in entries:
        index = source_names.index(item.source)
        part = _draw_part(
            scenario, streams, index, item.source, np.zeros(item.count), f"initial/{group}/{i}/"
        )
        if isinstance(item, OpenMqls):
            part["entry"] = np.full(item.count, OPEN_MQL)
            part["age_h"] = np.full(item.count, item.age.hours)
        else:
            part["entry"] = np.full(item.count, OPEN_OPPORTUNITY + stages.index(item.stage))
            part["age_h"] = np.zeros(item.count)
        parts.append(part)
    # one column at a time, sources stacked then sorted by arrival, letting go of each part as
    # it goes: the random numbers are most of a replication's memory, never held twice
    keys = sorted(set().union(*parts), key=lambda k: k == "arrival_h")  # its sizes: last
    order = np.argsort(_stack([p["arrival_h"] for p in parts], parts), kind="stable")
    cols = {}
    for key in keys:
        cols[key] = _stack([p.get(key) for p in parts], parts)[order]
        for part in parts:
            part.pop(key, None)
    return Population(
        kind=cols.pop("kind").astype(np.int64),
        source=cols.pop("source").astype(np.int64),
        segment=cols.pop("segment").astype(np.int64),
        arrival_h=cols.pop("arrival_h"),
        fit=cols.pop("fit"),
        intent=cols.pop("intent"),
        score=cols.pop("score"),
        work_h=cols.pop("work_h"),
        patience_h=cols.pop("patience_h"),
        entry=cols.pop("entry").astype(np.int64),
        age_h=cols.pop("age_h"),
        uniforms={k[2:]: v for k, v in cols.items() if k.startswith("u/")},
        draws={k[2:]: v for k, v in cols.items() if k.startswith("d/")},
        source_names=source_names,
        segment_names=tuple(scenario.segments or {"all": None}),
    )
