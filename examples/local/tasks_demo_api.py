"""The demo Tasks API: an in-memory implementation of examples/catalog/specs/tasks.openapi.yaml.

It lets `make dev` show real calls offline: the gateway finds a tool, the category server calls
this API, and the answer comes back. Requests need the header ``X-API-Key: demo-key``.

    python examples/local/tasks_demo_api.py [--port 8099]
"""

from __future__ import annotations

import argparse
import itertools

from aiohttp import web

API_KEY = "demo-key"
PROJECTS = [
    {"id": "apollo", "name": "Apollo", "archived": False},
    {"id": "gemini", "name": "Gemini", "archived": True},
]
TASKS: dict[str, list[dict[str, object]]] = {
    "apollo": [{"id": 1, "title": "Design the lander", "status": "done", "assignee": "ada"}]
}
IDS = itertools.count(2)


@web.middleware
async def api_key(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
    if request.headers.get("X-API-Key") != API_KEY:
        return web.json_response({"message": "missing or wrong X-API-Key"}, status=401)
    return await handler(request)


async def list_projects(request: web.Request) -> web.Response:
    archived = request.query.get("archived", "false") == "true"
    limit = int(request.query.get("limit", "20"))
    return web.json_response([p for p in PROJECTS if p["archived"] == archived][:limit])


async def list_tasks(request: web.Request) -> web.Response:
    tasks = TASKS.get(request.match_info["project"], [])
    if statuses := request.query.get("status"):
        tasks = [t for t in tasks if t["status"] in statuses.split(",")]
    if assignee := request.query.get("filter[assignee]"):
        tasks = [t for t in tasks if t.get("assignee") == assignee]
    return web.json_response(tasks[: int(request.query.get("limit", "20"))])


async def create_task(request: web.Request) -> web.Response:
    body = await request.json()
    task = {
        "id": next(IDS),
        "status": "todo",
        **{k: body[k] for k in ("title", "status", "assignee") if k in body},
    }
    TASKS.setdefault(request.match_info["project"], []).append(task)
    return web.json_response(task, status=201)


async def get_task(request: web.Request) -> web.Response:
    task_id = int(request.match_info["task"])
    for task in TASKS.get(request.match_info["project"], []):
        if task["id"] == task_id:
            return web.json_response(task)
    return web.json_response({"message": f"no task {task_id}"}, status=404)


async def who_am_i(request: web.Request) -> web.Response:
    return web.json_response({"user": "demo", "session": request.cookies.get("session")})


def create_app() -> web.Application:
    app = web.Application(middlewares=[api_key])
    app.router.add_get("/v1/projects", list_projects)
    app.router.add_get("/v1/projects/{project}/tasks", list_tasks)
    app.router.add_post("/v1/projects/{project}/tasks", create_task)
    app.router.add_get("/v1/projects/{project}/tasks/{task}", get_task)
    app.router.add_get("/v1/me", who_am_i)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The demo Tasks API for toolmesh's local stack.")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    web.run_app(create_app(), host=args.host, port=args.port, print=None)
