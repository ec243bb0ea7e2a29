"""Tornado handlers: thin adapters that turn a request into a command's values, run the command
off the event loop, and answer JSON. Errors are mapped once, in :class:`MlopsHandler`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..commands import Invocation, get
from .jobs import Jobs
from .payload import check_json, dumps, error_status, from_query, merge_url, parse_body, render, resolve_paths
from .routes import PREFIX, Action


class MlopsHandler(APIHandler):
    """Base of every route: JSON errors ``{"message": one line}`` with the status of
    :data:`~.payload.STATUS`; unexpected errors are logged with their traceback and answer 500."""

    @property
    def jobs(self) -> Jobs:
        jobs: Jobs = self.settings["jupyter_mlops_jobs"]
        return jobs

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if exc is None or isinstance(exc, web.HTTPError):
            super().write_error(status_code, **kwargs)
            return
        status, message = error_status(exc)
        self.set_status(status)
        self.finish(dumps({"message": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if value is not None and error_status(value)[0] < 500:
            self.log.info("jupyter-mlops: %s %s: %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)

    def answer(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps(body))


class CommandHandler(MlopsHandler):
    """One route of :data:`~.routes.ROUTES`: each HTTP method runs the command its action names."""

    def initialize(self, actions: dict[str, Action]) -> None:
        self.actions = actions

    @web.authenticated
    async def get(self, **url: str) -> None:
        await self._handle(url)

    @web.authenticated
    async def post(self, **url: str) -> None:
        await self._handle(url)

    @web.authenticated
    async def patch(self, **url: str) -> None:
        await self._handle(url)

    @web.authenticated
    async def delete(self, **url: str) -> None:
        await self._handle(url)

    async def _handle(self, url: dict[str, str]) -> None:
        action = self.actions.get(self.request.method or "")
        if action is None:
            raise web.HTTPError(405)
        command = get(action.command)
        if self.request.method == "GET":
            given = from_query(command, self.request.query_arguments)
        else:
            given = parse_body(self.request.body)
            check_json(command, given)
        given = resolve_paths(command, merge_url(given, action.url(url)), Path(self.settings["server_root_dir"]))
        values = command.values(**given)
        if action.job:
            job = self.jobs.start(command, values, Invocation(progress=False), f"{command.name} {_title(given)}")
            self.set_header("Location", url_path_join(self.base_url, PREFIX, "jobs", job.id))
            self.answer(job.to_dict(), 202)
            return
        output: list[str] = []
        lines = lambda text: output.extend(str(text).splitlines())
        invocation = Invocation(echo=lines, log=lines, progress=False)
        result = await asyncio.get_running_loop().run_in_executor(None, command.run, invocation, values)
        self.answer(render(result, output), action.status)


def _title(given: dict[str, Any]) -> str:
    return str(given.get("name") or given.get("ref") or "")


class JobsHandler(MlopsHandler):
    """``GET jobs``: the server's recent background jobs, newest last (without their logs)."""

    @web.authenticated
    def get(self) -> None:
        self.answer({"items": [{**j.to_dict(), "log": []} for j in self.jobs.list()]})


class JobHandler(MlopsHandler):
    """``GET jobs/{id}?since=N``: a job's state, the log lines after the first N, its result or error."""

    @web.authenticated
    def get(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            raise web.HTTPError(404, f"Job {job_id!r} not found (jobs are kept while this server runs).")
        since = self.get_argument("since", "0")
        if not since.isdigit():
            raise web.HTTPError(400, f"Invalid since {since!r}: a count of log lines.")
        self.answer(job.to_dict(int(since)))
