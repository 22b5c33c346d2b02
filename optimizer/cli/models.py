"""Scores and their evaluation: cvo score and cvo evaluate."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict, TypeVar, Unpack

import typer

from optimizer.cli.app import QuietOption, app, fail, folder, progress_console
from optimizer.errors import CvoError, ScenarioError, did_you_mean

if TYPE_CHECKING:
    from optimizer.scoring.cells import CellOptions
    from optimizer.scoring.rfm import Migration
    from optimizer.scoring.uplift import HistoryColumns, UpliftOptions
    from optimizer.scoring.workflow import ScoreRun

_Choice = TypeVar("_Choice", bound=StrEnum)


class _CommonOptions(TypedDict):
    """The options the two response models share."""

    holdout: float
    seed: int
    min_responders: int


@app.command()
def score(
    out: Annotated[Path, typer.Option(
        "--out", parser=folder, help="Folder for customers.parquet, scores.parquet and "
                                     "score_report.json.")],
    history: Annotated[Path | None, typer.Option(help="Campaign history: customer_id, campaign_id, treated, "
                                                 "converted, revenue, and feature columns.")] = None,
    customers: Annotated[Path | None, typer.Option(help="Customer table whose columns add features and who "
                                                   "are scored.")] = None,
    transactions: Annotated[Path | None, typer.Option(help="Transaction log (customer_id, date, amount) for "
                                                      "RFM, P(alive) and LTV.")] = None,
    cutoff: Annotated[str | None, typer.Option(help="Date customer values are computed at, e.g. 1997-09-30.")] = None,
    column: Annotated[list[str] | None, typer.Option(help="Map a transaction column: ROLE=NAME with ROLE one of "
                                                     "customer_id, date, amount, order_id (lines of one order are "
                                                     "summed into it); amount may be an expression, e.g. "
                                                     "'amount=Quantity * UnitPrice'; repeatable.")] = None,
    date_format: Annotated[str | None, typer.Option(help="Format of the transaction dates when they are not "
                                                    "YYYY-MM-DD or YYYYMMDD, e.g. '%d/%m/%Y %H:%M' (never "
                                                    "guessed).")] = None,
    drop_duplicates: Annotated[bool, typer.Option("--drop-duplicates", metavar="",
                                                  help="Drop transaction lines that repeat "
                                                  "an earlier line in every column (an export that wrote lines "
                                                  "twice); they are counted either way.")] = False,
    history_column: Annotated[list[str] | None, typer.Option(help="Map a history column: ROLE=NAME with ROLE one of "
                                                             "customer_id, campaign_id, treated, converted, revenue; "
                                                             "repeatable.")] = None,
    customers_column: Annotated[str | None, typer.Option(help="The customer table's id column, when it is not the "
                                                         "history's.", show_default=False)] = None,
    months: Annotated[int, typer.Option(min=1, max=600, help="LTV horizon in months.")] = 12,
    holdout_weeks: Annotated[float, typer.Option(min=0, max=520, help="Check the customer values on the last weeks "
                                                 "before --cutoff: fitted to the weeks before, against naive "
                                                 "forecasts (0: no check).")] = 13.0,
    discount: Annotated[float, typer.Option(help="Monthly discount rate of the LTV.")] = 0.01,
    holdout: Annotated[float, typer.Option(min=0.01, max=0.9, help="Share of the history held out for the "
                                           "model report.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split.")] = 0,
    model: Annotated[str, typer.Option(help="Response model: t-learner (a calibrated gradient-boosting "
                                       "classifier per arm) or cells (mean revenue per arm in each cell of "
                                       "--cells, shrunk to the arm mean).")] = "t-learner",
    cells: Annotated[str | None, typer.Option(help="The cells model's features, comma-separated, e.g. "
                                              "mens,womens,newbie.")] = None,
    features: Annotated[str | None, typer.Option(help="The t-learner's features, comma-separated (default: every "
                                                 "column of the history and the customer table but the history's "
                                                 "own).", show_default=False)] = None,
    shrinkage: Annotated[float, typer.Option(min=0, help="The cells model's shrinkage: customers' worth of "
                                             "weight on the arm mean.")] = 100.0,
    min_responders: Annotated[int, typer.Option(min=3, help="Fewest responders (and non-responders) an arm "
                                                "needs to be fitted; at least 3, one per fold of the "
                                                "probability calibration.")] = 30,
    quiet: QuietOption = False,
) -> None:
    """Fit customer values and response models, and write the tables cvo optimize reads.

    Customer values: RFM, BG/NBD and Gamma-Gamma from a transaction log; response models: a T-learner
    (or the cells model) per campaign from a randomized campaign history.

    Example: cvo score --history examples/data/history.parquet --customers examples/data/customers.parquet
    --out out/scores
    """
    from optimizer.scoring.workflow import check_score_folder, score as run_score, score_files, write_scores
    from optimizer.store.folders import claimed_output_folder

    try:
        check_score_folder(out, score_files(history, customers, transactions), (history, customers, transactions))
        options = _response_options(model, cells, shrinkage, features, holdout=holdout, seed=seed,
                                    min_responders=min_responders)
        with claimed_output_folder(out), progress_console(quiet).status("Scoring …") as status:  # checked first
            run = run_score(history=history, customers=customers, transactions=transactions, cutoff=cutoff,
                            columns=_history_columns(history_column or []), options=options, months=months,
                            monthly_discount=discount, transaction_columns=_mapping(column or []),
                            date_format=date_format, drop_duplicates=drop_duplicates,
                            customer_id=customers_column, holdout_weeks=holdout_weeks, stage=status.update)
            written = write_scores(run, out)
    except CvoError as error:
        raise fail(error) from None
    _print_score(run)
    typer.echo("Wrote " + ", ".join(map(str, written)))


def _response_options(
    model: str, cells: str | None, shrinkage: float, features: str | None = None, **common: Unpack[_CommonOptions]
) -> UpliftOptions | CellOptions:
    """UpliftOptions for --model t-learner (its --features, if given), CellOptions for --model cells
    (which needs --cells, its features)."""
    from optimizer.scoring.cells import CellOptions
    from optimizer.scoring.uplift import UpliftOptions
    from optimizer.scoring.workflow import ResponseModel

    if _choice(ResponseModel, model, "--model") is ResponseModel.T_LEARNER:
        if cells is not None:
            raise ScenarioError("--cells was given but --model is t-learner", where="cvo score",
                                fix="Add --model cells, or drop --cells")
        chosen = _names(features or "")
        if features is not None and not chosen:
            raise ScenarioError("--features names no column", where="cvo score",
                                fix="Give the feature columns comma-separated, e.g. --features recency,segment")
        return UpliftOptions(features=chosen or None, **common)
    if features is not None:
        raise ScenarioError("--features was given but --model is cells", where="cvo score",
                            fix="Give the cells model its features with --cells")
    names = _names(cells or "")
    if not names:
        raise ScenarioError("--model cells needs --cells, the features whose combinations are the cells",
                            where="cvo score", fix="Add e.g. --cells mens,womens,newbie")
    return CellOptions(cells=names, shrinkage=shrinkage, **common)


def _names(text: str) -> tuple[str, ...]:
    """'a, b,c' as ('a', 'b', 'c')."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _history_columns(pairs: list[str]) -> HistoryColumns:
    """--history-column ROLE=NAME options as the history's HistoryColumns."""
    from optimizer.scoring.uplift import HistoryColumns

    fields = {"customer_id": "customer_id", "campaign_id": "campaign", "treated": "treated",
              "converted": "outcome", "revenue": "revenue"}
    mapping = _mapping(pairs)
    for role in mapping:
        if role not in fields:
            hint = did_you_mean(role, list(fields))
            raise ScenarioError(f"--history-column has the role '{role}'", where="cvo score",
                                fix=f"{hint + ' ' if hint else ''}Map only {', '.join(fields)}")
    return HistoryColumns(**{fields[role]: name for role, name in mapping.items()})


def _mapping(pairs: list[str]) -> dict[str, str]:
    """'amount=dollar_value' options as {'amount': 'dollar_value'}; a KEY given twice is refused."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        role, separator, name = pair.partition("=")
        if not separator or not role or not name:
            raise ScenarioError(f"'{pair}' is not KEY=VALUE", where="cvo score / cvo evaluate",
                                fix="Write e.g. --column amount=dollar_value or --cost mens_email=0.10")
        role = role.strip()
        if role in mapping:
            raise ScenarioError(f"'{role}' is given twice: {role}={mapping[role]} and {pair}",
                                where="cvo score / cvo evaluate",
                                fix="Keep one of the two (only one can be used)")
        mapping[role] = name.strip()
    return mapping


def _amount(text: str, campaign: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ScenarioError(f"The cost of '{campaign}' is '{text}', not a number", where="--cost",
                            fix="Write e.g. --cost mens_email=0.10") from None


def _choice(kind: type[_Choice], text: str, option: str) -> _Choice:
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ScenarioError(f"{option} '{text}' is not one of {allowed}", where=option,
                            fix=f"Use one of {allowed}") from None


def _print_score(run: ScoreRun) -> None:
    from optimizer.scoring.uplift_report import format_report

    if run.log is not None:
        typer.echo(f"Transactions: {run.log.sentence()}")
        for warning in run.log.warnings:
            typer.echo(f"Warning: {warning}")
    for note in run.notes:
        typer.echo(f"Note: {note}")
    if run.value is not None:
        fit, spend = run.value.bgnbd, run.value.gamma_gamma
        typer.echo(f"BG/NBD r={fit.r:.4g} alpha={fit.alpha:.4g} a={fit.a:.4g} b={fit.b:.4g} "
                   f"(log-likelihood {fit.log_likelihood:,.1f}, {fit.n_customers:,} customers); "
                   f"Gamma-Gamma p={spend.p:.4g} q={spend.q:.4g} gamma={spend.gamma:.4g}")
    if run.check is not None:
        from optimizer.scoring.value_check import format_check

        typer.echo(format_check(run.check))
    if run.model is not None:
        typer.echo(format_report(run.model.report))


@app.command()
def evaluate(
    plan: Annotated[str, typer.Argument(metavar="PLAN",
                                        help="plan.parquet written by cvo optimize (or the object-store URL "
                                        "its run was written to).", show_default=False)],
    history: Annotated[Path, typer.Option(help="Randomized campaign history to evaluate the plan on.")],
    outcome: Annotated[str, typer.Option(help="Outcome column to value the plan by (revenue or converted: the "
                                         "column --history-column maps to that role).")] = "revenue",
    propensity: Annotated[str, typer.Option(help="Assignment probabilities: shares (completely randomized), "
                                            "model (estimated from features) or given (a column).")] = "shares",
    propensity_column: Annotated[str | None, typer.Option(help="Column of given propensities.")] = None,
    cost: Annotated[list[str] | None, typer.Option(help="Cost per contact of a campaign, CAMPAIGN=AMOUNT; "
                                                   "repeatable.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the interval (0: normal approximation).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    history_column: Annotated[list[str] | None, typer.Option(help="Map a history column: ROLE=NAME with ROLE one of "
                                                             "customer_id, campaign_id, treated, converted, revenue; "
                                                             "repeatable (as cvo score takes it).")] = None,
    json_output: Annotated[bool, typer.Option("--json", metavar="", help="Print the evaluation as JSON.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Estimate what PLAN would have earned on a randomized history, beside baselines.

    Inverse propensity weighting, with a confidence interval; the baselines are nobody, everybody with
    the best campaign, and random at the same volume.

    Example: cvo evaluate out/weekly/plan.parquet --history examples/data/history.parquet
    """
    from optimizer.scoring.evaluate import EvaluateOptions, Propensity
    from optimizer.scoring.evaluate_run import evaluate_files, format_evaluation

    try:
        costs = {campaign: _amount(amount, campaign) for campaign, amount in _mapping(cost or []).items()}
        columns = _history_columns(history_column or [])
        mapped = dict(zip(("revenue", "converted"), (columns.revenue, columns.outcome), strict=True))
        options = EvaluateOptions(outcome=mapped.get(outcome) or outcome,
                                  propensity=_choice(Propensity, propensity, "--propensity"),
                                  propensity_column=propensity_column, costs=costs or None, bootstrap=bootstrap,
                                  seed=seed)
        with progress_console(quiet).status(f"Evaluating {plan} on {history} …"):
            result = evaluate_files(plan, history, columns, options)
    except CvoError as error:
        raise fail(error) from None
    typer.echo(json.dumps(result.to_dict(), indent=2) if json_output else format_evaluation(result))


@app.command()
def segments(
    transactions: Annotated[Path, typer.Option(help="Transaction log (customer_id, date, amount): .csv, .parquet or "
                                               "the CDNOW .txt layout.", show_default=False)],
    start: Annotated[str, typer.Option("--from", help="The first cut-off, e.g. 1997-09-30.", show_default=False)],
    end: Annotated[str, typer.Option("--to", help="The second cut-off, after the first.", show_default=False)],
    column: Annotated[list[str] | None, typer.Option(help="Map a transaction column: ROLE=NAME with ROLE one of "
                                                     "customer_id, date, amount, order_id.")] = None,
    date_format: Annotated[str | None, typer.Option(help="Format of the transaction dates when they are not "
                                                    "ISO, e.g. %d/%m/%Y.")] = None,
    drop_duplicates: Annotated[bool, typer.Option("--drop-duplicates", metavar="",
                                                  help="Drop transaction lines that repeat "
                                                  "an earlier line in every column (an export that wrote lines "
                                                  "twice); they are counted either way.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", parser=folder, help="Folder for migration.json (a plan's run folder puts "
                                     "it in its report).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", metavar="", help="Print the migration as JSON.")] = False,
) -> None:
    """How customers moved between RFM segments from one cut-off to another.

    Each customer's segment at --from (recency and frequency quintiles) against their segment at
    --to, customers who first bought in between in their own row; counts and row shares.

    Example: cvo segments --transactions orders.csv --from 1997-09-30 --to 1998-06-30
    """
    from optimizer.scoring.rfm import segment_migration, write_migration
    from optimizer.scoring.transactions import read_log

    try:
        log = read_log(transactions, columns=_mapping(column or []), date_format=date_format,
                       drop_duplicates=drop_duplicates)
        migration = segment_migration(log.orders, start, end, source=str(transactions),
                                      dropped=log.reading.dropped(repeats=False))  # as cvo score checks its cut-off
        written = None if out is None else write_migration(migration, out)
    except CvoError as error:
        raise fail(error) from None
    typer.echo(f"Transactions: {log.reading.sentence()}", err=json_output)  # beside the JSON, not in it
    for warning in log.reading.warnings:
        typer.echo(f"Warning: {warning}", err=json_output)
    typer.echo(f"Cut-offs: {migration.cutoffs_sentence()}.", err=json_output)
    typer.echo(json.dumps(migration.to_dict(), indent=2) if json_output else _migration_text(migration))
    if written is not None and not json_output:
        typer.echo(f"Wrote {written}")



def _migration_text(migration: Migration) -> str:
    """The moves as a table: each starting segment's customers and where they went (row shares)."""
    from optimizer.reporting.text import text_table

    counts, shares = migration.counts, migration.shares
    header = [f"{counts.index.name} \\ {counts.columns.name}", "customers", *counts.columns]
    rows = [[str(name), f"{int(counts.loc[name].sum()):,}",
             *(f"{share:.0%}" if count else "·" for share, count in zip(shares.loc[name], counts.loc[name]))]
            for name in counts.index]
    table = counts.to_numpy()
    stayed = int(sum(table[list(counts.index).index(s), j] for j, s in enumerate(counts.columns) if s in counts.index))
    total = int(table.sum())
    return "\n".join([text_table(header, rows), "", f"{stayed:,} of {total:,} customers ({stayed / max(total, 1):.0%}) "
                      f"are in the same segment at {migration.end.date()} as at {migration.start.date()}."])

