"""What a plan says, for people: the summary's figures (summary), the terminal tables (console), plain-text
tables (text), figures (plots), figures in words (formatting) and the HTML report (report, templates/). A
new report section goes in report.py and templates/report.html.j2."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
