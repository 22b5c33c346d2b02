"""One broken input per failure mode, run through ``cvo optimize`` in-process.

Every case starts from the same small valid scenario (40 customers × 2 campaigns, written to
``tmp_path``), breaks exactly one thing, and checks the exit code, the key parts of the
one-paragraph message (what is wrong, where, what was expected, how to fix it) and that the
output folder is left exactly as it was: a plan from an earlier run stays byte-identical and
no other file appears.

Exit codes: ScenarioError 2, DataError 3, InfeasibleError 4, SolverError 5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.store.files import RUN_ID_KEY

SCENARIO, DATA, INFEASIBLE = 2, 3, 4
N_CUSTOMERS = 40
PREVIOUS_PLAN = "plan.parquet"


def base_customers() -> pd.DataFrame:
    """40 customers c01..c40; email_opt_in is false for every fifth, so 32 may get the email."""
    i = np.arange(N_CUSTOMERS)
    return pd.DataFrame({
        "customer_id": [f"c{k:02d}" for k in i + 1],
        "ltv": 100.0 + 10.0 * i,
        "segment": np.where(i % 4 == 0, "VIP", "Loyal"),
        "email_opt_in": i % 5 != 0,
        "days_since_last_purchase": 5 * i,
    })


def base_scores() -> pd.DataFrame:
    """One row per (customer, campaign), customer-major: row 2k+1 is email_offer, 2k+2 sms_offer."""
    rows = []
    for k, customer in enumerate(base_customers()["customer_id"]):
        rows.append((customer, "email_offer", 0.10 + 0.005 * k, 0.05))
        rows.append((customer, "sms_offer", 0.08 + 0.002 * k, 0.04))
    return pd.DataFrame(rows, columns=["customer_id", "campaign_id", "p_treat", "p_control"])


def base_scenario() -> dict:
    return {
        "name": "tiny",
        "customers": "customers.csv",
        "scores": "scores.parquet",
        "budget": 100.0,
        "objective": "incremental_value",
        "campaigns": [
            {"id": "email_offer", "channel": "email", "cost_per_contact": 0.5, "value_per_response": "ltv * 0.5",
             "eligible": "email_opt_in", "min_audience": 5, "max_audience": 30},
            {"id": "sms_offer", "channel": "sms", "cost_per_contact": 1.0, "value_per_response": "ltv * 0.3",
             "eligible": "days_since_last_purchase > 20"},
        ],
        "channels": {"email": {"capacity": 30}, "sms": {"capacity": 20}},
        "constraints": [{"name": "vip_cap", "sense": "<=", "expression": 1, "where": "segment == 'VIP'", "rhs": 8}],
        "kpis": [{"name": "contacts", "expression": 1}],
        "solver": {"time_limit_s": 20},
    }


class Case:
    """The valid base on disk, a previous plan in ``out``, and helpers to break one thing."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "scenario.yaml"
        self.out = folder / "out"
        self.scenario = base_scenario()
        base_customers().to_csv(folder / "customers.csv", index=False)
        base_scores().to_parquet(folder / "scores.parquet", index=False)
        self.out.mkdir()
        previous = pa.table({"customer_id": ["old"], "campaign_id": ["old"]})  # an earlier run's plan, its id inside
        pq.write_table(previous.replace_schema_metadata({RUN_ID_KEY: b"earlier"}), self.out / PREVIOUS_PLAN)
        self.previous_plan = (self.out / PREVIOUS_PLAN).read_bytes()

    def campaign(self, index: int) -> dict:
        return self.scenario["campaigns"][index]

    def customers(self) -> pd.DataFrame:
        return pd.read_csv(self.folder / "customers.csv", dtype={"customer_id": object})

    def write_customers(self, table: pd.DataFrame) -> None:
        table.to_csv(self.folder / "customers.csv", index=False)

    def write_scores(self, table: pd.DataFrame) -> None:
        table.to_parquet(self.folder / "scores.parquet", index=False)

    def yaml_text(self) -> str:
        return yaml.safe_dump(self.scenario, sort_keys=False)

    def run(self, command: str = "optimize", *, text: str | None = None, path: Path | None = None):
        """Write the scenario (or ``text``) and run the command; ``path`` runs another file."""
        self.path.write_text(self.yaml_text() if text is None else text)
        args = [command, str(path or self.path)] + (["--out", str(self.out)] if command == "optimize" else [])
        return CliRunner().invoke(app, args)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path)


def flat(text: str) -> str:
    """The output on one line, so a wrapped message still matches."""
    return " ".join(text.split())


def expect_failure(case: Case, result, exit_code: int, *parts: str) -> str:
    """The run failed cleanly with ``exit_code``, said every part, and left ``out`` untouched."""
    output = flat(result.output)
    assert isinstance(result.exception, SystemExit), f"crashed instead of a message: {result.exception!r}"
    assert result.exit_code == exit_code, output
    assert output.startswith("error: "), output
    for part in parts:
        assert flat(part) in output, f"{part!r} not in: {output}"
    assert sorted(p.name for p in case.out.iterdir()) == [PREVIOUS_PLAN]
    assert (case.out / PREVIOUS_PLAN).read_bytes() == case.previous_plan
    return output


def test_the_base_scenario_is_valid(case):
    """The cases below fail because of the one thing they break, not because of the base."""
    result = case.run()
    assert result.exit_code == 0, result.output
    assert (case.out / "summary.json").is_file()


# --- the scenario file ---------------------------------------------------------------------------


def test_scenario_file_missing(case):
    missing = case.folder / "scenarios" / "weekly.yaml"
    result = case.run(path=missing)
    expect_failure(case, result, SCENARIO, f"The scenario file {missing} does not exist",
                   f"looked in {missing.parent}", "Check the path")


def test_invalid_yaml_names_the_line(case):
    lines = case.yaml_text().splitlines()
    broken = lines.index("  channel: email")
    lines[broken] = " channel: email"  # one space short of the item's other keys
    result = case.run(text="\n".join(lines) + "\n")
    expect_failure(case, result, SCENARIO, "The scenario file is not valid YAML",
                   f"{case.path}, line {broken + 1}", "Fix the YAML syntax there")


def test_unknown_top_level_key_suggests_the_right_one(case):
    case.scenario["budgett"] = case.scenario.pop("budget")
    expect_failure(case, case.run(), SCENARIO, "has 1 problem", "Unknown key 'budgett'",
                   f"({case.path}, budgett)", "Did you mean 'budget'?", "Allowed keys here: name,")


def test_unknown_campaign_key_suggests_the_right_one(case):
    case.campaign(0)["min_audiance"] = case.campaign(0).pop("min_audience")
    expect_failure(case, case.run(), SCENARIO, "Unknown key 'min_audiance'",
                   f"({case.path}, campaigns[0].min_audiance)", "Did you mean 'min_audience'?")


def test_unknown_channel_key(case):
    case.scenario["channels"]["email"] = {"capacty": 30}
    expect_failure(case, case.run(), SCENARIO, "Unknown key 'capacty'",
                   f"({case.path}, channels.email.capacty)", "Did you mean 'capacity'?",
                   "Allowed keys here: capacity")


def test_wrong_value_type(case):
    case.campaign(0)["cost_per_contact"] = "cheap"
    expect_failure(case, case.run(), SCENARIO, "(given: 'cheap')", "valid number",
                   f"({case.path}, campaigns[0].cost_per_contact)", "Use a value of the expected type")


def test_negative_budget(case):
    case.scenario["budget"] = -5
    expect_failure(case, case.run(), SCENARIO, "(given: -5)", "greater than or equal to 0",
                   f"({case.path}, budget)", "Use a value in the allowed range")


def test_objective_not_allowed(case):
    case.scenario["objective"] = "profit"
    expect_failure(case, case.run(), SCENARIO, "(given: 'profit')",
                   "'incremental_value', 'expected_revenue' or 'responses'",
                   f"({case.path}, objective)", "or write your own as objective: {expression: ")


def test_min_audience_above_max_audience(case):
    case.campaign(0).update(min_audience=40, max_audience=30)
    expect_failure(case, case.run(), SCENARIO, "min_audience (40) is above max_audience (30)",
                   f"({case.path}, campaigns[0])", "lower min_audience or raise max_audience")


def test_duplicate_campaign_id(case):
    case.campaign(1)["id"] = "email_offer"
    expect_failure(case, case.run(), SCENARIO, "The campaign id 'email_offer' is given twice, at campaigns[0] and "
                   f"campaigns[1] ({case.path}, campaigns[1].id)", "Give every campaign its own id")


def test_campaign_uses_an_undeclared_channel(case):
    case.campaign(1)["channel"] = "push"
    expect_failure(case, case.run(), SCENARIO, "Campaign 'sms_offer' uses channel 'push', which is not under 'channels'",
                   f"({case.path}, campaigns[1].channel)", "Known channels: email, sms")


def test_constraint_names_an_unknown_campaign(case):
    case.scenario["constraints"][0]["campaigns"] = ["email_ofer"]
    expect_failure(case, case.run(), SCENARIO, "'email_ofer' is not a campaign of this scenario",
                   f"({case.path}, constraints[0].campaigns)", "Did you mean 'email_offer'?",
                   "Campaigns: email_offer, sms_offer")


def test_validate_lists_every_problem_at_once(case):
    case.scenario["budgett"] = case.scenario.pop("budget")
    case.scenario["objective"] = "profit"
    case.campaign(1)["max_audiance"] = 10
    output = expect_failure(case, case.run("validate"), SCENARIO, "has 3 problems",
                            f"({case.path}, budgett)", "Did you mean 'budget'?",
                            f"({case.path}, objective)", "(given: 'profit')",
                            f"({case.path}, campaigns[1].max_audiance)", "Did you mean 'max_audience'?")
    assert output.count(f" ({case.path}, ") == 3


@pytest.mark.parametrize("command", ["validate", "optimize"])
def test_independent_mistakes_of_the_data_are_listed_at_once_each_where_it_is(case, command):
    """A misspelt column, text added to a number, a minimum audience above the 40 customers and a
    constraint over a misspelt column: validate named the first only, and optimize too (it runs the
    same checks). Conflicts between limits wait for them, and it is said."""
    case.campaign(0)["eligible"] = "email_optin"
    case.campaign(1)["value_per_response"] = "ltv * segment"
    case.scenario["campaigns"].append({"id": "post_offer", "channel": "email", "p_treat": 0.2, "p_control": 0.1,
                                       "value_per_response": 5, "min_audience": 41})
    case.scenario["constraints"][0]["where"] = "segmnt == 'VIP'"
    output = expect_failure(case, case.run(command), SCENARIO, f"The scenario {case.path} has 4 problems:",
                            "unknown column 'email_optin'", "Did you mean 'email_opt_in'?",
                            "'segment', which holds text", "unknown column 'segmnt'",
                            "The 'min_audience' of campaign 'post_offer' (41) exceeds its 40 eligible customers",
                            "Not checked until the above is fixed: whether the minimum audiences fit the budgets")
    for location in ("campaigns[0].eligible", "campaigns[1].value_per_response", "constraints[0].where",
                     "campaigns[2])"):
        assert output.count(f"({case.path}, {location}") == 1, location
    assert output.count(f" ({case.path}, ") == 4


# --- the customer table --------------------------------------------------------------------------


def test_customers_file_missing(case):
    case.scenario["customers"] = "data/customers.csv"
    expect_failure(case, case.run(), DATA, f"The customers file {case.folder / 'data' / 'customers.csv'} does not exist",
                   "relative to the scenario file")


def test_unsupported_customers_suffix(case):
    (case.folder / "customers.xlsx").write_bytes((case.folder / "customers.csv").read_bytes())
    case.scenario["customers"] = "customers.xlsx"
    expect_failure(case, case.run(), DATA, f"{case.folder / 'customers.xlsx'}", "suffix '.xlsx'",
                   "Use a .parquet or .csv file")


def test_customer_id_column_missing_suggests_the_near_name(case):
    case.write_customers(case.customers().rename(columns={"customer_id": "customerid"}))
    expect_failure(case, case.run(), DATA, "The customers table has no column 'customer_id'",
                   str(case.folder / "customers.csv"), "Did you mean 'customerid'?",
                   "set 'customer_id' in the scenario")


def test_duplicate_customer_id_names_the_line(case):
    table = case.customers()
    table.loc[7, "customer_id"] = "c03"  # CSV line 9 repeats line 4
    case.write_customers(table)
    expect_failure(case, case.run(), DATA, "The customer id 'c03' appears more than once",
                   f"{case.folder / 'customers.csv'}, line 9", "Keep one row per customer")


def test_missing_customer_id_names_the_line(case):
    table = case.customers()
    table.loc[4, "customer_id"] = None  # CSV line 6
    case.write_customers(table)
    expect_failure(case, case.run(), DATA, "1 row(s) with no 'customer_id'",
                   f"{case.folder / 'customers.csv'}, line 6", "Give every customer an id")


def test_customer_column_with_a_reserved_name(case):
    case.write_customers(case.customers().assign(spend=1.0))
    expect_failure(case, case.run(), DATA, "spend", "reserved for (customer, campaign) values",
                   str(case.folder / "customers.csv"), "Rename those columns")


# --- the score table -----------------------------------------------------------------------------


def test_scores_missing_a_column(case):
    """The hint must list the columns a score table needs, not the scenario's 'customer_id' key."""
    case.write_scores(base_scores().drop(columns="p_control"))
    output = expect_failure(case, case.run(), DATA, "The scores table has no column 'p_control'",
                            str(case.folder / "scores.parquet"), "customer_id, campaign_id, p_treat, p_control")
    assert "set 'customer_id' in the scenario" not in output


def test_nan_p_treat_names_the_row(case):
    table = base_scores()
    table.loc[5, "p_treat"] = np.nan  # parquet row 6: c03, sms_offer
    case.write_scores(table)
    output = expect_failure(case, case.run(), DATA, "'p_treat' must be a probability in [0, 1]",
                            "customer 'c03', campaign 'sms_offer'", f"{case.folder / 'scores.parquet'}, row 6",
                            "Fix or drop those rows")
    assert "np.float64" not in output  # numpy's repr is not for users: say 'nan' / 'missing'


def test_p_control_out_of_range_names_the_row(case):
    table = base_scores()
    table.loc[9, "p_control"] = 1.5  # parquet row 10: c05, sms_offer
    case.write_scores(table)
    output = expect_failure(case, case.run(), DATA, "'p_control' must be a probability in [0, 1] but is 1.5",
                            "customer 'c05', campaign 'sms_offer'", f"{case.folder / 'scores.parquet'}, row 10")
    assert "np.float64" not in output


def test_scores_name_an_unknown_customer(case):
    table = base_scores()
    table.loc[11, "customer_id"] = "zz99"  # parquet row 12
    case.write_scores(table)
    expect_failure(case, case.run(), DATA, "The scores name customer 'zz99', who is not in the customers table",
                   f"{case.folder / 'scores.parquet'}, row 12", "Score the same customers as the customers table")


def test_duplicate_score_rows(case):
    table = base_scores()
    case.write_scores(pd.concat([table, table.iloc[[3]]], ignore_index=True))  # row 81 repeats row 4
    expect_failure(case, case.run(), DATA,
                   "The scores hold more than one row for customer 'c02' and campaign 'sms_offer'",
                   f"{case.folder / 'scores.parquet'}, row 81", "Keep one score row per (customer, campaign)")


# --- expressions ---------------------------------------------------------------------------------


def test_expression_names_an_unknown_column(case):
    case.campaign(0)["value_per_response"] = "ltvv * 0.5"
    expect_failure(case, case.run(), SCENARIO, "The expression 'ltvv * 0.5' names an unknown column 'ltvv'",
                   f"({case.path}, campaigns[0].value_per_response)", "Did you mean 'ltv'?", "Available columns:")


def test_expression_syntax_error(case):
    case.campaign(0)["value_per_response"] = "ltv * (0.5"
    expect_failure(case, case.run(), SCENARIO, "The expression 'ltv * (0.5'", "is not valid", "never closed",
                   f"({case.path}, campaigns[0].value_per_response)", "Write arithmetic")


def test_unsafe_expression_is_refused(case):
    case.campaign(0)["value_per_response"] = "__import__('os')"
    expect_failure(case, case.run(), SCENARIO, "uses '__import__(...)', which is not allowed",
                   f"({case.path}, campaigns[0].value_per_response)", "Allowed functions: abs, clip")


def test_eligibility_that_is_not_boolean(case):
    """A scenario mistake like any other expression error, so exit 2 (as 'ltv and x' already gives)."""
    case.campaign(0)["eligible"] = "ltv * 2"
    expect_failure(case, case.run(), SCENARIO, "'campaigns[0].eligible' must be true or false", "gives numbers",
                   f"({case.path}, campaigns[0].eligible)", "Write a condition")


def test_eligibility_on_a_text_column_says_text(case):
    case.campaign(0)["eligible"] = "segment"
    output = expect_failure(case, case.run(), SCENARIO, "'campaigns[0].eligible' must be true or false", "text",
                            f"({case.path}, campaigns[0].eligible)")
    assert "gives numbers" not in output


def test_value_per_response_nan_for_an_eligible_customer(case):
    table = case.customers()
    table.loc[2, "ltv"] = np.nan  # c03 has email_opt_in, so is eligible for email_offer
    case.write_customers(table)
    expect_failure(case, case.run(), DATA, "'campaigns[0].value_per_response' gives a missing value (NaN) for customer 'c03'",
                   f"({case.path}, campaigns[0].value_per_response)", "Fill the missing values")


def test_probability_expression_out_of_range(case):
    case.campaign(0).update(p_treat="ltv / 100", p_control=0.05)
    output = expect_failure(case, case.run(), DATA, "'campaigns[0].p_treat' gives 1.1 for customer 'c02'",
                            "not a probability in [0, 1]", f"({case.path}, campaigns[0].p_treat)", "clip(")
    assert "np.float64" not in output


@pytest.mark.parametrize("text", ["ltv[red]", "ltv [/x]"])
def test_square_brackets_in_a_message_are_printed_as_written(case, text):
    """Messages are text, not Rich markup: '[red]' must show, '[/x]' must not crash the CLI."""
    case.campaign(0)["value_per_response"] = text
    expect_failure(case, case.run(), SCENARIO, f"The expression '{text}'",
                   f"({case.path}, campaigns[0].value_per_response)")


def test_constraint_rhs_nan(case):
    case.scenario["constraints"][0]["rhs"] = float("nan")
    expect_failure(case, case.run(), SCENARIO, "(given: nan)", f"({case.path}, constraints[0].rhs)")


# --- plans that cannot exist ---------------------------------------------------------------------


def test_min_audience_exceeds_the_eligible_customers(case):
    case.campaign(0).update(min_audience=35, max_audience=None)
    expect_failure(case, case.run(), INFEASIBLE,
                   "The 'min_audience' of campaign 'email_offer' (35) exceeds its 32 eligible customers "
                   f"({case.path}, campaigns[0]). Lower min_audience or widen 'eligible'.")


def test_min_audience_the_budget_cannot_pay_for(case):
    """5 emails at 0.5 cost 2.5, the budget is 2: named before any solve, with the change that fixes it."""
    case.scenario["budget"] = 2.0
    output = expect_failure(case, case.run(), INFEASIBLE, "No plan satisfies every constraint of scenario 'tiny'",
                            "min_audience[email_offer] (>= 5", "budget (<= 2", f"({case.path})",
                            "Change one of the limits named above")
    assert "need at least 2.5 of budget" in output and "raise budget by at least 0.5 (to 2.5; a plan may need more" in output, output


def test_failure_does_not_create_the_out_folder(case):
    case.scenario["objective"] = "profit"
    case.path.write_text(case.yaml_text())
    fresh = case.folder / "fresh"
    result = CliRunner().invoke(app, ["optimize", str(case.path), "--out", str(fresh)])
    assert result.exit_code == SCENARIO
    assert not fresh.exists()


# --- the scenario file: its encoding, its keys, its name -----------------------------------------


def test_scenario_file_that_is_not_utf8_names_the_line_and_byte(case):
    case.path.write_bytes(b"# caf\xe9 (Latin-1)\n" + case.yaml_text().encode())
    result = CliRunner().invoke(app, ["optimize", str(case.path), "--out", str(case.out)])
    output = expect_failure(case, result, SCENARIO, "The scenario file is not UTF-8 text",
                            f"({case.path}, line 1, byte 6 (0xe9))", "Save the file as UTF-8")
    assert "Traceback" not in output


@pytest.mark.parametrize("where", ["top", "campaign"])
def test_a_key_that_is_a_list_names_the_line(case, where):
    """'? [a, b]' is a YAML key that is a list: refused where it is written, not a TypeError."""
    lines = case.yaml_text().splitlines()
    at = 1 if where == "top" else lines.index("  channel: email") + 1
    lines[at:at] = ["? [a, b]", ": 1"] if where == "top" else ["  ? [a, b]", "  : 1"]
    output = expect_failure(case, case.run(text="\n".join(lines) + "\n"), SCENARIO,
                            "the key '[a, b]' is a list, not a name; keys must be plain names",
                            f"({case.path}, line {at + 1},", "Write the key as a plain name")
    assert "Traceback" not in output


@pytest.mark.parametrize("name", ["../escaped", "a/b", "..", "a\\b", "ABSOLUTE"])
def test_a_scenario_name_that_is_a_path_is_refused(case, monkeypatch, name):
    """Without --out the plan goes to out/<name>: a name must not lead out of out/."""
    name = str(case.folder / "elsewhere") if name == "ABSOLUTE" else name
    case.scenario["name"] = name
    case.path.write_text(case.yaml_text())
    monkeypatch.chdir(case.folder)  # the default out/ is case.out
    result = CliRunner().invoke(app, ["optimize", str(case.path)])
    expect_failure(case, result, SCENARIO, "has 1 problem", f"(given: {name!r})", "a plain folder name",
                   f"({case.path}, name)", "Give the scenario a plain name")
    assert sorted(path.name for path in case.folder.iterdir()) == ["customers.csv", "out", "scenario.yaml",
                                                                   "scores.parquet"]


def test_an_empty_scenario_name_is_refused(case):
    case.scenario["name"] = ""
    expect_failure(case, case.run(), SCENARIO, "(given: '')", f"({case.path}, name)", "Give the scenario a plain name")


# --- the tables: encoding and emptiness ----------------------------------------------------------


def latin1(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by Latin-1 bytes ``new`` in the file, as a spreadsheet saving Latin-1 would."""
    path.write_bytes(path.read_bytes().replace(old, new, 1))


def test_customers_csv_that_is_not_utf8(case):
    latin1(case.folder / "customers.csv", b"c03,120.0,Loyal", b"c03,120.0,Fid\xe8le")  # line 4
    expect_failure(case, case.run(), DATA, "The customers file is not UTF-8 text",
                   f"({case.folder / 'customers.csv'}, line 4, byte 14 (0xe8))", "Save it as UTF-8")


def test_scores_csv_that_is_not_utf8(case):
    base_scores().to_csv(case.folder / "scores.csv", index=False)
    latin1(case.folder / "scores.csv", b"c02,email_offer", b"c02,email_off\xe9r")  # line 4
    case.scenario["scores"] = "scores.csv"
    expect_failure(case, case.run(), DATA, "The scores file is not UTF-8 text",
                   f"({case.folder / 'scores.csv'}, line 4, byte 14 (0xe9))", "Save it as UTF-8")


def test_empty_customers_csv(case):
    (case.folder / "customers.csv").write_bytes(b"")
    expect_failure(case, case.run(), DATA, f"The customers file {case.folder / 'customers.csv'} is empty",
                   "Export the table again, with its header row")


def test_customers_csv_with_only_a_header(case):
    case.write_customers(case.customers().iloc[:0])
    expect_failure(case, case.run(), DATA, f"The customers table is empty ({case.folder / 'customers.csv'})",
                   "Point 'customers' at a table with rows")


def test_truncated_scores_parquet(case):
    path = case.folder / "scores.parquet"
    path.write_bytes(path.read_bytes()[:200])
    expect_failure(case, case.run(), DATA, f"The scores file {path} could not be read",
                   "Check that the file is a complete, valid table")


def test_scores_with_only_a_header(case):
    case.write_scores(base_scores().iloc[:0])
    expect_failure(case, case.run(), DATA, "The scores table has no rows for campaign 'email_offer' (it has no rows "
                   f"at all) ({case.folder / 'scores.parquet'})", "Score campaign 'email_offer'")


# --- campaign ids in the scores ------------------------------------------------------------------


def test_misspelt_campaign_id_in_the_scores(case):
    """'emial_offer' rows are not silently dropped (which left email_offer with 0 eligible customers)."""
    table = base_scores()
    table["campaign_id"] = table["campaign_id"].replace("email_offer", "emial_offer")  # rows 1, 3, 5, ...
    case.write_scores(table)
    expect_failure(case, case.run(), DATA,
                   "The scores name campaign 'emial_offer', which is not a campaign of this scenario, and campaign "
                   "'email_offer' has no score rows", f"({case.folder / 'scores.parquet'}, row 1)",
                   "Did you mean 'email_offer'?", "Correct the campaign id in the scores table or the scenario")


def test_campaign_without_score_rows(case):
    case.write_scores(base_scores().query("campaign_id != 'sms_offer'"))
    expect_failure(case, case.run(), DATA, "The scores table has no rows for campaign 'sms_offer' (it holds "
                   f"email_offer) ({case.folder / 'scores.parquet'})",
                   "Score campaign 'sms_offer', remove it from the scenario, or give it 'p_treat' and 'p_control'")


def test_a_campaign_with_its_own_probabilities_needs_no_score_rows(case):
    """The campaigns that do not read the scores, and score rows of other campaigns, are no fault."""
    other = base_scores().assign(campaign_id="winter_sale")
    case.write_scores(pd.concat([base_scores().query("campaign_id != 'sms_offer'"), other], ignore_index=True))
    case.campaign(1).update(p_treat=0.1, p_control=0.05)
    result = case.run()
    assert result.exit_code == 0, result.output


# --- expressions that give inf or NaN ------------------------------------------------------------


@pytest.mark.parametrize(("key", "text", "gives"), [
    ("value_per_response", "ltv / (days_since_last_purchase - 5)", "inf (division by zero?)"),
    ("value_per_response", "log(days_since_last_purchase - 5)", "-inf (log of 0?)"),
])
def test_value_per_response_inf_names_the_customer_row_and_values(case, key, text, gives):
    """c02 (customers.csv line 3) has days_since_last_purchase 5 and may get the email."""
    case.campaign(0)[key] = text
    uses_ltv = ", ltv = 110.0" if "ltv" in text else ""
    expect_failure(case, case.run(), DATA,
                   f"'campaigns[0].{key}' gives {gives} for customer 'c02' ({case.folder / 'customers.csv'}, "
                   f"line 3), where days_since_last_purchase = 5{uses_ltv}; the expression is '{text}'",
                   f"({case.path}, campaigns[0].{key})", "Change the expression so it gives a finite number",
                   "or exclude those customers in 'eligible'")



def test_a_value_beyond_any_plans_is_a_unit_error_not_a_plan_of_300_digits(case):
    """1e300 × ltv is finite, and used to be planned ('feasible (stalled)', a 300-digit objective)."""
    case.campaign(0)["value_per_response"] = "1e300 * ltv"
    expect_failure(case, case.run(), DATA, "'campaigns[0].value_per_response' gives 1.1e+302 for customer 'c02'",
                   "where ltv = 110.0, larger than 10^12 in size", "the expression is '1e300 * ltv'", "Check the units")

def test_kpi_expression_inf_names_its_key(case):
    case.scenario["kpis"] = [{"name": "per_day", "expression": "1 / (days_since_last_purchase - 5)"}]
    expect_failure(case, case.run(), DATA, "'kpis[0].expression' gives inf (division by zero?) for customer 'c02'",
                   "where days_since_last_purchase = 5", f"({case.path}, kpis[0].expression)")


def test_value_per_response_nan_names_the_missing_column_and_row(case):
    table = case.customers()
    table.loc[2, "ltv"] = np.nan  # c03, CSV line 4
    case.write_customers(table)
    expect_failure(case, case.run(), DATA,
                   f"for customer 'c03' ({case.folder / 'customers.csv'}, line 4), where ltv is missing; the "
                   "expression is 'ltv * 0.5'", "Fill the missing values")


@pytest.mark.parametrize(("key", "edit"), [
    ("campaigns[0].value_per_response", lambda case: case.campaign(0).update(value_per_response="segment")),
    ("campaigns[0].p_treat", lambda case: case.campaign(0).update(p_treat="segment", p_control=0.05)),
    ("kpis[0].expression", lambda case: case.scenario["kpis"][0].update(expression="segment")),
])
def test_a_number_that_is_text(case, key, edit):
    """Keys that add up money or probabilities must give numbers, not a TypeError from numpy."""
    edit(case)
    expect_failure(case, case.run(), SCENARIO,
                   f"'{key}' must be a number for each customer, but 'segment' gives text, e.g. 'VIP' for customer "
                   f"'c01' ({case.path}, {key})", "Write arithmetic over numeric columns")
