"""Long commands (build, deploy, update) run in a background thread; a job records their log,
then their result or error, for the front end to poll (``GET /jupyter-mlops/api/jobs/{id}``)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..commands import Command, Invocation
from ..errors import MlopsError

KEEP = 50  # finished jobs kept for the front end to read; running ones are never dropped
_ids = itertools.count(1)


@dataclass
class Job:
    """One background run of a command: ``state`` is running, succeeded or failed."""

    id: str
    command: str
    title: str
    state: str = "running"
    log: list[str] = field(default_factory=list)
    result: Any = None
    error: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def append(self, text: str) -> None:
        self.log.extend(str(text).splitlines() or [""])

    def to_dict(self, since: int = 0) -> dict[str, Any]:
        """The job as JSON; ``since`` skips log lines the caller already has."""
        return {"id": self.id, "command": self.command, "title": self.title, "state": self.state,
                "log": self.log[since:], "log_lines": len(self.log), "result": self.result, "error": self.error,
                "started_at": self.started_at, "finished_at": self.finished_at}


class Jobs:
    """The jobs of one server, newest last. ``render`` turns a command's result into JSON and
    ``error`` an exception into ``(status, message)``, as the synchronous routes do."""

    def __init__(self, render: Callable[[Any, list[str]], Any],
                 error: Callable[[BaseException], tuple[int, str]]) -> None:
        self._render, self._error = render, error
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, command: Command, values: Any, invocation: Invocation, title: str) -> Job:
        job = Job(str(next(_ids)), command.name, title)
        invocation.echo = invocation.log = job.append
        with self._lock:
            self._jobs[job.id] = job
            self._trim()
        threading.Thread(target=self._run, args=(job, command, values, invocation), name=f"mlops-job-{job.id}",
                         daemon=True).start()
        return job

    def _run(self, job: Job, command: Command, values: Any, invocation: Invocation) -> None:
        try:
            job.result = self._render(command.run(invocation, values), [])
            job.state = "succeeded"
        except Exception as exc:  # the job reports every failure; the server goes on
            status, message = self._error(exc)
            job.error = {"status": status, "message": message}
            if isinstance(exc, MlopsError) and exc.detail:
                job.append(exc.detail)
            job.state = "failed"
        finally:
            job.finished_at = time.time()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def _trim(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.state != "running"]
        for job_id in finished[: max(0, len(self._jobs) - KEEP)]:
            del self._jobs[job_id]
