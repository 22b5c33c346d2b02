"""Tests of the scenario expression language: each operator family, the whitelist, and the messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import ExpressionError, ScenarioError
from optimizer.scenario.expressions import Expression, parse

WHERE = "scenarios/weekly.yaml, campaigns[0].value_per_response"


@pytest.fixture
def columns() -> dict[str, np.ndarray]:
    """Four hand-checkable customers."""
    return {
        "customer_id": np.array(["c1", "c2", "c3", "c4"], dtype=object),
        "ltv": np.array([100.0, 600.0, 0.0, 250.0]),
        "age": np.array([17, 25, 40, 29]),
        "segment": np.array(["VIP", "Loyal", "New", "VIP"], dtype=object),
        "email_opt_in": np.array([True, False, True, True]),
        "sms_opt_in": np.array([False, False, True, True]),
        "days_since_last_purchase": np.array([10, 70, 90, 61]),
        "p_treat": np.array([0.3, 0.2, 0.1, 0.5]),
        "p_control": np.array([0.1, 0.2, 0.05, 0.25]),
    }


def evaluate(text: str | int | float | bool, columns: dict[str, np.ndarray], size: int = 4) -> np.ndarray:
    return parse(text, where=WHERE).evaluate(columns, size)


def error_of(text: str, columns: dict[str, np.ndarray] | None = None, size: int = 4) -> str:
    """The message of the ExpressionError that parsing (and evaluating) `text` raises."""
    with pytest.raises(ExpressionError) as caught:
        parse(text, where=WHERE).evaluate(columns or {}, size)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ltv * 0.2", [20.0, 120.0, 0.0, 50.0]),
        ("p_treat - p_control", [0.2, 0.0, 0.05, 0.25]),
        ("ltv / 100 + 1", [2.0, 7.0, 1.0, 3.5]),
        ("age % 10", [7.0, 5.0, 0.0, 9.0]),
        ("2 ** 3 - ltv / ltv * 0 + age * 0", [8.0, 8.0, np.nan, 8.0]),
        ("-ltv", [-100.0, -600.0, 0.0, -250.0]),
        ("+age", [17.0, 25.0, 40.0, 29.0]),
    ],
)
def test_arithmetic_gives_float64(columns, text, expected):
    result = evaluate(text, columns)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected)


def test_division_by_zero_gives_inf_and_nan_without_warnings(columns):
    with np.errstate(all="raise"):
        result = evaluate("ltv / 0", columns)
    assert np.isinf(result[0]) and np.isnan(result[2])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ltv > 200", [False, True, False, True]),
        ("ltv >= 250", [False, True, False, True]),
        ("age < 25", [True, False, False, False]),
        ("age <= 25", [True, True, False, False]),
        ("segment == 'VIP'", [True, False, False, True]),
        ("segment != 'VIP'", [False, True, True, False]),
        ("18 <= age < 30", [False, True, False, True]),
        ("0 < ltv <= 250 < 300", [True, False, False, True]),
    ],
)
def test_comparisons_give_bool(columns, text, expected):
    result = evaluate(text, columns)
    assert result.dtype == bool
    assert result.tolist() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("segment in ['VIP', 'Loyal']", [True, True, False, True]),
        ("segment not in ('VIP', 'Loyal')", [False, False, True, False]),
        ("age in [17, 40, -1]", [True, False, True, False]),
        ("age in []", [False, False, False, False]),
    ],
)
def test_in_checks_membership_in_a_literal_list(columns, text, expected):
    assert evaluate(text, columns).tolist() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("days_since_last_purchase > 60 and email_opt_in", [False, False, True, True]),
        ("email_opt_in or sms_opt_in", [True, False, True, True]),
        ("not sms_opt_in", [True, True, False, False]),
        ("email_opt_in and sms_opt_in and ltv > 100", [False, False, False, True]),
        ("true", [True, True, True, True]),
        ("false or email_opt_in", [True, False, True, True]),
        ("True and not False", [True, True, True, True]),
    ],
)
def test_boolean_logic_is_element_wise(columns, text, expected):
    result = evaluate(text, columns)
    assert result.dtype == bool
    assert result.tolist() == expected


def test_conditional_picks_per_row(columns):
    result = evaluate("0.3 if segment == 'VIP' else 0.1", columns)
    np.testing.assert_allclose(result, [0.3, 0.1, 0.1, 0.3])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abs(-ltv)", [100.0, 600.0, 0.0, 250.0]),
        ("min(ltv, 500) * 0.1", [10.0, 50.0, 0.0, 25.0]),
        ("max(ltv, age, 200)", [200.0, 600.0, 200.0, 250.0]),
        ("clip(ltv, 50, 300)", [100.0, 300.0, 50.0, 250.0]),
        ("round(ltv / 7, 2)", [14.29, 85.71, 0.0, 35.71]),
        ("round(p_treat * 10)", [3.0, 2.0, 1.0, 5.0]),
        ("sqrt(ltv)", [10.0, np.sqrt(600), 0.0, np.sqrt(250)]),
        ("exp(log(ltv + 1)) - 1", [100.0, 600.0, 0.0, 250.0]),
    ],
)
def test_functions(columns, text, expected):
    np.testing.assert_allclose(evaluate(text, columns), expected)


@pytest.mark.parametrize(("source", "expected"), [(0.2, 0.2), (3, 3.0), ("5", 5.0), ("1.5 * 2", 3.0)])
def test_numeric_constants_broadcast_as_float64(source, expected):
    result = parse(source, where=WHERE).evaluate({}, 3)
    assert result.dtype == np.float64
    assert result.tolist() == [expected] * 3


@pytest.mark.parametrize(("source", "expected"), [(True, True), (False, False), ("true", True), ("false", False)])
def test_boolean_constants_broadcast_as_bool(source, expected):
    result = parse(source, where=WHERE).evaluate({}, 2)
    assert result.dtype == bool
    assert result.tolist() == [expected] * 2


def test_scalar_columns_broadcast(columns):
    result = evaluate("ltv * rate if segment == 'VIP' else 0", {**columns, "rate": 0.5, "segment": "VIP"})
    np.testing.assert_allclose(result, [50.0, 300.0, 0.0, 125.0])


def test_result_is_a_fresh_array(columns):
    result = evaluate("ltv", columns)
    result[0] = -1
    assert columns["ltv"][0] == 100.0


def test_names_are_the_columns_read():
    expression = parse("min(ltv, cap) if segment in ['VIP'] and true else false + age", where=WHERE)
    assert expression.names == {"ltv", "cap", "segment", "age"}
    assert parse(0.5, where=WHERE).names == frozenset()


def test_expression_is_a_frozen_value():
    expression = parse("ltv * 0.2", where=WHERE)
    assert isinstance(expression, Expression)
    assert expression == parse("ltv * 0.2", where=WHERE)
    assert expression.text == "ltv * 0.2"
    with pytest.raises(AttributeError):
        expression.text = "other"


def test_multi_line_text_from_yaml_block_scalars(columns):
    np.testing.assert_allclose(evaluate("ltv\n  * 0.5\n", columns), [50.0, 300.0, 0.0, 125.0])


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("x.__class__", "uses attribute access 'x.__class__'"),
        ("ltv[0]", "uses indexing 'ltv[0]'"),
        ("__import__('os')", "uses '__import__(...)'"),
        ("lambda: 1", "uses a lambda"),
        ("[x for x in ltv]", "uses a comprehension"),
        ("sum(x for x in ltv)", "uses 'sum(...)'"),
        ("open('/etc/passwd')", "uses 'open(...)'"),
        ("(y := 2)", "uses the assignment ':='"),
        ("f'{ltv}'", "uses an f-string"),
        ("ltv.real()", "uses 'ltv.real(...)'"),
        ("ltv // 2", "uses the operator '//'"),
        ("email_opt_in & sms_opt_in", "uses the operator '&'"),
        ("ltv is None", "uses the operator 'is'"),
        ("~email_opt_in", "uses the operator '~'"),
        ("1 + None", "uses the value None"),
        ("{'a': 1}", "uses a dict"),
        ("[1, 2]", "uses a list outside 'in [...]'"),
        ("ltv, age", "uses a tuple"),
        ("b'x' == segment", "uses the value b'x'"),
    ],
)
def test_unsafe_or_unsupported_forms_are_rejected(text, shown):
    message = error_of(text)
    assert f"The expression '{text}' {shown}" in message
    assert "which is not allowed" in message
    assert f"({WHERE})" in message


def test_unknown_function_lists_the_allowed_ones_with_a_suggestion():
    message = error_of("mn(ltv, 500)")
    assert "Did you mean 'min'?" in message
    assert message.endswith("Allowed functions: abs, clip, days_since, exp, log, max, min, round, sqrt.")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("min(ltv)", "calls min() with 1 argument(s)"),
        ("clip(ltv, 1)", "calls clip() with 2 argument(s)"),
        ("min(ltv, 2, key=abs)", "calls min() with 3 argument(s)"),
        ("round(ltv, 1.5)", "rounds to digits that are not a whole number"),
        ("round(ltv, age)", "rounds to digits that are not a whole number"),
    ],
)
def test_functions_check_their_arguments(text, shown):
    assert f"The expression '{text}' {shown} ({WHERE})" in error_of(text)


@pytest.mark.parametrize("text", ["segment in allowed", "segment in ['VIP', other]", "age in [1] == age"])
def test_in_needs_a_literal_list(text):
    message = error_of(text)
    assert "needs a list of numbers or quoted strings after 'in'" in message
    assert "segment in ['VIP', 'Loyal']" in message


def test_unknown_column_suggests_the_closest_and_lists_the_available(columns):
    expression = parse("lvt * 0.2", where=WHERE)
    with pytest.raises(ExpressionError) as caught:
        expression.check_names(columns, WHERE)
    assert str(caught.value) == (
        f"The expression 'lvt * 0.2' names an unknown column 'lvt' ({WHERE}). Did you mean 'ltv'? "
        "Available columns: age, customer_id, days_since_last_purchase, email_opt_in, ltv, p_control, p_treat, "
        "segment, sms_opt_in."
    )


def test_unknown_columns_are_all_named_and_long_lists_cut():
    available = [f"column_{index:02d}" for index in range(20)]
    with pytest.raises(ExpressionError) as caught:
        parse("foo + bar", where=WHERE).check_names(available, WHERE)
    message = str(caught.value)
    assert "names unknown columns 'bar', 'foo'" in message
    assert message.endswith("column_10, column_11 and 8 more.")


def test_evaluate_checks_names_too(columns):
    assert "names an unknown column 'ltvv'" in error_of("ltvv > 1", columns)


def test_syntax_error_message_names_text_key_and_hint():
    assert error_of("ltv * ") == (
        "The expression 'ltv * ' in campaigns[0].value_per_response is not valid: unexpected end of expression "
        f'({WHERE}). Write arithmetic, comparisons, and/or/not over column names, numbers and quoted strings, '
        'e.g. "ltv * 0.2".'
    )


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("ltv age", "invalid syntax at character 5"),
        ("'VIP", "unterminated string literal"),
        ("(ltv", "'(' was never closed"),
        ("ltv +\n", "unexpected end of expression"),
        ("  ", "it is empty"),
        (None, "it is a NoneType, not text"),
        ("-" * 100_000 + "1", "too long or too deeply nested"),
    ],
)
def test_other_syntax_errors(source, reason):
    with pytest.raises(ExpressionError) as caught:
        parse(source, where=WHERE)
    assert reason in str(caught.value)
    assert "is not valid" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "shown", "fix"),
    [
        ("segment * 2", "applies '*' to 'segment', which holds text, not numbers", "\"segment == 'VIP'\""),
        ("abs(segment)", "applies 'abs(...)' to 'segment', which holds text, not numbers", "compare text"),
        ("ltv and email_opt_in", "applies 'and' to 'ltv', which holds numbers, not true/false", '"ltv > 0"'),
        ("not segment", "applies 'not' to 'segment', which holds text, not true/false", "\"segment == 'VIP'\""),
        ("1 if age else 0", "applies 'if' to 'age', which holds numbers, not true/false", '"age > 0"'),
        ("segment == 5", "compares 'segment' (text) with '5' (numbers)", "Compare text with quoted strings"),
        ("ltv in ['VIP']", "compares 'ltv' (numbers) with ''VIP'' (text)", "Compare text with quoted strings"),
    ],
)
def test_type_errors_name_the_column(columns, text, shown, fix):
    message = error_of(text, columns)
    assert f"The expression '{text}' {shown} ({WHERE})" in message
    assert fix in message


def test_text_is_not_ordered_unless_it_is_days(columns):
    """'monetary > '100'' over numbers exported as text ('1,234.50') compared letter by letter and
    passed validate: 29,979 eligible instead of 2,774. Text holding gaps raised a numpy TypeError."""
    messy = {**columns, "segment": np.array(["VIP", None, "New", "VIP"], dtype=object)}
    assert "orders 'segment' and ''M'', which hold text: text is ordered letter by letter" in \
        error_of("segment < 'M'", messy)
    money = {**columns, "monetary": np.array(["1,234.50", "95.00", "€12", None], dtype=object)}
    for text in ("monetary > '100'", "monetary > 100"):
        assert "The column holds numbers written as text (e.g. '1,234.50'): write them as plain numbers" in \
            error_of(text, money)
    days = {**columns, "last_purchase": np.array(["2025-09-30", "2025-10-02", "2025-10-01", "2025-11-01"], dtype=object)}
    assert parse("last_purchase < '2025-10-01'", WHERE).evaluate(days, 4).tolist() == [True, False, False, False]


def test_columns_of_the_wrong_length_are_reported(columns):
    assert "reads column 'ltv' of shape (4,), not (3,)" in error_of("ltv * 2", columns, size=3)


def test_expression_errors_are_scenario_errors():
    with pytest.raises(ScenarioError) as caught:
        parse("ltv +", where=WHERE)
    assert caught.value.exit_code == 2


def test_non_ascii_text_is_quoted_exactly(columns):
    message = error_of("segment == 'Café' and ltv", columns)
    assert "applies 'and' to 'ltv', which holds numbers" in message


def test_pandas_string_columns_compare_element_wise():
    segment = pd.Series(["VIP", "Loyal"], dtype="string").to_numpy(dtype=object)
    assert parse("segment in ['VIP']", where=WHERE).evaluate({"segment": segment}, 2).tolist() == [True, False]


def test_numpy_scalars_from_yaml_loaders_are_constants():
    assert parse(np.float64(0.5), where=WHERE).evaluate({}, 2).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("gap", [None, np.nan])
def test_a_flag_column_with_gaps_is_named_for_them_and_a_comparison_reads_it(gap):
    """A yes/no column with a missing value is read as objects (pandas' NA made None: scenario/pairs.py);
    it is not 'text', and `== True` says what a gap means."""
    flags = np.array([True, gap, False], dtype=object)
    with pytest.raises(ExpressionError, match="'email_opt_in', which holds true/false with missing values") as caught:
        parse("email_opt_in and ltv > 1", where="demo").evaluate({"email_opt_in": flags, "ltv": np.ones(3) * 2}, 3)
    assert 'e.g. "email_opt_in == True" (a gap is then false)' in caught.value.message
    given = parse("email_opt_in == True", where="demo").evaluate({"email_opt_in": flags}, 3)
    assert given.tolist() == [True, False, False]


def test_a_long_flat_sum_is_evaluated_and_an_error_shows_a_long_text_cut():
    """A value_per_response of 2,000 terms (a + b + ...: the tree nests to the left, a recursion per
    term hit Python's limit at ~250) is computed; an error about it shows its start and end only."""
    text = " + ".join(["ltv"] * 2_000)
    assert np.allclose(parse(text, where="demo").evaluate({"ltv": np.array([1.0, 2.5])}, size=2), [2_000.0, 5_000.0])
    mixed = " - ".join(["ltv", *["0.5 * ltv"] * 999])
    assert np.allclose(parse(mixed, where="demo").evaluate({"ltv": np.array([2.0])}, size=1), [2.0 - 999.0])
    with pytest.raises(ExpressionError) as error:
        parse(text + " + segment", where="demo").evaluate({"ltv": np.ones(2), "segment": np.array(["a", "b"])}, 2)
    message = str(error.value)
    assert "(12,007 characters)" in message and len(message) < 1_000


@pytest.mark.parametrize(("text", "said"), [
    ("gaps > 50", "compares 'gaps', which holds only missing values"),
    ("gaps <= 'VIP'", "compares 'gaps', which holds only missing values"),
    ("gaps + 1", "applies '+' to 'gaps', which holds only missing values, not numbers"),
    ("not gaps", "applies 'not' to 'gaps', which holds only missing values, not true/false"),
])
def test_a_column_with_no_value_at_all_is_named_for_it(text, said):
    """A column of the customer table that is empty throughout (read as None): not 'true/false with
    missing values', and no Python words ("'>' not supported between 'NoneType' and 'int'")."""
    with pytest.raises(ExpressionError) as error:
        parse(text, where="demo").evaluate({"gaps": np.array([None, None], dtype=object)}, size=2)
    assert said in str(error.value) and "NoneType" not in str(error.value)


def test_equality_with_a_column_with_no_value_at_all_matches_no_one():
    """The documented idiom for a flag with gaps, ``email_opt_in == True`` (a gap is then false), holds
    for a partition whose flag column happens to be empty throughout."""
    empty = {"gaps": np.array([None, None], dtype=object)}
    assert parse("gaps == True", where="demo").evaluate(empty, size=2).tolist() == [False, False]
    assert parse("gaps != 'VIP'", where="demo").evaluate(empty, size=2).tolist() == [True, True]


def test_a_syntax_error_names_its_key_only_where_one_is_given():
    """A --set's location ends in its value, commas and all: "in 'Loyal'] and" was shown as the key."""
    where = "w.yaml with --set campaigns.vip_call.eligible=segment in ['VIP', 'Loyal'] and"
    with pytest.raises(ExpressionError) as caught:
        parse("segment in ['VIP', 'Loyal'] and", where=where)
    assert "' is not valid: unexpected end" in caught.value.message and "in 'Loyal'] and is" not in caught.value.message
    with pytest.raises(ExpressionError, match=r"in campaigns\[0\]\.eligible is not valid"):
        parse("segment in", where="w.yaml, campaigns[0].eligible")
