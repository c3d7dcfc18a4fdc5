"""The budget review (``funnelsim report``, ``funnelsim.review``): one self-contained HTML page,
checked in a real browser (Debian's Chromium, driven by Playwright), and its PDF, rendered page
by page by poppler's pdftoppm; hostile names stay text; the headline follows from the numbers."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from funnelsim import review
from funnelsim.analysis import excludes_zero, summarise
from funnelsim.cli import app
from funnelsim.formatting import currency_sign, money
from funnelsim.results import load
from helpers import SCENARIOS

SHORT = ["--set", "horizon=8w", "--set", "warmup=2w", "-n", "3", "-w", "1"]
HOSTILE = "<script>alert(1)</script>"
DESCRIPTION = "Pipes | in a **bold** claim\nand a second line"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [  # no sandbox as root; no background traffic to a closed network
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECTIONS = (
    "The plans",
    "What the plans change",
    "The decision, and how sure it is",
    "Key metrics",
    "Charts",
    "Assumptions: where the numbers come from",
    "The run",
)
CHARTS = (  # the charts of two plans side by side
    "The funnel of each plan",
    "First-touch waits against the SLA",
    "Where reps' time goes",
    "New ARR by quarter",
    "SQLs created per week",
)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def needs(program: str | Path) -> None:
    """A system program the test drives: CI installs it (.ci/run), so there its absence fails;
    elsewhere the test is skipped, saying what to install."""
    if shutil.which(str(program)) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: .ci/run installs it")
        pytest.skip(f"{program} is not installed (apt-get install chromium poppler-utils)")


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inbound-heavy against outbound-heavy, the baseline renamed to a script tag and given a
    description with Markdown table and emphasis marks and a newline; reported into a folder
    of its own (--output)."""
    base = tmp_path_factory.mktemp("review")
    data = yaml.safe_load((SCENARIOS / "inbound-heavy.yaml").read_text())
    data["name"], data["description"] = HOSTILE, DESCRIPTION
    hostile = base / "hostile.yaml"
    hostile.write_text(yaml.safe_dump(data))
    folder = base / "results"
    invoke("compare", str(hostile), str(SCENARIOS / "outbound-heavy.yaml"), *SHORT,
           "--out", str(folder))  # fmt: skip
    said = invoke("report", str(folder), "--output", str(base / "review"))
    print(said)
    for name in ("report.md", "report.html", "report.pdf"):
        assert f"report: {base / 'review' / name}" in said
    return base / "review"


class Page(HTMLParser):
    """The page's tags, text and table rows (cells per row), as a browser would parse them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: list[list[int]] = []  # per table, the cells of each row
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.rows.append([])
        elif tag == "tr":
            self.rows[-1].append(0)
        elif tag in ("td", "th"):
            self.rows[-1][-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_is_one_file_whose_names_stay_text(reviewed: Path) -> None:
    page = Page((reviewed / "report.html").read_text(encoding="utf-8"))
    text = " ".join(page.text)
    assert [tag for tag, _ in page.tags if tag in ("script", "iframe", "object", "link")] == []
    assert HOSTILE in text  # shown as the words it is
    assert "Pipes | in a **bold** claim" in text
    for tag, attrs in page.tags:  # nothing from outside: every image a data: URI
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), (tag, value)
    images = [a for t, a in page.tags if t == "img"]
    print(len(images), "images;", [len(rows) for rows in page.rows], "rows per table")
    assert len(images) == len(CHARTS) + 3  # the differences, and two more weekly series
    for chart in CHARTS:
        assert f"{chart}." in text
    for rows in page.rows:  # the description's pipes added no cell
        assert len(set(rows)) == 1, rows
    for section in SECTIONS:
        assert section in text


def test_the_markdown_keeps_its_tables(reviewed: Path) -> None:
    lines = (reviewed / "report.md").read_text(encoding="utf-8").splitlines()
    assert not any("<script" in line.lower() for line in lines)
    assert any("&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in line for line in lines)
    assert any("Pipes \\| in a \\*\\*bold\\*\\* claim and a second line" in line for line in lines)
    cells = re.compile(r"(?<!\\)\|")  # a cell boundary: a pipe not escaped
    tables: list[set[int]] = []
    for previous, line in zip(["", *lines], lines, strict=False):
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append(set())
            tables[-1].add(len(cells.findall(line)))
    print([sorted(t) for t in tables])
    assert len(tables) >= 3
    assert all(len(widths) == 1 for widths in tables)


def test_the_headline_follows_from_the_replications(reviewed: Path) -> None:
    stored = load(reviewed.parent / "results")
    frame = stored.replications.set_index(["scenario", "replication"])
    gain = summarise(
        frame.loc["Outbound-heavy", "new_arr"].to_numpy() - frame.loc[HOSTILE, "new_arr"].to_numpy()
    )
    page = (reviewed / "report.html").read_text(encoding="utf-8")
    said = " ".join(Page(page).text)
    print(gain, said[:400])
    if excludes_zero(gain):
        verb = "adds" if gain.mean > 0 else "loses"
        assert f"{verb} {money(abs(gain.mean))} of new ARR" in said
    else:
        assert f"changes new ARR by {money(gain.mean)}" in said
        assert "cannot tell from zero" in said
    assert f"{money(gain.ci_low)} to {money(gain.ci_high)}" in said


@pytest.mark.slow
def test_the_page_in_chromium(reviewed: Path) -> None:
    """Opened from disk in headless Chromium: no console error, no request but the file
    itself, every image decoded with a size, the headline there, and a screenshot that is not
    blank."""
    needs(CHROMIUM)
    from PIL import Image
    from playwright.sync_api import Route, sync_playwright

    url = (reviewed / "report.html").as_uri()
    errors: list[str] = []
    requests: list[str] = []

    def only_the_file(route: Route) -> None:
        requests.append(route.request.url[:80])
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", only_the_file)
            page.goto(url)
            sizes = page.evaluate(
                "Array.from(document.images)"
                ".map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            headline = page.locator("#headline").inner_text()
            title = page.locator("#title").inner_text()
            shot = reviewed / "screenshot.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(sizes, requests, errors, headline, sep="\n")
    assert errors == []
    assert requests == [url]
    assert len(sizes) == len(CHARTS) + 3
    assert all(done and width > 0 and height > 0 for done, width, height in sizes)
    assert "new ARR" in headline
    assert "SLA attainment" in headline
    assert HOSTILE in title
    with Image.open(shot) as image:
        gray = np.asarray(image.convert("L"), dtype=float)
    print(gray.shape, gray.std())
    assert gray.shape[0] > 900  # the whole page, taller than the window
    assert gray.std() > 10  # text and charts, not one colour


@pytest.mark.slow
def test_the_pdf_prints_every_page(reviewed: Path, tmp_path: Path) -> None:
    """A4 landscape pages: the headline on the first, every section somewhere, the hostile name
    as its words; pdftoppm renders every page, none blank."""
    needs("pdftoppm")
    from PIL import Image
    from pypdf import PdfReader

    reader = PdfReader(reviewed / "report.pdf")
    pages = [p.extract_text() or "" for p in reader.pages]
    width, height = (float(x) for x in reader.pages[0].mediabox[2:])
    print(len(pages), "pages of", width, "x", height, "pt")
    assert math.isclose(width, 841.89, abs_tol=1)  # A4 landscape
    assert math.isclose(height, 595.28, abs_tol=1)
    assert 3 <= len(pages) <= 30
    first = " ".join(pages[0].split())
    assert "new ARR" in first
    assert "SLA attainment" in first
    whole = " ".join(" ".join(pages).split())
    assert HOSTILE in whole
    for section in SECTIONS:
        assert section in whole, section
    assert f"page {len(pages)} of {len(pages)}" in whole
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(reviewed / "report.pdf"), str(tmp_path / "page")],
        check=True,
    )
    rendered = sorted(tmp_path.glob("page-*.png"))
    assert len(rendered) == len(pages)
    for png in rendered:
        with Image.open(png) as image:
            assert np.asarray(image.convert("L"), dtype=float).std() > 1, png


def test_the_inputs_that_decide_are_ranked_and_their_flip_found() -> None:
    """An exact case: the gain is a straight line in one input and blind to another."""
    x = np.linspace(0.1, 0.5, 9)
    gain = 1000.0 * (x - 0.3)  # the plan wins above 0.3
    noise = np.array([5.0, 1.0, 9.0, 2.0, 7.0, 3.0, 8.0, 4.0, 6.0])  # rank correlation 0.2
    rows = review.rank_inputs(
        {"noise": (noise, 0.0, 10.0), "rate": (x, 0.1, 0.5), "wide": (x, 0.35, 0.5)}, gain
    )
    print(rows)
    assert [r[0] for r in rows][:2] in (["rate", "wide"], ["wide", "rate"])
    by_path = {r[0]: r for r in rows}
    assert by_path["rate"][1] == pytest.approx(1.0)
    assert by_path["rate"][3] == pytest.approx(0.3)
    assert by_path["wide"][3] is None  # the flip lies outside its range
    assert by_path["noise"][1] == pytest.approx(0.2)
    assert rows[-1][0] == "noise"


@pytest.mark.parametrize(
    ("amount", "written"),
    [
        (1_234_567, "$1.23M"),
        (45_600, "$45.6k"),
        (950, "$950"),
        (-2_000_000, "-$2M"),
        (float("nan"), "n/a"),
    ],
)
def test_money_is_written_as_a_budget_review_reads_it(amount: float, written: str) -> None:
    assert money(amount, currency_sign("USD")) == written


def test_with_adds_the_decision_over_the_inputs_ranges(tmp_path: Path) -> None:
    """``report --with`` a ``compare --uncertainty`` folder: the chance each plan wins over
    the draws, computed from that folder's outcomes (draws x replications)."""
    plans = [str(SCENARIOS / f) for f in ("inbound-heavy.yaml", "outbound-heavy.yaml")]
    tiny = ["--set", "horizon=13w", "--set", "warmup=4w", "-w", "1"]
    invoke("compare", *plans, *tiny, "-n", "2", "--out", str(tmp_path / "plain"))
    invoke("compare", *plans, *tiny, "-n", "2", "--uncertainty", "4",
           "--out", str(tmp_path / "drawn"))  # fmt: skip
    invoke("report", str(tmp_path / "plain"), "--with", str(tmp_path / "drawn"))
    text = " ".join(Page((tmp_path / "plain" / "report" / "report.html").read_text()).text)
    stored = load(tmp_path / "drawn")
    arr = stored.replications.pivot_table("new_arr", "replication", "scenario")
    gain = np.array(
        [arr[f"Outbound-heavy (draw {d})"] - arr[f"Inbound-heavy (draw {d})"] for d in range(1, 5)]
    )
    ahead = float(np.mean((np.sign(gain) + 1) / 2))  # a tie counts half
    print(f"outbound ahead in {ahead:.0%} of 8 years;", text[text.find("Over the inputs") :][:600])
    assert "Over the inputs' ranges" in text
    assert "The same plans run over 4 draws of their" in text
    assert re.search(rf"Outbound-heavy {ahead:.0%} ", text)  # its chance of the most new ARR
    refused = CliRunner().invoke(
        app, ["report", str(tmp_path / "drawn"), "--with", str(tmp_path / "plain")]
    )
    assert refused.exit_code == 2
    assert "holds a plain run" in refused.stderr
    assert "Traceback" not in refused.output


def test_a_sensitivity_folder_brings_its_chart_and_break_even(tmp_path: Path) -> None:
    """A ``sensitivity --out`` folder's figures (``sensitivity.json``, as the command writes
    it) become a section: the inputs' chart, and where the verdict flips."""
    folder = tmp_path / "sensitivity"
    folder.mkdir()
    (folder / "sensitivity.json").write_text(
        json.dumps({
            "metric": "new_arr", "method": "morris", "plans": ["A", HOSTILE], "seed": 1,
            "replications": 1, "settings": 12,
            "parameters": {
                "segments.smb.win_rate": {"mu_star": 9.0, "mu_star_conf": 2.0, "sigma": 1.0},
                "teams.sdr.headcount": {"mu_star": 3.0, "mu_star_conf": 1.0, "sigma": 1.0},
            },
            "break_even": {"segments.smb.win_rate": {"value": 0.31, "quantile": 0.4},
                           "teams.sdr.headcount": None},
        })
    )  # fmt: skip
    found = review.section(folder)
    print(found)
    assert found.title == "Which inputs decide"
    assert f"new_arr: {HOSTILE} - A" in found.paragraphs[0]
    assert found.tables[0].rows == [
        ["segments.smb.win_rate", "0.31"],
        ["teams.sdr.headcount", "holds over the whole range"],
    ]
    assert [c.image[:26] for c in found.charts] == ["data:image/svg+xml;base64,"]
