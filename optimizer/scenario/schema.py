"""The scenario file: the Scenario model of a whole file, read and validated strictly.

A scenario is YAML read into pydantic models that forbid unknown keys: its campaigns
(campaigns.py), limits and KPIs (limits.py), contact policy (contact_policy.py) and objective
(objective.py) live beside this module; here are the Scenario that holds them, its forced lists,
``load_scenario``, and the checks that span keys. Every problem is collected with its location
(``campaigns[2].min_audience``) and reported at once, with a did-you-mean for misspelt keys.
Paths inside the file are relative to the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, PrivateAttr, Tag, ValidationError

from optimizer.errors import ScenarioError, ScenarioInvalid, did_you_mean
from optimizer.scenario.campaigns import Campaign, variants_scored
from optimizer.scenario.contact_policy import ContactCap, ContactPolicy, Cooldown
from optimizer.scenario.expression_keys import expression_problems
from optimizer.scenario.fields import EXPRESSIONS, Expr, StrictModel
from optimizer.scenario.inheritance import apply_overrides, read_layers, set_key
from optimizer.scenario.limits import Channel, CustomConstraint, Kpi
from optimizer.scenario.objective import Objective, ObjectiveExpression, objective_kind
from optimizer.scenario.origins import Origins
from optimizer.scenario.validation_errors import scenario_error
from optimizer.solve.options import SolverOptions
from optimizer.store.datasets import is_url
from optimizer.store.files import NOT_KEPT
from optimizer.store.history_versions import history_of

if TYPE_CHECKING:  # numpy loads when the fractions are asked for: cvo history reads a scenario without it
    import numpy as np
    from numpy.typing import NDArray


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


class ForcedList(StrictModel):
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


class Scenario(StrictModel):
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
                         Discriminator(objective_kind)] = Objective.INCREMENTAL_VALUE
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


# The names of the rows cvo makes from the scenario's limits (optimizer/scenario/rows.py)
BUILT_IN_ROW = re.compile(r"budget|(?:budget|min_audience|max_audience|capacity)\[.*\]")


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
            elif family == "constraints" and BUILT_IN_ROW.fullmatch(item.name):
                problems.append(ScenarioError(
                    f"The name '{item.name}' is the name of a limit cvo writes itself (budget, budget[campaign], "
                    "min_audience[...], max_audience[...], capacity[channel]): the plan's tables would show two rows "
                    "of that name", where=where(f"{family}[{index}].name"),
                    fix=f"Give the constraint a name of its own, e.g. '{item.name.replace('[', '_').rstrip(']')}_cap'"))
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
