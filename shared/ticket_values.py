"""A request's statuses, importances and priorities: the one list of them.

The tickets domain stores them and the public contract (`shared.contracts.tickets`) publishes them
by the same values, so both import them from here (the domain may not import the contract). The
contract's committed schemas (`shared/contracts/schemas/tickets`) fail their test when a value here
changes: a change is a change of the public contract too, made on purpose.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_USER = "waiting_for_user"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Importance(StrEnum):
    """Chosen by the hotel user when creating the request."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Priority(StrEnum):
    """Set by support; separate from the user's importance."""

    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"
