"""The default of an update body's field that may be left out but is never null."""

from typing import Any

from pydantic import Field


def omitted() -> Any:
    """``Field(default=None)``, typed as whatever the field holds.

    The None is only ever there while the field was left out, and the routes pass
    ``model_dump(exclude_unset=True)`` on, so no service sees it; an explicit null is
    still refused. Pydantic's MISSING sentinel would say so in the type, but its union
    puts the member's tag into error locations ("color.constrained-str").
    """
    return Field(default=None)
