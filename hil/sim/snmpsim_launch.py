"""Run snmpsim's command responder with the community read from stdin, not from a file name.

snmpsim takes the SNMPv1/v2c community (and the SNMPv3 context name) from the data file's
path under --data-dir; written to disk as `<community>.snmprec` a secret would sit in a file
name. The agent's data file is therefore called `agent.snmprec` and this launcher maps that
name to the community given on its first line of stdin (and `agent-ro.snmprec`, a read-only
view, to the community on its second line, if any), by wrapping snmpsim's data-file discovery
before the responder starts.

If the rig that started it dies without stopping it (SIGKILL, a crash), the agent notices
that its parent is gone within a second, removes its temp folder and exits: no orphan keeps
the rig's UDP ports for the next one.
"""

from __future__ import annotations

import sys
from typing import Any

NEUTRAL = "agent"
READ_ONLY = "agent-ro"
ORPHAN_CHECK_S = 1.0


def watch_parent() -> None:
    """Exit (removing this agent's temp folder) as soon as the parent process is gone."""
    import contextlib
    import os
    import shutil
    import threading
    import time
    from pathlib import Path

    parent = os.getppid()
    data = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--data-dir=")), None)

    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_S)
        if data is not None:
            agent = Path(data).parent  # <tmp>/agentN
            shutil.rmtree(agent, ignore_errors=True)
            with contextlib.suppress(OSError):
                agent.parent.rmdir()  # the last agent out removes the rig's folder
        os._exit(0)

    threading.Thread(target=loop, name="orphan-watch", daemon=True).start()


def main() -> int:
    community = sys.stdin.readline().rstrip("\n")
    read_only = sys.stdin.readline().rstrip("\n")
    sys.stdin.close()
    if not community:
        sys.stderr.write("snmpsim_launch: no community on stdin\n")
        return 2

    from snmpsim import datafile
    from snmpsim.commands import responder

    discover = datafile.get_data_files

    names = {NEUTRAL: community, READ_ONLY: read_only or READ_ONLY}

    def renamed(tgt_dir: str, top_len: int | None = None) -> list[Any]:
        return [
            (path, parser, names.get(ident, ident))
            for path, parser, ident in discover(tgt_dir, top_len)
        ]

    datafile.get_data_files = renamed
    watch_parent()
    sys.argv[0] = "snmpsim-command-responder"
    return int(responder.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
