"""The pages' Jinja2 environment: autoescaped, every string through gettext, times for people."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
import phonenumbers
from aiohttp import web
from babel import Locale
from babel.numbers import format_currency
from babel.support import Translations

from core.settings import Settings
from inbox.unread import TOTAL_CAP
from web.api import ADMINS
from web.keys import USER
from web.middleware import CSRF_FIELD, csrf_token
from web.pages.humanize import Clock

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
TRANSLATIONS = WEB / "translations"
CLOCK = web.AppKey("clock", Clock)


def setup(app: web.Application, settings: Settings) -> None:
    """Install the environment; the catalog of ``settings.locale`` translates every page."""
    translations = Translations.load(str(TRANSLATIONS), [settings.locale], domain="messages")
    # parsed once: babel parses a locale given as text again on every call, which made
    # formatting most of the time a board of a hundred cards took to render
    locale = Locale.parse(settings.locale)
    app[CLOCK] = clock = Clock(ZoneInfo(settings.timezone), locale, translations)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    # jinja2's i18n extension adds this method when the environment is made; no stub has it
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        CSRF_FIELD=CSRF_FIELD,
        unread_cap=TOTAL_CAP,
        locale=settings.locale,
        money=lambda amount, currency: format_currency(amount, currency, locale=locale),
        today=lambda: clock.local(datetime.now(UTC)).date(),
    )
    env.filters.update(
        short_time=lambda moment: clock.short(moment, now=datetime.now(UTC)),
        absolute_time=clock.absolute,
        clock_time=clock.clock_time,
        day_label=lambda moment: clock.day(moment, now=datetime.now(UTC)),
        calendar_day=lambda day: clock.calendar_day(day, now=datetime.now(UTC)),
        phone=readable_phone,
    )


def readable_phone(e164: str) -> str:
    """``+380671234567`` as people write it: ``+380 67 123 4567``."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _context(request: web.Request) -> dict[str, Any]:
    """What the layout needs on every page: who is signed in, what they may open, the token."""
    user = request.get(USER)
    return {
        "user": user,
        "is_admin": user is not None and user.role in ADMINS,
        "csrf_token": csrf_token(request),
        "path": request.path,
    }


def render(
    name: str, request: web.Request, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A rendered page; fragments for htmx vary on its header, so caches keep both."""
    context = _context(request) | context
    response = aiohttp_jinja2.render_template(name, request, context, status=status)
    response.headers["Vary"] = "HX-Request"
    return response
