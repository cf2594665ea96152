"""Logs a machine can read: one JSON object a line, with the request's or task's id.

``LOG_FORMAT=json`` turns it on in the web and worker processes; the embedded run
keeps readable text. Either way every record carries ``request_id`` and
``task_id`` (empty outside one), so that a request's or a task's lines can be
found together, and the web app answers each request with its ``X-Request-Id``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default=""
)
task_id: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="")

#: An id a caller may hand us to follow its request through our logs.
_CALLER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-Id when it is a plain token, else a new one."""
    if header and _CALLER_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class WithIds(logging.Filter):
    """Puts the current request's and task's ids on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.task_id = task_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
            "task_id": getattr(record, "task_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(log_format: str, level: int = logging.INFO) -> None:
    """The root logger's one handler, in the format asked for, with the ids."""
    handler = logging.StreamHandler()
    handler.addFilter(WithIds())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
