"""The canonical petition body: what a petitioner or registrar sees refused or normalized."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.petition import (
    MAX_CONTENT_CHARS,
    PetitionBody,
    body_problems,
    id_number_problem,
    resolve_references,
)
from tests.helpers import petition
from tests.routing_engine.conftest import build_directory, demo_directory

BODY = petition()


def body(**changes: Any) -> dict[str, Any]:
    return petition(**changes)


def petitioner(**changes: Any) -> dict[str, Any]:
    return body(petitioners=[{**BODY["petitioners"][0], **changes}])


def refused_fields(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        PetitionBody.model_validate(data)
    return [tuple(e["loc"]) for e in caught.value.errors()]


def gb11643(first17: str) -> str:
    """The ID number with its check character, computed here from the standard
    (weights 2^(17-i) mod 11), independently of the code under test."""
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


# --- phone numbers ------------------------------------------------------------------


def test_a_mainland_mobile_number_is_accepted():
    assert PetitionBody.model_validate(BODY).petitioners[0].phone == "13800138000"


@pytest.mark.parametrize(
    "typed",
    ["+86 138-0013-8000", "0086 138 0013 8000", "138-0013-8000", "(138)00138000", " 13800138000 "],
)
def test_a_phone_typed_with_prefix_or_separators_is_normalized(typed):
    parsed = PetitionBody.model_validate(petitioner(phone=typed))
    assert parsed.petitioners[0].phone == "13800138000"


def test_a_full_width_phone_is_folded_to_ascii_digits():
    parsed = PetitionBody.model_validate(petitioner(phone="１３８００１３８０００"))
    assert parsed.petitioners[0].phone == "13800138000"


@pytest.mark.parametrize("bad", ["12800138000", "1380013800", "138001380001", "010-12345678"])
def test_a_number_that_is_not_a_mainland_mobile_is_refused_at_its_field(bad):
    assert refused_fields(petitioner(phone=bad)) == [("petitioners", 0, "phone")]


def test_an_empty_phone_is_no_phone():
    assert PetitionBody.model_validate(petitioner(phone="")).petitioners[0].phone is None


# --- ID numbers (GB 11643) ------------------------------------------------------------


def test_a_valid_id_number_is_accepted():
    assert id_number_problem("11010519491231002X") is None
    assert PetitionBody.model_validate(BODY).petitioners[0].id_number == "11010519491231002X"


def test_the_independent_check_digit_agrees_with_the_known_example():
    assert gb11643("11010519491231002") == "11010519491231002X"


def test_a_lower_case_x_is_normalized_to_upper_case():
    parsed = PetitionBody.model_validate(petitioner(id_number="11010519491231002x"))
    assert parsed.petitioners[0].id_number == "11010519491231002X"


def test_a_full_width_id_number_is_folded():
    parsed = PetitionBody.model_validate(
        petitioner(id_number="１１０１０５１９４９１２３１００２Ｘ")
    )
    assert parsed.petitioners[0].id_number == "11010519491231002X"


def test_a_wrong_check_digit_is_refused():
    assert id_number_problem("110105194912310021") == "身份证号校验位不正确"
    assert refused_fields(petitioner(id_number="110105194912310021")) == [
        ("petitioners", 0, "id_number")
    ]


def test_an_impossible_birth_date_is_refused_even_with_a_right_check_digit():
    number = gb11643("11010519990230001")  # 30 February 1999
    assert "出生日期" in (id_number_problem(number) or "")
    assert refused_fields(petitioner(id_number=number)) == [("petitioners", 0, "id_number")]


def test_a_birth_date_before_1900_is_refused():
    assert "出生日期" in (id_number_problem(gb11643("11010518990101001")) or "")


def test_a_birth_date_in_the_future_is_refused():
    """No one alive was born in 2099; like 30 February, the number cannot be real."""
    number = gb11643("11010520990101000")
    assert id_number_problem(number) is not None


@pytest.mark.parametrize("bad", ["1101051949123100", "11010519491231002Y", "A1010519491231002X"])
def test_an_id_number_of_the_wrong_shape_is_refused(bad):
    assert id_number_problem(bad) == "身份证号须为 18 位（末位可为 X）"


# --- folding, trimming, limits ------------------------------------------------------------


def test_what_the_petitioner_wrote_is_kept_as_written_but_trimmed():
    parsed = PetitionBody.model_validate(
        body(
            title="  ＡＢＣ小区物业乱收费！  ",
            content="\n内容１２３，“原话”……\t",
            address="　红星村三组（东头）　",
        )
    )
    assert parsed.title == "ＡＢＣ小区物业乱收费！"
    assert parsed.content == "内容１２３，“原话”……"
    assert parsed.address == "红星村三组（东头）"


def test_a_name_of_only_spaces_is_refused():
    assert refused_fields(petitioner(name="　 ")) == [("petitioners", 0, "name")]


def test_content_of_ten_thousand_characters_is_accepted_and_one_more_is_refused():
    assert MAX_CONTENT_CHARS == 10_000
    assert len(PetitionBody.model_validate(body(content="欠" * 10_000)).content) == 10_000
    assert refused_fields(body(content="欠" * 10_001)) == [("content",)]


def test_an_empty_title_is_refused():
    assert refused_fields(body(title="   ")) == [("title",)]


@pytest.mark.parametrize("bad", ["99010110020", "9901011002011", "99010110020a", "990101-10020"])
def test_a_division_code_must_be_twelve_digits(bad):
    assert refused_fields(body(division_code=bad)) == [("division_code",)]


def test_a_full_width_division_code_is_folded():
    parsed = PetitionBody.model_validate(body(division_code="９９０１０１１００２０１"))
    assert parsed.division_code == "990101100201"


def test_an_unknown_field_is_refused_rather_than_dropped():
    assert refused_fields(body(petitioner_phone="13800138000")) == [("petitioner_phone",)]


def test_several_bad_fields_are_all_named_at_once():
    fields = refused_fields(
        body(title="", division_code="123", petitioners=[{"name": "张三", "phone": "123"}])
    )
    assert set(fields) == {("title",), ("division_code",), ("petitioners", 0, "phone")}


# --- who may petition anonymously ---------------------------------------------------------


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    return body_problems(PetitionBody.model_validate(data))


def test_a_named_complaint_with_a_phone_has_no_problems():
    assert problems_of(BODY) == []


def test_an_anonymous_report_without_petitioners_is_allowed():
    data = body(anonymous=True, petitioners=[], type="report", category="discipline.official")
    assert problems_of(data) == []


def test_an_anonymous_complaint_is_refused():
    data = body(anonymous=True, petitioners=[], type="complaint")
    assert [f for f, _ in problems_of(data)] == ["anonymous"]


def test_an_anonymous_report_must_not_name_petitioners():
    data = body(anonymous=True, type="report", category="discipline.official")
    assert [f for f, _ in problems_of(data)] == ["petitioners"]


def test_a_named_petition_needs_a_petitioner():
    assert [f for f, _ in problems_of(body(petitioners=[]))] == ["petitioners"]


def test_a_named_petition_needs_a_phone_to_follow_it():
    data = body(petitioners=[{"name": "张三"}, {"name": "李四"}])
    assert [f for f, _ in problems_of(data)] == ["petitioners.0.phone"]
    data = body(petitioners=[{"name": "张三"}, {"name": "李四", "phone": "13900139000"}])
    assert problems_of(data) == []


# --- references to the directory ---------------------------------------------------------------


def resolve(data: dict[str, Any], directory=None):
    return resolve_references(PetitionBody.model_validate(data), directory or demo_directory())


def test_a_petition_addressed_nowhere_goes_to_the_county_petition_bureau():
    resolved, problems = resolve(BODY)
    assert problems == []
    assert resolved == {"addressed_to": "qinghe.petition_bureau", "type": "complaint"}


def test_an_explicit_addressee_is_kept():
    resolved, problems = resolve(body(addressed_to="qinghe.qingshi.gov"))
    assert problems == []
    assert resolved["addressed_to"] == "qinghe.qingshi.gov"


def test_the_type_defaults_to_report_for_discipline_matters():
    resolved, problems = resolve(body(type=None, category="discipline.official"))
    assert problems == []
    assert resolved["type"] == "report"


def test_the_type_defaults_to_complaint_otherwise():
    resolved, problems = resolve(body(type=None, category="neighbour.dispute"))
    assert problems == []
    assert resolved["type"] == "complaint"


def test_a_given_type_is_kept():
    resolved, _ = resolve(body(type="suggestion", category="urban.management"))
    assert resolved["type"] == "suggestion"


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"division_code": "990101999999"}, "division_code", "990101999999"),
        ({"category": "labor.unknown"}, "category", "labor.unknown"),
        ({"addressed_to": "qinghe.nobody"}, "addressed_to", "qinghe.nobody"),
        (
            {"accused": {"name": "王某", "unit_id": "qinghe.ghost"}},
            "accused.unit_id",
            "qinghe.ghost",
        ),
        ({"prior": {"unit_id": "qinghe.ghost"}}, "prior.unit_id", "qinghe.ghost"),
        ({"division_code": None}, "division_code", "区划代码"),
        ({"category": None}, "category", "类别"),
    ],
)
def test_an_unknown_reference_is_refused_naming_the_field(changes, field, named):
    resolved, problems = resolve(body(**changes))
    assert resolved == {}
    assert [p["field"] for p in problems] == [field]
    assert named in problems[0]["message"]


def test_every_bad_reference_is_reported_together_with_the_anonymity_problem():
    data = body(division_code="990101999999", category="nope", anonymous=True, petitioners=[])
    _, problems = resolve(data)
    assert {p["field"] for p in problems} == {"anonymous", "division_code", "category"}


def test_an_anonymous_petition_that_defaults_to_a_complaint_is_refused():
    """No type given and a non-discipline category: the petition becomes a complaint,
    and only reports may be anonymous."""
    data = body(anonymous=True, petitioners=[], type=None, category="labor.wage_arrears")
    resolved, problems = resolve(data)
    assert [p["field"] for p in problems] == ["anonymous"]


def test_an_anonymous_petition_that_defaults_to_a_report_is_accepted():
    data = body(anonymous=True, petitioners=[], type=None, category="discipline.official")
    resolved, problems = resolve(data)
    assert problems == []
    assert resolved["type"] == "report"


def test_a_county_without_a_petition_bureau_needs_an_explicit_addressee():
    directory = build_directory(without_units=["qinghe.petition_bureau"])
    resolved, problems = resolve(BODY, directory)
    assert [p["field"] for p in problems] == ["addressed_to"]
    resolved, problems = resolve(body(addressed_to="qinghe.hrss"), directory)
    assert problems == [] and resolved["addressed_to"] == "qinghe.hrss"
