"""``cvo measure``'s text: the response table, the value table (responses at the plan's value per
response, the basis it optimised) and the revenue table, one row per campaign and a total row."""

from __future__ import annotations

from optimizer.loop.lift import CampaignMeasurement, Estimate, Measurement
from optimizer.reporting.text import text_table


def format_measurement(m: Measurement) -> str:
    """Two plain-text tables (response; revenue, cost and ROI), one row per campaign and a total row."""
    level = f"{m.confidence:.0%}"
    rows = [*m.campaigns, m.total]
    response = text_table(["campaign", "channel", "treated", "control", "missing", "resp. treated", "resp. control",
                       f"uplift pp [{level} CI]", "p"], [_response_cells(c) for c in rows], left={0, 1})
    lines = [f"Measured on {m.source} ({level} confidence; responders from {m.responders_from})", "", response]
    if m.has_value:
        lines += ["", "Value: responses valued at the plan's value_per_response (the basis the plan optimised); "
                  "ROI = (incremental value - cost) / cost",
                  text_table(["campaign", "value/cust treated", "value/cust control", f"incremental/cust [{level} CI]",
                              "p", "incremental value", "cost", f"ROI [{level} CI]"],
                             [_money_cells(c, "value") for c in rows])]
    if m.has_revenue:
        label = "ROI on revenue" if m.has_value else "ROI"
        lines += ["", *(["Revenue, beside it: ROI = (incremental revenue - cost) / cost"] if m.has_value else []),
                  text_table(["campaign", "rev/cust treated", "rev/cust control", f"incremental/cust [{level} CI]",
                              "p", "incremental revenue", "cost", f"{label} [{level} CI]"],
                             [_money_cells(c, "revenue") for c in rows])]
    notes = [f"{c.campaign_id}: {c.missing_outcomes:,} customer(s) without outcomes, counted as 0"
             for c in m.campaigns if c.missing_outcomes]
    notes += [f"Not measured: {campaign}: {why}" for campaign, why in m.unmeasured.items()]
    if m.outcomes_not_in_plan:
        notes.append(f"{m.outcomes_not_in_plan:,} outcome row(s) name customers the plan did not contact (ignored)")
    return "\n".join([*lines, *([""] + notes if notes else [])])


def _response_cells(c: CampaignMeasurement) -> list[str]:
    uplift = c.response_uplift.affine(100.0)
    return [c.campaign_id, c.channel or "", f"{c.n_treatment:,}", f"{c.n_control:,}", f"{c.missing_outcomes:,}",
            f"{c.response_rate_treatment:.2%}", f"{c.response_rate_control:.2%}", _interval(uplift, "{:+.2f}"),
            _p(uplift)]


def _money_cells(c: CampaignMeasurement, outcome: str) -> list[str]:
    """One row of the value or the revenue table (``outcome``: 'value' or 'revenue')."""
    roi = c.value_roi if outcome == "value" else c.roi
    per_customer = getattr(c, f"incremental_{outcome}_per_customer")
    return [c.campaign_id, f"{getattr(c, f'{outcome}_per_customer_treatment'):,.2f}",
            f"{getattr(c, f'{outcome}_per_customer_control'):,.2f}", _interval(per_customer, "{:+,.2f}"),
            _p(per_customer), _interval(getattr(c, f"incremental_{outcome}"), "{:+,.0f}"), f"{c.cost:,.0f}",
            _interval(roi.affine(100.0), "{:+.0f}%") if roi else "— (no cost)"]


def _interval(e: Estimate | None, number: str) -> str:
    if e is None or e.ci_low is None or e.ci_high is None:
        return "—" if e is None else number.format(e.estimate)
    return f"{number.format(e.estimate)} [{number.format(e.ci_low)}, {number.format(e.ci_high)}]"


def _p(e: Estimate | None) -> str:
    p = None if e is None else e.p_value
    return "—" if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"

