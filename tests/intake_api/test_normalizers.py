"""The pure normalizers: places from addresses, categories from text, similarity."""

from __future__ import annotations

import pytest

from intake_api.categories import CategoryMatch, CategoryProblem, classify, parse_keyword_table
from intake_api.places import PlaceMatch, PlaceProblem, resolve_place
from intake_api.similarity import DEFAULT_THRESHOLD, similarity
from tests.routing_engine.conftest import demo_directory


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("清河县青石镇红星村", "990101100201"),
        ("青石镇红星村三组", "990101100201"),
        ("红星村村口小卖部", "990101100201"),
        ("清河县青石镇", "990101100000"),
        ("白沙镇白沙村", "990101101201"),
        ("白沙镇河口村", "990101101202"),
        ("白沙", "990101101000"),  # a bare short form means the larger place
        ("城关滨河小区3栋", "990101001001"),
        ("示范市清河县", "990101000000"),
        ("  清河县　青石镇 红星村 ", "990101100201"),  # spaces, full-width space
    ],
)
def test_an_address_names_its_division(address: str, code: str) -> None:
    found = resolve_place(address, demo_directory())
    assert isinstance(found, PlaceMatch), found
    assert found.code == code
    assert found.code in found.explanation


@pytest.mark.parametrize(
    ("address", "words"),
    [("青石镇河口村", "不属于同一地方"), ("北京市朝阳区", "没有找到"), ("", "没有找到")],
)
def test_an_address_that_names_no_single_place_is_a_problem(address: str, words: str) -> None:
    found = resolve_place(address, demo_directory())
    assert isinstance(found, PlaceProblem)
    assert words in found.message


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("包工头拖欠农民工工资，讨薪无果", "labor.wage_arrears"),
        ("征地补偿款一直没有发放", "land.requisition"),
        ("小区物业乱收费，电梯坏了", "housing.property"),
        ("工厂排污，河水有臭味", "environment.pollution"),
        ("村支书贪污集体资金", "discipline.official"),
        ("对法院的判决不服，要求再审", "law.litigation"),
    ],
)
def test_the_text_names_its_category_and_says_why(text: str, code: str) -> None:
    found = classify(text, demo_directory())
    assert isinstance(found, CategoryMatch), found
    assert found.code == code
    assert all(f"「{k}」" in found.explanation for k in found.keywords)


def test_no_keyword_or_a_tie_asks_for_the_category() -> None:
    assert isinstance(classify("请领导关注", demo_directory()), CategoryProblem)
    tie = classify("学校 医院", demo_directory())
    assert isinstance(tie, CategoryProblem) and "同时涉及" in tie.message


def test_a_keyword_table_is_data_and_bad_ones_are_refused() -> None:
    assert parse_keyword_table('{"other": ["ａｂ"]}') == {"other": ("ab",)}
    for bad in ('["x"]', '{"other": "x"}', '{"other": [""]}'):
        with pytest.raises(ValueError):
            parse_keyword_table(bad)


def test_similarity_tells_the_same_matter_from_another() -> None:
    a = "红星村安置房工地拖欠我们十二名工人三个月工资共计八万余元，多次讨要无果。"
    paraphrase = "我们在红星村安置房工地干活，老板拖欠十二个工人三个月的工资八万多元，一直不给。"
    other_matter = "白沙镇某工厂拖欠我两个月工资五千元。"
    assert similarity(a, a) == 1.0
    assert similarity(a, paraphrase) >= DEFAULT_THRESHOLD
    assert similarity(a, other_matter) < DEFAULT_THRESHOLD
    assert similarity(a, "") == 0.0
