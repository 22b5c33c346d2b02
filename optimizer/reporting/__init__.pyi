"""Public names of optimizer.reporting, for type checkers; loaded lazily at run time (lazy_loader)."""

from .console import PassProgress as PassProgress, render_summary as render_summary
from .plots import campaign_money_png as campaign_money_png, frontier_png as frontier_png
from .report import render_report as render_report, write_report as write_report
from .summary import build_summary as build_summary
from .text import text_table as text_table
