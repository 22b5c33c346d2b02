"""Public names of optimizer.scenario, for type checkers; loaded lazily at run time (lazy_loader)."""

from .data import (
    ScenarioData as ScenarioData,
    Scores as Scores,
    load_customers as load_customers,
    load_data as load_data,
    load_scores as load_scores,
)
from .expressions import Expression as Expression, parse as parse
from .formulation import Formulation as Formulation, RuleImpact as RuleImpact, formulate as formulate
from .lists import CustomerLists as CustomerLists, read_lists as read_lists
from .policy import PolicyRule as PolicyRule, policy_rules as policy_rules
from .schema import (
    Campaign as Campaign,
    Channel as Channel,
    ContactCap as ContactCap,
    ContactPolicy as ContactPolicy,
    Cooldown as Cooldown,
    CustomConstraint as CustomConstraint,
    ForcedList as ForcedList,
    Kpi as Kpi,
    Objective as Objective,
    Scenario as Scenario,
    load_scenario as load_scenario,
)
