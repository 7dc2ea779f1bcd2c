"""The service's closed sets of states, as enums whose values are the strings stored and sent.

They sit below every layer (the ORM maps its columns to them, the domain decides with them, the adapters
render them), so this module imports nothing of the service. The routing's own `Decision` and `ReasonCode`
are the runtime's, in `model.schemas`.
"""

from __future__ import annotations

from enum import StrEnum


class ProposalStatus(StrEnum):
    """Where a filing stands: routed automatically, waiting for a reviewer, decided by one, or not a proposal."""

    AUTO = "auto"
    PENDING = "pending"
    REVIEWED = "reviewed"
    REJECTED = "rejected"

    @property
    def assigned(self) -> bool:
        """Whether the filing has a final assignment (the model's or a reviewer's)."""
        return self in ASSIGNED


ASSIGNED = (ProposalStatus.AUTO, ProposalStatus.REVIEWED)


class ReviewAction(StrEnum):
    """What a reviewer does with a pending item."""

    ACCEPT = "accept"
    CORRECT = "correct"
    REJECT = "reject"  # 不予立案
