"""Filling what a petitioner left out: the place from the address, the category
from the text. Each inference says how it was made. Pure."""

from __future__ import annotations

from typing import Any

from intake_api.categories import CategoryProblem, classify
from intake_api.places import PlaceProblem, resolve_place
from shared.directory import Directory
from shared.errors import FieldError
from shared.petition import PetitionBody


def infer_missing(
    body: PetitionBody, directory: Directory
) -> tuple[PetitionBody, dict[str, Any], list[FieldError]]:
    """The body with `division_code` and `category` filled where they can be found,
    how each was found, and what could not be."""
    update: dict[str, Any] = {}
    how: dict[str, Any] = {}
    problems: list[FieldError] = []
    if body.division_code is None:
        if not body.address:
            problems.append(
                FieldError("division_code", "请填写事发地的区划代码，或填写事发地址以便识别")
            )
        else:
            place = resolve_place(body.address, directory)
            if isinstance(place, PlaceProblem):
                problems.append(FieldError("division_code", place.message))
            else:
                update["division_code"] = place.code
                how["division_code"] = {"from": "address", "explanation": place.explanation}
    if body.category is None:
        found = classify(f"{body.title}\n{body.content}", directory)
        if isinstance(found, CategoryProblem):
            problems.append(FieldError("category", found.message))
        else:
            update["category"] = found.code
            how["category"] = {
                "from": "text",
                "keywords": list(found.keywords),
                "explanation": found.explanation,
            }
    return (body.model_copy(update=update) if update else body), how, problems
