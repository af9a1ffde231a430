"""Who writes to the demo salon and what they say: a few scripted conversations (the
newest, the ones screenshots show) and many generated from phrases, reproducibly; who
on the team has each dialog, and the team's private notes in some of them."""

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass
class Line:
    """One message of a conversation: who, what, how long ago, and its fate; a ``note``
    is the team's, never sent."""

    ago: timedelta
    text: str
    ours: bool = False
    status: str = "read"
    error: str | None = None
    photo: bool = False
    note: bool = False


@dataclass
class Customer:
    name: str
    channel: str  # "telegram" or "whatsapp"
    phone: str | None
    lines: list[Line]
    #: Who on the team has the dialog: a key of ``web.demo.TEAM`` or "owner"; None: nobody.
    assignee: str | None = None


def _m(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def _d(days: int, hour: int = 0) -> timedelta:
    return timedelta(days=days, hours=hour)


SCRIPTED = [
    Customer("Mila Kowalski", "telegram", "+48 512 345 678", [
        Line(_d(1, 3), "Hi! Do you have anything for a haircut this week?"),
        Line(_d(1, 2), "Hello Mila! Thursday 16:30 or Friday 10:00 are free.", ours=True),
        Line(_d(1, 2) - _m(4), "Friday please, with Anna if possible"),
        Line(_d(1, 1), "Done: Friday 10:00 with Anna. See you!", ours=True),
        Line(_m(19), "This is the colour I have in mind", photo=True),
        Line(_m(18), "Is there a slot tomorrow as well? My sister wants to come"),
        Line(_m(17), "She'd like a colour refresh, about an hour"),
        Line(_m(12), "Regular, always with Anna. Her sister would be a new client: offer the "
             "first-visit 10% off", note=True),
    ], "leo"),
    Customer("Ravi Shah", "whatsapp", "+44 7911 123456", [
        Line(_m(95), "Hello, what does a beard trim cost?"),
        Line(_m(90), "Hi Ravi, it's £18 and takes 20 minutes.", ours=True),
        Line(_m(62), "Thanks! Booking online now."),
        Line(_m(60), "Great, see you soon!", ours=True, status="delivered"),
    ], "owner"),
    Customer("Sofia Martínez", "whatsapp", "+34 612 345 678", [
        Line(_d(3), "Buenas! Can I move my appointment from Tuesday to Wednesday?"),
        Line(_d(3) - _m(10), "Of course, Wednesday 12:00 is yours.", ours=True),
        Line(_d(2), "Perfect, gracias"),
        Line(_d(2) - _m(30), "Moved twice already: confirm the day before", note=True),
        Line(_m(240), "Reminder: your appointment is tomorrow at 12:00.", ours=True,
             status="sent"),
    ], "nina"),
    Customer("Tom Becker", "telegram", None, [
        Line(_d(6), "Do you sell gift cards?"),
        Line(_d(6) - _m(30), "We do! Any amount from €20, valid for a year.", ours=True),
        Line(_d(5), "I'll take one for €50 please"),
        Line(_d(5) - _m(5), "Lovely. You can pick it up at the desk any day.", ours=True,
             status="failed", error="Forbidden: bot was blocked by the user"),
        Line(_d(5) - _m(20), "He blocked the bot: the card is ready at the desk, call him if "
             "he hasn't come by Friday", note=True),
    ], "owner"),
    Customer("Aiko Tanaka", "telegram", "+81 90 1234 5678", [
        Line(_d(12), "Hello, is parking available near the salon?"),
        Line(_d(12) - _m(20), "Yes, the garage on Elm Street, 2 minutes away.", ours=True),
    ], "leo"),
    Customer("Grace O'Neill", "whatsapp", "+353 85 123 4567", [
        Line(_d(1, 8), "Hi, how much is balayage for shoulder-length hair?"),
        Line(_d(1, 7), "Hi Grace! From €120, about 3 hours. Shall I look for a slot?",
             ours=True),
        Line(_d(1, 6), "Let me check my week and get back to you"),
        Line(_d(1, 5), "Window closed: send the autumn offer template if she hasn't "
             "written by Monday", note=True),
    ], "nina"),
    Customer("Olena Bondarenko", "whatsapp", "+380 67 123 4567", [
        Line(_m(6), "Good morning! Are you open on Sunday?"),
    ]),
]  # fmt: skip

FIRST = (  # noqa: SIM905 (a list of words reads best as words)
    "Anna Ben Chloe Daniel Elif Farah Gabriel Hana Ivan Julia Kai Lena Marco Nadia Omar Paula "
    "Quentin Rosa Samir Tara Umar Vera Wiktor Xenia Yusuf Zoe Amir Bianca Carlos Dalia Emil "
    "Freya Goran Ines Jonas Karin Luca Maya Nico Oksana Pedro Rania Sven Tomasz Ula Viktor"
).split()
LAST = (  # noqa: SIM905
    "Novak Schmidt Rossi García Müller Dubois Kowalczyk Jensen Petrov Silva Nowak Weber Costa "
    "Horvat Lindqvist Moreau Becker Santos Fischer Ivanova Kaya Öztürk Murphy Rahman Tanaka "
    "Nielsen Popescu Varga Hoffmann Ricci"
).split()
#: E.164 prefixes of valid mobile ranges, then how many digits follow.
PHONES = [("+44 7400 ", 6), ("+49 151 ", 8), ("+48 512 ", 6), ("+34 612 ", 6), ("+33 6 12 ", 6)]

OPENERS = [
    "Hi! Do you have a slot for a haircut on {day}?",
    "Hello, how much is a colour refresh?",
    "Can I book a manicure for {day} afternoon?",
    "Good morning, is Anna working on {day}?",
    "Hi, I need to cancel my appointment on {day}, sorry",
    "Hello! Do you do balayage? What does it cost?",
    "Can I move my booking to {day}?",
    "Hi there, do you have gift cards?",
]
ANSWERS = [
    "Hello! {day} at {time} is free, shall I book it?",
    "Hi! It's €{price} and takes about an hour.",
    "Of course, {day} at {time} is yours.",
    "No problem, it's cancelled. Write any time to book again.",
    "Yes! Gift cards from €20, valid for a year.",
]
FOLLOW_UPS = [
    "Perfect, thank you!",
    "Great, see you then",
    "Could it be a bit later?",
    "Thanks, I'll think about it",
    "Yes please",
    "Here's a photo of what I'd like",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
TIMES = ["9:30", "10:00", "11:15", "13:00", "15:30", "17:00"]
STATUSES = ["read", "read", "read", "delivered", "sent"]
NOTES = [
    "Prefers mornings, before 11",
    "Sensitive scalp: ammonia-free colour only",
    "Asked for an invoice with her company name",
    "Came through the Instagram ad",
    "Only books with Anna",
    "Student: 10% off with a valid card",
]
#: Who answered a generated conversation ("owner" now and then); None leaves it unassigned.
ANSWERERS = ["leo", "nina", "leo", "nina", "owner", None]


def generated(count: int, rng: random.Random) -> list[Customer]:
    """``count`` customers (distinct names) with 1-9 messages over the last 60 days."""
    names = rng.sample([f"{f} {la}" for f in FIRST for la in LAST], count)
    return [_customer(name, rng) for name in names]


def _customer(name: str, rng: random.Random) -> Customer:
    channel = rng.choice(["telegram", "whatsapp"])
    prefix, digits = rng.choice(PHONES)
    phone: str | None = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
    if channel == "telegram" and rng.random() < 0.4:
        phone = None  # not every Telegram customer shares a phone
    ago = timedelta(days=rng.uniform(0.2, 60))
    words = {"day": rng.choice(DAYS), "time": rng.choice(TIMES), "price": rng.choice([35, 48, 60])}
    lines = [Line(ago, rng.choice(OPENERS).format(**words))]
    for turn in range(rng.randint(0, 4)):
        ago -= timedelta(minutes=rng.randint(3, 240))
        lines.append(Line(ago, rng.choice(ANSWERS).format(**words), ours=True,
                          status=rng.choice(STATUSES)))  # fmt: skip
        ago -= timedelta(minutes=rng.randint(1, 90))
        follow = rng.choice(FOLLOW_UPS)
        lines.append(Line(ago, follow, photo=follow.startswith("Here's") and turn < 3))
    if rng.random() < 0.12:  # the team wrote itself a note after the first message
        lines.insert(1, Line(lines[0].ago - timedelta(minutes=1), rng.choice(NOTES), note=True))
    assignee = rng.choice(ANSWERERS) if any(line.ours for line in lines) else None
    kept = [line for line in lines if line.ago.total_seconds() > 0]
    return Customer(name, channel, phone, kept, assignee)
