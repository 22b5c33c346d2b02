"""What a plan expects a measurement of each campaign to find: the planned uplift over its treated
customers and the power of its control group to detect it (summary.json's campaigns)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.scenario.formulation import Formulation
from optimizer.solve.problem import NO_CAMPAIGN


def campaign_choice(formulation: Formulation, choice: NDArray[np.integer[Any]]) -> NDArray[np.intp]:
    """The campaign index of each customer's chosen offer (a variant counts for its campaign); -1 for none."""
    campaign_of = np.array([offer.index for offer in formulation.offers], dtype=np.intp)
    return np.where(choice == NO_CAMPAIGN, NO_CAMPAIGN, campaign_of[np.where(choice == NO_CAMPAIGN, 0, choice)])


def planned_sums(formulation: Formulation, choice: NDArray[np.integer[Any]], control: NDArray[np.bool_],
                 p_treat: NDArray[np.float64], p_control: NDArray[np.float64],
                 worth: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per campaign, over the treated customers of its treatment group (forced customers are not
    measured) and its controls: [measured, controls, Σ (p_treat - p_control), Σ (p_treat -
    p_control) × w, Σ p_treat, Σ p_control] (sums of the measured), which add up over partitions."""
    forced, by_campaign = formulation.data.lists.forced, campaign_choice(formulation, choice)
    measured = ~control if forced is None else ~control & (forced == NO_CAMPAIGN)
    sums = np.zeros((len(formulation.scenario.campaigns), 6))
    for j in range(len(sums)):
        mine, held = (by_campaign == j) & measured, (by_campaign == j) & control
        uplift = p_treat[mine] - p_control[mine]
        sums[j] = [mine.sum(), held.sum(), uplift.sum(), (uplift * worth[mine]).sum(), p_treat[mine].sum(),
                   p_control[mine].sum()]
    return sums


def with_planned(campaigns: list[dict[str, Any]], sums: NDArray[np.float64]) -> list[dict[str, Any]]:
    """Each campaign with what the plan expects a measurement of it to find (``planned_sums``):
    ``planned_response_uplift`` the mean of p_treat - p_control, ``planned_value_uplift`` the mean
    of (p_treat - p_control) × w, and the ``power`` of its controls to detect that uplift
    (``measurement_power``)."""
    for campaign, (measured, held, uplift, value, treated_rate, control_rate) in zip(campaigns, sums):
        if not measured:
            campaign.update(planned_response_uplift=None, planned_value_uplift=None, power=None)
            continue
        campaign["planned_response_uplift"] = float(uplift / measured)
        campaign["planned_value_uplift"] = float(value / measured)
        campaign["power"] = None if not held else measurement_power(  # no controls: nothing to measure
            float(treated_rate / measured), float(control_rate / measured), int(measured), int(held))
    return campaigns


POWER_ALPHA, POWER_TARGET = 0.05, 0.8


def measurement_power(rate_treated: float, rate_control: float, treated: int, controls: int) -> dict[str, Any]:
    """How likely the measurement is to find the planned uplift d = p_T - p_C (two-sided test at
    POWER_ALPHA, normal approximation, unpooled variances), and the controls that make it POWER_TARGET:

        se = sqrt(p_T (1 - p_T) / n_T + p_C (1 - p_C) / n_C),   power = Phi(|d| / se - z_(1 - alpha/2))
        n_C for power b:  p_C (1 - p_C) / n_C = (|d| / (z_(1 - alpha/2) + z_b))^2 - p_T (1 - p_T) / n_T

    ``controls_needed`` is None when no control group is large enough with this treated group. The
    normal approximation holds with some 10 or more expected responders per arm; below that the
    Welch test a measurement runs rejects more often by chance than the power says."""
    from statistics import NormalDist

    normal, d = NormalDist(), abs(rate_treated - rate_control)
    z_alpha, z_target = normal.inv_cdf(1 - POWER_ALPHA / 2), normal.inv_cdf(POWER_TARGET)
    var_t, var_c = rate_treated * (1 - rate_treated), rate_control * (1 - rate_control)
    se = np.sqrt(var_t / treated + var_c / controls) if controls else np.inf
    room = (d / (z_alpha + z_target)) ** 2 - var_t / treated
    needed = int(np.ceil(var_c / room)) if room > 0 and var_c > 0 else (0 if room > 0 else None)
    return {"alpha": POWER_ALPHA, "target": POWER_TARGET, "treated": treated, "controls": controls,
            "power": float(normal.cdf(d / se - z_alpha)) if np.isfinite(se) and se > 0 else 0.0,
            "controls_needed": needed}
