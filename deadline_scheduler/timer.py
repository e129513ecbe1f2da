"""APScheduler as an in-memory timer that runs the database sweep. Durable state
lives in the tables; no job store is shared between processes (APScheduler 3 must
not share one), so any number of scheduler replicas may run."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from deadline_scheduler.sweep import sweep
from shared.calendar import CalendarCache
from shared.directory import DirectoryCache
from shared.timeutil import utcnow

log = logging.getLogger("xinfang.scheduler")


def start_timer(
    factory: sessionmaker[Session],
    calendars: CalendarCache,
    directories: DirectoryCache,
    every_seconds: float,
) -> BackgroundScheduler:
    def run() -> None:
        try:
            with factory() as session:
                calendar, directory = calendars.get(session), directories.get(session)
            issued = sweep(factory, now=utcnow(), calendar=calendar, directory=directory)
            if issued:
                log.info("sweep issued %d urging stages", issued)
        except Exception:  # the next tick tries again; a failed sweep committed nothing
            log.exception("sweep failed")

    timer = BackgroundScheduler(timezone="Asia/Shanghai")
    timer.add_job(
        run, "interval", seconds=every_seconds, id="sweep", max_instances=1, coalesce=True
    )
    timer.start()
    return timer
