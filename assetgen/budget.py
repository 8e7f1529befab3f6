"""Whether a plan may spend what it is estimated to cost.

With a budget (``--max-cost`` or ``[build] max_cost``) a plan estimated over
it, or whose cost is unknown, is refused before anything is spent. Without
one, a plan estimated above ``[build] confirm_above`` needs a yes: the CLI asks
on a terminal and refuses in CI; watch mode never asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .plan import Plan


def money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


@dataclass(frozen=True)
class CostCheck:
    verdict: Literal["ok", "ask", "refuse"]
    message: str = ""
    hint: str | None = None


def check_cost(
    plan: Plan, budget: float | None, confirm_above: float, *, yes: bool = False
) -> CostCheck:
    if not plan.api_calls:
        return CostCheck("ok")
    estimate = plan.estimated_cost
    calls = f"{plan.api_calls} generation{'s' if plan.api_calls != 1 else ''}"
    if budget is not None:
        if estimate is None:
            return CostCheck(
                "refuse",
                f"the cost of {calls} is unknown, so the budget of {money(budget)} cannot be kept",
                "set [provider.prices] for the model, or build without a budget",
            )
        if estimate > budget:
            return CostCheck(
                "refuse",
                f"{calls} are estimated at {money(estimate)}, over the budget of {money(budget)}",
                "raise --max-cost / [build] max_cost, or build a subset: assetgen build NAME…",
            )
        return CostCheck("ok")
    if yes or (estimate is not None and estimate <= confirm_above):
        return CostCheck("ok")
    figure = "an unknown cost" if estimate is None else f"an estimated {money(estimate)}"
    return CostCheck(
        "ask",
        f"{calls} will cost {figure} (over [build] confirm_above = {money(confirm_above)})",
        "pass --yes or --max-cost USD to allow it",
    )
