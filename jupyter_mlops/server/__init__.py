"""The jupyter_server extension: the REST API under ``/jupyter-mlops/api/`` that the JupyterLab
extension (``labextension/``) talks to. Thin over :mod:`jupyter_mlops.commands`.

Routes (``{name}``, ``{version}`` are URL pieces; GET takes query parameters, the rest a JSON body;
both use the command's option names, as ``jupyter-mlops <verb> --help`` lists them):

    GET    models                     models list        POST models: models register (201)
    GET    models/{name}              models list NAME
    GET    models/{name}/{version}    models show        PATCH: models update   DELETE: models delete
    GET    images                     images list        POST images: images build (a job, 202)
    GET    images/{name}[/{version}]  images list/show   PATCH, DELETE: images update/delete
    GET    deployments                deployments list   POST deployments: deploy (a job, 202)
    GET    deployments/{name}         deployments show   DELETE: deployments delete (undeploy)
    POST   deployments/{name}/update | regen-key | score  (update is a job)
    GET    deployments/{name}/dashboard   monitor: the summary and its plotly figure
    GET    workspace
    GET    jobs, jobs/{id}?since=N    background jobs: state, log lines, result or error

Changes: every GET answers with an ``ETag``; a client that polls with ``If-None-Match`` gets
``304 Not Modified`` and no body while nothing changed (see the README for why polling).
Errors: ``{"message": "one line"}`` with 400 (bad input), 404, 409 (conflict, in use) or 500.
Loading the extension only adds routes: no store is opened, nothing is contacted.
"""

from __future__ import annotations

from typing import Any

from .jobs import Jobs
from .payload import error_status, render
from .routes import PREFIX, ROUTES


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    from .handlers import CommandHandler, JobHandler, JobsHandler

    web_app = serverapp.web_app
    base = web_app.settings["base_url"]
    web_app.settings["jupyter_mlops_jobs"] = Jobs(render, error_status)

    def url(pattern: str) -> str:
        return url_path_join(base, PREFIX, pattern) + "/?"

    handlers: list[tuple[str, Any, dict[str, Any]]] = [
        (url(pattern), CommandHandler, {"actions": actions}) for pattern, actions in ROUTES.items()
    ]
    handlers += [(url("jobs"), JobsHandler, {}), (url(r"jobs/(?P<job_id>[^/]+)"), JobHandler, {})]
    web_app.add_handlers(".*$", handlers)
    serverapp.log.info("jupyter-mlops: REST API at %s", url_path_join(base, PREFIX))
