"""Which code reacts to which committed domain event, for the event dispatcher.

For one event the consumers run in this order: stage triggers, automations, then the
Conversions API. Each is
idempotent per event, so an event dispatched again after a crash repeats nothing.
"""

from collections import defaultdict

from core.dispatch import Consumer
from triggers.automations.flows import AUTOMATION_EVENTS, automate
from triggers.conversions.service import CONVERSION_EVENTS, convert
from triggers.flows import BOOKING_CHANGED, ENTERS_STAGE, fire


def consumers() -> dict[str, list[Consumer]]:
    """The consumers of each event kind, in the order they run."""
    table: defaultdict[str, list[Consumer]] = defaultdict(list)
    for kind in (*ENTERS_STAGE, BOOKING_CHANGED):
        table[kind].append(fire)
    for kind in sorted(AUTOMATION_EVENTS):
        table[kind].append(automate)
    for kind in CONVERSION_EVENTS:
        table[kind].append(convert)
    return dict(table)
