"""Which approved templates the reply box offers, and what it asks to fill in."""

from bot.graph import Template
from bot.templates import Choice, choices
from tests.bot.conftest import APP_SECRET, VERIFY_TOKEN
from tests.conftest import Api


def template(name: str, *components: dict, status: str = "APPROVED") -> Template:
    return Template("1", name, "en_US", status, "UTILITY", list(components))


def body(text: str, *examples: str) -> dict:
    found = {"type": "BODY", "text": text}
    return found | {"example": {"body_text": [list(examples)]}} if examples else found


def test_positional_body_parameters_are_offered_with_their_examples() -> None:
    [choice] = choices([template("reminder", body("Hi {{1}}, see you {{2}}{{1}}!", "Ann", "Fri"))])
    assert choice == Choice(
        "reminder", "en_US", "UTILITY", ["Hi ", 1, ", see you ", 2, 1, "!"], ["Ann", "Fri"]
    )
    assert choice.parameters == 2
    [plain] = choices([template("hello", body("Hello!"))])
    assert (plain.body, plain.examples) == (["Hello!"], [])
    [unshown] = choices([template("x", body("{{1}} and {{2}}", "only one"))])
    assert unshown.examples == ["only one", ""]


def test_what_the_box_cannot_fill_is_left_out_and_the_rest_sorted() -> None:
    offered = choices(
        [
            template("zeta", body("Z")),
            template("pending", body("P"), status="PENDING"),
            template("named", body("Hi {{first_name}}")),
            template("gap", body("{{1}} {{3}}")),
            template("photo", {"type": "HEADER", "format": "IMAGE"}, body("B")),
            template("header_variable", {"type": "HEADER", "format": "TEXT", "text": "{{1}}"}),
            template(
                "button_url",
                body("B"),
                {"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x/{{1}}"}]},
            ),
            template("alpha", {"type": "HEADER", "format": "TEXT", "text": "Salon"}, body("A")),
        ]
    )
    assert [c.name for c in offered] == ["alpha", "zeta"]


async def test_an_unreachable_graph_api_is_a_502_not_a_500(api: Api, inbox_stage: dict) -> None:
    status, channel = await api.post(
        "/api/v1/channels",
        {
            "kind": "whatsapp",
            "name": "Nobody answers",
            "credentials": {
                "access_token": "access-token-123",
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
                "phone_number_id": "100200300400",
                "waba_id": "500600700800",
            },
            "pipeline_id": inbox_stage["pipeline_id"],
            "stage_id": inbox_stage["stage_id"],
            "api_base_url": "http://127.0.0.1:9/v21.0",  # the discard port: refused
        },
    )
    assert status == 201, channel
    status, body = await api.get(f"/api/v1/channels/{channel['id']}/templates")
    assert status == 502 and body["error"]["code"] == "platform_error", body
    assert "no answer from http://127.0.0.1:9/v21.0" in body["error"]["message"]
