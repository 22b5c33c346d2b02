"""The summary the report reads (optimizer/reporting/run_summary.py): what it cannot do without is
refused by name, before the page is drawn."""

from __future__ import annotations

import pytest
from test_report import full_summary, write_summary

from optimizer.errors import DataError
from optimizer.reporting.report import write_report
from optimizer.store.files import REPORT_FILE


@pytest.mark.parametrize(("entries", "number", "key"), [
    ("campaigns", 1, "eligible"), ("campaigns", 0, "treatment"), ("channels", 1, "contacts"),
    ("constraints", 2, "slack"), ("kpis", 0, "value"),
])
def test_an_entry_without_a_figure_the_page_shows_is_named(tmp_path, entries, number, key):
    """A summary of another cvo whose entries lack a key was met as a jinja2 UndefinedError or a
    KeyError traceback halfway through the page."""
    summary = full_summary()
    del summary[entries][number][key]
    with pytest.raises(DataError) as error:
        write_report(write_summary(tmp_path, summary))
    assert error.value.message == (
        f"The plan summary's entries lack figures the report shows: {entries}[{number}] lacks '{key}' (written by "
        f"another version of cvo, or edited) ({tmp_path / 'summary.json'}). Run cvo optimize SCENARIO --out "
        f"{tmp_path} again with this cvo.")
    assert error.value.exit_code == 3 and not (tmp_path / REPORT_FILE).exists()


def test_an_roi_without_its_gross_value_is_named_and_many_lacks_are_counted(tmp_path):
    summary = {**full_summary(), "roi": 4.2}
    for campaign in summary["campaigns"]:
        del campaign["channel"]
    with pytest.raises(DataError, match=r"campaigns\[0\] lacks 'channel'; campaigns\[1\] lacks 'channel'; "
                                        r"campaigns\[2\] lacks 'channel' and 1 more \("):
        write_report(write_summary(tmp_path, summary))
    summary["campaigns"] = "three"
    with pytest.raises(DataError, match="'campaigns' is not a list; 'roi' is given without 'gross_value' "):
        write_report(write_summary(tmp_path, summary))
