"""The HTML report (optimizer/reporting/report.py): content, formatting, escaping, old summaries, sweeps, errors,
and the page rendered by a real headless Chromium (dump of the DOM and a screenshot)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from weekly_loop import write_small_scenario

from optimizer.errors import DataError, RunFolderError, ScenarioError
from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize
from optimizer.reporting import report
from optimizer.reporting.report import NOTHING_COLOUR, USED_COLOUR, render_report, verdict, write_report
from optimizer.store.files import REPORT_FILE, write_run

NEW_KEYS = ("run_date", "eligibility", "unassigned")
NEW_CAMPAIGN_KEYS = ("cost_per_contact", "cost_per_response", "measurement_window_days")
SWEEP_HINT = "cvo sweep SCENARIO --budget A:B:N --out OUT_DIR"


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> dict[str, Any]:
    """summary.json of a real solve: 12 customers × 2 campaigns, a budget, a capacity, a custom row, a KPI."""
    folder = tmp_path_factory.mktemp("solved")
    write_small_scenario(folder, name="report_demo")
    return write_plan(optimize(folder / "scenario.yaml"), folder / "out")


def old_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as cvo wrote it before run dates, contact costs, rules and reasons were recorded."""
    old = {key: value for key, value in summary.items() if key not in NEW_KEYS}
    old["campaigns"] = [{k: v for k, v in c.items() if k not in NEW_CAMPAIGN_KEYS} for c in summary["campaigns"]]
    return old


def full_summary() -> dict[str, Any]:
    """A hand-written summary with every key, at the weekly example's scale (thousands separators)."""
    campaigns = [("winback_coupon", "email", 7367, 2527, 281, 2242.084, 8433.782, 0.05, 14),
                 ("cross_sell_email", "email", 20857, 4493, 237, 3138.641, 10770.55, 0.03, 14),
                 ("vip_call", "phone", 2614, 370, 93, 2409.564, 13976.65, 4.0, 14)]
    return {
        "run_id": "abc123", "scenario": "weekly", "scenario_file": "scenarios/weekly.yaml", "run_date": "2026-11-23",
        "objective_name": "incremental_value", "created_at": "2026-11-23T07:41:33+00:00", "status": "optimal",
        "termination": "optimal", "method": "exact", "objective": 34139.4753, "bound": 34139.4875, "gap": 3.58e-7,
        "build_seconds": 0.025, "solve_seconds": 6.254, "customers": 30000, "treatment": 7390, "control": 611,
        "expected_spend": 7790.289, "expected_value": 33180.982,
        "campaigns": [
            {"id": i, "channel": ch, "eligible": e, "audience": t + c, "treatment": t, "control": c,
             "expected_spend": s, "expected_value": v, "cost_per_contact": cpc, "cost_per_response": 1.0,
             "measurement_window_days": w}
            for i, ch, e, t, c, s, v, cpc, w in campaigns],
        "channels": [{"channel": "email", "contacts": 7020, "audience": 7538, "capacity": 20000},
                     {"channel": "phone", "contacts": 370, "audience": 463, "capacity": 1000}],
        "constraints": [
            {"name": "budget", "family": "budget", "source": "budget", "sense": "<=", "lhs": 8999.99, "rhs": 9000.0,
             "slack": 0.01, "binding": True, "shadow_price": 1.6712578, "lhs_treated": 7790.29},
            {"name": "min_audience[vip_call]", "family": "min_audience", "source": "campaigns[2].min_audience",
             "sense": ">=", "lhs": 463.0, "rhs": 200.0, "slack": 263.0, "binding": False, "shadow_price": 0.0,
             "lhs_treated": 370.0},
            {"name": "capacity[email]", "family": "capacity", "source": "channels.email.capacity", "sense": "<=",
             "lhs": 7538.0, "rhs": 20000.0, "slack": 12462.0, "binding": False, "shadow_price": None,
             "lhs_treated": 7020.0}],
        "kpis": [{"name": "expected_revenue", "value": 164423.6318}],
        "eligibility": [
            {"campaign": "cross_sell_email", "rule": "eligible: email_opt_in and segment != 'New'", "kind": "eligible",
             "source": "campaigns[1].eligible", "removed": 9143},
            {"campaign": "winback_coupon", "rule": "cool-down 28 days after winback_coupon", "kind": "cooldown",
             "source": "contact_policy.cooldowns[0]", "removed": 412}],
        "unassigned": {"total": 21999, "reasons": [
            {"reason": "not eligible for any campaign", "customers": 4100},
            {"reason": "blocked by the contact policy", "customers": 532},
            {"reason": "no campaign worth its cost", "customers": 14282},
            {"reason": "left out by the limits", "customers": 3085}]},
    }


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    """A run folder holding ``summary`` (and its manifest), as the report reads it."""
    summary = {"run_id": "r1", **summary}
    write_run(folder, summary["run_id"], {"summary.json": lambda temp: temp.write_text(json.dumps(summary))})
    return folder


def write_sweep(folder: Path, with_png: bool = True, scenario: str | None = None) -> bytes | None:
    """A budget sweep of three points (one stopped at the time limit) and, optionally, its frontier.png
    (of ``scenario``, when named)."""
    folder.mkdir(parents=True, exist_ok=True)
    points = [{"value": 6000, "status": "optimal", "objective": 30120.5, "gap": 0.0},
              {"value": 9000, "status": "optimal", "objective": 34139.48, "gap": 3.6e-7},
              {"value": 12000, "status": "feasible", "objective": 36002.0, "gap": 0.0123}]
    named = {} if scenario is None else {"scenario": scenario}
    (folder / "sweep.json").write_text(json.dumps({"limit": "budget", "points": points, "extra": "ignored",
                                                   **named}))
    if not with_png:
        return None
    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([6000, 9000, 12000], [30120.5, 34139.48, 36002.0])
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    (folder / "frontier.png").write_bytes(buffer.getvalue())
    return buffer.getvalue()


class PageParser(HTMLParser):
    """The parts of a page the tests look at: tags, img sources, campaign rows, links and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.campaign_rows: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if tag == "tr" and attributes.get("class") == "campaign":
            self.campaign_rows.append(attributes.get("data-campaign") or "")
        for name in ("href", "src"):
            if (attributes.get(name) or "").startswith(("http:", "https:", "//", "file:")):
                self.external.append(attributes[name])


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


def text_of(page: str) -> str:
    """The page's text as a reader sees it: inline tags dropped, other tags a space, entities decoded."""
    inline_dropped = re.sub(r"</?(span|strong|code|em)\b[^>]*>", "", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline_dropped)).split())


# Content and formatting

def test_report_of_a_real_solve_names_every_campaign_and_constraint(solved, tmp_path):
    out = write_summary(tmp_path / "out", solved)
    path = write_report(out)
    assert path == out / REPORT_FILE
    page = path.read_text(encoding="utf-8")
    for campaign in solved["campaigns"]:
        assert f"<td>{campaign['id']}</td>" in page
    for constraint in solved["constraints"]:
        assert constraint["name"] in page
    for kpi in solved["kpis"]:
        assert kpi["name"] in page
    assert parse(page).campaign_rows == [c["id"] for c in solved["campaigns"]]
    assert "Proven optimal" in page
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary file left behind


def test_numbers_are_formatted_for_people(tmp_path):
    page = text_of(write_report(write_summary(tmp_path, full_summary())).read_text(encoding="utf-8"))
    for figure in ("30,000", "7,390", "7,790.29", "9,000.00", "33,180.98", "20,857", "13,976.65", "164,423.63",
                   "12,462.00", "1.67", "14 days", "38%", "9,143", "14,282", "48%"):  # 38%: 7,538 of 20,000 email
        assert figure in page, figure
    assert "Proven optimal within 0.00004%" in page
    assert "one more unit of budget is worth about 1.67" in page
    assert "≤ 9,000.00" in page and "≥ 200.00" in page
    assert "not computed" in page  # a missing shadow price
    assert "34139.4753" not in page and "7790.289" not in page


def test_how_good_the_plan_is_is_stated_in_words():
    assert verdict({"status": "optimal", "termination": "optimal", "gap": 0.0}) == "proven optimal"
    assert verdict({"status": "feasible", "termination": "time_limit", "gap": 0.0123}) == (
        "stopped at the time limit, at most 1.3% below the best possible")
    assert verdict({"status": "feasible", "termination": "stalled", "gap": 2.4e-6}) == (
        "stopped before the time limit (the search found nothing better), at most 0.0003% below the best possible")
    assert verdict({"status": "none", "termination": "infeasible", "gap": None}) == (
        "no plan: the solver stopped (infeasible)")


def test_names_are_escaped():
    summary = full_summary()
    summary["scenario"] = "<script>alert('x')</script>"
    summary["campaigns"][0]["id"] = "a&b<i>"
    summary["eligibility"][0]["rule"] = "eligible: segment != '<New>'"
    page = render_report(summary)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "a&amp;b&lt;i&gt;" in page
    assert "&lt;New&gt;" in page


def test_an_old_summary_shows_not_recorded(solved, tmp_path):
    page = text_of(write_report(write_summary(tmp_path, old_summary(solved))).read_text(encoding="utf-8"))
    assert "run date not recorded" in page
    assert "Per-rule impact: not recorded" in page
    assert "Why: not recorded" in page
    assert page.count("not recorded") >= 2 + 2 * len(solved["campaigns"])  # cost per contact, window per campaign
    unassigned = solved["customers"] - solved["treatment"] - solved["control"]
    assert f"{unassigned:,} customers get no campaign" in page


def test_the_new_keys_are_shown(tmp_path):
    summary = full_summary()
    raw = write_report(write_summary(tmp_path, summary)).read_text(encoding="utf-8")
    page = text_of(raw)
    assert "run date 2026-11-23" in page
    for rule in summary["eligibility"]:
        assert rule["source"] in page
    assert "cool-down 28 days after winback_coupon" in page and "eligibility rule" in page
    for reason in summary["unassigned"]["reasons"]:
        assert reason["reason"] in page
    assert "21,999 customers get no campaign" in page
    assert "not recorded" not in page
    assert len(parse(raw).images) == 2  # channels, reasons


def test_a_time_limited_plan_says_how_far_it_may_be(tmp_path):
    summary = {**full_summary(), "status": "feasible", "termination": "time_limit", "gap": 0.0123}
    page = text_of(render_report(summary))
    assert "Stopped at the time limit, at most 1.3% below the best possible" in page
    assert "no plan can earn more than 34,139.49" in page


def test_a_plan_without_budget_capacity_or_solution_still_renders():
    summary = {**full_summary(), "status": "none", "termination": "infeasible", "objective": None, "bound": None,
               "gap": None, "treatment": 0, "control": 0, "expected_spend": 0.0, "expected_value": 0.0}
    summary["constraints"] = [row for row in summary["constraints"] if row["family"] != "budget"]
    summary["channels"][1]["capacity"] = None
    summary["campaigns"][0].update(treatment=0, control=0, audience=0)
    page = text_of(render_report(summary))
    assert "No plan: the solver stopped (infeasible)" in page
    assert "no total budget set" in page and "no limit" in page
    assert "It is expected to earn" not in page


# Sweeps

def test_without_a_sweep_the_report_says_how_to_make_one(tmp_path):
    page = text_of(write_report(write_summary(tmp_path, full_summary())).read_text(encoding="utf-8"))
    assert SWEEP_HINT in page
    assert 'id="sweep"' not in page


def test_a_sweep_in_the_out_folder_is_shown_with_its_frontier(tmp_path):
    out = write_summary(tmp_path, full_summary())
    png = write_sweep(out)
    raw = write_report(out).read_text(encoding="utf-8")
    page = text_of(raw)
    assert SWEEP_HINT not in page
    assert 'src="data:image/png;base64,' + base64.b64encode(png).decode() + '"' in raw
    for figure in ("6,000.00", "30,120.50", "12,000.00", "36,002.00", "1.3%", "feasible"):
        assert figure in page, figure
    assert len(parse(raw).images) == 3


def test_a_sweep_where_cvo_sweep_writes_it_by_default_is_found(tmp_path):
    """`cvo sweep SCENARIO` writes out/<name>/sweep, beside the plan's out/<name>."""
    out = write_summary(tmp_path, full_summary())
    write_sweep(out / "sweep", with_png=False)
    page = text_of(write_report(out).read_text(encoding="utf-8"))
    assert SWEEP_HINT not in page and "36,002.00" in page


def test_a_sweep_elsewhere_and_one_without_a_plot(tmp_path):
    out = write_summary(tmp_path / "out", full_summary())
    write_sweep(tmp_path / "sweep", with_png=False)
    page = write_report(out, sweep_dir=tmp_path / "sweep").read_text(encoding="utf-8")
    assert 'id="frontier-chart"' not in page  # no frontier.png: the table alone
    assert "36,002.00" in page


def test_a_missing_sweep_is_a_command_line_error_and_a_broken_one_a_data_error(tmp_path):
    out = write_summary(tmp_path / "out", full_summary())
    with pytest.raises(ScenarioError) as error:  # --sweep names it: exit 2
        write_report(out, sweep_dir=tmp_path / "nowhere")
    assert error.value.message == (f"There is no sweep to report ({tmp_path / 'nowhere' / 'sweep.json'}). Run "
                                   f"{SWEEP_HINT.replace('OUT_DIR', str(tmp_path / 'nowhere'))} first, or leave out "
                                   "--sweep.")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "sweep.json").write_text('{"limit": "budget"}')
    with pytest.raises(DataError, match="no list of 'points'"):
        write_report(out, sweep_dir=tmp_path / "bad")


def test_a_sweep_of_another_scenario_is_refused_and_one_of_this_scenario_shown(tmp_path):
    """A sweep left in the folder by an earlier run's scenario, or given with --sweep, would be drawn
    as this plan's frontier."""
    out = write_summary(tmp_path / "out", full_summary())
    this = full_summary()["scenario"]
    write_sweep(out, scenario="tight_budget")
    with pytest.raises(DataError, match=f"The sweep is of scenario 'tight_budget', the plan of '{this}'") as error:
        write_report(out)
    assert "delete" in error.value.message and not (out / "report.html").exists()
    write_sweep(tmp_path / "other", scenario="tight_budget")
    with pytest.raises(DataError, match="Give --sweep a folder where cvo sweep SCENARIO --budget A:B:N wrote"):
        write_report(out, sweep_dir=tmp_path / "other")
    write_sweep(out, scenario=this)
    assert "36,002.00" in write_report(out).read_text(encoding="utf-8")


def test_a_sweep_of_a_scenario_that_extends_the_runs_and_keeps_its_name_is_refused(tmp_path):
    """A child scenario without a name of its own is 'weekly' too: the files tell them apart."""
    summary = {**full_summary(), "scenario_path": "/plans/weekly.yaml"}
    out = write_summary(tmp_path / "out", summary)
    write_sweep(out, scenario=summary["scenario"])
    sweep = json.loads((out / "sweep.json").read_text())
    (out / "sweep.json").write_text(json.dumps({**sweep, "scenario_path": "/plans/child.yaml"}))
    with pytest.raises(DataError, match="The sweep is of scenario file /plans/child.yaml, the plan of /plans/weekly"):
        write_report(out)
    (out / "sweep.json").write_text(json.dumps({**sweep, "scenario_path": "/plans/weekly.yaml"}))
    assert "36,002.00" in write_report(out).read_text(encoding="utf-8")



def test_a_sweep_of_the_same_scenario_with_another_limit_set_is_refused(tmp_path):
    """``cvo sweep weekly.yaml --set campaigns.vip_call.max_audience=250`` beside a plan of weekly.yaml
    as written: same name, same file, another problem; the sweep's own limit may differ, others not."""
    summary = full_summary()
    out = write_summary(tmp_path / "out", summary)
    write_sweep(out, scenario=summary["scenario"])
    sweep = json.loads((out / "sweep.json").read_text())
    limits = {row["name"]: row["rhs"] for row in summary["constraints"]}
    other = next(name for name in limits if name != sweep["limit"])
    changed = {**limits, other: limits[other] / 2, sweep["limit"]: limits[sweep["limit"]] * 3}
    (out / "sweep.json").write_text(json.dumps({**sweep, "limit_values": changed}))
    with pytest.raises(DataError, match=re.escape(f"with other limits than the plan's ({other}: ")):
        write_report(out)
    (out / "sweep.json").write_text(json.dumps({**sweep, "limit_values": {**limits, sweep["limit"]: 1.0}}))
    assert "36,002.00" in write_report(out).read_text(encoding="utf-8")

# Errors and hygiene

def test_a_missing_summary_is_a_run_folder_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError) as error:
        write_report(tmp_path / "empty")
    assert error.value.message.startswith(f"summary.json is missing ({tmp_path / 'empty'}). Give a folder written "
                                          "by `cvo optimize`")
    assert error.value.exit_code == 7
    assert not (tmp_path / "empty" / REPORT_FILE).exists()


def test_a_broken_summary_is_refused(tmp_path):
    write_summary(tmp_path, full_summary())
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="summary.json is not the file run .* wrote"):
        write_report(tmp_path)
    summary = full_summary()
    del summary["campaigns"]
    write_summary(tmp_path, summary)
    with pytest.raises(DataError, match="The plan summary lacks 'campaigns'"):
        write_report(tmp_path)


def test_the_page_is_self_contained(tmp_path):
    out = write_summary(tmp_path, full_summary())
    write_sweep(out)
    page = write_report(out).read_text(encoding="utf-8")
    parsed = parse(page)
    assert parsed.images and all(src.startswith("data:image/png;base64,") for src in parsed.images)
    assert parsed.external == []
    assert not {"script", "link", "iframe", "object"} & set(parsed.tags)
    assert "url(" not in page and "@import" not in page and "@font-face" not in page


def test_charts_leave_matplotlib_alone():
    """Charts are drawn on Figure + FigureCanvasAgg: no pyplot, no global backend, no rc changes."""
    source = Path(report.__file__).read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import matplotlib\.pyplot|from matplotlib import pyplot)", source, re.MULTILINE)
    assert "matplotlib.use(" not in source and "rcParams[" not in source


# In a real browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--force-device-scale-factor=1"]
WINDOW = (1280, 4000)
HIDE_IMAGES = "<style>img { visibility: hidden !important; }</style></head>"


def chromium_or_skip(binary: str = CHROMIUM) -> str:
    """Debian's headless Chromium, or a skip that says how to get it (`make chromium`, as .ci/run does)."""
    if not Path(binary).exists():
        pytest.skip(f"{binary} is absent, so report.html is not rendered in a browser: `make chromium` installs "
                    "it (root or sudo, ~110 MB)")
    return binary


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


def browse(chromium: str, profile: Path, page: Path, *args: str) -> subprocess.Popen:
    """Start Chromium on ``page`` with a fresh profile; stdout is piped."""
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
               *args, page.resolve().as_uri()]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def rendered(chromium, tmp_path_factory) -> dict[str, Any]:
    """The full report's DOM after Chromium loaded it, its screenshot, and one with the images hidden."""
    folder = tmp_path_factory.mktemp("browser")
    out = write_summary(folder / "out", full_summary())
    write_sweep(out)
    page = write_report(out)
    hidden = folder / "hidden.html"
    hidden.write_text(page.read_text(encoding="utf-8").replace("</head>", HIDE_IMAGES, 1), encoding="utf-8")
    shots = {"page": folder / "page.png", "hidden": folder / "hidden.png"}
    runs = {"dom": browse(chromium, folder / "profile-dom", page, "--dump-dom"),
            "page": browse(chromium, folder / "profile-page", page, f"--screenshot={shots['page']}"),
            "hidden": browse(chromium, folder / "profile-hidden", hidden, f"--screenshot={shots['hidden']}")}
    outputs = {name: run.communicate(timeout=120) for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, f"chromium ({name}) failed: {outputs[name][1][-2000:]}"
    return {"dom": outputs["dom"][0], "summary": full_summary(),
            **{name: np.asarray(Image.open(path).convert("RGB")) for name, path in shots.items()}}


def test_browser_dom_has_the_campaign_rows_and_only_data_images(rendered):
    dom = parse(rendered["dom"])
    assert dom.campaign_rows == [c["id"] for c in rendered["summary"]["campaigns"]]
    assert len(dom.images) == 3
    assert all(src.startswith("data:image/png;base64,") for src in dom.images)
    assert dom.external == []


def test_browser_screenshot_is_the_page_not_a_blank(rendered):
    pixels = rendered["page"]
    assert pixels.shape == (WINDOW[1], WINDOW[0], 3)
    ink = (pixels < 235).any(axis=2)
    assert ink.mean() > 0.03, f"only {ink.mean():.1%} of the screenshot is not white"
    colours = np.unique((pixels[::3, ::3].astype(np.int32) // 16) @ np.array([256, 16, 1]))
    assert len(colours) > 50, f"only {len(colours)} distinct colours"


def near(pixels: np.ndarray, colour: str, tolerance: int = 24) -> np.ndarray:
    rgb = np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)])
    return (np.abs(pixels.astype(int) - rgb) <= tolerance).all(axis=-1)


def test_browser_draws_the_charts_where_the_images_are(rendered):
    """The pixels that change when the images are hidden are the charts, in the charts' colours."""
    changed = (rendered["page"] != rendered["hidden"]).any(axis=2)
    assert changed.sum() > 50_000, "the images take up almost no room on the page"
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.min() < WINDOW[1] / 2, "the channel chart is not near the top of the page"
    region = rendered["page"][changed]
    assert near(region, USED_COLOUR).sum() > 2_000, "no bars in the channel colour where the charts are"
    assert near(region, NOTHING_COLOUR).sum() > 2_000, "no bars in the 'got nothing' colour where the charts are"
    assert not near(rendered["hidden"], NOTHING_COLOUR).any(), "the chart colour shows with the images hidden"


# Measurement

def test_a_measured_run_shows_uplift_roi_and_personas(tmp_path):
    out = write_summary(tmp_path, full_summary())
    estimate = {"estimate": 0.0377, "std_error": 0.007, "ci_low": 0.0236, "ci_high": 0.0517, "p_value": 2.1e-7,
                "df": 400.0}
    money_estimate = {"estimate": 5146.0, "std_error": 870.0, "ci_low": 3452.6, "ci_high": 6839.5, "p_value": 1e-6,
                      "df": 400.0}
    campaign = {"campaign_id": "winback_coupon", "n_treatment": 3000, "n_control": 333, "cost": 1938.0,
                "response_uplift": estimate, "incremental_revenue": money_estimate,
                "roi": {**money_estimate, "estimate": 1.655, "ci_low": 0.78, "ci_high": 2.53}}
    measured = {"source": "outcomes.csv", "confidence": 0.95, "campaigns": [campaign],
                "total": {**campaign, "campaign_id": "all campaigns"},
                "personas": [{"campaign_id": "winback_coupon", "group": "segment == 'New'", "direction": "worse",
                              "suggested_rule": "not (segment == 'New')", "p_adjusted": 0.0012}],
                "personas_note": None, "unmeasured": {"vip_call": "no control group (40 treated, 0 control)"}}
    (out / "measurement.json").write_text(json.dumps(measured))
    page = text_of(write_report(out).read_text(encoding="utf-8"))
    for figure in ("+3.77pp [+2.36, +5.17]", "+5,146 [+3,453, +6,840]", "+166% [+78, +253]", "1,938",
                   "not (segment == 'New')", "0.0012", "Not measured: vip_call (no control group (40 treated, 0 "
                   "control))."):
        assert figure in page, figure
    assert "Not measured yet" not in page


def test_an_unmeasured_run_says_how_to_measure_it(tmp_path):
    page = text_of(write_report(write_summary(tmp_path, full_summary())).read_text(encoding="utf-8"))
    assert "Not measured yet" in page and "cvo measure OUT_DIR --outcomes FILE" in page


def test_the_runs_customer_lists_are_shown(tmp_path):
    """A forced list without a campaign key (its rows name theirs) and an excluded list with ids the
    customer table lacked; a summary without lists shows no such section."""
    summary = {**full_summary(), "customer_lists": [
        {"list": "excluded", "file": "/data/do_not_contact.csv", "customers": 1204, "not_in_customers": 17},
        {"list": "forced", "file": "/data/promised.csv", "campaign": None, "customers": 23}]}
    page = text_of(render_report(summary))
    assert "Customer lists of this run" in page
    assert "excluded /data/do_not_contact.csv 1,204 17" in page
    assert "forced /data/promised.csv its campaign_id 23 0" in page
    assert "Customer lists of this run" not in text_of(render_report(full_summary()))


def test_planned_beside_measured_flags_what_lies_outside_the_interval(tmp_path):
    """winback_coupon planned +3.0pp, measured +3.77pp [+2.36, +5.17]: as planned; vip_call planned
    +9.0pp, measured +1.0pp [-1.0, +3.0]: outside. Incremental value: the planned value uplift per
    treated customer times the measured treated customers."""
    summary = full_summary()
    for campaign, uplift, value in zip(summary["campaigns"], (0.03, 0.001, 0.09), (1.5, 0.1, 20.0)):
        campaign.update(planned_response_uplift=uplift, planned_value_uplift=value)
    out = write_summary(tmp_path, summary)

    def estimate(low: float, mid: float, high: float) -> dict:
        return {"estimate": mid, "std_error": 0.01, "ci_low": low, "ci_high": high, "p_value": 0.01, "df": 300.0}

    campaigns = [{"campaign_id": "winback_coupon", "n_treatment": 3000, "n_control": 333, "cost": 1938.0,
                  "response_uplift": estimate(0.0236, 0.0377, 0.0517), "incremental_value": estimate(3000, 5000, 7000),
                  "incremental_revenue": None, "roi": None, "value_roi": None},
                 {"campaign_id": "vip_call", "n_treatment": 300, "n_control": 90, "cost": 1500.0,
                  "response_uplift": estimate(-0.01, 0.01, 0.03), "incremental_value": estimate(-500, 900, 2300),
                  "incremental_revenue": None, "roi": None, "value_roi": None}]
    measured = {"source": "outcomes.csv", "confidence": 0.95, "has_value": True, "campaigns": campaigns,
                "total": {**campaigns[0], "campaign_id": "all campaigns"}, "personas": [], "personas_note": None}
    (out / "measurement.json").write_text(json.dumps(measured))
    page = text_of(write_report(out).read_text(encoding="utf-8"))
    assert "winback_coupon +3.00pp +3.77pp [+2.36, +5.17] 4,500.00 +5,000 [+3,000, +7,000] as planned" in page
    assert "vip_call +9.00pp +1.00pp [-1.00, +3.00] 6,000.00 +900 [-500, +2,300] outside the measured interval" in page
    old = write_summary(tmp_path / "old", full_summary())
    (old / "measurement.json").write_text(json.dumps(measured))
    assert "Planned uplift" not in text_of(write_report(old).read_text(encoding="utf-8"))


def test_a_segment_migration_written_beside_the_plan_is_shown(tmp_path):
    out = write_summary(tmp_path, full_summary())
    migration = {"start": "1997-09-30", "end": "1998-06-30", "from": ["Champions", "Lost"], "to": ["Champions", "Lost"],
                 "counts": [[30, 10], [0, 60]], "shares": [[0.75, 0.25], [0.0, 1.0]]}
    (out / "migration.json").write_text(json.dumps(migration))
    page = text_of(write_report(out).read_text(encoding="utf-8"))
    assert "How customers moved between segments" in page
    assert "Champions 40 75% 25%" in page and "Lost 60 · 100%" in page
    assert "How customers moved" not in text_of(render_report(full_summary()))


def test_the_top_says_what_one_more_unit_of_each_binding_limit_buys_and_campaigns_carry_descriptions(tmp_path):
    summary = full_summary()
    priced = [row for row in summary["constraints"] if row.get("binding") and row.get("shadow_price")]
    summary["campaigns"][0]["description"] = "12-off coupon for lapsed customers"
    page = text_of(render_report(summary))
    assert "What the limits cost: one more unit of" in page
    for row in priced[:4]:
        assert f"{row['name']} would {'add' if row['shadow_price'] > 0 else 'take'} {abs(row['shadow_price']):,.2f}" in page
    assert "winback_coupon12-off coupon for lapsed customers email" in page  # the description under the id


def test_the_sweep_table_shows_spend_the_value_of_one_more_unit_and_audiences(tmp_path):
    out = write_summary(tmp_path, full_summary())
    points = [{"value": 6000, "status": "optimal", "objective": 27955.0, "gap": 0.0, "expected_spend": 5274.1,
               "marginal_value": None, "treatment": 6072, "audiences": {"winback_coupon": 1572, "vip_call": 333}},
              {"value": 9000, "status": "optimal", "objective": 34139.48, "gap": 0.0, "expected_spend": 7954.61,
               "marginal_value": 2.06, "treatment": 9444, "audiences": {"winback_coupon": 2808, "vip_call": 463}}]
    (out / "sweep.json").write_text(json.dumps({"limit": "budget", "points": points}))
    page = text_of(write_report(out).read_text(encoding="utf-8"))
    assert "One more unit Treated, all campaigns winback_coupon audience vip_call audience" in page
    assert "6,000.00 optimal 27,955.00 0% 5,274.10 — 6,072 1,572 333" in page
    assert "9,000.00 optimal 34,139.48 0% 7,954.61 2.06 9,444 2,808 463" in page


def test_a_sweep_point_without_a_plan_says_why(tmp_path):
    """'none' and 'no plan' said neither whether no plan exists or none was found in time."""
    out = write_summary(tmp_path, full_summary())
    points = [{"value": 0, "status": "none", "termination": "infeasible", "objective": None},
              {"value": 3000, "status": "none", "termination": "time_limit", "objective": None}]
    (out / "sweep.json").write_text(json.dumps({"limit": "budget", "points": points}))
    page = text_of(write_report(out).read_text(encoding="utf-8"))
    assert "0.00 no plan: infeasible no plan" in page and "3,000.00 no plan: time limit no plan" in page


def test_the_plan_by_each_breakdown_is_a_table():
    summary = {**full_summary(), "breakdown": [{"by": "segment", "levels": [
        {"level": "VIP", "customers": 1272, "treatment": 989, "control": 103, "expected_spend": 2437.61,
         "expected_value": 14055.53, "campaigns": {"winback_coupon": 0, "vip_call": 253}}]}]}
    page = text_of(render_report(summary))
    assert "The plan by segment" in page and "VIP 1,272 989 103 2,437.61 14,055.53 0 253" in page
    assert "The plan by" not in text_of(render_report(full_summary()))
