"""One write path per mutation: each model is written by the one service module that owns
it, and every other module calls that module (core.queue's claims and outcomes aside: it
updates the queue columns of whatever row it serves). A write is a ``Model.create`` (or
``bulk_create``, ``get_or_create``, ``update_or_create``) or a ``Model.filter(...)`` ending
in ``.update(`` / ``.delete(`` on one line; instance saves are the owner's by convention."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "inbox", "funnels", "triggers", "altegio_sync", "bot", "web")
WRITE = re.compile(
    r"\b(?P<model>[A-Z][A-Za-z]+)\."
    r"(?:(?:create|bulk_create|get_or_create|update_or_create)\(|filter\(.*\)\.(?:update|delete)\()"
)
#: The module that writes each model (the modules named in their docstrings).
OWNER = {
    "User": "core/auth.py",
    "ApiToken": "core/tokens.py",
    "Event": "core/events.py",
    "Contact": "inbox/service.py",
    "ContactIdentity": "inbox/dialogs.py",
    "Dialog": "inbox/dialogs.py",
    "Message": "inbox/dialogs.py",
    "Outbox": "inbox/dialogs.py",
    "DialogRead": "inbox/unread.py",
    "ReadBaseline": "inbox/unread.py",
    "Pipeline": "funnels/pipelines.py",
    "Stage": "funnels/pipelines.py",
    "Deal": "funnels/deals.py",
    "DealContact": "funnels/deals.py",
    "DealFieldValue": "funnels/deals.py",
    "Booking": "funnels/bookings.py",
    "DealIntake": "funnels/intake.py",
    "Trigger": "triggers/service.py",
    "Task": "triggers/tasks.py",
    "CannedReply": "triggers/canned.py",
    "Automation": "triggers/automations/service.py",
    "AutomationRun": "triggers/automations/flows.py",
    "ConversionSettings": "triggers/conversions/service.py",
    "Conversion": "triggers/conversions/service.py",
    "AltegioConnection": "altegio_sync/connections.py",
    "AltegioMapping": "altegio_sync/connections.py",
    "AltegioRecord": "altegio_sync/upsert.py",
    "AltegioClient": "altegio_sync/upsert.py",
    "Channel": "bot/channels.py",
    "StaffChat": "bot/staff.py",
    "InboundDelivery": "bot/intake.py",
}


def writes(source: str) -> set[str]:
    """The model names ``source`` writes to."""
    return {match["model"] for match in WRITE.finditer(source)}


def test_each_model_has_one_writer() -> None:
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = str(path.relative_to(ROOT))
            for model in writes(path.read_text()) & OWNER.keys():
                if OWNER[model] != module:
                    wrong.append(f"{module} writes {model} (owner: {OWNER[model]})")
    assert wrong == []


def test_the_check_sees_writes() -> None:
    source = (
        "await Task.create(title='x')\n"
        "await Contact.filter(id=1).update(name='y')\n"
        "await Deal.filter(id=2).first()\n"
    )
    assert writes(source) == {"Task", "Contact"}
