"""optimizer/scenario/formulation.py: the parts of a scenario that do not depend on each other are
each checked, and every problem is raised in one error, each named once at its own key; a check
that needs a broken part is said to be skipped, never failed with an error of its own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from optimizer.errors import CvoError, InfeasibleError, InfeasibleProblems, Problems
from optimizer.scenario import pairs
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import LIMITS_UNCHECKED, formulate
from optimizer.scenario.schema import load_scenario


def campaign(name: str, **keys) -> dict:
    return {"id": name, "channel": "email", "p_treat": 0.2, "p_control": 0.1, "value_per_response": "ltv * 0.1",
            **keys}


def scenario_file(folder: Path, campaigns: list[dict], **keys) -> Path:
    """Six customers c1..c6 (ltv 10..60, segment A or B, c6 not opted in) and ``campaigns``."""
    pd.DataFrame({"customer_id": [f"c{k}" for k in range(1, 7)], "ltv": [10.0 * k for k in range(1, 7)],
                  "segment": list("ABABAB"), "opt_in": [True] * 5 + [False]}).to_csv(folder / "customers.csv",
                                                                                     index=False)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "parts", "customers": "customers.csv", "campaigns": campaigns, **keys},
                                   sort_keys=False), encoding="utf-8")
    return path


def problems_of(path: Path) -> CvoError:
    with pytest.raises(CvoError) as caught:
        formulate(load_data(load_scenario(path)))
    return caught.value


def test_independent_mistakes_of_three_campaigns_are_listed_together_each_at_its_key(tmp_path: Path) -> None:
    """A misspelt column, a value that adds text to a number and a minimum audience above the five
    opted-in customers: one run names all three (it named the first only)."""
    path = scenario_file(tmp_path, [campaign("mail", eligible="opt_inn"),
                                    campaign("call", value_per_response="ltv + segment"),
                                    campaign("text", eligible="opt_in", min_audience=6)])
    error = problems_of(path)
    assert isinstance(error, Problems) and error.exit_code == 2  # a problem of the file's keys before a conflict
    assert [problem.where for problem in error.errors] == [
        f"{path}, campaigns[0].eligible", f"{path}, campaigns[1].value_per_response", f"{path}, campaigns[2]"]
    assert "unknown column 'opt_inn'" in error.errors[0].message and "Did you mean 'opt_in'?" in error.errors[0].message
    assert "'segment', which holds text" in error.errors[1].message
    assert "The 'min_audience' of campaign 'text' (6) exceeds its 5 eligible customers" in error.errors[2].message
    assert error.message.startswith(f"The scenario {path} has 3 problems:\n  - ")
    assert error.__notes__ == [LIMITS_UNCHECKED]


def test_a_campaign_that_cannot_be_evaluated_gets_no_minimum_audience_error_of_its_own(tmp_path: Path) -> None:
    """Its eligible customers are unknown, not none: only its expression is named."""
    path = scenario_file(tmp_path, [campaign("mail", p_treat="ltv / 0", min_audience=3), campaign("call")])
    error = problems_of(path)
    assert not isinstance(error, Problems) and error.where == f"{path}, campaigns[0].p_treat"
    assert error.__notes__ == [LIMITS_UNCHECKED]


def test_a_campaign_expression_its_variants_share_is_named_once_and_constraints_and_kpis_apart(
        tmp_path: Path) -> None:
    variants = [{"id": "low"}, {"id": "high", "cost_per_response": 2}]
    path = scenario_file(tmp_path, [campaign("mail", value_per_response="ltv * segment", variants=variants),
                                    campaign("call")],
                         constraints=[{"name": "few_b", "sense": "<=", "expression": 1, "where": "segmnt == 'B'",
                                       "rhs": 2}],
                         kpis=[{"name": "reach", "expression": "1 + segment"}])
    error = problems_of(path)
    assert isinstance(error, Problems)
    assert [problem.where for problem in error.errors] == [
        f"{path}, campaigns[0].value_per_response", f"{path}, constraints[0].where", f"{path}, kpis[0].expression"]


def test_minimum_audiences_of_several_campaigns_are_one_infeasible_error(tmp_path: Path) -> None:
    """Limits that conflict, and nothing else, stay an InfeasibleError (exit 4): cvo compare records
    such a scenario as infeasible rather than stopping."""
    path = scenario_file(tmp_path, [campaign("mail", eligible="segment == 'A'", min_audience=4),
                                    campaign("call", eligible="segment == 'B'", min_audience=4)])
    error = problems_of(path)
    assert isinstance(error, InfeasibleProblems) and isinstance(error, InfeasibleError) and error.exit_code == 4
    assert [problem.where for problem in error.errors] == [f"{path}, campaigns[0]", f"{path}, campaigns[1]"]


def test_customer_columns_no_expression_reads_are_never_converted(tmp_path: Path, monkeypatch) -> None:
    """A wide customers table (text dates, notes) costs nothing for the columns the scenario does not name."""
    path = scenario_file(tmp_path, [campaign("a", eligible="opt_in"), campaign("b")])
    customers = pd.read_csv(tmp_path / "customers.csv").assign(signed_up=["2026-10-01"] * 6, notes="n/a")
    customers.to_csv(tmp_path / "customers.csv", index=False)
    converted: list[str] = []
    column = pairs._column
    monkeypatch.setattr(pairs, "_column", lambda values: converted.append(str(values.name)) or column(values))
    formulation = formulate(load_data(load_scenario(path)))
    assert formulation.problem.n_customers == 6
    assert sorted(set(converted)) == ["ltv", "opt_in"]


def test_a_ratio_row_counts_each_customer_at_its_treated_share(tmp_path: Path) -> None:
    """An ROI hurdle of 6 counted the controls' value at full weight: met by the plan, which was
    reported at an ROI of 5.85. Σ s (e - r p) with s = 1 - f, as the objective and the ROI are."""
    import numpy as np

    hurdle = {"name": "roi", "sense": ">=", "expression": "uplift * value_per_response", "per": "spend", "rhs": 6.0}
    path = scenario_file(tmp_path, [campaign("a", cost_per_contact=0.5, control_fraction=0.2),
                                    campaign("b", cost_per_contact=1.0, control_fraction=0.0)],
                         constraints=[hurdle, {**hurdle, "name": "uplift", "per": None, "rhs": 1.0}])
    formulation = formulate(load_data(load_scenario(path)))
    problem = formulation.problem
    value = 0.1 * np.arange(1, 7)[:, None] * 10.0 * np.array([[0.1, 0.1]])  # uplift 0.1 × ltv × 0.1
    share = np.array([0.8, 1.0])
    ratio, plain = (problem.coefficients(row) for row in problem.rows if row.name in ("roi", "uplift"))
    eligible = problem.eligible
    assert np.allclose(ratio[eligible], (share * (value - 6.0 * np.array([0.5, 1.0])))[eligible])
    assert np.allclose(plain[eligible], value[eligible])  # a row without per counts the controls too
    full = problem.weights["custom:roi:full"]  # what the treated sum to after the draw (lhs_treated)
    assert np.allclose(full[eligible], (value - 6.0 * np.array([0.5, 1.0]))[eligible])
    assert np.allclose(formulation.ratios["roi"][1][eligible], np.broadcast_to(share * [0.5, 1.0], (6, 2))[eligible])
