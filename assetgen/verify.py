"""``--locked`` and ``check``: is everything committed exactly what the spec asks for?

Verification never calls a provider. It reads the plan: every asset must be
``fresh`` (its key in the lock, its original in the store, every variant on
disk with its recorded hash). The only drift it may repair is a variant file
that is missing while its original is present (re-rendered locally, since
outputs are derived data), and only when writing is allowed. What it checks
are recorded keys and content hashes, so upgrading Pillow or assetgen alone
never makes it fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .plan import AssetStep, Plan


@dataclass
class Verdict:
    out_of_date: list[str] = field(default_factory=list)
    """One line per asset that is out of date, with why (and a diff where useful)."""
    rerender: list[AssetStep] = field(default_factory=list)
    """Assets whose only drift is missing variant files."""


def around_difference(old: str, new: str, width: int = 90) -> tuple[str, str]:
    """Both texts cut to the same window around their first difference."""
    first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), None)
    first = min(len(old), len(new)) if first is None else first
    start = max(0, first - width // 3)

    def cut(text: str) -> str:
        piece = text[start : start + width]
        return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")

    return cut(old), cut(new)


def generation_drift(step: AssetStep) -> str:
    """Why an asset that would be generated or reused is out of date."""
    reason = step.reason
    if reason.code == "new-asset":
        return f"{step.name}: not in the lock (new asset)"
    if reason.code in ("original-missing", "original-restored", "original-altered"):
        path = step.entry.original.path if step.entry is not None else "?"
        if reason.code == "original-altered":
            return f"{step.name}: original altered: {path} (`assetgen build` restores it)"
        return f"{step.name}: original missing: {path} (commit the store folder)"
    if reason.code == "prompt-changed" and step.entry is not None:
        old, new = around_difference(step.entry.prompt, step.asset.prompt)
        return f"{step.name}: prompt changed\n      - lock: {old}\n      + spec: {new}"
    return f"{step.name}: {reason.text}"


def render_drift(step: AssetStep) -> list[str]:
    """Problems of a render step other than missing files (which can be repaired)."""
    lines = []
    for variant in step.variants:
        if variant.state == "altered" and variant.record is not None:
            lines.append(f"{step.name}: variant altered: {variant.record.path}")
        elif variant.state in ("changed", "new"):
            lines.append(f"{step.name}: variant settings changed")
    if not lines and step.reason.code == "variant-removed":
        lines.append(f"{step.name}: variant removed from the spec")
    return sorted(set(lines))


def verify(plan: Plan) -> Verdict:
    verdict = Verdict()
    for step in plan.steps:
        if step.action in ("generate", "reuse"):
            verdict.out_of_date.append(generation_drift(step))
        elif step.action == "render":
            problems = render_drift(step)
            verdict.out_of_date.extend(problems)
            if not problems:
                verdict.rerender.append(step)
    verdict.out_of_date.extend(
        f"{removal.name}: in the lock but no longer in the spec" for removal in plan.removals
    )
    return verdict


def missing_outputs(steps: list[AssetStep]) -> list[str]:
    return [
        f"{step.name}: output missing: {variant.record.path}"
        for step in steps
        for variant in step.variants
        if variant.state == "missing" and variant.record is not None
    ]
