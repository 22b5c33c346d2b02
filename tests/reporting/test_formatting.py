"""Figures in words: what the report and the comparison pages show for numbers, shares and gaps."""

from __future__ import annotations

from optimizer.reporting.formatting import count, gap_words, interval, money, percent, signed


def test_gap_is_stated_in_words_rounded_up():
    assert gap_words(3.58e-7) == "0.00004%"
    assert gap_words(0.0123) == "1.3%"
    assert gap_words(0.2) == "20%"
    assert gap_words(None, "—") == "—"


def test_numbers_shares_and_intervals_with_their_separators_and_signs():
    assert (money(1234.5), count(12345.4), signed(-12.0, 0), signed(None)) == ("1,234.50", "12,345", "-12", "")
    assert (money(None), money("n/a"), count(True)) == ("not recorded", "n/a", "True")
    assert (percent(0.35), percent(0.001), percent(0.0), percent(None, "—")) == ("35%", "<1%", "0%", "—")
    assert interval({"estimate": 12.5, "ci_low": None}, unit=" €") == "+12 €"
    assert interval(None) == "—"
