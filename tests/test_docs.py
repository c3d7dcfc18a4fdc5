"""The documentation says what the code does, and the bundled files stay valid.

README.md is the front page: the two set-up commands, a small scenario and a Python example
that must work as written. docs/cli.md documents every command and every option the CLI has,
docs/metrics.md is what docs/gen_metrics.py prints from ``funnelsim.metrics.METRICS``, the
scenarios and the study shown in the docs load, and every relative link (and anchor) resolves.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from funnelsim.cli import app
from funnelsim.goals import parse_goal
from funnelsim.metrics import METRICS, compute
from funnelsim.model.run import simulate
from funnelsim.scenario.load import load_scenario
from funnelsim.scenario.optimization import load_optimization
from funnelsim.scenario.study import load_study
from helpers import ROOT, SCENARIOS

README = ROOT / "README.md"
DOCS = ROOT / "docs"
CLI_DOC = DOCS / "cli.md"
METRICS_DOC = DOCS / "metrics.md"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]
COMMANDS = app.commands
README_MAX_LINES = 150
REGENERATE = ".venv/bin/python docs/gen_metrics.py > docs/metrics.md"


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of one language, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code: what Markdown renders as links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every heading outside code blocks."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return [(len(m[1]), m[2].strip()) for m in re.finditer(r"^(#{1,6}) (.+)$", text, re.MULTILINE)]


def section(text: str, title: str) -> str | None:
    """The body under the heading ``title``, up to the next heading of its level or above."""
    match = re.search(rf"^(#+) {re.escape(title)}\n", text, re.MULTILINE)
    if match is None:
        return None
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{len(match[1])}}} ", rest, re.MULTILINE)
    return rest if end is None else rest[: end.start()]


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.replace("`", "").lower()).replace(" ", "-")


def relative_links(text: str) -> list[str]:
    """Targets of inline links, images and reference definitions that are not URLs."""
    body = prose(text)
    targets = re.findall(r"\]\(([^)\s]+)\)", body)
    targets += re.findall(r"^\[[^\]]+\]:\s*(\S+)", body, re.MULTILINE)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


# -- README -------------------------------------------------------------------------------------
def test_readme_gives_the_two_setup_commands() -> None:
    shell = "\n".join(code_blocks(README.read_text(), "sh"))
    assert re.search(r"^make demo(\s|$)", shell, re.MULTILINE), "README: no `make demo` line"
    assert re.search(r"^make test(\s|$)", shell, re.MULTILINE), "README: no `make test` line"


def test_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines, at most {README_MAX_LINES}: move reference material to docs/"
    )


def test_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example runs as written, from the repository root, and prints a real count."""
    [example] = code_blocks(README.read_text(), "python")
    monkeypatch.chdir(ROOT)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "README.md", "exec"), {"__name__": "readme_example"})
    value = float(printed.getvalue())
    assert math.isfinite(value), printed.getvalue()
    assert value > 0, f"the README example prints {value}: a baseline year has SQLs"


def test_readme_scenario_validates_and_runs(tmp_path: Path) -> None:
    """The small scenario is a whole, valid file (saved as the README says), and a working
    funnel: one replication qualifies leads and judges the SLA."""
    [text] = code_blocks(README.read_text(), "yaml")
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    scenario = load_scenario(plan)
    kpis = compute(simulate(scenario, seed=1), scenario)
    assert kpis["sqls"] > 0, kpis
    assert 0 < kpis["sla_first_touch_attainment"] <= 1, kpis


def test_readme_links_every_doc_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(README.read_text())}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


# -- docs/cli.md --------------------------------------------------------------------------------
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_in_cli_doc(command: str) -> None:
    heading = f"### `funnelsim {command}`"
    assert re.search(rf"^{re.escape(heading)}$", CLI_DOC.read_text(), re.MULTILINE), heading
    body = section(CLI_DOC.read_text(), f"`funnelsim {command}`") or ""
    examples = "\n".join(code_blocks(body, "sh"))
    assert re.search(rf"^funnelsim {command}( |$)", examples, re.MULTILINE), (
        f"docs/cli.md: no example of `funnelsim {command}` in its section"
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_in_cli_doc(command: str) -> None:
    """Each option the command has is named in the command's own section."""
    body = section(CLI_DOC.read_text(), f"`funnelsim {command}`") or ""
    options = [
        name
        for param in COMMANDS[command].params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
        if name.startswith("--")
    ]
    missing = [o for o in options if not re.search(rf"{re.escape(o)}(?![\w-])", body)]
    assert not missing, f"docs/cli.md, `funnelsim {command}`: options not documented: {missing}"


def example_commands(text: str) -> list[list[str]]:
    """The arguments of every ``funnelsim`` command in the sh blocks, as the shell splits them
    (continued lines joined, quotes spanning lines kept, cut at a redirection or pipe)."""
    found = []
    for block in code_blocks(text, "sh"):
        pending = ""
        for line in block.replace("\\\n", " ").splitlines():
            pending = f"{pending}\n{line}" if pending else line
            lexer = shlex.shlex(pending, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            try:
                words = list(lexer)
            except ValueError:  # a quote still open: the command goes on on the next line
                continue
            pending = ""
            if words[:1] == ["funnelsim"]:
                ends = [i for i, w in enumerate(words) if w in {">", ">>", "|", "&&", ";"}]
                found.append(words[1 : min(ends, default=len(words))])
    return found


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_commands_parse(page: Path) -> None:
    """Every ``funnelsim`` command shown runs past the CLI's parser: the command and each
    option exist, and every value has the type the option takes."""
    refused = []
    for words in example_commands(page.read_text()):
        command, args = words[0], words[1:]
        if command not in COMMANDS:
            refused.append(f"{' '.join(words)}: no command {command!r}")
            continue
        try:
            COMMANDS[command].make_context(command, args)
        except Exception as error:  # click raises its UsageError, BadParameter...
            refused.append(f"{' '.join(words)}: {error}")
    assert not refused, f"{page.relative_to(ROOT)}: {refused}"


def test_example_commands_are_found() -> None:
    """The splitter's premises, on text whose answer is known."""
    text = (
        "```sh\nfunnelsim schema > x.json\nmake demo\nfunnelsim query d \\\n"
        '  "SELECT 1\n   FROM t" --csv  # note\n```\n'
    )
    assert example_commands(text) == [["schema"], ["query", "d", "SELECT 1\n   FROM t", "--csv"]]
    assert len(example_commands(CLI_DOC.read_text())) >= len(COMMANDS)


def test_study_in_cli_doc_loads(tmp_path: Path) -> None:
    """The study and optimisation files shown in docs/cli.md load against the bundled
    baseline, and the metrics they show exist."""
    studies = [
        data
        for block in code_blocks(CLI_DOC.read_text(), "yaml")
        if isinstance(data := yaml.safe_load(block), dict) and "baseline" in data
    ]
    assert studies, "docs/cli.md shows no study file"
    for data in studies:
        path = tmp_path / "studies" / "study.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(data))
        baseline = path.parent / data["baseline"]
        shutil.copy(SCENARIOS / "baseline.yaml", baseline)
        if "variables" in data:  # an optimisation file: its goals and metrics are known
            spec, _ = load_optimization(path, metrics=list(METRICS), parse_goal=parse_goal)
            assert spec.variables
            assert set(spec.metrics) <= set(METRICS)
            continue
        study, points = load_study(path)
        sweeps = sum(len(s.points()) for s in study.sweeps.values())
        assert len(points) == 1 + len(study.variants) + sweeps > 1
        assert set(study.metrics) <= set(METRICS), study.metrics


# -- docs/scenario.md ---------------------------------------------------------------------------
def whole_scenarios(text: str) -> list[str]:
    """YAML blocks that are whole scenario files (they have a name and sources)."""
    return [
        block
        for block in code_blocks(text, "yaml")
        if isinstance(data := yaml.safe_load(block), dict) and {"name", "sources"} <= set(data)
    ]


def test_scenarios_in_scenario_doc_validate(tmp_path: Path) -> None:
    blocks = whole_scenarios((DOCS / "scenario.md").read_text())
    assert len(blocks) >= 2, "docs/scenario.md: the queue and the full funnel examples"
    for i, block in enumerate(blocks):
        path = tmp_path / f"example-{i}.yaml"
        path.write_text(block)
        assert load_scenario(path).name, block.splitlines()[0]


# -- docs/metrics.md ----------------------------------------------------------------------------
def test_metrics_doc_is_what_the_generator_prints() -> None:
    done = subprocess.run(
        [sys.executable, str(DOCS / "gen_metrics.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == METRICS_DOC.read_text(), f"docs/metrics.md is stale: {REGENERATE}"


def test_metrics_doc_lists_every_metric_with_its_unit() -> None:
    rows = re.findall(
        r"^\| `(\w+)` \| ([^|]+?) \| (higher|lower|) \| (.+) \|$",
        METRICS_DOC.read_text(),
        re.MULTILINE,
    )
    assert [row[0] for row in rows] == list(METRICS), f"docs/metrics.md: {REGENERATE}"
    for name, unit, better, definition in rows:
        assert unit == METRICS[name].unit, name
        assert better == (METRICS[name].better or ""), name
        assert definition == METRICS[name].description.replace("|", "\\|"), name


# -- links ------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link points at a file that exists, and every anchor at a heading."""
    broken: list[str] = []
    for target in relative_links(page.read_text()):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md":
            anchors = {slug(title) for _, title in headings(file.read_text())}
            if anchor not in anchors:
                broken.append(f"{target}: no heading '#{anchor}' in {file.name}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_link_checker_sees_links_and_anchors() -> None:
    """The checker's own premises, on text whose answer is known."""
    text = "[a](docs/cli.md#batches) `[b](nowhere.md)`\n```\n[c](gone.md)\n```\n[d]: x.md\n"
    assert relative_links(text + "[e](https://example.com)") == ["docs/cli.md#batches", "x.md"]
    assert slug("10. Costs, and how they are split") == "10-costs-and-how-they-are-split"
    assert slug("`funnelsim run`") == "funnelsim-run"
