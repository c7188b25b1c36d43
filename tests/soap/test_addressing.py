"""WS-Addressing helpers: the GUIDs of MessageIDs and BerichtIDs are what ``str(uuid.uuid4())`` gives."""
from __future__ import annotations

import uuid

from adapter.soap import addressing


def test_guids_are_random_version_4_uuids_written_as_uuid_writes_them():
    made = [addressing.guid() for _ in range(4000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # every position that is not fixed by the version and variant takes many values
    free = [i for i in range(36) if i not in (8, 13, 14, 18, 23)]
    assert all(len({t[i] for t in made}) == 16 for i in free if i != 19)
    assert {t[19] for t in made} == set("89ab")
    assert addressing.MESSAGE_ID.fullmatch(addressing.new_message_id())
