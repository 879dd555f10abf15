"""The duplicate rule as the import applies it, without a database."""

from __future__ import annotations

import pytest

from dialer.pools.model import Conflict, Criteria, DuplicateRule, RecordStatus, apply_duplicate_rule

S = RecordStatus
POOL = 10


@pytest.mark.parametrize(
    ("rule", "conflicts", "rejected", "noted", "archive"),
    [
        # Already in this pool: refused whatever the rule, even when it is also elsewhere.
        (
            DuplicateRule.ALLOW,
            [Conflict(2, POOL, 100, S.NEW), Conflict(2, 7, 70, S.NEW)],
            {2: "duplicate.in_pool"},
            {},
            (),
        ),
        (DuplicateRule.MOVE, [Conflict(2, POOL, 100, S.DONE)], {2: "duplicate.in_pool"}, {}, ()),
        # In other pools.
        (DuplicateRule.SKIP, [Conflict(3, 7, 70, S.DONE)], {3: "duplicate.other_pool"}, {}, ()),
        (DuplicateRule.ALLOW, [Conflict(3, 7, 70, S.ASSIGNED)], {}, {3: "duplicate.allowed"}, ()),
        (
            DuplicateRule.MOVE,
            [Conflict(3, 7, 70, S.ASSIGNED), Conflict(3, 8, 80, S.NEW), Conflict(3, 9, 90, S.DONE)],
            {},
            {3: "duplicate.moved"},
            (70, 80),
        ),
        (
            DuplicateRule.MOVE,
            [Conflict(4, 7, 70, S.IN_PROGRESS), Conflict(4, 8, 80, S.NEW)],
            {4: "duplicate.in_use"},
            {},
            (),
        ),
        (DuplicateRule.SKIP, [], {}, {}, ()),
    ],
)
def test_the_duplicate_rule(
    rule: DuplicateRule,
    conflicts: list[Conflict],
    rejected: dict[int, str],
    noted: dict[int, str],
    archive: tuple[int, ...],
) -> None:
    verdict = apply_duplicate_rule(POOL, rule, conflicts)
    assert {line: reason for line, (reason, _) in verdict.rejected.items()} == rejected
    assert {line: reason for line, (reason, _) in verdict.noted.items()} == noted
    assert verdict.archive == archive


def test_the_report_names_the_other_pools() -> None:
    verdict = apply_duplicate_rule(POOL, DuplicateRule.SKIP, [Conflict(5, 8, 1, S.NEW), Conflict(5, 3, 2, S.DONE)])
    assert verdict.rejected == {5: ("duplicate.other_pool", "pool 3, 8")}


def test_criteria_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="priority range"):
        Criteria(priority_min=5, priority_max=1)
    with pytest.raises(ValueError, match="limit"):
        Criteria(limit=-1)
