"""optimizer/scenario/lists.py: forced and excluded customers read from the files a scenario names,
and how the formulation uses them (excluded customers eligible for nothing, forced ones checked)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.errors import DataError, InfeasibleError, InfeasibleProblems, ScenarioInvalid
from optimizer.plan.workflow import limit_conflicts, validate
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.lists import read_lists
from optimizer.scenario.schema import load_scenario
from optimizer.solve.problem import NO_CAMPAIGN

IDS = pd.Index([f"c{k}" for k in range(1, 7)])


def scenario_file(folder: Path, **keys) -> Path:
    """Six customers (c1..c6; c6 is no e-mail customer), an e-mail and a call campaign, and ``keys``."""
    pd.DataFrame({"customer_id": list(IDS), "email": [True] * 5 + [False]}).to_csv(folder / "customers.csv", index=False)
    raw = {"name": "lists", "customers": "customers.csv", "campaigns": [
        {"id": "mail", "channel": "email", "p_treat": 0.2, "p_control": 0.1, "value_per_response": 10,
         "eligible": "email", "control_fraction": 0.5},
        {"id": "call", "channel": "phone", "p_treat": 0.3, "p_control": 0.1, "value_per_response": 20,
         "cost_per_contact": 1, "control_fraction": 0.5},
    ], **keys}
    path = folder / "lists.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def listed(folder: Path, name: str, **columns) -> str:
    pd.DataFrame(columns).to_csv(folder / name, index=False)
    return name


def data_error(path: Path) -> DataError:
    with pytest.raises(DataError) as caught:
        formulate(load_data(load_scenario(path)))
    return caught.value


def test_forced_and_excluded_customers_land_on_their_rows(tmp_path: Path) -> None:
    forced = [{"file": listed(tmp_path, "vips.csv", customer_id=["c2", "c4", "c2"]), "campaign": "call"},
              {"file": listed(tmp_path, "promised.csv", customer_id=["c5"], campaign_id=["mail"])}]
    excluded = [listed(tmp_path, "dnc.csv", customer_id=["c1", "c3", "zz"])]
    lists = read_lists(load_scenario(scenario_file(tmp_path, forced=forced, excluded=excluded)), IDS)
    assert lists.forced is not None and lists.excluded is not None
    assert lists.forced.tolist() == [NO_CAMPAIGN, 1, NO_CAMPAIGN, 1, 0, NO_CAMPAIGN]
    assert lists.excluded.tolist() == [True, False, True, False, False, False]
    assert (lists.n_forced, lists.n_excluded) == (3, 2)
    assert [(f["list"], f["customers"], f.get("not_in_customers")) for f in lists.files] == [
        ("excluded", 2, 1), ("forced", 2, None), ("forced", 1, None)]


def test_excluded_customers_are_eligible_for_nothing_and_counted_as_a_rule(tmp_path: Path) -> None:
    excluded = [listed(tmp_path, "dnc.csv", customer_id=["c1", "c6"])]
    formulation = formulate(load_data(load_scenario(scenario_file(tmp_path, excluded=excluded))))
    assert not formulation.problem.eligible[[0, 5]].any() and formulation.problem.eligible[1:5].all()
    removed = {(i.campaign, i.kind): i.removed for i in formulation.impacts}
    assert removed[("mail", "excluded")] == 1  # c6 was never eligible for mail: its rule came first
    assert removed[("call", "excluded")] == 2


def test_a_scenario_without_lists_reads_none(tmp_path: Path) -> None:
    lists = read_lists(load_scenario(scenario_file(tmp_path)), IDS)
    assert lists.forced is None and lists.excluded is None and lists.files == []


@pytest.mark.parametrize(("keys", "message", "where"), [
    ({"forced": [{"file": "vips.csv", "campaign": "call"}]}, "2 customer(s) of the forced list are not in the "
     "customers table: 'x1', 'x2'", "vips.csv, line 3"),
    ({"forced": [{"file": "other.csv", "campaign": "mail"}, {"file": "other.csv", "campaign": "call"}]},
     "Customer 'c2' is forced into two campaigns, 'mail' and 'call'", "other.csv, line 2"),
    ({"forced": [{"file": "other.csv", "campaign": "call"}], "excluded": ["other.csv"]},
     "Customer 'c2' is both forced and excluded", "other.csv, line 2"),
    ({"forced": [{"file": "other.csv"}]}, "The forced list table has no column 'campaign_id'", "other.csv"),
    ({"forced": [{"file": "typo.csv"}]}, "The forced list names campaign 'cal', which is not a campaign",
     "typo.csv, line 2"),
    ({"forced": [{"file": "six.csv", "campaign": "mail"}]}, "1 forced into 'mail' fail its eligible rule (email): "
     "'c6'", "lists.yaml, forced"),
    ({"excluded": ["blank.csv"]}, "The excluded list has 1 row(s) with no 'customer_id'", "blank.csv, line 3"),
    ({"forced": [{"file": "two.csv"}]}, "Customer 'c2' is forced into two campaigns, 'call' and 'mail'",
     "two.csv, line 3"),
    ({"forced": [{"file": "nocampaign.csv"}]}, "The forced list has 1 row(s) with no campaign_id",
     "nocampaign.csv, line 3"),
    ({"excluded": ["strangers.csv"]}, "None of the 2 ids of the excluded list is a customer", "strangers.csv"),
])
def test_lists_that_cannot_be_kept_are_refused_by_name(tmp_path: Path, keys: dict, message: str, where: str) -> None:
    listed(tmp_path, "vips.csv", customer_id=["c1", "x1", "x2"])
    listed(tmp_path, "other.csv", customer_id=["c2"])
    listed(tmp_path, "typo.csv", customer_id=["c2"], campaign_id=["cal"])
    listed(tmp_path, "six.csv", customer_id=["c6"])
    listed(tmp_path, "blank.csv", customer_id=["c1", None])
    listed(tmp_path, "two.csv", customer_id=["c2", "c2"], campaign_id=["mail", "call"])
    listed(tmp_path, "nocampaign.csv", customer_id=["c2", "c3"], campaign_id=["mail", None])
    listed(tmp_path, "strangers.csv", customer_id=["C000001", "C000002"])
    error = data_error(scenario_file(tmp_path, **keys))
    assert message in error.message and error.where.endswith(where), (error.message, error.where)
    assert error.fix and error.exit_code == 3


def test_a_forced_campaign_must_be_one_of_the_scenario(tmp_path: Path) -> None:
    listed(tmp_path, "vips.csv", customer_id=["c1"])
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(scenario_file(tmp_path, forced=[{"file": "vips.csv", "campaign": "cal"}]))
    assert "'cal' is not a campaign of this scenario" in str(caught.value) and "Did you mean 'call'?" in str(caught.value)


def test_list_files_of_a_base_scenario_are_found_from_the_extending_file(tmp_path: Path) -> None:
    listed(tmp_path, "dnc.csv", customer_id=["c1"])
    listed(tmp_path, "vips.csv", customer_id=["c2"])
    base = scenario_file(tmp_path, excluded=["dnc.csv"], forced=[{"file": "vips.csv", "campaign": "call"}])
    (tmp_path / "child").mkdir()
    child = tmp_path / "child" / "child.yaml"
    child.write_text(f"extends: ../{base.name}\nname: child\n", encoding="utf-8")
    scenario = load_scenario(child)
    assert scenario.resolve(scenario.excluded[0]) == (tmp_path / "dnc.csv").resolve()
    assert scenario.resolve(scenario.forced[0].file) == (tmp_path / "vips.csv").resolve()
    assert scenario.effective()["excluded"] == [str((tmp_path / "dnc.csv").resolve())]
    assert np.array_equal(read_lists(scenario, IDS).excluded, IDS == "c1")


def test_ids_written_as_whole_floats_are_the_customers_they_name(tmp_path: Path) -> None:
    """A list saved from a tool that made the ids floats (12340.0) names the customers 12340; each
    file's counts are of distinct customers."""
    customers = pd.DataFrame({"customer_id": [12340, 12341, 12342], "email": [True, True, True]})
    customers.to_parquet(tmp_path / "customers.parquet", index=False)
    pd.DataFrame({"customer_id": [12340.0, 12341.0, 12341.0, 99999.0, 99999.0]}).to_parquet(
        tmp_path / "dnc.parquet", index=False)
    path = scenario_file(tmp_path, customers="customers.parquet", excluded=["dnc.parquet"])
    data = load_data(load_scenario(path))
    assert data.lists.excluded is not None and data.lists.excluded.tolist() == [True, True, False]
    assert (data.lists.files[0]["customers"], data.lists.files[0]["not_in_customers"]) == (2, 1)


def test_validate_sees_forced_customers_taken_from_another_campaigns_audience(tmp_path: Path) -> None:
    """Five e-mail customers, three forced into the call: the mail's minimum of 3 has two left."""
    forced = [{"file": listed(tmp_path, "calls.csv", customer_id=["c1", "c2", "c3"]), "campaign": "call"}]
    path = scenario_file(tmp_path, forced=forced)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["campaigns"][0]["min_audience"] = 3
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(InfeasibleError) as caught:
        validate(path)
    assert ("min_audience[mail] needs 3 customers besides the 0 forced into it, and only 2 eligible customers are "
            "not forced into another campaign") in caught.value.message


def test_forced_customers_breaking_a_limit_and_taking_an_audience_are_told_together(tmp_path: Path) -> None:
    """Three customers forced into a call of at most two, and the mail's minimum of 3 left two e-mail
    customers: both conflicts in one error, not the second only after the first is mended."""
    forced = [{"file": listed(tmp_path, "calls.csv", customer_id=["c1", "c2", "c3"]), "campaign": "call"}]
    path = scenario_file(tmp_path, forced=forced)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["campaigns"][0]["min_audience"] = 3
    raw["campaigns"][1]["max_audience"] = 2
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(InfeasibleProblems) as caught:
        validate(path)
    assert len(caught.value.errors) == 2 and caught.value.exit_code == 4
    assert "the forced customers alone use 3 of" in caught.value.errors[0].message
    assert "min_audience[mail] needs 3 customers" in caught.value.errors[1].message
    formulation = formulate(load_data(load_scenario(path)))
    conflicts = limit_conflicts(formulation.problem, formulation.scenario, formulation.data.lists.forced)
    assert [conflict.text.split(" ", 3)[:3] for conflict in conflicts] == [["the", "forced", "customers"],
                                                                           ["min_audience[mail]", "needs", "3"]]
    assert [f"{c.text} ({c.where}). {c.fix}." for c in conflicts] == [
        error.message.split(": ", 1)[1] for error in caught.value.errors]


def test_a_missing_list_file_names_its_scenario_key(tmp_path: Path) -> None:
    for keys, key in (({"forced": [{"file": "gone.csv", "campaign": "call"}]}, "'forced[0].file'"),
                      ({"excluded": ["gone.csv"]}, "'excluded[0]'")):
        with pytest.raises(DataError, match=rf"gone.csv does not exist .* Check the {re.escape(key)} path in the "
                                            "scenario"):
            read_lists(load_scenario(scenario_file(tmp_path, **keys)), IDS)


@pytest.mark.parametrize("written", [lambda ids: [f" {i} " for i in ids], lambda ids: [f"{i}.0" for i in ids]])
def test_a_do_not_contact_list_written_another_way_still_excludes_its_customers(tmp_path: Path, written) -> None:
    """Ids padded with blanks or written 12340.0 in a CSV matched no customer: counted as 'not in the
    customers table', and those customers were contacted (a sceptical user's 49 and 52 of 150)."""
    customers = pd.DataFrame({"customer_id": ["12340", "12341", "12342"], "email": [True, True, True]})
    customers.to_csv(tmp_path / "shop.csv", index=False)
    listed(tmp_path, "dnc.csv", customer_id=written(["12340", "12342"]))
    data = load_data(load_scenario(scenario_file(tmp_path, customers="shop.csv", excluded=["dnc.csv"])))
    assert data.lists.excluded is not None and data.lists.excluded.tolist() == [True, False, True]
    assert data.lists.files[0]["not_in_customers"] == 0
