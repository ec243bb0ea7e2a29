"""ModelBrowser: models, then their versions, and what uses each version; search, tags, actions."""

from __future__ import annotations

from typing import Any

import traitlets

from .. import api
from ..display import fmt_kv, fmt_size, fmt_time
from ..errors import UsageError
from ..names import parse_pairs
from ..registry.records import Model
from . import html as h
from .build_log import BuildLog
from .panel import Panel, action

PAGE = 500


def parse_query(text: str) -> tuple[str, list[str]]:
    """``"churn stage=prod team"`` -> name part ``"churn"``, tag filters ``["stage=prod", "team"]``.

    A word with ``=`` or a ``#`` in front is a tag filter (``#team``: has the tag); the rest must
    all appear in the model's name."""
    words, filters = [], []
    for word in text.split():
        if "=" in word:
            filters.append(word)
        elif word.startswith("#") and len(word) > 1:
            filters.append(word[1:])
        else:
            words.append(word.lower())
    return " ".join(words), filters


class ModelBrowser(Panel):
    """Registered models at a glance: search by name and tags, open a model to see its versions
    (tags, properties, signature, size, the images and deployments that use each), edit tags,
    download, build an image, deploy, delete, and compare two versions side by side."""

    query = traitlets.Unicode("", help="The search box: name words and tag filters (key=value, #key).")
    selected = traitlets.Unicode("", help="The model opened, or '' for the list of models.")
    version = traitlets.Int(0, help="The version shown in detail (0: none).")
    confirm = traitlets.Int(0, help="The version whose deletion waits for a confirmation.")
    deploy_image = traitlets.Unicode("", help="The image the deploy form is open for.")

    def __init__(self, query: str = "", *, workspace: Any = None, **kwargs: Any) -> None:
        super().__init__(workspace=workspace, poll=False, **kwargs)
        self.query = query
        self.rows: list[dict[str, Any]] = []  # the model list: one row per name
        self.versions: list[Model] = []  # the opened model's versions, newest first
        self.images: dict[int, list[Any]] = {}  # version -> images that contain it
        self.deployments: dict[int, list[Any]] = {}  # version -> deployments serving it
        self.comparison: tuple[Model, Model, dict[str, Any] | None, dict[str, Any] | None] | None = None
        self.build: BuildLog | None = None
        self._ready()

    # --- loading -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        words, filters = parse_query(self.query)
        found = api.list_models(tags=filters, latest=not filters, limit=PAGE, workspace=self.workspace)
        by_name: dict[str, dict[str, Any]] = {}
        for m in found:  # newest first: the first seen of a name is its newest match
            if words and not all(w in m.name.lower() for w in words.split()):
                continue
            row = by_name.setdefault(m.name, {"model": m, "matches": 0})
            row["matches"] += 1
        self.rows = list(by_name.values())
        if self.selected:
            self._load_versions()

    def _load_versions(self) -> None:
        ws = self.workspace
        self.versions = list(api.list_models(self.selected, limit=PAGE, workspace=ws))
        self.images, self.deployments = {}, {}
        for image in api.list_images(model=self.selected, limit=PAGE, workspace=ws):
            for ref in image.models:
                name, _, v = ref.partition(":")
                if name == self.selected:
                    self.images.setdefault(int(v), []).append(image)
        for dep in api.list_deployments(model=self.selected, workspace=ws):
            for ref in dep.models:
                name, _, v = ref.partition(":")
                if name == self.selected:
                    self.deployments.setdefault(int(v), []).append(dep)
        if self.version not in {m.version for m in self.versions}:
            self.version = self.versions[0].version if self.versions else 0

    @property
    def current(self) -> Model | None:
        return next((m for m in self.versions if m.version == self.version), None)

    def _need_current(self) -> Model:
        model = self.current
        if model is None:
            raise UsageError("Open a model version first.")
        return model

    # --- actions -------------------------------------------------------------------------------------
    @action()
    def do_search(self, arg: Any, form: dict[str, Any]) -> None:
        self.query = str(form.get("query", arg or ""))
        self.selected = ""
        self.refresh()

    @action()
    def do_filter(self, arg: Any, form: dict[str, Any]) -> None:
        """A tag chip was clicked: add it to the search."""
        words = str(form.get("query", self.query)).split()  # what the box holds, sent or not
        if arg and arg not in words:
            words.append(str(arg))
        form["query"] = " ".join(words)
        self.do_search(None, form)

    @action()
    def do_open(self, arg: Any, form: dict[str, Any]) -> None:
        self.selected, self.version, self.confirm, self.comparison, self.deploy_image = str(arg), 0, 0, None, ""
        self._load_versions()

    @action()
    def do_back(self, arg: Any, form: dict[str, Any]) -> None:
        self.selected, self.comparison = "", None
        self.refresh()

    @action()
    def do_version(self, arg: Any, form: dict[str, Any]) -> None:
        self.version, self.confirm, self.deploy_image = int(arg), 0, ""

    @action()
    def do_save_tags(self, arg: Any, form: dict[str, Any]) -> None:
        model = self._need_current()
        wanted = parse_pairs([t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()], "tag")
        removed = [k for k in model.tags if k not in wanted]
        api.update_model(model.name, model.version, tags=wanted, remove_tags=removed, workspace=self.workspace)
        self._load_versions()
        self.notice = f"Tags of {model.ref}: {fmt_kv(wanted) or 'none'}."

    @action("downloading", background=True)
    def do_download(self, arg: Any, form: dict[str, Any]) -> None:
        model = self._need_current()
        folder = str(form.get("download_dir") or ".").strip()
        path = api.download_model(model, folder, exist_ok=True, progress=False, workspace=self.workspace)
        self.notice = f"Downloaded {model.ref} to {path}."

    @action("building the image", background=True)
    def do_build(self, arg: Any, form: dict[str, Any]) -> None:
        model = self._need_current()
        name = str(form.get("image_name") or f"{model.name}-service").strip()
        self.build = BuildLog(name, workspace=self.workspace)
        self.build.observe(lambda _change: self.redraw(), names="html")
        docker = False if form.get("context_only") else None
        image = self.build.follow(lambda **kw: api.build_image(name, model, docker=docker, workspace=self.workspace, **kw))
        self._load_versions()
        self.notice = f"Image {image.ref} ({image.state}) contains {model.ref}."

    @action()
    def do_deploy_form(self, arg: Any, form: dict[str, Any]) -> None:
        self.deploy_image = str(arg or "")

    @action("deploying", background=True)
    def do_deploy(self, arg: Any, form: dict[str, Any]) -> None:
        image = self.deploy_image or str(arg or "")
        if not image:
            raise UsageError("Choose an image to deploy.")
        name = str(form.get("deploy_name") or "").strip()
        target = str(form.get("deploy_target") or "") or None
        dep = api.deploy(name, image, target=target, workspace=self.workspace)
        self.deploy_image = ""
        self._load_versions()
        self.notice = f"Deployed {dep.name} ({dep.state}) at {dep.scoring_uri}; mlops.ui.deployment({dep.name!r}) follows it."

    @action()
    def do_delete(self, arg: Any, form: dict[str, Any]) -> None:
        self.version = self.confirm = int(arg)

    @action()
    def do_cancel(self, arg: Any, form: dict[str, Any]) -> None:
        self.confirm, self.deploy_image = 0, ""

    @action()
    def do_confirm_delete(self, arg: Any, form: dict[str, Any]) -> None:
        version, self.confirm = self.confirm, 0
        api.delete_model(self.selected, version, workspace=self.workspace)
        self.notice = f"Deleted {self.selected}:{version}."
        self._load_versions()
        if not self.versions:
            self.do_back(None, form)

    @action()
    def do_compare(self, arg: Any, form: dict[str, Any]) -> None:
        a, b = (api.get_model(self.selected, int(form[k]), workspace=self.workspace) for k in ("compare_a", "compare_b"))
        self.comparison = (a, b, api.get_baseline(a, workspace=self.workspace),
                           api.get_baseline(b, workspace=self.workspace))

    # --- drawing -------------------------------------------------------------------------------------
    def text(self) -> str:
        if self.selected:
            return f"ModelBrowser: {self.selected}, versions {', '.join(str(m.version) for m in self.versions)}"
        return f"ModelBrowser: {len(self.rows)} model(s): {', '.join(r['model'].name for r in self.rows[:20])}"

    def body(self) -> str:
        search = (h.text_input("query", self.query, "search: name words, key=value, #key", oninput="search",
                               onenter="search", size=40) + h.button("Search", "search"))
        head = f'<h3>Models</h3><div class="row live-only">{search}</div>'
        if self.query:
            head += f'<div class="row muted">filter: {h.esc(self.query)}</div>'
        return head + (self._versions_html() if self.selected else self._list_html())

    def _tags(self, tags: dict[str, str]) -> str:
        return "".join(h.chip(f"{k}={v}", action="filter", arg=f"{k}={v}") for k, v in tags.items())

    def _list_html(self) -> str:
        rows, acts = [], []
        for row in self.rows:
            m = row["model"]
            rows.append([f"<strong>{h.esc(m.name)}</strong>", h.esc(m.version), h.esc(m.framework), self._tags(m.tags),
                         h.esc(fmt_kv(m.properties)), h.esc(fmt_size(m.size)), h.esc(fmt_time(m.created_at))])
            acts.append(("open", m.name))
        cols = ["model", "latest", "framework", "tags", "properties", "size", "registered"]
        return h.table(cols, rows, acts) + '<div class="muted">Click a model for its versions.</div>'

    def _versions_html(self) -> str:
        rows, acts, selected = [], [], None
        for i, m in enumerate(self.versions):
            images = ", ".join(i.ref for i in self.images.get(m.version, []))
            deps = ", ".join(f"{d.name} ({d.state})" for d in self.deployments.get(m.version, []))
            rows.append([h.esc(m.version), self._tags(m.tags), h.esc(fmt_kv(m.properties)), h.esc(fmt_size(m.size)),
                         h.esc(fmt_time(m.created_at)), h.esc(images), h.esc(deps)])
            acts.append(("version", m.version))
            selected = i if m.version == self.version else selected
        top = f'<div class="row live-only">{h.button("< All models", "back")}</div><h3>{h.esc(self.selected)}</h3>'
        table = h.table(["version", "tags", "properties", "size", "registered", "images", "deployments"], rows, acts, selected)
        return top + table + self._detail_html() + self._compare_html() + (self.build.body() if self.build else "")

    def _detail_html(self) -> str:
        m = self.current
        if m is None:
            return ""
        out = [f"<h4>{h.esc(m.ref)}</h4>", h.kv_table([
            ("framework", h.esc(m.framework)), ("size", h.esc(fmt_size(m.size))), ("sha256", h.esc(m.sha256[:16] + "…")),
            ("description", h.esc(m.description or "")), ("properties", h.esc(fmt_kv(m.properties))),
            ("files", h.esc(", ".join(f[0] for f in m.files))),
        ])]
        if m.signature:
            out.append(h.table(["role", "name", "dtype", "shape"], [
                [h.esc(role[:-1]), h.esc(t["name"]), h.esc(t["dtype"]), h.esc(t["shape"])]
                for role in ("inputs", "outputs") for t in m.signature.get(role, [])]))
        tags = ", ".join(f"{k}={v}" for k, v in m.tags.items())
        out.append(f'<div class="row live-only">tags {h.text_input("tags", tags, "key=value, key=value", onenter="save_tags", size=40)}'
                   f'{h.button("Save tags", "save_tags")}</div>')
        out.append(self._usage_html(m))
        if self.confirm == m.version:
            out.append(f'<div class="row error">Delete {h.esc(m.ref)}? {h.button("Delete", "confirm_delete", kind="danger")}'
                       f'{h.button("Cancel", "cancel")}</div>')
        out.append('<div class="row live-only">'
                   + h.text_input("download_dir", "models", "folder") + h.button("Download", "download")
                   + h.text_input("image_name", f"{m.name}-service", "image name")
                   + '<label><input type="checkbox" name="context_only"> context only (no Docker)</label>'
                   + h.button("Build image", "build", kind="primary")
                   + h.button("Delete version", "delete", m.version, kind="danger") + "</div>")
        return "".join(out)

    def _usage_html(self, m: Model) -> str:
        images = self.images.get(m.version, [])
        rows = [[h.dot(i.state), h.esc(i.ref), h.esc(i.state), h.esc(i.docker_tag or ""),
                 h.button("Deploy…", "deploy_form", i.ref, disabled=i.state in ("failed", "building"))] for i in images]
        out = "<h4>Images</h4>" + h.table(["", "image", "state", "docker tag", ""], rows)
        if self.deploy_image:
            from ..completion import targets

            out += (f'<div class="row live-only">deploy {h.esc(self.deploy_image)} as '
                    + h.text_input("deploy_name", m.name, "deployment name")
                    + " on " + h.select("deploy_target", targets(), "process")
                    + h.button("Deploy", "deploy", kind="primary") + h.button("Cancel", "cancel") + "</div>")
        deps = self.deployments.get(m.version, [])
        drows = [[h.dot(d.state), h.esc(d.name), h.esc(d.state), h.esc(d.image), h.esc(d.scoring_uri or "")] for d in deps]
        return out + "<h4>Deployments</h4>" + h.table(["", "deployment", "state", "image", "scoring URI"], drows)

    def _compare_html(self) -> str:
        if len(self.versions) < 2:
            return ""
        options = [str(m.version) for m in self.versions]
        a = str(self.comparison[0].version) if self.comparison else options[1]
        b = str(self.comparison[1].version) if self.comparison else options[0]
        out = ('<h4>Compare versions</h4><div class="row live-only">'
               + h.select("compare_a", options, a) + " with " + h.select("compare_b", options, b)
               + h.button("Compare", "compare") + "</div>")
        return out + (compare_table(*self.comparison) if self.comparison else "")


def compare_table(a: Model, b: Model, base_a: dict[str, Any] | None, base_b: dict[str, Any] | None) -> str:
    """Two versions side by side: signature, properties, tags, baseline statistics; differences marked."""

    def sig(m: Model, role: str) -> str:
        return "; ".join(f"{t['name']} {t['dtype']} {t['shape']}" for t in (m.signature or {}).get(role, []))

    def stat(base: dict[str, Any] | None, feature: str) -> str:
        s = (base or {}).get("stats", {}).get(feature)
        return "" if s is None else f"mean {s['mean']:.3g}, std {s['std']:.3g}, [{s['min']:.3g}, {s['max']:.3g}]"

    rows: list[tuple[str, str, str]] = [("framework", a.framework, b.framework), ("size", fmt_size(a.size), fmt_size(b.size)),
                                        ("sha256", a.sha256[:16], b.sha256[:16]),
                                        ("inputs", sig(a, "inputs"), sig(b, "inputs")),
                                        ("outputs", sig(a, "outputs"), sig(b, "outputs"))]
    for key in dict.fromkeys([*a.properties, *b.properties]):
        rows.append((f"property {key}", a.properties.get(key, ""), b.properties.get(key, "")))
    for key in dict.fromkeys([*a.tags, *b.tags]):
        rows.append((f"tag {key}", a.tags.get(key, ""), b.tags.get(key, "")))
    rows.append(("baseline rows", str((base_a or {}).get("rows", "none")), str((base_b or {}).get("rows", "none"))))
    for feature in dict.fromkeys([*(base_a or {}).get("features", []), *(base_b or {}).get("features", [])]):
        rows.append((f"feature {feature}", stat(base_a, feature), stat(base_b, feature)))
    cells = [[h.esc(k), h.esc(x), h.esc(y) + (" ≠" if x != y else "")] for k, x, y in rows]
    return h.table(["", a.ref, b.ref], cells)
