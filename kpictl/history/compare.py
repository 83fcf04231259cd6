"""Comparing two versions of one entity, field by field, the way people read them.

Targets by period (old -> new and the % change), escalation tiers by level, sign-offs
by who signed, lists of ids as what was added and removed, everything else as
old -> new. Works on the YAML as written, so an entity that fails `check` still
compares. `kpictl diff` (history/diff.py) and `kpictl changelog` both ask here."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from kpictl.check.rules.changes import percent_change
from kpictl.display import written

# Long free text is shortened in old -> new lines.
SHORT = 80


@dataclass(frozen=True, slots=True)
class Entry:
    """One entity as written: where it is and its fields."""

    id: str
    kind: str
    path: str  # repository path of its file
    line: int
    data: dict[str, Any]

    @property
    def name(self) -> str | None:
        for key in ("name", "term"):
            value = self.data.get(key)
            if isinstance(value, str):
                return value
        return None

    def content(self) -> dict[str, Any]:
        """The fields without the id: what must match for a rename."""
        return {key: value for key, value in self.data.items() if key != "id"}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One change inside an entity, ready to show and to serialise."""

    field: str  # machine name: "owners.primary", "targets[2026-Q4]", "tiers[2].approver"
    change: str  # "added" | "removed" | "changed"
    label: str  # what a person reads: "primary owner", "target 2026-Q4"
    old: Any  # the value as written (None when added)
    new: Any  # (None when removed)
    old_text: str  # shown forms
    new_text: str
    percent: str | None = None  # "+8.3%" for numbers that changed
    detail: str | None = None  # e.g. a target's approval and rationale
    # What the change is about: target, owner, tier, status, sign_off, file or field.
    category: str = "field"
    itemized: bool = False  # a list of plain values: `detail` says what was added and removed


# --------------------------------------------------------------------------------------
# Shown values
# --------------------------------------------------------------------------------------


def shown(value: Any, limit: int = SHORT) -> str:
    """A value as a reviewer reads it: numbers as written, lists in brackets, text short."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = _number(value)
        if number is not None:
            return written(number)
        # nan, inf, or an integer no float can hold: as written, shortened like text.
    elif isinstance(value, list):
        return "[" + ", ".join(shown(item, limit) for item in value) + "]"
    elif isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown(v, limit)}" for k, v in value.items()) + "}"
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any) -> float | None:
    """`value` as a finite float; None for anything else, so no % change is computed.

    An integer of a few hundred digits is valid YAML and overflows float().
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------------------
# Comparing two versions of one entity
# --------------------------------------------------------------------------------------

# Friendlier names for the fields people talk about.
LABELS = {
    ("kpi", "owners.primary"): ("primary owner", "owner"),
    ("kpi", "owners.backup"): ("backup owner", "owner"),
    ("kpi", "owners.approved_by"): ("owner change approved by", "approval"),
    ("kpi", "owners.rationale"): ("owner change rationale", "approval"),
    ("kpi", "escalation"): ("escalation policy", "field"),
    ("kpi", "formula"): ("formula", "definition"),
    ("kpi", "definition"): ("definition", "definition"),
    ("kpi", "change.approved_by"): ("definition change approved by", "approval"),
    ("kpi", "change.rationale"): ("definition change rationale", "approval"),
    ("glossary_term", "definition"): ("definition", "definition"),
    ("glossary_term", "agreed_by"): ("agreed by", "definition"),
    ("glossary_term", "change.approved_by"): ("definition change approved by", "approval"),
    ("glossary_term", "change.rationale"): ("definition change rationale", "approval"),
    ("data_source", "owner"): ("owner", "owner"),
    ("glossary_term", "owner"): ("owner", "owner"),
    ("campaign", "status"): ("status", "status"),
    ("campaign", "daci.driver"): ("driver", "owner"),
    ("campaign", "daci.approver"): ("approver", "owner"),
    ("person", "active"): ("active", "status"),
}


def _change(
    kind: str, path: str, old: Any, new: Any, *, category: str | None = None, label: str = ""
) -> FieldChange:
    known = LABELS.get((kind, path))
    shown_label = label or (known[0] if known else path)
    cat = category or (known[1] if known else "field")
    state = "added" if old is None else "removed" if new is None else "changed"
    old_n, new_n = _number(old), _number(new)
    pct = percent_change(old_n, new_n) if old_n is not None and new_n is not None else None
    old_text, new_text = shown(old), shown(new)
    if cat == "definition" and isinstance(old, str) and isinstance(new, str):
        old_text, new_text = changed_words(old, new)
    return FieldChange(path, state, shown_label, old, new, old_text, new_text, pct, None, cat)


# Words kept on each side of what changed in a long text.
CONTEXT = 3


def changed_words(old: str, new: str) -> tuple[str, str]:
    """Two long texts cut to the words that differ, with a little context: a formula or a
    definition that changed at its end would otherwise show as the same 80 characters."""
    a, b = old.split(), new.split()
    if len(" ".join(a)) <= SHORT and len(" ".join(b)) <= SHORT:
        return shown(old), shown(new)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    first = max(0, start - CONTEXT)
    last = max(0, end - CONTEXT)

    def cut(words: list[str]) -> str:
        middle = " ".join(words[first : len(words) - last])
        text = ("… " if first else "") + middle + (" …" if last else "")
        return shown(text)

    return cut(a), cut(b)


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _list_change(kind: str, path: str, old: Any, new: Any) -> FieldChange:
    """A list of plain values: say what was added and removed."""
    change = _change(kind, path, old, new)
    if _is_id_list(old) and _is_id_list(new):
        added = [item for item in new if item not in old]
        removed = [item for item in old if item not in new]
        bits = [f"+ {item}" for item in added] + [f"- {item}" for item in removed]
        if not bits:
            bits = ["reordered"]
        return FieldChange(
            change.field,
            change.change,
            change.label,
            old,
            new,
            change.old_text,
            change.new_text,
            None,
            ", ".join(bits),
            change.category,
            itemized=True,
        )
    return change


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _keyed(items: Any, key: Callable[[Any], str | None]) -> dict[str, Any] | None:
    """Items by key, or None when a key is missing or repeats (then compare whole)."""
    out: dict[str, Any] = {}
    for item in _as_list(items):
        name = key(item) if isinstance(item, dict) else None
        if name is None or name in out:
            return None
        out[name] = item
    return out


def _get(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None or isinstance(value, dict | list) else str(value)


def _target_text(target: dict[str, Any] | None) -> str:
    if target is None:
        return "(none)"
    return shown(target.get("value"))


def _target_detail(target: dict[str, Any]) -> str | None:
    """`approved by …; rationale: …` of a target, an owner change or a definition change."""
    bits = []
    approved = target.get("approved_by")
    if isinstance(approved, list) and approved:
        bits.append(f"approved by {', '.join(shown(item) for item in approved)}")
    elif approved:
        bits.append(f"approved by {shown(approved)}")
    if target.get("rationale"):
        bits.append(f"rationale: {shown(target['rationale'])}")
    return "; ".join(bits) or None


def _targets(old: Any, new: Any) -> Iterator[FieldChange] | None:
    before = _keyed(old, lambda t: _get(t, "period"))
    after = _keyed(new, lambda t: _get(t, "period"))
    if before is None or after is None:
        return None

    def changes() -> Iterator[FieldChange]:
        periods = list(before) + [p for p in after if p not in before]
        for period in sorted(periods):
            a, b = before.get(period), after.get(period)
            if a == b:
                continue
            state = "added" if a is None else "removed" if b is None else "changed"
            old_v = _number(a.get("value")) if a else None
            new_v = _number(b.get("value")) if b else None
            pct = (
                percent_change(old_v, new_v)
                if old_v is not None and new_v is not None and old_v != new_v
                else None
            )
            detail = _target_detail(b) if b is not None else None
            if (
                a is not None
                and b is not None
                and detail
                and a.get("value") != b.get("value")
                and all(a.get(k) == b.get(k) for k in ("rationale", "approved_by"))
            ):
                # A new value under the old reason or approval: the reviewer should see that.
                kept = [
                    w
                    for k, w in (("rationale", "rationale"), ("approved_by", "approval"))
                    if b.get(k)
                ]
                detail += f" ({' and '.join(kept)} unchanged)"
            if a is not None and b is not None and a.get("value") == b.get("value"):
                # Only the approval or the reason changed: say which.
                keys = dict.fromkeys([*a, *b])
                what = ", ".join(k for k in keys if k != "value" and a.get(k) != b.get(k))
                detail = f"{what} changed; {detail}" if detail else f"{what} changed"
            yield FieldChange(
                f"targets[{period}]",
                state,
                f"target {period}",
                a,
                b,
                _target_text(a),
                _target_text(b),
                pct,
                detail,
                "target",
            )

    return changes()


def _tiers(old: Any, new: Any) -> Iterator[FieldChange] | None:
    before = _keyed(old, lambda t: _get(t, "level"))
    after = _keyed(new, lambda t: _get(t, "level"))
    if before is None or after is None:
        return None

    def changes() -> Iterator[FieldChange]:
        levels = list(before) + [lv for lv in after if lv not in before]
        for level in sorted(levels, key=lambda text: (len(text), text)):
            a, b = before.get(level), after.get(level)
            if a == b:
                continue
            if a is None or b is None:
                tier = a if a is not None else b
                assert tier is not None
                text = f"{shown(tier.get('name'))} at {shown(tier.get('deviation_pct'))}%"
                yield FieldChange(
                    f"tiers[{level}]",
                    "added" if a is None else "removed",
                    f"tier {level}",
                    a,
                    b,
                    text if a is not None else "(none)",
                    text if b is not None else "(none)",
                    None,
                    None,
                    "tier",
                )
                continue
            for key in list(a) + [k for k in b if k not in a]:
                if a.get(key) == b.get(key):
                    continue
                path = f"tiers[{level}].{key}"
                label = f"tier {level} {key.replace('_', ' ')}"
                if isinstance(a.get(key), list) or isinstance(b.get(key), list):
                    base = _list_change("escalation_policy", path, a.get(key), b.get(key))
                    yield FieldChange(
                        base.field,
                        base.change,
                        label,
                        base.old,
                        base.new,
                        base.old_text,
                        base.new_text,
                        None,
                        base.detail,
                        "tier",
                        base.itemized,
                    )
                else:
                    yield _change(
                        "escalation_policy",
                        path,
                        a.get(key),
                        b.get(key),
                        category="tier",
                        label=label,
                    )

    return changes()


def _sign_off(old: Any, new: Any) -> Iterator[FieldChange] | None:
    def key(item: Any) -> str | None:
        by, when = _get(item, "by"), _get(item, "date")
        return f"{by} on {when}" if by else None

    before = _keyed(old, key)
    after = _keyed(new, key)
    if before is None or after is None:
        return None

    def changes() -> Iterator[FieldChange]:
        for name in before:
            if name not in after:
                yield FieldChange(
                    f"sign_off[{name}]",
                    "removed",
                    "sign-off",
                    before[name],
                    None,
                    name,
                    "(none)",
                    category="sign_off",
                )
        for name in after:
            if name not in before:
                yield FieldChange(
                    f"sign_off[{name}]",
                    "added",
                    "sign-off",
                    None,
                    after[name],
                    "(none)",
                    name,
                    category="sign_off",
                )

    return changes()


# Lists compared item by item, under a key: (kind, field) -> how.
KEYED_LISTS: dict[tuple[str, str], Callable[[Any, Any], Iterator[FieldChange] | None]] = {
    ("kpi", "targets"): _targets,
    ("escalation_policy", "tiers"): _tiers,
    ("campaign", "sign_off"): _sign_off,
}


def compare(old: Entry, new: Entry) -> list[FieldChange]:
    """The changes from `old` to `new` (same id), file moves included."""
    found: list[FieldChange] = []
    if old.path != new.path:
        found.append(
            FieldChange(
                "file", "changed", "file", old.path, new.path, old.path, new.path, category="file"
            )
        )
    if old.kind != new.kind:
        found.append(_change(new.kind, "kind", old.kind, new.kind))
        return found
    changes = list(_compare_mapping(new.kind, "", old.data, new.data))
    if new.kind == "kpi":
        changes = _with_approval(
            changes, new.data.get("owners"), None, "owners.", ("owners.primary",)
        )
    # GOVERNED: the fields rule D001 asks a `change` block for.
    if new.kind in GOVERNED:
        block, before = new.data.get("change"), old.data.get("change")
        changes = _with_approval(changes, block, before, "change.", GOVERNED[new.kind])
    found.extend(changes)
    return found


GOVERNED = {"kpi": ("formula", "definition"), "glossary_term": ("definition", "agreed_by")}


def _with_approval(
    changes: list[FieldChange], block: Any, before: Any, prefix: str, governed: tuple[str, ...]
) -> list[FieldChange]:
    """A new primary owner, formula or definition reads with its approval, as a target
    does, on one line. `before` is the approval block at the base, when an unchanged one
    is worth saying (it approved an earlier change)."""
    if not any(c.field in governed for c in changes) or not isinstance(block, dict):
        return changes
    detail = _target_detail(block)
    if detail and block == before:
        detail += " (rationale and approval unchanged)"
    out = []
    for change in changes:
        if change.field in (f"{prefix}rationale", f"{prefix}approved_by"):
            continue
        if change.field in governed:
            # An itemized list keeps what was added and removed, then the approval.
            both = "; ".join(bit for bit in (change.detail, detail) if bit) or None
            change = replace(change, detail=both if change.itemized else detail)
        out.append(change)
    return out


def _compare_mapping(
    kind: str, prefix: str, old: dict[str, Any], new: dict[str, Any]
) -> Iterator[FieldChange]:
    for key in list(old) + [k for k in new if k not in old]:
        if key in ("id", "kind") and not prefix:
            continue
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        path = f"{prefix}{key}"
        special = KEYED_LISTS.get((kind, path))
        if special is not None:
            changes = special(a, b)
            if changes is not None:
                yield from changes
                continue
        if isinstance(a, dict | None) and isinstance(b, dict | None):
            # A whole mapping added or removed reads best field by field.
            yield from _compare_mapping(kind, f"{path}.", a or {}, b or {})
        elif isinstance(a, list) or isinstance(b, list):
            yield _list_change(kind, path, a, b)
        else:
            yield _change(kind, path, a, b)
