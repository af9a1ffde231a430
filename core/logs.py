"""The console log: what happened (requests, sends, failures), not the machinery's ticks."""

import logging

#: Loggers whose INFO lines are bookkeeping: APScheduler announces every job run, several
#: times a second at idle, which would bury the owner's password and every real error.
CHATTY = ("apscheduler",)


def configure(level: str) -> None:
    """One format for every process; chatty libraries speak only from WARNING (or at DEBUG)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
