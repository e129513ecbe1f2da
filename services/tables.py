"""Imports every service's models so that one metadata holds every table
(for Alembic and for tests). Only composition code imports this."""

from __future__ import annotations

import deadline_scheduler.models  # noqa: F401
import intake_api.models  # noqa: F401
import notify_gateway.models  # noqa: F401
import routing_engine.models  # noqa: F401
import services.casework.models  # noqa: F401
import services.reporting.models  # noqa: F401
import shared.audit  # noqa: F401
import shared.calendar  # noqa: F401
import shared.directory  # noqa: F401
import shared.events  # noqa: F401
import shared.idempotency  # noqa: F401
import shared.security  # noqa: F401
import shared.visibility  # noqa: F401
from shared.db import Base

metadata = Base.metadata
