"""Loading the directory: all or nothing, idempotent, faults pointed at by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.db import make_engine, make_session_factory, transaction
from shared.directory import (
    DirectoryFileError,
    Division,
    Unit,
    load_directory_file,
    load_snapshot,
    parse_directory_file,
)
from tests.conftest import DEMO_FILE


def counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        result = (
            session.scalar(select(func.count()).select_from(Division)) or 0,
            session.scalar(select(func.count()).select_from(Unit)) or 0,
        )
    engine.dispose()
    return result


def load(url: str, path: Path) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            return load_directory_file(session, path)
    finally:
        engine.dispose()


def test_loading_the_demo_twice_changes_nothing(db_url: str) -> None:
    first = load(db_url, DEMO_FILE)
    assert first == {"created": 67, "updated": 0, "unchanged": 0}
    assert load(db_url, DEMO_FILE) == {"created": 0, "updated": 0, "unchanged": 67}
    assert counts(db_url) == (12, 35)


def test_a_changed_unit_is_updated(db_url: str, tmp_path: Path) -> None:
    load(db_url, DEMO_FILE)
    doc = json.loads(DEMO_FILE.read_text())
    doc["units"][0]["name"] = "示范市委市政府（更名）"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    assert load(db_url, changed) == {"created": 0, "updated": 1, "unchanged": 66}
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        snapshot = load_snapshot(session)
    engine.dispose()
    assert snapshot.units["shifan.party_gov"].name == "示范市委市政府（更名）"
    assert snapshot.version == 2


def broken(tmp_path: Path, mutate) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    doc = json.loads(DEMO_FILE.read_text())
    mutate(doc)
    path = tmp_path / "broken.json"
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    path.write_text(text)
    return path, text


@pytest.mark.parametrize(
    ("mutate", "needle", "message"),
    [
        (
            lambda d: d["units"][5].update(parent="qinghe.nowhere"),
            '"parent": "qinghe.nowhere"',
            "上级单位",
        ),
        (lambda d: d["divisions"][3].update(code="99010100100"), '"code": "99010100100"', "格式"),
        (lambda d: d["units"][7].update(level="mayor"), '"level": "mayor"', "取值无效"),
        (
            lambda d: d["categories"][2].update(function="astrology"),
            '"function": "astrology"',
            "astrology",
        ),
    ],
)
def test_a_malformed_file_names_the_line_and_loads_nothing(
    db_url: str,
    tmp_path: Path,
    mutate,
    needle: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    path, text = broken(tmp_path, mutate)
    expected_line = text[: text.index(needle)].count("\n") + 1
    with pytest.raises(DirectoryFileError) as caught:
        load(db_url, path)
    (line, _, said) = caught.value.problems[0]
    assert line == expected_line
    assert message in said
    assert f"第 {expected_line} 行" in str(caught.value)
    assert counts(db_url) == (0, 0)


def test_invalid_json_points_at_its_line(tmp_path: Path) -> None:
    text = DEMO_FILE.read_text().replace('"name": "红星村"', '"name": "红星村",,', 1)
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory_file(text)
    line = text[: text.index(",,")].count("\n") + 1
    assert caught.value.problems[0][0] == line
