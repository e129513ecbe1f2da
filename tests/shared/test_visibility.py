"""Who a report accuses and who is barred from it, on the demo county's tree; the
places and units a principal's jurisdiction covers. Pure: no database."""

from __future__ import annotations

import pytest

from shared.directory import parse_directory_file, snapshot_of
from shared.visibility import barred_units, derive_accused, registering_bureau
from tests.conftest import DEMO_FILE

DIRECTORY = snapshot_of(parse_directory_file(DEMO_FILE.read_text(encoding="utf-8")))
HONGXING = "990101100201"  # 青石镇红星村
QINGSHI = "990101100000"  # 青石镇
COUNTY = "990101000000"


@pytest.mark.parametrize(
    ("position", "place", "accused"),
    [
        # the position alone, at the petition's place
        ("村党支部书记", HONGXING, "qinghe.qingshi.hongxing"),
        ("村委会主任", HONGXING, "qinghe.qingshi.hongxing"),
        ("社区书记", "990101001001", "qinghe.chengguan.binhe"),
        # the place named in the position wins over the petition's place
        ("红星村党支部书记", QINGSHI, "qinghe.qingshi.hongxing"),
        ("石桥村会计", HONGXING, "qinghe.qingshi.shiqiao"),
        ("青石镇副镇长", HONGXING, "qinghe.qingshi.gov"),
        ("镇党委书记", HONGXING, "qinghe.qingshi.gov"),
        ("白沙镇镇长", HONGXING, "qinghe.baisha.gov"),
        ("街道办主任", "990101001002", "qinghe.chengguan.gov"),
        # a department by the words people use for it
        ("县人社局副局长", HONGXING, "qinghe.hrss"),
        ("劳动监察大队队长", HONGXING, "qinghe.hrss"),
        ("县住建局局长", COUNTY, "qinghe.housing"),
        ("县市场监管局执法人员", HONGXING, "qinghe.market_regulation"),
        ("派出所所长", HONGXING, "qinghe.police"),
        ("副县长", HONGXING, "qinghe.party_gov"),
    ],
)
def test_the_accused_is_placed_from_the_position_and_the_place(
    position: str, place: str, accused: str
) -> None:
    assert derive_accused({"name": "李四", "position": position}, place, DIRECTORY) == accused


def test_a_given_unit_is_the_accused_and_nothing_placeable_is_none() -> None:
    given = {"position": "村党支部书记", "unit_id": "qinghe.baisha.hekou"}
    assert derive_accused(given, HONGXING, DIRECTORY) == "qinghe.baisha.hekou"
    assert derive_accused({"name": "李四"}, HONGXING, DIRECTORY) is None
    assert derive_accused({"position": "工作人员"}, "999999999999", DIRECTORY) is None
    assert derive_accused(None, HONGXING, DIRECTORY) is None


def test_a_village_official_bars_the_village_and_its_township_government() -> None:
    barred = barred_units("qinghe.qingshi.hongxing", HONGXING, DIRECTORY)
    assert barred == {"qinghe.qingshi.hongxing", "qinghe.qingshi.gov"}
    # never the discipline organ that handles it, nor a neighbouring village
    assert "qinghe.qingshi.discipline" not in barred
    assert "qinghe.qingshi.shiqiao" not in barred


def test_a_township_government_bars_every_village_under_it() -> None:
    barred = barred_units("qinghe.qingshi.gov", HONGXING, DIRECTORY)
    assert {"qinghe.qingshi.gov", "qinghe.qingshi.hongxing", "qinghe.qingshi.shiqiao"} <= barred
    assert "qinghe.qingshi.discipline" not in barred
    assert "qinghe.baisha.gov" not in barred


def test_a_county_department_bars_the_units_at_the_county_but_the_report_organs() -> None:
    barred = barred_units("qinghe.hrss", HONGXING, DIRECTORY)
    assert {"qinghe.hrss", "qinghe.labor_arbitration", "qinghe.party_gov"} <= barred
    assert not barred & {"qinghe.discipline", "qinghe.petition_bureau"}


def test_an_accused_that_cannot_be_placed_bars_the_units_of_the_place() -> None:
    assert barred_units(None, HONGXING, DIRECTORY) == {
        "qinghe.qingshi.hongxing",
        "qinghe.qingshi.gov",
    }


def test_the_registering_bureau_is_the_registrars_the_addressed_or_the_countys() -> None:
    def bureau(registrar: str | None, addressed: str) -> str | None:
        return registering_bureau(
            DIRECTORY, registrar_unit=registrar, addressed_to=addressed, division_code=HONGXING
        )

    assert bureau("shifan.petition_bureau", "qinghe.petition_bureau") == "shifan.petition_bureau"
    assert bureau(None, "shifan.petition_bureau") == "shifan.petition_bureau"
    # addressed to a unit that is not a bureau: the bureau of the place's county registers
    assert bureau("qinghe.hrss", "qinghe.qingshi.gov") == "qinghe.petition_bureau"


def test_the_trees_are_walked_once_per_snapshot() -> None:
    assert DIRECTORY.below("qinghe.qingshi.gov") == {
        "qinghe.qingshi.gov",
        "qinghe.qingshi.hongxing",
        "qinghe.qingshi.shiqiao",
    }
    assert DIRECTORY.superiors("qinghe.qingshi.hongxing") == [
        "qinghe.qingshi.gov",
        "qinghe.party_gov",
        "shifan.party_gov",
    ]
    assert HONGXING in DIRECTORY.divisions_under(COUNTY)
    assert DIRECTORY.below("nobody") == frozenset()
