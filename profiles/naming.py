"""One rule for the MCU participant names of bridge points, shared by the drill and the bring-up.

A point's participant in the session conference is named after its id; its drill test call is
the same name with the `kt-` prefix. Both must fit the MCU's string limit (Codian: 31
characters, docs/protocols/codian.md §1.1), so an id too long for it is shortened to a stem and
a 6-hex digest of the whole id: the name stays unique, stable across runs, and recognisable.
Because the drill dials the longer of the two names, a drill that passes has proved the
bring-up's name too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: characters a participant name may have, per MCU driver (RMX: not published — the Codian
#: limit is kept, so a profile moved between the two MCUs keeps its names)
NAME_LIMITS: dict[str, int] = {"codian-xmlrpc": 31, "rmx-xml": 31}
DEFAULT_LIMIT = 31
DRILL_PREFIX = "kt-"
DIGEST_CHARS = 6
#: the host conference's participant for the national link (profile `upstream`)
UPSTREAM_PARTICIPANT = "trung-uong"
#: prefix of the host conference's participant that is the cascade link to a secondary MCU
CASCADE_PREFIX = "lien-"


def name_limit(driver: str) -> int:
    """The participant-name limit of an MCU driver."""
    return NAME_LIMITS.get(driver, DEFAULT_LIMIT)


def participant_name(point_id: str, limit: int = DEFAULT_LIMIT) -> str:
    """The session participant's name for a point: its id, or stem + digest when too long."""
    room = limit - len(DRILL_PREFIX)  # the drill's name must fit as well
    if len(point_id) <= room:
        return point_id
    digest = hashlib.sha256(point_id.encode()).hexdigest()[:DIGEST_CHARS]
    return f"{point_id[: room - DIGEST_CHARS - 1].rstrip('-_')}-{digest}"


def drill_name(point_id: str, limit: int = DEFAULT_LIMIT) -> str:
    """The drill's test-call participant for a point (same rule, `kt-` prefix)."""
    return DRILL_PREFIX + participant_name(point_id, limit)


def cascade_name(mcu_id: str, limit: int = DEFAULT_LIMIT) -> str:
    """The host conference's participant that links the secondary MCU `mcu_id` (cascade)."""
    return participant_name(CASCADE_PREFIX + mcu_id, limit)


def reserved_names(mcu_ids: Iterable[str], recorder: str | None, limit: int) -> list[str]:
    """Participant names the site uses for other than points: recorder, links, upstream."""
    names = [recorder] if recorder else []
    return [*names, UPSTREAM_PARTICIPANT, *(cascade_name(m, limit) for m in mcu_ids)]


def name_problems(point_ids: Iterable[str], reserved: Iterable[str], limit: int) -> list[str]:
    """Why some points cannot be given distinct participant names (empty: they all can)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    taken = set(reserved)
    for pid in point_ids:
        name = participant_name(pid, limit)
        if name in taken:
            problems.append(
                f"point {pid!r} would be the MCU participant {name!r}, which the recorder, "
                "the national link or a cascade link already uses: rename the point"
            )
        elif name in seen:
            problems.append(
                f"points {seen[name]!r} and {pid!r} both map to the MCU participant {name!r}: "
                f"shorten one id to at most {limit - len(DRILL_PREFIX)} characters"
            )
        seen.setdefault(name, pid)
    return problems
