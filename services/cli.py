"""`xinfang`: the command line of API.md."""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from pathlib import Path

from shared.config import Settings, load_settings

DEMO_FILE = Path(__file__).resolve().parent.parent / "shared" / "demo" / "qinghe_county.json"


def _factory(settings: Settings):  # type: ignore[no-untyped-def]
    from shared.db import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.db.database_url))


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    """Create var/ and a secret key file when no key is configured."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    sec = settings.security
    if sec.xinfang_secret_key:
        print("XINFANG_SECRET_KEY is set; no key file needed")
        return 0
    path = sec.xinfang_secret_key_file
    if path.exists() and path.read_text().strip():
        print(f"secret key file exists: {path}")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_urlsafe(48) + "\n")
    path.chmod(0o600)
    print(f"generated secret key file: {path}")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from services.migrate import upgrade

    if settings.db.database_url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db.database_url)
    print("database schema is at head")
    return 0


def cmd_directory_load(settings: Settings, args: argparse.Namespace) -> int:
    from shared.db import transaction
    from shared.directory import DirectoryFileError, directory_is_empty, load_directory_file

    path = Path(args.file)
    if not path.is_file():
        print(f"目录文件不存在：{path}", file=sys.stderr)
        return 2
    try:
        with transaction(_factory(settings)) as session:
            if args.if_empty and not directory_is_empty(session):
                print("directory already loaded; nothing to do")
                return 0
            counts = load_directory_file(session, path)
    except DirectoryFileError as exc:
        print(f"目录文件 {path} 有误，未载入任何内容：", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(counts, ensure_ascii=False))
    return 0


def cmd_policy_load(settings: Settings, args: argparse.Namespace) -> int:
    """Load the county's own time limits; open deadlines are worked out again."""
    from sqlalchemy import select

    from deadline_scheduler.models import TimeLimit
    from deadline_scheduler.policies import TimeLimitsFileError, read_time_limits_file
    from deadline_scheduler.service import apply_time_limits
    from shared.calendar import CalendarCache
    from shared.db import transaction

    path = Path(args.file)
    try:
        limits = read_time_limits_file(path)
    except OSError as exc:
        print(f"时限文件无法读取：{path}：{exc.strerror}", file=sys.stderr)
        return 2
    except TimeLimitsFileError as exc:
        print(f"时限文件有误，未载入任何内容：{exc}", file=sys.stderr)
        return 1
    with transaction(_factory(settings)) as session:
        if args.if_empty and session.scalar(select(TimeLimit.id).limit(1)) is not None:
            print("time limits already loaded; nothing to do")
            return 0
        changed = apply_time_limits(
            session, limits=limits, source=str(path), calendar=CalendarCache().get(session)
        )
    print(
        f"loaded {len(limits.time_limits)} time limits and {len(limits.ladders)} urging ladders; "
        f"recomputed {changed} open deadlines"
    )
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    from shared.db import transaction
    from shared.directory import Unit
    from shared.security import ROLES, create_token

    if args.role not in ROLES:
        print(f"角色须为以下之一：{', '.join(ROLES)}", file=sys.stderr)
        return 2
    with transaction(_factory(settings)) as session:
        if session.get(Unit, args.unit) is None:
            print(f"单位 {args.unit} 不在目录中（先运行 xinfang directory load）", file=sys.stderr)
            return 2
        credential_id, token = create_token(session, unit_id=args.unit, role=args.role)
    print(token)
    print(
        f"token id {credential_id} (revoke with: xinfang token revoke {credential_id})",
        file=sys.stderr,
    )
    return 0


def cmd_apikey_create(settings: Settings, args: argparse.Namespace) -> int:
    from shared.db import transaction
    from shared.directory import Division, Unit
    from shared.security import create_api_key

    try:
        with transaction(_factory(settings)) as session:
            if args.jurisdiction is not None and session.get(Division, args.jurisdiction) is None:
                raise ValueError(
                    f"区划 {args.jurisdiction} 不在目录中（先运行 xinfang directory load）"
                )
            if args.unit is not None and session.get(Unit, args.unit) is None:
                raise ValueError(f"单位 {args.unit} 不在目录中")
            credential_id, key = create_api_key(
                session,
                system=args.system,
                jurisdiction=args.jurisdiction,
                reads=args.reads,
                channels=tuple(c.strip() for c in args.channels.split(",") if c.strip()),
                unit_id=args.unit,
            )
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(key)
    print(
        f"api key id {credential_id} (revoke with: xinfang apikey revoke {credential_id})",
        file=sys.stderr,
    )
    return 0


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from shared.db import transaction
    from shared.security import Credential, revoke

    with transaction(_factory(settings)) as session:
        row = session.get(Credential, args.id)
        if row is None or row.kind != args.kind:
            print(
                f"没有编号为 {args.id} 的{'令牌' if args.kind == 'token' else 'API Key'}",
                file=sys.stderr,
            )
            return 2
        revoke(session, args.id)
    print(f"revoked {args.kind} {args.id}")
    return 0


def cmd_keys_reencrypt(settings: Settings, args: argparse.Namespace) -> int:
    from intake_api.rekey import reencrypt
    from shared.db import transaction
    from shared.security import DataProtector

    sec = settings.security
    protector = DataProtector(sec.secret_key(), sec.previous_keys())
    with transaction(_factory(settings)) as session:
        changed = reencrypt(session, protector)
    print(f"re-encrypted {changed} petitions under key {protector.key_id}")
    return 0


def _load_rules(path: Path) -> tuple[object | None, list[str]]:
    """(the ruleset, []) or (None, the faults with their paths)."""
    from routing_engine.rules.catalogue import RulesetError
    from routing_engine.rules.engine import Ruleset

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, [f"{path}: 无法读取或不是合法的 JSON（{exc}）"]
    try:
        return Ruleset.from_doc(doc), []
    except RulesetError as exc:
        return None, [f"{where}: {message}" for where, message in exc.problems]


def cmd_rules_validate(settings: Settings, args: argparse.Namespace) -> int:
    ruleset, faults = _load_rules(Path(args.file))
    if faults:
        print("规则集有误：", file=sys.stderr)
        print("\n".join(faults), file=sys.stderr)
        return 1
    print(f"valid: {ruleset.label}")  # type: ignore[attr-defined]
    return 0


def cmd_rules_test(settings: Settings, args: argparse.Namespace) -> int:
    from routing_engine.rules.golden import run_golden
    from shared.directory import Directory, parse_directory_file, snapshot_of

    ruleset, faults = _load_rules(Path(args.file))
    if faults:
        print("\n".join(faults), file=sys.stderr)
        return 1
    directory: Directory = snapshot_of(
        parse_directory_file(Path(args.directory).read_text(encoding="utf-8"))
    )
    results = run_golden(ruleset, directory)  # type: ignore[arg-type]
    for result in results:
        print(("PASS " if result.passed else "FAIL ") + result.name)
        for problem in result.problems:
            print(f"     {problem}")
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


def cmd_rules_publish(settings: Settings, args: argparse.Namespace) -> int:
    """Save a ruleset version, run its golden cases, and (with --activate) make it live."""
    from routing_engine import versions
    from routing_engine.rules.catalogue import RulesetError
    from shared.db import transaction
    from shared.directory import load_snapshot
    from shared.errors import ProblemError

    try:
        doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
        with transaction(_factory(settings)) as session:
            row = versions.save(session, doc=doc, jurisdiction=args.jurisdiction, actor="cli")
            directory = load_snapshot(session)
            if args.activate:
                versions.activate(session, row=row, directory=directory, actor="cli")
            else:
                versions.test(session, row=row, directory=directory, actor="cli")
            print(f"ruleset {row.id} {row.version}@{row.digest}: {row.state}")
    except (OSError, ValueError) as exc:
        if isinstance(exc, RulesetError):
            print("\n".join(f"{p}: {m}" for p, m in exc.problems), file=sys.stderr)
        else:
            print(f"无法读取规则集：{exc}", file=sys.stderr)
        return 1
    except ProblemError as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    return 0


def cmd_rules_rollback(settings: Settings, args: argparse.Namespace) -> int:
    from routing_engine import versions
    from shared.db import transaction
    from shared.directory import load_snapshot
    from shared.errors import ProblemError

    try:
        with transaction(_factory(settings)) as session:
            row = versions.rollback(
                session,
                jurisdiction=args.jurisdiction,
                directory=load_snapshot(session),
                actor="cli",
            )
            print(f"active again: ruleset {row.id} {row.version}@{row.digest}")
    except ProblemError as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    return 0


def cmd_scheduler_sweep(settings: Settings, args: argparse.Namespace) -> int:
    """One sweep as of --now (default: now): exactly what the running scheduler
    would issue at that instant; a second run issues nothing twice."""
    from datetime import datetime

    from deadline_scheduler.sweep import sweep
    from shared.calendar import CalendarCache
    from shared.timeutil import utcnow

    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            print(
                f"--now 须为 ISO-8601 时间，如 2026-12-15T09:00:00+08:00：{args.now!r}",
                file=sys.stderr,
            )
            return 2
        if now.tzinfo is None:
            print("--now 须带时区，如 +08:00", file=sys.stderr)
            return 2
    else:
        now = utcnow()
    factory = _factory(settings)
    with factory() as session:
        calendar = CalendarCache().get(session)
    issued = sweep(factory, now=now, calendar=calendar)
    print(f"issued {issued} urging stages as of {now.isoformat()}")
    return 0


def cmd_calendar_load(settings: Settings, args: argparse.Namespace) -> int:
    """Load a year's official schedule; open deadlines are worked out again."""
    from deadline_scheduler.service import recompute_open
    from shared.calendar import CalendarCache, ScheduleFileError, load_schedule, parse_schedule
    from shared.db import transaction

    path = Path(args.file)
    try:
        year, days = parse_schedule(path.read_text(encoding="utf-8"))
    except (OSError, ScheduleFileError) as exc:
        print(f"未载入：{exc}", file=sys.stderr)
        return 1
    with transaction(_factory(settings)) as session:
        load_schedule(session, year=year, days=days, source=str(path))
        session.flush()
        changed = recompute_open(session, calendar=CalendarCache().get(session))
    print(f"loaded {year}: {len(days)} days; recomputed {changed} open deadlines")
    return 0


def cmd_reporting_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from services.reporting.service import rebuild
    from shared.directory import DirectoryCache

    applied = rebuild(_factory(settings), DirectoryCache())
    print(f"rebuilt the reporting read model from the stored events ({applied} applied)")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from services.app import SERVICES, build_app, server_config

    names = [args.service] if args.service else list(SERVICES)
    app = build_app(settings, names)
    config = server_config(
        app, host=args.host or settings.server.host, port=args.port or settings.server.port
    )
    uvicorn.Server(config).run()
    return 0


def parser() -> argparse.ArgumentParser:
    from services.app import SERVICES

    p = argparse.ArgumentParser(
        prog="xinfang", description="信访 intake, routing, deadlines and notices"
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve one service, or all in one process")
    s.add_argument("--service", choices=SERVICES)
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="bring the database schema to head").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser(
        "init", help="create var/ and a secret key file if none is configured"
    ).set_defaults(func=cmd_init)

    d = sub.add_parser("directory", help="the directory of divisions, units and categories")
    dsub = d.add_subparsers(dest="action", required=True)
    dl = dsub.add_parser("load", help="load or update from a file shaped like the demo county")
    dl.add_argument("file")
    dl.add_argument("--if-empty", action="store_true", help="only when no division is loaded yet")
    dl.set_defaults(func=cmd_directory_load)

    pol = sub.add_parser("policy", help="the county's own time limits")
    psub = pol.add_subparsers(dest="action", required=True)
    pl = psub.add_parser("load", help="replace the time limits from a file (see shared/demo)")
    pl.add_argument("file")
    pl.add_argument("--if-empty", action="store_true", help="only when none are loaded yet")
    pl.set_defaults(func=cmd_policy_load)

    t = sub.add_parser("token", help="staff bearer tokens")
    tsub = t.add_subparsers(dest="action", required=True)
    tc = tsub.add_parser("create")
    tc.add_argument("--unit", required=True)
    tc.add_argument("--role", required=True)
    tc.set_defaults(func=cmd_token_create)
    tr = tsub.add_parser("revoke")
    tr.add_argument("id", type=int)
    tr.set_defaults(func=cmd_revoke, kind="token")

    k = sub.add_parser("apikey", help="API keys for external systems")
    ksub = k.add_subparsers(dest="action", required=True)
    kc = ksub.add_parser("create")
    kc.add_argument("--system", required=True, help="the external system's name")
    kc.add_argument(
        "--jurisdiction",
        help="the 12-digit division code it serves (registers the system, or changes its "
        "scope; needed the first time)",
    )
    kc.add_argument(
        "--reads",
        choices=("own", "jurisdiction"),
        default="own",
        help="own: only the tickets it pushed (default); jurisdiction: every petition there "
        "but reports",
    )
    kc.add_argument(
        "--channels",
        default="hotline",
        help="comma-separated: hotline, open311, upper_level (default hotline)",
    )
    kc.add_argument(
        "--unit", help="the unit whose own system it is (a discipline organ's reads its reports)"
    )
    kc.set_defaults(func=cmd_apikey_create)
    kr = ksub.add_parser("revoke")
    kr.add_argument("id", type=int)
    kr.set_defaults(func=cmd_revoke, kind="apikey")
    rep = sub.add_parser("reporting", help="the statistics' read model")
    repsub = rep.add_subparsers(dest="action", required=True)
    rb = repsub.add_parser(
        "rebuild", help="recompute the read model from the stored events (same figures)"
    )
    rb.set_defaults(func=cmd_reporting_rebuild)
    rules = sub.add_parser("rules", help="routing rulesets, offline")
    rsub = rules.add_subparsers(dest="action", required=True)
    rv = rsub.add_parser("validate", help="check a ruleset against the catalogue")
    rv.add_argument("file")
    rv.set_defaults(func=cmd_rules_validate)
    rt = rsub.add_parser("test", help="run a ruleset's golden cases")
    rt.add_argument("file")
    rt.add_argument(
        "--directory", default=str(DEMO_FILE), help="directory file (default: the demo county)"
    )
    rt.set_defaults(func=cmd_rules_test)

    rp = rsub.add_parser(
        "publish", help="save a ruleset version in the database, test it, optionally activate"
    )
    rp.add_argument("file")
    rp.add_argument("--jurisdiction", default="990101000000", help="county division code")
    rp.add_argument("--activate", action="store_true")
    rp.set_defaults(func=cmd_rules_publish)
    rr = rsub.add_parser("rollback", help="re-activate the previously active version")
    rr.add_argument("--jurisdiction", default="990101000000")
    rr.set_defaults(func=cmd_rules_rollback)

    cal = sub.add_parser("calendar", help="the official holiday schedule")
    csub = cal.add_subparsers(dest="action", required=True)
    cl = csub.add_parser("load", help="load a year's holidays and make-up working days")
    cl.add_argument("file")
    cl.set_defaults(func=cmd_calendar_load)

    sched = sub.add_parser("scheduler", help="the deadline scheduler")
    ssub = sched.add_subparsers(dest="action", required=True)
    sw = ssub.add_parser("sweep", help="run one deadline sweep as of an instant and exit")
    sw.add_argument("--now", help="ISO-8601 with offset; default now")
    sw.set_defaults(func=cmd_scheduler_sweep)

    keys = sub.add_parser("keys", help="personal-data keys")
    ksub2 = keys.add_subparsers(dest="action", required=True)
    ksub2.add_parser(
        "reencrypt",
        help="after setting a new XINFANG_SECRET_KEY (old ones in XINFANG_PREVIOUS_SECRET_KEYS), "
        "re-encrypt and re-hash stored personal data under the new key",
    ).set_defaults(func=cmd_keys_reencrypt)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parser().parse_args(argv)
    return int(args.func(load_settings(), args) or 0)


if __name__ == "__main__":
    sys.exit(main())
