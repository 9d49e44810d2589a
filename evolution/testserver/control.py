"""The control API, for tests and demos in another process (the VS Code end-to-end test).

    GET    /_control                 this list
    GET    /_control/requests        {"requests": [{method, path, query, headers, body, ...}]}
    DELETE /_control/requests        forget them
    GET    /_control/script          the script in the file format
    PUT    /_control/script          replace it (body: the file format, as JSON); POST works too
    POST   /_control/rules           append one rule (body: a rule)
    GET    /_control/faults          the active faults and how often each fired
    POST   /_control/faults          add faults (body: a fault, a list, or {"faults": [...]})
    DELETE /_control/faults          remove them all
    GET    /_control/latency         {"seconds": ...}
    POST   /_control/latency         set it (body: {"seconds": 0.05})
    POST   /_control/reset           back to the start: first script and latency, nothing else

Control requests are not recorded and pay no latency.
"""

from __future__ import annotations

import json
from typing import Any

from evolution.testserver.errors import ScriptedServerError
from evolution.testserver.faults import Fault
from evolution.testserver.replies import JsonReply, Reply, RequestRejected
from evolution.testserver.script import Rule, Script
from evolution.testserver.state import ServerState

PREFIX = "/_control"
_INDEX = [
    line.strip()
    for line in (__doc__ or "").splitlines()
    if line.strip().startswith(("GET", "PUT", "POST", "DELETE"))
]


def handle_control(state: ServerState, method: str, path: str, body: Any) -> Reply:
    """Answer one control request; bad input gets a 400 that says what was wrong."""
    try:
        if isinstance(body, json.JSONDecodeError):
            raise RequestRejected(400, f"could not parse the JSON body: {body}")
        return _dispatch(state, method, path.removeprefix(PREFIX).rstrip("/"), body)
    except ScriptedServerError as exc:
        return JsonReply(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
    except RequestRejected as exc:
        return exc.reply


def _dispatch(state: ServerState, method: str, route: str, body: Any) -> Reply:
    ok = JsonReply(200, {"ok": True})
    match (method, route):
        case ("GET", ""):
            return JsonReply(200, {"routes": _INDEX})
        case ("GET", "/requests"):
            return JsonReply(200, {"requests": [r.to_dict() for r in state.requests()]})
        case ("DELETE", "/requests"):
            state.clear_requests()
            return ok
        case ("GET", "/script"):
            with state.lock:
                return JsonReply(200, state.script.to_dict())
        case ("PUT" | "POST", "/script"):
            state.set_script(Script.from_dict(body or {}))
            return ok
        case ("POST", "/rules"):
            state.add_rule(Rule.from_dict(body, where="rule"))
            return ok
        case ("GET", "/faults"):
            return JsonReply(200, {"faults": state.fault_snapshot()})
        case ("POST", "/faults"):
            items = body.get("faults") if isinstance(body, dict) and "faults" in body else body
            items = items if isinstance(items, list) else [items]
            state.add_faults([Fault.from_dict(item) for item in items])
            return ok
        case ("DELETE", "/faults"):
            state.clear_faults()
            return ok
        case ("GET", "/latency"):
            return JsonReply(200, {"seconds": state.latency})
        case ("POST", "/latency"):
            seconds = body.get("seconds") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise RequestRejected(400, f'latency needs {{"seconds": number ≥ 0}}, got {body!r}')
            state.latency = float(seconds)
            return ok
        case ("POST", "/reset"):
            state.reset()
            return ok
    raise RequestRejected(
        404, f"no control route {method} {PREFIX}{route}; GET {PREFIX} lists them"
    )
