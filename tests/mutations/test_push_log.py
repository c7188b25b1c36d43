"""One log line per push received: the school, the MutatieId, the soort, and whether it was stored now or is a
duplicate of one stored before (SBB retries a push it got no answer to), so an operator can follow pushes in the
log without the audit trail. (The lines themselves are written by ``mutations/receiver.py``.)"""
from __future__ import annotations

import uuid

from adapter.mutations.auth import UNAUTHENTICATED
from tests.support.mutations import assert_acknowledgement, post_push, push_body, wait_until
from tests.support.servers import SCHOOL_OIN
from tests.support.soap import push_envelope


def test_a_push_is_logged_stored_then_duplicate(adapter):
    mutatie_id = str(uuid.uuid4())
    for _ in range(2):  # the same MutatieId twice, as when SBB retries
        data, message_id = push_envelope(f"{adapter.url}/wl2/mutaties", SCHOOL_OIN,
                                         push_body(mutatie_id=mutatie_id, soort="ERKENNING_INGETROKKEN"))
        assert_acknowledgement(post_push(adapter, data), message_id, 0)
    lines = wait_until(lambda: [line for line in adapter.output().splitlines() if f"mutatie_id={mutatie_id}" in line]
                       if adapter.output().count(f"mutatie_id={mutatie_id}") >= 2 else None, what="two log lines")
    assert lines == [f"push accepted: school=ROC Test mutatie_id={mutatie_id} soort=ERKENNING_INGETROKKEN {outcome} "
                     f"subject={UNAUTHENTICATED}" for outcome in ("stored", "duplicate")]
