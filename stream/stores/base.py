"""The stores' interfaces: what business logic may ask of heads, enrolments and fingerprints.

The enroller, the replay check and the model's head lookup take these protocols, never a Redis
client, so they are unit-tested on the dict stores of :mod:`cursorprint.stream.testing` and run
on the Redis stores of this package (``heads.py``, ``enrolments.py``, ``fingerprints.py``) in a
worker. A store that cannot reach its backend raises
:class:`~cursorprint.stream.records.errors.Unavailable` (the head store instead serves its cache,
see ``heads.py``): callers decide whether to go on without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from cursorprint.model.nets.heads import Head

if TYPE_CHECKING:
    from cursorprint.stream.stores.live_scores import LivePart, LiveState, LiveWrite

__all__ = ["Heads", "Enrolments", "Fingerprints", "LiveScores"]


class Heads(Protocol):
    """Per-user heads by pseudonymous user key."""

    def get_with_reasons(self, user_key: str) -> tuple[Head | None, list[str]]:
        """The user's head (None when there is none) and reason codes about how it was got."""
        ...

    def put(self, user_key: str, head: Head, metadata: dict[str, object] | None = None) -> str:
        """Store ``head`` (every scorer sees it soon after); returns its version."""
        ...


class Enrolments(Protocol):
    """Per-user bounded lists of trusted window descriptors (float32 rows)."""

    def add(self, user_key: str, rows: np.ndarray, keep_last: int) -> None:
        """Append ``rows`` to the user's list, then keep only its ``keep_last`` newest rows."""
        ...

    def add_session(self, user_key: str, session_id: str, rows: np.ndarray,
                    keep_last: int) -> str:
        """Like :meth:`add`, once per ``session_id``: appends only if the session was never
        added, atomically with that check. Returns what it found: ``"new"`` (added now),
        ``"added"`` (added before, its refit not confirmed) or ``"fitted"``."""
        ...

    def session_state(self, user_key: str, session_id: str) -> str:
        """What :meth:`add_session` would find now (``"new"``, ``"added"`` or ``"fitted"``),
        changing nothing: lets a caller skip work for a session it saw before."""
        ...

    def session_fitted(self, user_key: str, session_id: str) -> None:
        """Record that the user's head was refitted with ``session_id``'s rows."""
        ...

    def windows(self, user_key: str) -> list[np.ndarray]:
        """Every stored row of the user, oldest first (rows of another model's size included:
        the caller filters by its own descriptor size)."""
        ...

    def other_users(self, user_key: str, per_user: int, limit: int) -> list[np.ndarray]:
        """Up to ``per_user`` oldest rows of each OTHER enrolled user, stopping once ``limit``
        rows are collected (negatives for fitting this user's head)."""
        ...


class Fingerprints(Protocol):
    """Sets of session digests per trajectory shingle hash, forgotten after a TTL."""

    def exchange(self, shingles: Sequence[int], digest: str, common_max: int
                 ) -> list[set[str]]:
        """The digests of the sessions seen with each shingle before this call, in the order
        given; then records that session ``digest`` had each shingle seen with fewer than
        ``common_max`` sessions (renewing that set's TTL). One step, so a store can do it in
        one round trip."""
        ...


class LiveScores(Protocol):
    """Scored parts of page sessions for a bounded time, their owner and the sites' labels
    (:mod:`.live_scores`). Async: the scorer's agent and the decision service call it from
    their event loops. Page sessions are named by their page-session id (``<sid>`` or a
    segment's ``<sid>~n``); the store keys them by digest only."""

    async def record(self, sid: str, owner: str, parts: Sequence[LivePart]) -> LiveWrite:
        """Store ``parts`` of the session if ``owner`` owns it (the first writer becomes the
        owner); returns what was stored and the label at that instant."""
        ...

    async def read(self, sid: str) -> LiveState:
        """Everything stored about the session (an empty state when unknown or expired)."""
        ...

    async def set_label(self, sid: str, owner: str, label: str) -> LiveState:
        """Label the session once, if ``owner`` owns it (or nobody yet); returns the state
        after, with ``created_label`` true when this call set it."""
        ...

    async def claim_forward(self, sid: str, part_ids: Iterable[str], max_forward: int
                            ) -> list[str]:
        """Claim parts for ``trusted-sessions``: those not claimed before, at most
        ``max_forward`` claims per session in all."""
        ...

    async def release_forward(self, sid: str, part_ids: Iterable[str]) -> None:
        """Give back claims whose forwarding failed (a retry may forward them)."""
        ...

    async def append_label(self, fields: Mapping[str, str]) -> None:
        """Keep one feedback label (pseudonymous fields) for evaluation."""
        ...

    async def labels(self, count: int | None = None) -> list[dict[str, str]]:
        """The kept labels, oldest first."""
        ...
