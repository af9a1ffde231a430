"""The console log: what happened (requests, sends, failures), not the machinery's ticks."""

import logging
import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

#: Loggers whose INFO lines are bookkeeping: APScheduler announces every job run, several
#: times a second at idle, which would bury the owner's password and every real error.
CHATTY = ("apscheduler",)


def configure(level: str) -> None:
    """One format for every process; chatty libraries speak only from WARNING (or at DEBUG)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


#: Query parameters that carry a secret (Altegio's webhook URL): never logged.
SECRET_PARAM = re.compile(r"(?<=[?&]secret=)[^&]*")


class AccessLogger(AbstractAccessLogger):
    """aiohttp's request line, with the secrets that URLs carry masked."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1f ms',
            request.remote,
            request.method,
            SECRET_PARAM.sub("***", request.path_qs),
            response.status,
            time * 1000,
        )
