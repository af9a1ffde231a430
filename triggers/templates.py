"""Message templates: Jinja2 in a sandbox, strict about unknown names, bounded in size.

Templates are written by admins but filled with customer data, so they run in
:class:`jinja2.sandbox.SandboxedEnvironment`: no attribute starting with ``_``, no
unsafe callables. Big multiplications and powers are refused before they allocate,
and the rendered text is cut at :data:`MAX_OUTPUT`.
"""

import operator
from typing import Any, Final

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from core.errors import ValidationFailed

#: The longest template source, and the longest text a rendering may produce.
MAX_SOURCE: Final = 4000
MAX_OUTPUT: Final = 4096
#: The largest sequence ``*`` may build and the largest exponent ``**`` may use.
MAX_REPEAT: Final = 10_000
MAX_EXPONENT: Final = 64


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponents above {MAX_EXPONENT} are not allowed")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            repeats = isinstance(seq, str | list | tuple) and isinstance(times, int)
            if repeats and len(seq) * times > MAX_REPEAT:
                raise SecurityError(f"a repetition may make at most {MAX_REPEAT} items")
        return operator.mul(left, right)


_ENV: Final = _Sandbox(
    undefined=StrictUndefined,
    autoescape=False,
    finalize=lambda value: "" if value is None else value,
)


def check_template(source: str, *, field: str) -> str:
    """Compile ``source`` or raise :class:`ValidationFailed` naming the line of the error."""
    if len(source) > MAX_SOURCE:
        raise ValidationFailed(f"the template is longer than {MAX_SOURCE} characters", field=field)
    try:
        _ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise ValidationFailed(
            f"template syntax error on line {exc.lineno}: {exc.message}", field=field
        ) from None
    return source


def render(source: str, context: dict[str, Any], *, field: str = "template") -> str:
    """Fill a template; an unknown name or a refused operation is a :class:`ValidationFailed`."""
    try:
        text = _ENV.from_string(source).render(context)
    except TemplateSyntaxError as exc:
        raise ValidationFailed(
            f"template syntax error on line {exc.lineno}: {exc.message}", field=field
        ) from None
    except SecurityError as exc:
        raise ValidationFailed(f"not allowed in a template: {exc}", field=field) from None
    except TemplateError as exc:
        raise ValidationFailed(f"template error: {exc}", field=field) from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise ValidationFailed(f"template error: {exc}", field=field) from None
    return text[:MAX_OUTPUT]
