"""optimizer/cli/app.py: what every command shares: the --out values and the signals that stop a command."""

from __future__ import annotations

import importlib
import signal

import pytest
import typer

app_module = importlib.import_module("optimizer.cli.app")  # the module: optimizer.cli's ``app`` is the Typer app


def test_an_out_that_may_be_a_url_is_kept_as_written():
    """A URL's slashes are its own: through a Path, file://localhost/tmp/x became file:/localhost/tmp/x."""
    for text in ("file://localhost/tmp/x", "s3://bucket/a//b", "out/weekly"):
        assert app_module.given(text) == text
    assert app_module.given(None) is None
    for blank in ("", "  "):
        with pytest.raises(typer.BadParameter, match="is empty"):
            app_module.given(blank)
        with pytest.raises(typer.BadParameter, match="is empty"):
            app_module.folder(blank)


class Context:
    """What main() asks of typer's context: somewhere to leave what to do at the end."""

    def __init__(self) -> None:
        self.closing: list = []

    def call_on_close(self, function) -> None:
        self.closing.append(function)


def test_a_command_stops_on_sigterm_and_ctrl_c_but_leaves_an_ignored_signal_ignored():
    """A process started with SIGINT ignored (a background job of a script) keeps ignoring it; the
    handlers are the caller's again once the command ends."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        context = Context()
        app_module.main(context)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == app_module._interrupted
        for close in context.closing:
            close()
        assert signal.getsignal(signal.SIGTERM) == before[1]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        context = Context()
        app_module.main(context)
        assert signal.getsignal(signal.SIGINT) == app_module._interrupted
        for close in context.closing:
            close()
        assert signal.getsignal(signal.SIGINT) == signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def test_the_stop_message_never_replaces_the_interrupt(monkeypatch):
    """stderr closed (or the signal arriving during a write to it): still KeyboardInterrupt, so exit 130."""

    class Broken:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def print(self, *args, **kwargs) -> None:
            raise BrokenPipeError

    monkeypatch.setattr(app_module, "Console", Broken)
    with pytest.raises(KeyboardInterrupt):
        app_module._interrupted(signal.SIGTERM, None)
