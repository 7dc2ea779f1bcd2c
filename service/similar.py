"""并案 candidates for a file of filings: each row's earlier filings that ask the same thing, among the
stored ones (earlier years' accepted proposals given as history, or the service's store) and the rows
above it in the same file. Only earlier ones: the later filing is the one merged into the first."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from proposal_router.model.schemas import Decision, ReasonCode
from proposal_router.model.similarity import Match, SimilarityIndex
from proposal_router.model.text import compose
from proposal_router.service.db.models import ProposalRecord
from proposal_router.service.statuses import ProposalStatus


@dataclass(frozen=True)
class Filed:
    """A filing as the index sees it: the office's id (or where it stands in the file) and its text."""

    id: str
    text: str


def similar_to_earlier(
    rows: Sequence[Filed], history: Sequence[Filed], threshold: float, k: int = 5
) -> list[list[Match]]:
    """For each row, the history's filings and the rows before it at least `threshold` alike."""
    everything = [*history, *rows]
    index = SimilarityIndex([f.text for f in everything], [f.id for f in everything])
    return [
        index.similar(row.text, threshold, k, limit=len(history) + position, exclude={row.id} if row.id else ())
        for position, row in enumerate(rows)
    ]


REBUILD_SHARE = 0.1  # texts added since the index was built, as a share of it, before IDF is refreshed
REBUILD_MIN = 200


class StoredFilings:
    """The store's filings in one 并案 index per process, caught up from the database before each lookup, so
    what another server process stored meanwhile is found too. Built again from every stored text (IDF
    refreshed) once the texts added since outgrow a tenth of it."""

    def __init__(self) -> None:
        self._index = SimilarityIndex()
        self._position: dict[int, int] = {}
        self._last = 0
        self._lock = threading.Lock()

    def _catch_up(self, session: Session) -> None:
        rows = _texts_after(session, self._last)
        if not rows:
            return
        if len(rows) > max(REBUILD_SHARE * len(self._index), REBUILD_MIN):
            rows = _texts_after(session, 0)
            self._index, self._position = SimilarityIndex([t for _, t in rows], [str(i) for i, _ in rows]), {}
        else:
            self._index.add([str(i) for i, _ in rows], [t for _, t in rows])
        start = len(self._index) - len(rows)
        self._position.update({i: start + n for n, (i, _) in enumerate(rows)})
        self._last = rows[-1][0]

    def earlier(
        self, session: Session, stored: Sequence[tuple[int, str]], threshold: float, k: int = 5
    ) -> list[list[Match]]:
        """For each stored (id, text), the filings stored before it at least `threshold` alike."""
        with self._lock:
            self._catch_up(session)
            return [
                self._index.similar(text, threshold, k, limit=self._position[i], exclude={str(i)}) for i, text in stored
            ]


def _texts_after(session: Session, last: int) -> list[tuple[int, str]]:
    query = (
        select(ProposalRecord.id, ProposalRecord.title, ProposalRecord.body)
        .where(ProposalRecord.id > last)
        .order_by(ProposalRecord.id)
    )
    return [(i, compose(title, body)) for i, title, body in session.execute(query).tuples()]


@dataclass(frozen=True)
class Lookup:
    """How the service looks for 并案 candidates: the stored filings' index and the least similarity."""

    filings: StoredFilings
    threshold: float

    def record_earlier(self, session: Session, records: Sequence[ProposalRecord]) -> None:
        """Record on each new (stored) record its 并案 candidates among the filings stored before it; the
        caller commits. One routed automatically goes to review instead: whether to merge it comes before
        its 交办 (the audit log keeps the router's own answer)."""
        found = self.filings.earlier(session, [(r.id, compose(r.title, r.body)) for r in records], self.threshold)
        ids = {int(m.id) for matches in found for m in matches}
        query = select(ProposalRecord.id, ProposalRecord.external_id).where(ProposalRecord.id.in_(ids))
        external = dict(session.execute(query).tuples().all())
        for record, matches in zip(records, found, strict=True):
            record.similar = [
                {"id": int(m.id), "external_id": external.get(int(m.id)), "similarity": m.similarity} for m in matches
            ]
            if matches and record.status == ProposalStatus.AUTO:
                best = matches[0]
                shown = external.get(int(best.id)) or best.id
                record.status, record.decision = ProposalStatus.PENDING, Decision.REVIEW
                record.topic, record.lead_department, record.co_departments = None, None, []
                record.reason_code = ReasonCode.SIMILAR_FILING
                record.reason_message = f"与已收到的提案 {shown} 相似（{best.similarity:.2f}），请先审查是否并案"
