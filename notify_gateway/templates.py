"""Notice templates (Jinja2, Chinese), one per notice kind.

A template has a `subject` block and a `body` block. Rendering is pure.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,  # a missing value is a bug, not a blank in a notice
        autoescape=False,
        keep_trailing_newline=False,
    )


def render(kind: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of the notice `kind` for `context`."""
    template = _env().get_template(f"{kind}.j2")
    ctx = template.new_context(context)
    subject = "".join(template.blocks["subject"](ctx)).strip()
    body = "".join(template.blocks["body"](ctx)).strip()
    return subject, body
