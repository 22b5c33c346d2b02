"""Public names of optimizer.scenario, for type checkers; loaded lazily at run time (lazy_loader)."""

from .campaigns import Campaign as Campaign
from .contact_policy import ContactCap as ContactCap, ContactPolicy as ContactPolicy, Cooldown as Cooldown
from .data import (
    ScenarioData as ScenarioData,
    Scores as Scores,
    load_customers as load_customers,
    load_data as load_data,
    load_scores as load_scores,
)
from .expressions import Expression as Expression, parse as parse
from .formulation import Formulation as Formulation, RuleImpact as RuleImpact, formulate as formulate
from .limits import Channel as Channel, CustomConstraint as CustomConstraint, Kpi as Kpi
from .lists import CustomerLists as CustomerLists, read_lists as read_lists
from .objective import Objective as Objective
from .policy import PolicyRule as PolicyRule, policy_rules as policy_rules
from .schema import ForcedList as ForcedList, Scenario as Scenario, load_scenario as load_scenario
