"""Whose turn it is: the round-robin among active operators.

One rule for everything handed out in turn (an auto-task's assignee, a channel's new
dialogs): the caller says who got the last one, this module says who is next.
"""

from core.models import Role, User


async def next_operator(previous: int | None) -> int | None:
    """The active operator after ``previous`` by id, wrapping round (the first when
    ``previous`` is ``None`` or gone); ``None`` when there are no active operators."""
    active = User.filter(role=Role.OPERATOR, is_active=True).order_by("id")
    # tortoise's stubs type values_list(flat=True) as tuples
    operators: list[int] = await active.values_list("id", flat=True)  # type: ignore[assignment]
    if not operators:
        return None
    later = [op for op in operators if previous is not None and op > previous]
    return later[0] if later else operators[0]
