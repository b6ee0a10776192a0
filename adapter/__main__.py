"""The `kravflyt` command (also `python -m adapter`).

Start-up makes tens of thousands of objects (the libraries' modules, classes and tables) and
frees almost none of them, yet the cyclic garbage collector walks them again and again while
they are being made: an eighth of the CPU of a short command such as `kravflyt company list`
(issue 22: a listing asked again and again during a bank import). So the collector is off
while the command line and the command's module load; `adapter.cli.main` sets what was made
aside (`gc.freeze`) and turns it on again before the command runs.
"""

from __future__ import annotations

import gc


def main() -> None:
    """Run the command line with the collector off until the command is loaded."""
    gc.disable()
    from adapter.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
