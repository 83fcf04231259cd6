"""One problem does not hide others: a schema error or a duplicated id leaves every other
rule running on what can be validated, so one `check` shows everything to fix.

Cases start from `tests.helpers.BASE` (see its line numbers) and list every finding
expected, as in tests/test_rules.py.
"""

# ruff: noqa: E501  (case tables: one case per line)

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kpictl.registry.models import Kpi
from kpictl.registry.registry import has, load_registry
from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import (
    INACTIVE_CARL,
    KPI,
    Finding3,
    Patch,
    Run,
    deadline,
    findings,
    make,
    messages,
)

CARL: Patch = ("carl.yaml", None, INACTIVE_CARL)


def more_kpis(count: int) -> Patch:
    """`count` more KPIs owned by ann, in one file."""
    kpis = (
        KPI.replace("id: mql", f"id: k{i}").replace("definition: mql-term\n", "")
        for i in range(count)
    )
    return ("more.yaml", None, "---\n".join(kpis))


# With mql, ann owns nine KPIs: one over the default limit of 8.
EIGHT_MORE = more_kpis(8)
COPY = KPI  # a second KPI with id mql, in its own file
TYPO_UNIT = ("kpi.yaml", "unit: count", "unit: coutn")

# One case per line: patches to BASE, then every finding expected, sorted.
# fmt: off
CASES = [
    # The brief's three cases.
    pytest.param([("kpi.yaml", "audience: internal", "audience: internal\ncolour: red"), EIGHT_MORE], [("O004", "people.yaml", 2), ("S001", "kpi.yaml", 12)], id="unknown-field-and-overloaded-owner"),
    pytest.param([("zz-copy.yaml", None, COPY.replace("primary: ann", "primary: anne"))], [("R001", "zz-copy.yaml", 2), ("R001", "kpi.yaml", 2), ("R002", "zz-copy.yaml", 13)], id="duplicate-id-hides-no-typo"),
    pytest.param([TYPO_UNIT, ("kpi.yaml", "sources: [crm]", "sources: [crn]")], [("R002", "kpi.yaml", 15), ("S001", "kpi.yaml", 7)], id="unit-typo-and-unknown-source"),
    # The owner rules see a partial KPI's valid owners.
    pytest.param([TYPO_UNIT, ("kpi.yaml", "backup: bob", "backup: ann")], [("O001", "kpi.yaml", 14), ("S001", "kpi.yaml", 7)], id="partial-kpi-O001"),
    pytest.param([TYPO_UNIT, CARL, ("kpi.yaml", "backup: bob", "backup: carl")], [("O002", "kpi.yaml", 14), ("S001", "kpi.yaml", 7)], id="partial-kpi-O002"),
    pytest.param([CARL, ("policy.yaml", "name: Standard", "name: Standard\nowner: ann"), ("policy.yaml", "approver: $owner", "approver: carl")], [("O002", "policy.yaml", 11), ("S001", "policy.yaml", 4)], id="partial-policy-O002"),
    pytest.param([("people.yaml", "name: Ann Lee", "name: Ann Lee\ntitel: Lead"), EIGHT_MORE], [("O004", "people.yaml", 2), ("S001", "people.yaml", 4)], id="partial-person-O004"),
    pytest.param([("source.yaml", "refresh: daily", "refresh: daly"), ("source.yaml", "owner: ann", "owner: anne")], [("R002", "source.yaml", 5), ("S001", "source.yaml", 6)], id="partial-source-R002"),
    pytest.param([("campaign.yaml", "status: active", "status: activ"), ("campaign.yaml", "approver: bob", "approver: bobb")], [("R002", "campaign.yaml", 10), ("S001", "campaign.yaml", 4)], id="partial-campaign-R002"),
    # Every copy of a duplicated id is checked for references, schema or not.
    pytest.param([("zz-copy.yaml", None, COPY.replace("unit: count", "unit: coutn").replace("sources: [crm]", "sources: [crn]"))], [("R001", "zz-copy.yaml", 2), ("R001", "kpi.yaml", 2), ("R002", "zz-copy.yaml", 15), ("S001", "zz-copy.yaml", 7)], id="partial-duplicate-R002"),
    pytest.param([("zz-copy.yaml", None, COPY.replace("backup: bob", "backup: ann"))], [("O001", "zz-copy.yaml", 14), ("R001", "zz-copy.yaml", 2), ("R001", "kpi.yaml", 2)], id="duplicate-O001"),
    # Lookups by id stay first-wins: a copy does not count twice towards O004.
    pytest.param([("zz-copy.yaml", None, COPY), more_kpis(7)], [("R001", "zz-copy.yaml", 2), ("R001", "kpi.yaml", 2)], id="duplicate-counts-once-for-O004"),
    # What a partial entity lost is never reported as missing or unknown on top of S001.
    pytest.param([("kpi.yaml", "owners:\n  primary: ann\n  backup: bob\n", ""), EIGHT_MORE], [("S001", "kpi.yaml", 1)], id="missing-owners-no-spurious"),
    pytest.param([("kpi.yaml", "escalation: standard\n", "")], [("S001", "kpi.yaml", 1)], id="missing-escalation-no-R002"),
    pytest.param([("kpi.yaml", "backup: bob", "backup: Bob Ray")], [("S001", "kpi.yaml", 14)], id="invalid-owner-id-no-R002"),
    pytest.param([("team.yaml", "lead: ann", "lead: Ann Lee")], [("S001", "team.yaml", 5)], id="invalid-lead-no-O003"),
    pytest.param([("people.yaml", "name: Ann Lee", "name: Ann Lee\ntitel: Lead")], [("S001", "people.yaml", 4)], id="broken-owner-no-E002"),
    pytest.param([("kpi.yaml", "sources: [crm]", "sources: []")], [("S001", "kpi.yaml", 15)], id="empty-sources-no-finding"),
    pytest.param([("people.yaml", "id: ann", "id: Ann")], [("E002", "policy.yaml", 9), ("E002", "policy.yaml", 10), ("R002", "campaign.yaml", 9), ("R002", "glossary.yaml", 5), ("R002", "kpi.yaml", 13), ("R002", "people.yaml", 12), ("R002", "source.yaml", 5), ("R002", "team.yaml", 5), ("S001", "people.yaml", 2)], id="invalid-id-is-not-an-entity"),
]
# fmt: on


@pytest.mark.parametrize(("patches", "expected"), CASES)
def test_one_problem_hides_no_other(
    tmp_path: Path, patches: list[Patch], expected: list[Finding3]
) -> None:
    make(tmp_path, *patches)
    assert findings(tmp_path) == sorted(expected)


def test_the_hidden_findings_say_what_to_fix(tmp_path: Path) -> None:
    make(tmp_path, ("zz-copy.yaml", None, COPY.replace("primary: ann", "primary: anne")))
    assert messages(tmp_path, "R002") == [
        "owners.primary names 'anne', which is not a person; did you mean 'ann'?"
    ]
    make(
        tmp_path / "o4",
        ("kpi.yaml", "audience: internal", "audience: internal\ncolour: red"),
        EIGHT_MORE,
    )
    assert messages(tmp_path / "o4", "O004") == [
        "ann (Ann Lee) is primary owner of 9 KPIs, more than the limit of 8: "
        "spread ownership or raise owner_kpi_limit"
    ]


def test_partial_entities_stay_out_of_lookups(tmp_path: Path) -> None:
    # Views, emails and resolution ask `get`: they never see a partial entity.
    make(tmp_path, TYPO_UNIT, ("zz-copy.yaml", None, COPY.replace("name: MQLs", "name: Copy")))
    registry, _ = load_registry(tmp_path, tmp_path)
    assert registry.get("mql") is None
    assert registry.kind_of("mql") == "kpi"
    (partial,) = registry.partial.values()
    assert (partial.entity.id, has(partial.entity, "owners"), has(partial.entity, "unit")) == (
        "mql",
        True,
        False,
    )
    (copy,) = registry.copies
    assert isinstance(copy.entity, Kpi)
    assert (copy.entity.name, copy.document.path.as_posix()) == ("Copy", "zz-copy.yaml")


def test_the_cli_reports_them_together(tmp_path: Path, run: Run) -> None:
    make(tmp_path, TYPO_UNIT, ("kpi.yaml", "sources: [crm]", "sources: [crn]"))
    result = run("check", str(tmp_path), "--as-of", AS_OF, cwd=tmp_path)
    assert (result.code, result.out, result.err) == (
        1,
        "kpi.yaml:7:7: S001 [error] unit: 'coutn' is not allowed; use one of count, currency, "
        "percent, ratio, days (did you mean 'count'?)\n"
        "kpi.yaml:15:11: R002 [error] sources[0] names 'crn', which is not a data source; "
        "did you mean 'crm'?\n"
        "Found 2 errors, 0 warnings, 0 info in 8 files (check failed, failing on error).\n",
        "",
    )


def test_many_broken_copies_stay_linear(tmp_path: Path) -> None:
    # 2,000 copies of one broken KPI: each is validated twice (whole, then what is
    # valid), never compared with the others.
    broken = COPY.replace("unit: count", "unit: coutn")
    make(tmp_path, ("copies.yaml", None, "---\n".join([broken] * 2000)))
    with deadline(60):
        found = Counter((code, path) for code, path, _ in findings(tmp_path))
    # At most 100 per rule and file, then one finding that counts the rest.
    assert found == {
        ("R001", "copies.yaml"): 101,
        ("R001", "kpi.yaml"): 1,
        ("S001", "copies.yaml"): 101,
    }


def test_a_clean_registry_has_nothing_partial(tmp_path: Path) -> None:
    # Guard: the example and BASE registries load as before, every entity complete, so
    # their findings (none) and every golden built on them stay as they are.
    for root in (EXAMPLE, make(tmp_path)):
        registry, found = load_registry(root, tmp_path)
        assert (found, registry.partial, registry.broken, registry.copies) == ([], {}, {}, [])
        assert list(registry.every_record()) == list(registry.records.values())
