"""The request log never shows a secret a URL carries (Altegio's webhook secret)."""

import logging

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from core.logs import AccessLogger


def test_the_webhook_secret_is_masked(caplog) -> None:  # type: ignore[no-untyped-def]
    logger = AccessLogger(logging.getLogger("aiohttp.access"), "")
    request = make_mocked_request("POST", "/webhooks/altegio/3?secret=s3cr3t-value&x=1")
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        logger.log(request, web.Response(status=200), 0.0123)
    line = caplog.records[-1].getMessage()
    assert "s3cr3t" not in line
    assert '"POST /webhooks/altegio/3?secret=***&x=1" 200 12.3 ms' in line
