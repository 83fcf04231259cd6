"""D001: a definition both sides accepted changes only with their approval (`--base`).

What is governed, compared with the registry at the base commit (`Context.base`):

- a glossary term's `definition` (and its `agreed_by`: dropping a team from it is how a
  change would otherwise skip that team's approval, and adding one claims an agreement);
- a KPI's `formula`, and its `definition` (which glossary term it points at).

Text is compared as words (kpictl.display.clean), so re-wrapping a folded scalar is no
change. Entities new since the base are reviewed whole, as with T003.

A change carries `change: {rationale: ..., approved_by: [person ids]}` on the entity.
Who must approve is read from the registry at the base, so a pull request cannot
grant itself the right:

- every team or function in the term's `agreed_by` (for a KPI: the `agreed_by` of the
  term it pointed at and of the term it points at now). A person approves for their
  own team and for that team's function; only people active at the base count.
- a term nobody agreed to (no `agreed_by`): its owner (a team means its lead).
- a KPI whose term names no `agreed_by`, or that has no term: whoever may approve its
  target changes (T003): the primary owner's manager or an approver in its escalation
  policy, never the owner.

A `change` block copied unchanged from the base approved an earlier change, not this
one: it does not count.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kpictl.check.findings import Finding
from kpictl.check.rules.base import Context, at
from kpictl.check.rules.changes import allowed_approvers
from kpictl.check.rules.references import FUNCTIONS
from kpictl.display import clean
from kpictl.registry.models import DefinitionChange, GlossaryTerm, Kpi
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import resolve


def _approves_for(base: Registry, person_id: str, party: str) -> bool:
    """Whether `person_id`, as the registry stood at the base, speaks for `party`."""
    person = base.person(person_id)
    if person is None or not person.active:
        return False
    if party in FUNCTIONS:
        team = base.team(person.team)
        return team is not None and team.function == party
    return person.team == party


def _missing(change: DefinitionChange | None, stale: bool) -> str | None:
    """What is missing from the change block itself, or None."""
    if stale:
        return (
            "under the change block of an earlier change (the same rationale and approvers "
            "as at the base): write why this change was made and who approved it"
        )
    rationale = change.rationale if change is not None else None
    approved = change.approved_by if change is not None else []
    if not rationale and not approved:
        return "without change.rationale and change.approved_by: say why, and name who approved it"
    if not rationale:
        return "without change.rationale: say why it changed"
    if not approved:
        return "without change.approved_by: name who approved it"
    return None


def _party_problem(base: Registry, approved: Sequence[str], parties: Sequence[str]) -> str | None:
    """None when every party has an approver in `approved`; else who is missing."""
    missing = [p for p in parties if not any(_approves_for(base, a, p) for a in approved)]
    if not missing:
        return None
    return (
        f"but no one in change.approved_by approves for {', '.join(missing)}: name a member of "
        f"{'that team or function' if len(missing) == 1 else 'each'} (agreed_by: "
        f"{', '.join(parties)})"
    )


def _parties(terms: Sequence[GlossaryTerm]) -> list[str]:
    return list(dict.fromkeys(party for term in terms for party in term.agreed_by))


def _problem(
    base: Registry,
    change: DefinitionChange | None,
    before: DefinitionChange | None,
    parties: Sequence[str],
    who_else: tuple[list[str], str, str],
) -> str | None:
    """What is wrong with the approval of one change, or None when it is fine.

    `who_else` is used when there are no parties: (the people who may approve, who they
    are, what to fix when there is nobody).
    """
    allowed, label, fix = who_else
    if parties:
        needs = f"it needs approval for each of {', '.join(parties)}"
    elif allowed:
        needs = f"it needs approval by {label}: {', '.join(allowed)}"
    else:
        needs = f"nobody may approve it: {fix}"
    stale = change is not None and change == before
    missing = _missing(change, stale)
    if missing is not None:
        return f"{missing} ({needs})"
    assert change is not None
    if parties:
        return _party_problem(base, change.approved_by, parties)
    if any(person in allowed for person in change.approved_by):
        return None
    if not allowed:
        return f"but {needs}"
    return (
        f"but change.approved_by: {', '.join(change.approved_by)} may not approve it "
        f"(who may approve: {label}: {', '.join(allowed)})"
    )


def _term_owner(base: Registry, term: GlossaryTerm) -> list[str]:
    return [person.id for person in resolve(base, term.owner, None).people]


def _terms(base: Registry, registry: Registry, ids: Sequence[str | None]) -> list[GlossaryTerm]:
    """The glossary terms `ids` name, as at the base (as now for a term new since then)."""
    found = []
    for term_id in dict.fromkeys(ids):
        if term_id is None:
            continue
        term = base.get(term_id)
        if not isinstance(term, GlossaryTerm):
            term = registry.get(term_id)
        if isinstance(term, GlossaryTerm):
            found.append(term)
    return found


def _renamed(base: Registry, registry: Registry, old: str | None, new: str | None) -> bool:
    """Whether glossary term `old` became `new` with the same words (a new id only)."""
    if old is None or new is None or registry.get(old) is not None or base.get(new) is not None:
        return False
    before, after = base.get(old), registry.get(new)
    return (
        isinstance(before, GlossaryTerm)
        and isinstance(after, GlossaryTerm)
        and clean(before.definition) == clean(after.definition)
        and set(before.agreed_by) == set(after.agreed_by)
    )


def _term_changes(ctx: Context, base: Registry) -> Iterator[Finding]:
    for term in ctx.registry.of_kind(GlossaryTerm):
        before = base.get(term.id)
        if not isinstance(before, GlossaryTerm):
            continue
        changes: list[tuple[str, str]] = []
        if clean(before.definition) != clean(term.definition):
            changes.append(("definition", f"the definition of glossary term {term.id} changed"))
        if set(before.agreed_by) != set(term.agreed_by):
            added = [p for p in term.agreed_by if p not in before.agreed_by]
            removed = [p for p in before.agreed_by if p not in term.agreed_by]
            bits = [f"+ {p}" for p in added] + [f"- {p}" for p in removed]
            changes.append(
                ("agreed_by", f"agreed_by of glossary term {term.id} changed ({', '.join(bits)})")
            )
        if not changes:
            continue
        parties = _parties([before, term])
        owner = (
            _term_owner(base, before),
            f"the term's owner {before.owner}",
            "give the term an active owner, or list the teams that agree to it in agreed_by",
        )
        problem = _problem(base, term.change, before.change, parties, owner)
        if problem is None:
            continue
        for field, what in changes:
            yield at(ctx, "D001", term.id, (field,), f"{what} {problem}")


def _kpi_changes(ctx: Context, base: Registry) -> Iterator[Finding]:
    for kpi in ctx.registry.of_kind(Kpi):
        before = base.get(kpi.id)
        if not isinstance(before, Kpi):
            continue
        changes: list[tuple[str, str]] = []
        if clean(before.formula) != clean(kpi.formula):
            changes.append(("formula", f"the formula of KPI {kpi.id} changed"))
        if before.definition != kpi.definition and not _renamed(
            base, ctx.registry, before.definition, kpi.definition
        ):
            old, new = before.definition, kpi.definition
            if old is None:
                what = f"KPI {kpi.id} is now defined by glossary term {new}"
            elif new is None:
                what = f"KPI {kpi.id} is no longer defined by glossary term {old}"
            else:
                what = f"the definition of KPI {kpi.id} changed from term {old} to {new}"
            changes.append(("definition", what))
        if not changes:
            continue
        parties = _parties(_terms(base, ctx.registry, [before.definition, kpi.definition]))
        managers, policy = allowed_approvers(base, before, (before.owners.primary,))
        fallback = (
            [*managers, *policy],
            f"the owner's manager or an approver in escalation policy {before.escalation}",
            "give the owner an active manager, or the escalation policy an approver",
        )
        problem = _problem(base, kpi.change, before.change, parties, fallback)
        if problem is None:
            continue
        for field, what in changes:
            yield at(ctx, "D001", kpi.id, (field,), f"{what} {problem}")


def definition_change_without_approval(ctx: Context) -> Iterator[Finding]:
    base = ctx.base
    if base is None:
        return
    yield from _term_changes(ctx, base)
    yield from _kpi_changes(ctx, base)


RULES = {"D001": definition_change_without_approval}
