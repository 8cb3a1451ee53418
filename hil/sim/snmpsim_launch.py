"""Run snmpsim's command responder with the community read from stdin, not from a file name.

snmpsim takes the SNMPv1/v2c community (and the SNMPv3 context name) from the data file's
path under --data-dir; written to disk as `<community>.snmprec` a secret would sit in a file
name. The agent's data file is therefore called `agent.snmprec` and this launcher maps that
name to the community given on its first line of stdin, by wrapping snmpsim's data-file
discovery before the responder starts.
"""

from __future__ import annotations

import sys
from typing import Any

NEUTRAL = "agent"


def main() -> int:
    community = sys.stdin.readline().rstrip("\n")
    sys.stdin.close()
    if not community:
        sys.stderr.write("snmpsim_launch: no community on stdin\n")
        return 2

    from snmpsim import datafile
    from snmpsim.commands import responder

    discover = datafile.get_data_files

    def renamed(tgt_dir: str, top_len: int | None = None) -> list[Any]:
        return [
            (path, parser, community if ident == NEUTRAL else ident)
            for path, parser, ident in discover(tgt_dir, top_len)
        ]

    datafile.get_data_files = renamed
    sys.argv[0] = "snmpsim-command-responder"
    return int(responder.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
