"""The console's routes: thin aiohttp handlers that read the gateway's state through views.py and
render it with the package's Jinja templates (autoescaped). Read-only: nothing here changes state.

Every path is under ``/console``, which app.py protects with the same check of callers as
``/mcp``; the handlers see the caller (auth.caller) and show only what they may call. The search
playground's form is posted, so that query text stays out of URLs and access logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from toolmesh.gateway import auth, ops
from toolmesh.gateway.console import views
from toolmesh.gateway.service import GatewayService

PREFIX = "/console"
HERE = Path(__file__).parent
#: Tools per page of an integration (each with its schema).
PAGE = 100
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = views.when
    return env


class Console:
    """The pages, over one gateway's service."""

    def __init__(self, service: GatewayService) -> None:
        self.service = service
        self.env = environment()
        self.css = (HERE / "static" / "console.css").read_text()

    def may_use(self, integration: str) -> bool:
        """May the viewer use the integration (spec.access; with profiles, the integration selected
        as a whole)? For pages that also show integrations with some selected tools: :meth:`viewer`."""
        return self.service.may_use(integration)

    def viewer(self) -> views.MayUse:
        """``may_use`` for one page: spec.access, and (with profiles) at least one of the
        integration's tools, or the integration as a whole, selected by the viewer's profiles."""
        service = self.service
        caller = auth.caller()
        scope = service.catalog.scope(caller)
        if scope is None:
            return self.may_use
        selected = {r.integration for r in service.catalog.tools.values() if scope.selects(r)}

        def may_use(integration: str) -> bool:
            return service.catalog.allows(integration, caller.groups, caller.scopes) and (
                integration in selected or service.may_use(integration)
            )

        return may_use

    def may_call(self, tool: str) -> bool:
        return self.service.visible(tool) is not None

    def render(self, template: str, page: str, status: int = 200, **context: Any) -> web.Response:
        caller = auth.caller()
        body = self.env.get_template(template).render(
            page=page, prefix=PREFIX, caller=caller.subject, **context
        )
        return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)

    async def catalogue(self, request: web.Request) -> web.Response:
        service = self.service
        return self.render(
            "catalogue.html",
            "catalogue",
            categories=views.catalogue(
                service.catalog, service.categories.problems(), self.viewer(), service.permits()
            ),
            index_problem=ops.index_problem(service.router, service.catalog),
            mode="direct" if service.direct else "meta-tools",
        )

    async def integration(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        catalog = self.service.catalog
        known = (
            name in catalog.integration_categories
            or name in catalog.problems
            or any(r.integration == name for r in catalog.tools.values())
        )
        if not known or not self.viewer()(name):  # the two are not told apart
            return self.render("missing.html", "catalogue", status=404, name=name)
        raw = request.query.get("offset", "0")
        offset = int(raw) if raw.isdigit() else 0
        tools, total = views.tools_of(catalog, name, offset, PAGE, self.service.permits())
        return self.render(
            "integration.html",
            "catalogue",
            name=name,
            category=catalog.integration_categories.get(name, views.UNPLACED),
            conditions=views.integration_conditions(catalog, name, self.service.categories.problems()),
            tools=tools,
            total=total,
            offset=offset,
            page_size=PAGE,
        )

    async def search(self, request: web.Request) -> web.Response:
        service = self.service
        names = sorted(
            views.visible_categories(service.catalog, service.catalog.category_descriptions, self.viewer())
        )
        if request.method == "GET":
            form = views.SearchForm("", service.settings.search_limit, "")
            return self.render("search.html", "search", form=form, categories=names, rows=None, cost=None)
        posted = await request.post()
        fields = {k: v for k, v in posted.items() if isinstance(v, str)}
        form = views.search_form(fields, service.settings.search_limit, names)
        if form.error is not None:
            return self.render(
                "search.html", "search", status=400, form=form, categories=names, rows=None, cost=None
            )
        found = await service.explain(form.query, form.limit, [form.category] if form.category else [])
        rows = views.search_rows(found)
        cost = views.search_cost(rows, service.catalog, self.viewer(), service.permits())
        return self.render("search.html", "search", form=form, categories=names, rows=rows, cost=cost)

    async def categories(self, request: web.Request) -> web.Response:
        service = self.service
        states = service.category_states()
        problems = service.categories.problems()
        known = states.keys() | service.catalog.category_descriptions.keys()
        shown = views.visible_categories(service.catalog, known, self.viewer())
        rows = views.category_rows(
            states,
            service.categories.replicas(),
            problems,
            service.recent.wakes,
            service.catalog.category_descriptions,
            shown,
        )
        return self.render("categories.html", "categories", rows=rows)

    async def calls(self, request: web.Request) -> web.Response:
        recent = views.calls(self.service.recent.calls(), self.viewer(), self.may_call)
        return self.render("calls.html", "calls", calls=recent, kept=self.service.recent.limit)

    async def stylesheet(self, request: web.Request) -> web.Response:
        return web.Response(text=self.css, content_type="text/css", headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application, service: GatewayService) -> None:
    console = Console(service)
    app.router.add_get(PREFIX, console.catalogue)
    app.router.add_get(f"{PREFIX}/integrations/{{name}}", console.integration)
    app.router.add_route("GET", f"{PREFIX}/search", console.search)
    app.router.add_route("POST", f"{PREFIX}/search", console.search)
    app.router.add_get(f"{PREFIX}/categories", console.categories)
    app.router.add_get(f"{PREFIX}/calls", console.calls)
    app.router.add_get(f"{PREFIX}/console.css", console.stylesheet)
