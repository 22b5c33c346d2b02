"""The scenario file: campaigns, budgets, channels, constraints and KPIs, validated strictly.

A scenario is YAML read into pydantic models that forbid unknown keys. Every problem is
collected with its location (``campaigns[2].min_audience``) and reported at once, with a
did-you-mean for misspelt keys. Paths inside the file are relative to the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    model_validator,
)

from optimizer.errors import CvoError, ScenarioError, ScenarioInvalid, did_you_mean
from optimizer.scenario.expression_keys import expression_problems
from optimizer.scenario.inheritance import apply_overrides, read_layers, set_key
from optimizer.scenario.origins import Origins
from optimizer.scenario.validation_errors import scenario_error
from optimizer.solve.options import SolverOptions
from optimizer.store.datasets import is_url
from optimizer.store.files import NOT_KEPT
from optimizer.store.history_versions import history_of

if TYPE_CHECKING:  # numpy loads when the fractions are asked for: cvo history reads a scenario without it
    import numpy as np
    from numpy.typing import NDArray

Number = int | float
Expr = str | int | float | bool
EXPRESSIONS = (Expr, Expr | None)  # the annotations of a field that holds an expression


class Objective(StrEnum):
    """What the plan maximises, summed over treated (customer, campaign) pairs.

    incremental_value: (p_treat - p_control) * value_per_response - spend
    expected_revenue:  p_treat * value_per_response
    responses:         p_treat
    """

    INCREMENTAL_VALUE = "incremental_value"
    EXPECTED_REVENUE = "expected_revenue"
    RESPONSES = "responses"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ObjectiveExpression(_Strict):
    """A planner's own objective: the sum over treated (customer, campaign) pairs of ``expression``,
    over customer columns and the pair columns constraints see (p_treat, p_control, uplift,
    value_per_response, cost_per_contact, cost_per_response, spend, campaign_id, channel), e.g.
    ``uplift * value_per_response - spend - 0.2 * churn_risk * spend`` (a risk penalty)."""

    expression: Expr


def _folder_name(name: str) -> str:
    """A scenario name is the folder of its outputs (out/<name>), so it must not be a path.

    >>> _folder_name("weekly 2026-01")
    'weekly 2026-01'
    """
    if not re.fullmatch(r"[\w.\- ]+", name) or name != name.strip() or not name.strip("."):
        raise ValueError(
            "a name must be a plain folder name of letters, digits, spaces, '-', '_' and '.' (the plan is "
            "written to out/<name>); '/', '\\', '..' and absolute paths are not allowed"
        )
    return name


def _objective_kind(value: Any) -> str:
    """Which form an objective is written in: a name, or a mapping {expression: ...}."""
    return "expression" if isinstance(value, dict | ObjectiveExpression) else "named"


class Variant(_Strict):
    """One offer level of a campaign (10 %, 15 %, 20 % off), each with its own cost and response.

    A customer gets at most one variant of at most one campaign: the variants are more columns of
    the same one-of-k choice. A key left out is the campaign's; ``p_treat`` and ``p_control`` are
    read with the campaign's own response probabilities as ``p_treat`` and ``p_control`` (e.g.
    ``min(1, 1.3 * p_treat)``); ``eligible`` narrows the campaign's; ``max_audience`` caps this
    variant alone (a stock of coupons). The campaign's audiences, budget and control fraction count
    its variants together.
    """

    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str | None = None
    cost_per_contact: Annotated[float, Field(ge=0)] | None = None
    cost_per_response: Annotated[float, Field(ge=0)] | None = None
    value_per_response: Expr | None = None
    eligible: Expr = True
    p_treat: Expr | None = None
    p_control: Expr | None = None
    max_audience: Annotated[int, Field(ge=0)] | None = None


class Campaign(_Strict):
    """One campaign idea: who may get it, what it costs, what a response is worth, and its offer
    ``variants`` (none: the campaign is one offer)."""

    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str | None = None
    channel: str
    cost_per_contact: Annotated[float, Field(ge=0)] = 0.0
    cost_per_response: Annotated[float, Field(ge=0)] = 0.0
    value_per_response: Expr = 0.0
    eligible: Expr = True
    p_treat: Expr | None = None
    p_control: Expr | None = None
    min_audience: Annotated[int, Field(ge=0)] = 0
    max_audience: Annotated[int, Field(ge=0)] | None = None
    budget: Annotated[float, Field(ge=0)] | None = None
    control_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0
    measurement_window_days: Annotated[int, Field(ge=0)] = 14
    variants: list[Variant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _audience_range(self) -> Campaign:
        if self.max_audience is not None and self.min_audience > self.max_audience:
            raise ValueError(
                f"min_audience ({self.min_audience}) is above max_audience ({self.max_audience}); "
                "lower min_audience or raise max_audience"
            )
        if (self.p_treat is None) != (self.p_control is None):
            raise ValueError("give both p_treat and p_control, or neither (then they come from 'scores')")
        return self


class Channel(_Strict):
    """A delivery channel; ``capacity`` caps the treated contacts it carries in one run."""

    capacity: Annotated[int, Field(ge=0)] | None = None


class CustomConstraint(_Strict):
    """sum over selected pairs matching ``where`` (and ``campaigns``) of ``expression`` <sense> rhs.

    With ``per``, a ratio row: sum of ``expression`` <sense> rhs × sum of ``per`` over the same pairs
    (an ROI hurdle: expression ``uplift * value_per_response - spend``, per ``spend``, rhs 1.5), which
    is linear, sum of (expression - rhs × per) <sense> 0, so the solver stays exact; a plan that
    selects nobody meets it.
    """

    name: Annotated[str, Field(min_length=1)]
    sense: Literal["<=", ">=", "=="]
    expression: Expr = 1
    per: Expr | None = None
    where: Expr = True
    campaigns: list[str] | None = None
    rhs: float


class Kpi(_Strict):
    """A report-only total: sum over treated pairs matching ``where`` of ``expression``."""

    name: Annotated[str, Field(min_length=1)]
    expression: Expr
    where: Expr = True
    campaigns: list[str] | None = None


class Cooldown(_Strict):
    """No two contacts less than ``days`` apart: of one ``campaign``, or on one ``channel``.

    Counts the treated contacts in the contact history; controls received nothing.
    """

    campaign: str | None = None
    channel: str | None = None
    days: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _one_target(self) -> Cooldown:
        if (self.campaign is None) == (self.channel is None):
            raise ValueError("give either 'campaign' or 'channel' (one of them) for a cool-down")
        return self


class ContactCap(_Strict):
    """At most ``max_contacts`` treated contacts in ``days`` days, the new one included: on one
    ``channel``, of one ``campaign``, or of any kind when neither is given."""

    campaign: str | None = None
    channel: str | None = None
    max_contacts: Annotated[int, Field(ge=1)]
    days: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _at_most_one_target(self) -> ContactCap:
        if self.campaign is not None and self.channel is not None:
            raise ValueError("give 'campaign' or 'channel', not both (neither: every contact counts)")
        return self


class ContactPolicy(_Strict):
    """Rules read from the contact history (a DuckDB file, relative to the scenario).

    ``separate_windows``: no customer (treated or control) in two campaigns whose measurement
    windows overlap, so each campaign's uplift is measured cleanly.
    """

    history: str = "contact_history.duckdb"
    cooldowns: list[Cooldown] = Field(default_factory=list)
    caps: list[ContactCap] = Field(default_factory=list)
    separate_windows: bool = True


class ForcedList(_Strict):
    """Customers who must be contacted in this run (a promise: the VIPs told they get a call).

    ``file`` (.csv or .parquet, relative to the scenario) has the scenario's customer id column;
    each listed customer gets ``campaign``, or the campaign its own ``campaign_id`` column names
    when ``campaign`` is left out. A forced customer is treated, never held out as a control, and
    their contacts are not part of any campaign's measurement (they were not drawn at random).
    """

    file: Annotated[str, Field(min_length=1)]
    campaign: str | None = None
    variant: str | None = None  # of a campaign with offer variants (else the file's variant column)


SECRET_WORDS = ("secret", "token", "password", "key", "credential", "sas")  # in a storage option's name


def _without_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """Storage options as a run folder keeps them: a value whose name says it is a secret is replaced
    (credentials belong in the environment, where fsspec's file systems read them)."""
    return {name: NOT_KEPT if any(word in name.lower() for word in SECRET_WORDS) else
            _without_secrets(value) if isinstance(value, dict) else value for name, value in options.items()}


class Scenario(_Strict):
    """A whole scenario; ``path`` is where it was read from (relative paths resolve from there)."""

    name: Annotated[str, Field(min_length=1), AfterValidator(_folder_name)]
    description: str | None = None
    customers: str  # a file, a folder of parquet parts, or an fsspec URL of either (optimizer/store/datasets.py)
    scores: str | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict)  # fsspec's, for the URLs of customers and scores
    customer_id: str = "customer_id"
    seed: int = 0
    budget: Annotated[float, Field(ge=0)] | None = None
    currency: Annotated[str, Field(min_length=1, max_length=12)] | None = None  # e.g. EUR, shown beside money
    budget_counts_controls: bool = True  # budgets charge control customers at the spend they would have cost
    objective: Annotated[Annotated[Objective, Tag("named")] | Annotated[ObjectiveExpression, Tag("expression")],
                         Discriminator(_objective_kind)] = Objective.INCREMENTAL_VALUE
    campaigns: Annotated[list[Campaign], Field(min_length=1)]
    channels: dict[str, Channel] = Field(default_factory=dict)
    constraints: list[CustomConstraint] = Field(default_factory=list)
    kpis: list[Kpi] = Field(default_factory=list)
    control_strata: list[Expr] = Field(default_factory=list)  # draw the controls within these groups
    breakdown: list[Expr] = Field(default_factory=list)  # the report's plan by each of these (segment, region)
    contact_lists: Literal["channel", "campaign"] = "channel"  # one contacts_<name>.csv per channel or per campaign
    forced: list[ForcedList] = Field(default_factory=list)
    excluded: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)  # do-not-contact files
    solver: SolverOptions = SolverOptions()
    contact_policy: ContactPolicy = ContactPolicy()
    path: Path | None = Field(default=None, exclude=True)
    _bases: tuple[str, ...] = PrivateAttr(default=())
    _overrides: tuple[str, ...] = PrivateAttr(default=())
    _changed: tuple[str, ...] = PrivateAttr(default=())
    _origins: Origins | None = PrivateAttr(default=None)  # a scenario built from layers: who wrote each key

    @property
    def layers(self) -> dict[str, list[str]]:
        """The files this scenario extends (nearest first) and the --set overrides laid over them
        (optimizer/scenario/inheritance.py)."""
        return {"extends": list(self._bases), "overrides": list(self._overrides)}

    def effective(self) -> dict[str, Any]:
        """The scenario as one file would hold it (bases and overrides applied, defaults filled in),
        every path absolute, so that it runs again from anywhere."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["storage_options"] = _without_secrets(self.storage_options)
        data["customers"] = self.location(self.customers)
        if self.scores is not None:
            data["scores"] = self.location(self.scores)
        data["contact_policy"]["history"] = history_of(self.history_location())  # not the version a run read
        for listed in data.get("forced", []):
            listed["file"] = str(self.resolve(listed["file"]))
        data["excluded"] = [str(self.resolve(file)) for file in self.excluded]
        return data

    def with_changes(self, changes: Mapping[str, Any]) -> Scenario:
        """This scenario with each dotted key of ``changes`` set, as ``--set`` does
        (``{"budget": 12000, "campaigns.vip_call.max_audience": 500}``), checked as a file is: a
        ScenarioInvalid lists every problem (``model_copy(update=...)`` checks nothing). Paths still
        resolve from the scenario's file; the changes join its overrides in summary.json."""
        raw = self.model_dump(mode="json", exclude_none=True)
        for key, value in changes.items():
            set_key(raw, key, value, f"changes[{key!r}]", self.source)
        changed = (*self._changed, *(key.strip() for key in changes if key.strip() not in self._changed))
        scenario = validated(raw, self.path, f"{self._file_label()} with {', '.join(changed)} changed")
        scenario._bases, scenario._changed = self._bases, changed
        scenario._overrides = (*self._overrides, *(f"{key}={value!r}" for key, value in changes.items()))
        return scenario

    def checked(self) -> Scenario:
        """This scenario once its values are checked as a file's are (ScenarioInvalid otherwise): a
        scenario built with ``model_copy(update=...)`` was never checked."""
        validated(self.model_dump(mode="json", exclude_none=True), self.path, self.source)
        return self

    def resolve(self, relative: str) -> Path:
        """A path from the file, made absolute against the scenario's folder."""
        base = self.path.parent if self.path else Path.cwd()
        return (base / relative).resolve()

    def location(self, relative: str) -> str:
        """Where a table is: an fsspec URL as written (``s3://bucket/customers``), a path made
        absolute against the scenario's folder."""
        return relative if is_url(relative) else str(self.resolve(relative))

    def history_location(self) -> str:
        """The contact history: an object-store URL as written (a folder of versions,
        optimizer/store/history_versions.py), a file path made absolute against the scenario's folder."""
        return self.location(self.contact_policy.history)

    @property
    def objective_name(self) -> str:
        """'incremental_value' (or another named objective), or 'expression: <the expression>'."""
        if isinstance(self.objective, ObjectiveExpression):
            return f"expression: {self.objective.expression}"
        return str(self.objective)

    def campaign_ids(self) -> list[str]:
        return [campaign.id for campaign in self.campaigns]

    def control_fractions(self) -> NDArray[np.float64]:
        """Each campaign's control fraction f_j, in campaign order."""
        import numpy as np

        return np.array([campaign.control_fraction for campaign in self.campaigns])

    @property
    def source(self) -> str:
        """Where the scenario came from, as messages name it: its file, or for one changed in memory
        (``with_changes``) or built without a file, the scenario by name."""
        if not self._changed and self.path is not None:
            return str(self.path)
        label = f"scenario '{self.name}'"
        return f"{label} ({self._file_label()} with {', '.join(self._changed)} changed)" if self._changed else label

    def _file_label(self) -> str:
        return str(self.path) if self.path is not None else f"scenario '{self.name}'"

    def where(self, key: str) -> str:
        """Where ``key`` ('campaigns[4].eligible') is, as messages name it: '<source>, <key>', or for
        a scenario that extends others the file (or --set) that wrote it, with the key as written
        there (optimizer/scenario/origins.py)."""
        located = self._origins.locate(key) if self._origins is not None else None
        return located or f"{self.source}, {key}"

    def unused_channels(self) -> list[str]:
        """The channels under 'channels' that no campaign uses: their limits apply to nobody (one
        whose name is close to a used one is refused as a misspelling when the scenario is read)."""
        used = {campaign.channel for campaign in self.campaigns}
        return [channel for channel in self.channels if channel not in used]


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read and validate a scenario file, laid over the files it extends and under ``overrides``
    (``KEY=VALUE``: optimizer/scenario/inheritance.py); raise ScenarioInvalid listing every problem."""
    path = Path(path)
    layers = read_layers(path)
    raw = apply_overrides(layers.raw, tuple(overrides), str(path))
    label = f"{path} with --set {' '.join(overrides)}" if overrides else str(path)  # a key a --set gave is not in it
    origins = Origins.of(raw, layers.files, tuple(overrides), path) if layers.bases or overrides else None
    scenario = validated(raw, path, label, origins)
    scenario._bases, scenario._overrides = tuple(map(str, layers.bases)), tuple(overrides)
    return scenario


def validated(raw: dict[str, Any], path: Path | None, label: str, origins: Origins | None = None) -> Scenario:
    """The Scenario of a mapping read from ``path`` (None: none), or ScenarioInvalid listing every
    problem, each located in ``label``, or where ``origins`` say the key was written."""
    locate = origins.locate if origins is not None else None
    try:
        scenario = Scenario.model_validate({**raw, "path": path})
    except ValidationError as error:
        raise ScenarioInvalid([scenario_error(e, label, Scenario, locate) for e in error.errors()], label) from None
    scenario._origins = origins
    problems = [problem if origins else _located(problem, scenario.source, label)  # origins name the layer
                for problem in _cross_checks(scenario)]
    if problems:
        raise ScenarioInvalid(problems, label)
    return scenario


def _located(problem: ScenarioError, source: str, label: str) -> ScenarioError:
    """``problem`` located in ``label`` where it names ``source`` (the file, for a value a --set gave)."""
    if problem.where is not None and problem.where.startswith(source) and label != source:
        problem.where = label + problem.where.removeprefix(source)
    return problem


def _cross_checks(scenario: Scenario) -> list[ScenarioError]:
    """Checks that span keys: unique ids, known channels, campaign references, probabilities."""
    return [
        *_campaign_checks(scenario), *_reference_checks(scenario), *_probability_checks(scenario),
        *_policy_checks(scenario), *_list_checks(scenario),
        *expression_problems(scenario, scenario.where, EXPRESSIONS),
    ]


def _campaign_checks(scenario: Scenario) -> list[ScenarioError]:
    where, ids, problems = scenario.where, scenario.campaign_ids(), []
    for index, campaign in enumerate(scenario.campaigns):
        if ids.index(campaign.id) != index:
            problems.append(ScenarioError(
                f"The campaign id '{campaign.id}' is given twice, at campaigns[{ids.index(campaign.id)}] and "
                f"campaigns[{index}]", where=where(f"campaigns[{index}].id"), fix="Give every campaign its own id",
            ))
        variant_ids = [variant.id for variant in campaign.variants]
        problems.extend(ScenarioError(
            f"Campaign '{campaign.id}' has the variant id '{variant_id}' twice",
            where=where(f"campaigns[{index}].variants[{position}].id"), fix="Give every variant its own id",
        ) for position, variant_id in enumerate(variant_ids) if variant_ids.index(variant_id) != position)
        if scenario.channels and campaign.channel not in scenario.channels:
            hint = did_you_mean(campaign.channel, scenario.channels)
            problems.append(ScenarioError(
                f"Campaign '{campaign.id}' uses channel '{campaign.channel}', which is not under 'channels'",
                where=where(f"campaigns[{index}].channel"),
                fix=f"{hint + ' ' if hint else ''}Known channels: {', '.join(scenario.channels)}",
            ))
    return [*problems, *_unused_channels(scenario)]


def _unused_channels(scenario: Scenario) -> list[ScenarioError]:
    """A channel under 'channels' that no campaign uses but whose name is close to one they use: a
    misspelling whose capacity would bind nobody (a channel kept for later, unlike any, is left be)."""
    used = list(dict.fromkeys(campaign.channel for campaign in scenario.campaigns))
    declared = [channel for channel in used if channel in scenario.channels]  # a campaign's own typo: its check
    return [ScenarioError(
        f"No campaign uses the channel '{channel}' under 'channels', so its limits would apply to nobody",
        where=scenario.where(f"channels.{channel}"), fix=f"{hint} The campaigns use {', '.join(used)}",
    ) for channel in scenario.channels if channel not in used and (hint := did_you_mean(channel, declared))]


def _reference_checks(scenario: Scenario) -> list[ScenarioError]:
    """Constraint and KPI names are unique and name only this scenario's campaigns."""
    where, ids, problems = scenario.where, scenario.campaign_ids(), []
    families: tuple[tuple[str, Sequence[CustomConstraint | Kpi]], ...] = (
        ("constraints", scenario.constraints), ("kpis", scenario.kpis))
    for family, items in families:
        names = [item.name for item in items]
        for index, item in enumerate(items):
            if names.index(item.name) != index:
                problems.append(ScenarioError(
                    f"The name '{item.name}' is used twice in {family}",
                    where=where(f"{family}[{index}].name"), fix="Give each its own name",
                ))
            for campaign_id in item.campaigns or []:
                if campaign_id not in ids:
                    problems.append(_unknown(campaign_id, ids, "campaign", where(f"{family}[{index}].campaigns")))
    return problems


def _policy_checks(scenario: Scenario) -> list[ScenarioError]:
    """Cool-downs and caps name this scenario's campaigns and channels."""
    ids = scenario.campaign_ids()
    channels = list(dict.fromkeys([*scenario.channels, *(c.channel for c in scenario.campaigns)]))
    policy, problems = scenario.contact_policy, []
    families: tuple[tuple[str, Sequence[Cooldown | ContactCap]], ...] = (
        ("cooldowns", policy.cooldowns), ("caps", policy.caps))
    for family, rules in families:
        for index, rule in enumerate(rules):
            for key, name, known in (("campaign", rule.campaign, ids), ("channel", rule.channel, channels)):
                if name is not None and name not in known:
                    where = scenario.where(f"contact_policy.{family}[{index}].{key}")
                    problems.append(_unknown(name, known, key, where))
    return problems


def _list_checks(scenario: Scenario) -> list[ScenarioError]:
    """Forced lists name this scenario's campaigns, and a variant only with its campaign."""
    ids, problems = scenario.campaign_ids(), []
    for index, listed in enumerate(scenario.forced):
        where = scenario.where(f"forced[{index}]")
        if listed.campaign is not None and listed.campaign not in ids:
            problems.append(_unknown(listed.campaign, ids, "campaign", f"{where}.campaign"))
        elif listed.variant is not None and listed.campaign is None:
            problems.append(ScenarioError("A forced list names a variant but not its campaign", where=where,
                                          fix="Add 'campaign', or give the file campaign_id and variant columns"))
        elif listed.variant is not None and listed.campaign is not None:
            variants = [v.id for v in scenario.campaigns[ids.index(listed.campaign)].variants]
            if listed.variant not in variants:
                hint = did_you_mean(listed.variant, variants)
                problems.append(ScenarioError(
                    f"'{listed.variant}' is not a variant of campaign '{listed.campaign}'", where=f"{where}.variant",
                    fix=f"{hint + ' ' if hint else ''}Its variants: {', '.join(variants)}" if variants else
                    "The campaign has no offer variants: leave 'variant' out"))
    return problems


def _unknown(name: str, known: list[str], kind: str, where: str) -> ScenarioError:
    """'x' is not a campaign (channel, ...) of this scenario, with a did-you-mean and the known names."""
    hint = did_you_mean(name, known)
    return ScenarioError(f"'{name}' is not a {kind} of this scenario", where=where,
                         fix=f"{hint + ' ' if hint else ''}{kind.capitalize()}s: {', '.join(known)}")


def _probability_checks(scenario: Scenario) -> list[ScenarioError]:
    """Without a scores table every campaign needs its own p_treat and p_control."""
    if scenario.scores is not None:
        return []
    return [
        ScenarioError(
            f"Campaign '{campaign.id}' has no response probabilities",
            where=scenario.where(f"campaigns[{index}]"),
            fix="Add a 'scores' table (customer_id, campaign_id, p_treat, p_control) "
            "or give the campaign 'p_treat' and 'p_control' expressions",
        )
        for index, campaign in enumerate(scenario.campaigns)
        if campaign.p_treat is None and not variants_scored(campaign)
    ]


def variants_scored(campaign: Campaign) -> bool:
    """True when ``campaign`` has variants and each scores itself (``scores_itself``): the campaign's
    own probabilities are then never read."""
    return bool(campaign.variants) and all(map(scores_itself, campaign.variants))


def scores_itself(variant: Variant) -> bool:
    """True when a variant gives both p_treat and p_control and neither reads the campaign's
    (p_treat, p_control): then every customer has its probabilities, scored or not."""
    from optimizer.scenario.expressions import parse  # numpy: not loaded to read a scenario

    for source in (variant.p_treat, variant.p_control):
        if source is None:
            return False
        try:
            if parse(source, where="variants").names & {"p_treat", "p_control"}:
                return False
        except CvoError:
            return False  # a bad expression is reported where it is evaluated
    return True
