# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""A small client of the AWX / Automation Controller API v2, for ``controller_object``.

``awx.awx`` is the usual way to talk to a controller, but it is not in the ``ansible`` package this collection pins
and Galaxy is not reachable from where it is developed; this is the part of it the collection needs: Bearer token or
HTTP Basic authentication, lists followed through their ``next`` links, look-ups by name (optionally within an
organization), and errors turned into one sentence (``ControllerError``) that names the status and AWX's field
errors.
"""

from __future__ import annotations

import base64
import copy
import json
import typing as t
from urllib.parse import urlencode, urljoin

from ansible.module_utils.basic import env_fallback

from ansible_collections.voicehive.remediation.plugins.module_utils import _http

API = "/api/v2/"
ENCRYPTED = "$encrypted$"
MAX_PAGES = 50


def controller_argument_spec() -> dict[str, t.Any]:
    """The connection options every controller module takes (the names ``awx.awx`` uses)."""
    return dict(
        controller_host=dict(
            type="str", required=True, aliases=["tower_host"], fallback=(env_fallback, ["CONTROLLER_HOST"])
        ),
        controller_oauthtoken=dict(
            type="str", no_log=True, aliases=["tower_oauthtoken"], fallback=(env_fallback, ["CONTROLLER_OAUTH_TOKEN"])
        ),
        controller_username=dict(
            type="str", aliases=["tower_username"], fallback=(env_fallback, ["CONTROLLER_USERNAME"])
        ),
        controller_password=dict(
            type="str", no_log=True, aliases=["tower_password"], fallback=(env_fallback, ["CONTROLLER_PASSWORD"])
        ),
        validate_certs=dict(
            type="bool", default=True, aliases=["verify_ssl"], fallback=(env_fallback, ["CONTROLLER_VERIFY_SSL"])
        ),
        request_timeout=dict(type="float", default=10.0),
    )


class ControllerError(Exception):
    """A request the controller refused or that nothing answered; ``status`` is None for the latter."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def summarise(body: t.Any, prefix: str = "") -> str:
    """AWX's error body as one line: ``detail``, ``__all__``, ``error`` and field errors (``field: message``)."""
    if isinstance(body, dict):
        parts = []
        for key, value in body.items():
            label = "" if key in ("detail", "__all__", "error", "msg", "Error") else f"{prefix}{key}"
            inner = summarise(value, f"{label}." if label else "")
            if isinstance(value, dict):
                parts.append(inner)
            else:
                parts.append(f"{label}: {inner}" if label else inner)
        return "; ".join(p for p in parts if p)
    if isinstance(body, list):
        return " ".join(summarise(item, prefix) for item in body)
    return str(body)


HINTS = {
    401: "the controller did not accept the credentials (check the token, or the username and password)",
    403: "the credentials may not do this (the user or token needs admin rights on the object)",
    404: "not found (check the controller URL, and that the object exists)",
}


class Controller:
    """The API of one controller."""

    def __init__(
        self,
        host: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        validate_certs: bool = True,
        timeout: float = 10.0,
    ) -> None:
        if "://" not in host:
            host = "https://" + host
        self.host = host.rstrip("/") + "/"
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        elif username:
            basic = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = "Basic " + basic
        self.writes: list[str] = []

    def url(self, path: str, query: dict[str, t.Any] | None = None) -> str:
        """An absolute URL of an API path (``projects/`` or ``/api/v2/projects/``)."""
        if not path.startswith("/"):
            path = API + path
        url = urljoin(self.host, path)
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        return url

    def request(self, method: str, path: str, body: t.Any = None, query: dict[str, t.Any] | None = None) -> t.Any:
        """One call; the decoded JSON answer (None when empty), or ``ControllerError``."""
        data = json.dumps(body).encode() if body is not None else None
        url = self.url(path, query)
        try:
            status, raw = _http.request(
                method, url, self.timeout, self.headers, data, validate_certs=self.validate_certs
            )
        except _http.Unreachable as exc:
            raise ControllerError(f"nothing answered at {self.host} ({exc})") from None
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode("utf-8", "replace")[:200]
        if status >= 400:
            text = summarise(answer) if answer not in (None, "") else "(no body)"
            hint = HINTS.get(status)
            message = f"HTTP {status} from {method} {url.split('?', 1)[0][len(self.host) - 1 :]}: {text}"
            raise ControllerError(f"{message} - {hint}" if hint else message, status)
        if method != "GET":
            self.writes.append(f"{method} {url[len(self.host) - 1 :]}")
        return answer

    def get_all(self, path: str, query: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """Every result of a list, following ``next``."""
        results: list[dict[str, t.Any]] = []
        page = self.request("GET", path, query={**(query or {}), "page_size": 200})
        for _page_number in range(MAX_PAGES):
            results.extend(page.get("results") or [])
            if not page.get("next"):
                return results
            page = self.request("GET", page["next"])
        raise ControllerError(f"more than {MAX_PAGES} pages at {path}")

    def find(self, endpoint: str, name: str, **scope: t.Any) -> dict[str, t.Any] | None:
        """The object of ``endpoint`` named ``name`` (within ``scope``: field=id), None when there is none."""
        query = {"name": name}
        query.update({k: v for k, v in scope.items() if v is not None})
        found = self.get_all(endpoint, query)
        if len(found) > 1:
            raise ControllerError(f"{len(found)} {endpoint} are named {name!r}; name the organization to choose one")
        return found[0] if found else None

    def resolve(self, endpoints: t.Sequence[str], name: t.Any, field: str, organization: int | None = None) -> int:
        """The id of the object ``name`` refers to, looked up in ``endpoints`` in order (an int is taken as an id)."""
        if isinstance(name, int) and not isinstance(name, bool):
            return name
        for endpoint in endpoints:
            found = self.get_all(endpoint.rstrip("/") + "/", {"name": name})
            if len(found) > 1 and organization is not None:
                found = [f for f in found if f.get("organization") == organization] or found
            if len(found) > 1:
                raise ControllerError(f"{field} {name!r} is ambiguous: {len(found)} {endpoint} have that name")
            if found:
                return int(found[0]["id"])
        raise ControllerError(f"{field} {name!r} does not exist (looked in {', '.join(endpoints)})")


KINDS = [
    "organizations",
    "credential_types",
    "credentials",
    "execution_environments",
    "projects",
    "inventories",
    "job_templates",
    "workflow_job_templates",
    "schedules",
]


def controller_object_argument_spec() -> dict[str, t.Any]:
    """The options of controller_object (module and action plugin)."""
    spec = controller_argument_spec()
    spec.update(
        kind=dict(type="str", required=True, choices=KINDS),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        organization=dict(type="str"),
        unified_job_template=dict(type="str"),
        fields=dict(type="dict", default={}),
        survey_spec=dict(type="dict"),
        credentials=dict(type="list", elements="str"),
        workflow_nodes=dict(type="list", elements="dict"),
        update_secrets=dict(type="bool", default=False, no_log=False),
    )
    return spec


CONTROLLER_OBJECT_RULES = dict(
    required_one_of=[("controller_oauthtoken", "controller_username")],
    required_together=[("controller_username", "controller_password")],
    required_if=[("kind", "schedules", ("unified_job_template",))],
)


def controller_from(params: dict[str, t.Any]) -> Controller:
    """The API client the connection options describe."""
    return Controller(
        params["controller_host"],
        token=params["controller_oauthtoken"],
        username=params["controller_username"],
        password=params["controller_password"],
        validate_certs=params["validate_certs"],
        timeout=params["request_timeout"],
    )


def apply_object(
    params: dict[str, t.Any], api: Controller, check_mode: bool, diff: bool, warn: t.Callable[[str], None]
) -> dict[str, t.Any]:
    """Reconcile one object: the result (``changed``, ``actions``, ``id``, ``object``, ``diff``), or with ``failed``
    and ``msg`` when the controller refused."""
    reconciler = Reconciler(params, api, check_mode, warn)
    verb = "remove" if params["state"] == "absent" else "apply"
    if not params["controller_oauthtoken"] and not (params["controller_username"] and params["controller_password"]):
        return dict(
            failed=True,
            changed=False,
            actions=[],
            msg=f"Cannot {verb} {params['kind']} {params['name']!r}: give controller_oauthtoken, or "
            "controller_username and controller_password (nothing was sent to the controller)",
        )
    try:
        result = reconciler.run()
    except ControllerError as exc:
        return dict(
            failed=True,
            changed=False,
            msg=f"Cannot {verb} {params['kind']} {params['name']!r}: {exc}",
            status=exc.status,
            actions=reconciler.actions,
        )
    result.update(changed=bool(reconciler.actions), actions=reconciler.actions)
    if diff:
        result["diff"] = {"before": reconciler.before, "after": reconciler.after}
    return result


# related fields: where their names are looked up
RELATED = {
    "organization": ("organizations",),
    "credential_type": ("credential_types",),
    "credential": ("credentials",),
    "execution_environment": ("execution_environments",),
    "default_environment": ("execution_environments",),
    "project": ("projects",),
    "inventory": ("inventories",),
    "unified_job_template": ("job_templates", "workflow_job_templates"),
}
WITH_ORGANIZATION = ("credentials", "execution_environments", "projects", "inventories", "workflow_job_templates")
NODE_FIELDS = ("job_type", "diff_mode", "limit", "job_tags", "extra_data", "all_parents_must_converge")
LINKS = ("success_nodes", "failure_nodes", "always_nodes")
MASK = "********"


def _parse_vars(value: t.Any) -> t.Any:
    """``extra_vars`` as data: the API keeps a JSON (or YAML) string."""
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except ValueError:
            import yaml  # pylint: disable=import-outside-toplevel

            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return value
    return value


class Reconciler:
    """Make one object look like ``params`` (see the controller_object module); ``actions`` collects the sentences,
    ``before`` / ``after`` the diff."""

    def __init__(
        self, params: dict[str, t.Any], api: Controller, check_mode: bool, warn: t.Callable[[str], None]
    ) -> None:
        self.api = api
        self.params = params
        self.kind = params["kind"]
        self.check = check_mode
        self.warn = warn
        self.actions: list[str] = []
        self.before: dict[str, t.Any] = {}
        self.after: dict[str, t.Any] = {}
        self.secret_inputs: set[str] = set()

    # -- look-up
    def organization_id(self) -> int | None:
        name = self.params["organization"]
        return self.api.resolve(("organizations",), name, "organization") if name else None

    def scope(self, org_id: int | None) -> dict[str, t.Any]:
        if self.kind == "schedules":
            if not self.params["unified_job_template"]:
                raise ControllerError("a schedule needs unified_job_template (the template it launches)")
            ujt = self.api.resolve(
                RELATED["unified_job_template"], self.params["unified_job_template"], "unified_job_template"
            )
            return {"unified_job_template": ujt}
        if org_id is not None and (self.kind in WITH_ORGANIZATION or self.kind == "job_templates"):
            return {"organization": org_id}
        return {}

    def desired_fields(self, org_id: int | None, scope: dict[str, t.Any]) -> dict[str, t.Any]:
        wanted = copy.deepcopy(self.params["fields"] or {})
        wanted.pop("name", None)
        wanted.update(scope)
        if org_id is not None and self.kind in WITH_ORGANIZATION:
            wanted["organization"] = org_id
        for field, endpoints in RELATED.items():
            if field in wanted and wanted[field] not in (None, ""):
                wanted[field] = self.api.resolve(endpoints, wanted[field], field, org_id)
        if isinstance(wanted.get("extra_vars"), (dict, list)):
            wanted["extra_vars"] = json.dumps(wanted["extra_vars"], sort_keys=True)
        if self.kind == "credentials" and wanted.get("credential_type") is not None:
            ctype = self.api.request("GET", f"credential_types/{wanted['credential_type']}/")
            fields = (ctype.get("inputs") or {}).get("fields") or []
            self.secret_inputs = {f["id"] for f in fields if f.get("secret")}
        return wanted

    # -- comparison
    def differs(self, field: str, want: t.Any, have: t.Any) -> bool:
        if field == "extra_vars":
            return _parse_vars(want) != _parse_vars(have)
        if field == "inputs" and isinstance(want, dict) and isinstance(have, dict):
            for key, value in want.items():
                if have.get(key) == ENCRYPTED and key in self.secret_inputs:
                    if self.params["update_secrets"]:
                        return True
                    continue
                if have.get(key) != value:
                    return True
            return any(k not in want for k in have)
        return want != have

    def masked(self, field: str, value: t.Any) -> t.Any:
        if field == "inputs" and isinstance(value, dict):
            return {k: (MASK if k in self.secret_inputs and v not in (None, "") else v) for k, v in value.items()}
        return value

    def outgoing(self, field: str, want: t.Any, have: t.Any) -> t.Any:
        """What to send: secret inputs the controller already holds go back as ``$encrypted$`` unless updated."""
        if (
            field == "inputs"
            and isinstance(want, dict)
            and isinstance(have, dict)
            and not self.params["update_secrets"]
        ):
            return {
                k: (ENCRYPTED if k in self.secret_inputs and have.get(k) == ENCRYPTED else v) for k, v in want.items()
            }
        return want

    # -- the object
    def run(self) -> dict[str, t.Any]:
        org_id = self.organization_id()
        scope = self.scope(org_id)
        endpoint = f"{self.kind}/"
        existing = self.api.find(endpoint, self.params["name"], **scope)
        if self.params["state"] == "absent":
            if existing:
                self.before = {"name": existing["name"], "id": existing["id"]}
                self.actions.append(f"deleted {self.kind} {existing['name']!r}")
                if not self.check:
                    self.api.request("DELETE", f"{endpoint}{existing['id']}/")
            return {"id": None}
        wanted = self.desired_fields(org_id, scope)
        if existing is None:
            self.after = {"name": self.params["name"], **{k: self.masked(k, v) for k, v in wanted.items()}}
            self.actions.append(f"created {self.kind} {self.params['name']!r}")
            if self.check:
                return {"id": None}
            existing = self.api.request("POST", endpoint, {"name": self.params["name"], **wanted})
        else:
            unknown = sorted(f for f in wanted if f not in existing)
            if unknown:
                self.warn(f"The controller's {self.kind} have no field {', '.join(unknown)}; it is ignored.")
            changed = {f: v for f, v in wanted.items() if f in existing and self.differs(f, v, existing[f])}
            if changed:
                self.before.update({f: self.masked(f, existing[f]) for f in changed})
                self.after.update({f: self.masked(f, v) for f, v in changed.items()})
                self.actions.append(f"updated {', '.join(sorted(changed))}")
                if not self.check:
                    body = {f: self.outgoing(f, v, existing[f]) for f, v in changed.items()}
                    existing = self.api.request("PATCH", f"{endpoint}{existing['id']}/", body)
        obj_id = int(existing["id"])
        if self.params["survey_spec"] is not None:
            self.survey(obj_id)
        if self.params["credentials"] is not None:
            self.credentials(obj_id)
        if self.params["workflow_nodes"] is not None:
            self.nodes(obj_id)
        if self.actions and not self.check:  # else the object as found (or as it was, in check mode)
            existing = self.api.request("GET", f"{endpoint}{obj_id}/")
        shown = {k: self.masked(k, v) for k, v in existing.items() if k not in ("related", "summary_fields")}
        return {"id": obj_id, "object": shown}

    def survey(self, obj_id: int) -> None:
        if self.kind not in ("job_templates", "workflow_job_templates"):
            raise ControllerError("survey_spec is only for job_templates and workflow_job_templates")
        path = f"{self.kind}/{obj_id}/survey_spec/"
        have = self.api.request("GET", path) or {}
        want = self.params["survey_spec"]
        if have == want:
            return
        self.before["survey_spec"] = have
        self.after["survey_spec"] = want
        self.actions.append("removed the survey" if not want else "set the survey")
        if not self.check:
            if want:
                self.api.request("POST", path, want)
            else:
                self.api.request("DELETE", path)

    def credentials(self, obj_id: int) -> None:
        if self.kind != "job_templates":
            raise ControllerError("credentials are associated with job_templates only")
        path = f"job_templates/{obj_id}/credentials/"
        have = {c["name"]: int(c["id"]) for c in self.api.get_all(path)}
        want = {name: self.api.resolve(("credentials",), name, "credential") for name in self.params["credentials"]}
        extra = sorted(set(have.values()) - set(want.values()))
        missing = [(name, cid) for name, cid in want.items() if cid not in have.values()]
        if not extra and not missing:
            return
        self.before["credentials"] = sorted(have)
        self.after["credentials"] = sorted(want)
        names = {cid: name for name, cid in have.items()}
        for cid in extra:
            self.actions.append(f"disassociated credential {names[cid]!r}")
            if not self.check:
                self.api.request("POST", path, {"id": cid, "disassociate": True})
        for name, cid in missing:
            self.actions.append(f"associated credential {name!r}")
            if not self.check:
                self.api.request("POST", path, {"id": cid})

    # -- workflow nodes
    def nodes(self, wf_id: int) -> None:
        if self.kind != "workflow_job_templates":
            raise ControllerError("workflow_nodes are for workflow_job_templates only")
        wanted = self.params["workflow_nodes"]
        idents = [n.get("identifier") for n in wanted]
        if any(not i for i in idents) or len(set(idents)) != len(idents):
            raise ControllerError("every workflow node needs an identifier of its own")
        for node in wanted:
            for link in LINKS:
                unknown = [i for i in node.get(link) or [] if i not in idents]
                if unknown:
                    raise ControllerError(f"node {node['identifier']!r} leads to unknown node(s) {', '.join(unknown)}")
            if bool(node.get("unified_job_template")) == bool(node.get("approval_node")):
                raise ControllerError(
                    f"node {node['identifier']!r} needs either a unified_job_template or an approval_node"
                )
        path = f"workflow_job_templates/{wf_id}/workflow_nodes/"
        have = {n["identifier"]: n for n in self.api.get_all(path)}
        ids: dict[str, int | None] = {}
        for node in wanted:
            ids[node["identifier"]] = self.node(path, node, have.get(node["identifier"]))
        for ident, node in have.items():
            if ident not in ids:
                self.actions.append(f"deleted workflow node {ident!r}")
                if not self.check:
                    self.api.request("DELETE", f"workflow_job_template_nodes/{node['id']}/")
        # links, by identifier: what no longer should be first (a node may not be both a success and a failure
        # child of one parent); links to deleted nodes went with them
        by_id = {int(n["id"]): ident for ident, n in have.items()}
        for phase in ("disassociate", "associate"):
            for node in wanted:
                parent = node["identifier"]
                current = have.get(parent) or {}
                for link in LINKS:
                    want_children = set(node.get(link) or [])
                    have_children = {by_id[c] for c in current.get(link) or [] if by_id.get(c) in ids}
                    todo = have_children - want_children if phase == "disassociate" else want_children - have_children
                    for child in sorted(todo):
                        edge = f"{parent} -[{link[:-6]}]-> {child}"
                        self.actions.append(f"{phase}d {edge}")
                        side = self.before if phase == "disassociate" else self.after
                        side.setdefault("workflow_links", []).append(edge)
                        if not self.check:
                            body = (
                                {"id": ids[child], "disassociate": True}
                                if phase == "disassociate"
                                else {"id": ids[child]}
                            )
                            self.api.request("POST", f"workflow_job_template_nodes/{ids[parent]}/{link}/", body)

    def node(self, path: str, node: dict[str, t.Any], current: dict[str, t.Any] | None) -> int | None:
        ident = node["identifier"]
        body = {f: node[f] for f in NODE_FIELDS if node.get(f) is not None}
        body["identifier"] = ident
        approval = node.get("approval_node")
        if not approval:
            body["unified_job_template"] = self.api.resolve(
                RELATED["unified_job_template"], node["unified_job_template"], "unified_job_template"
            )
        if current is None:
            self.actions.append(f"created workflow node {ident!r}")
            self.after.setdefault("workflow_nodes", {})[ident] = body
            if self.check:
                return None
            current = self.api.request("POST", path, body)
        else:
            changed = {f: v for f, v in body.items() if current.get(f) != v}
            if changed:
                self.before.setdefault("workflow_nodes", {})[ident] = {f: current.get(f) for f in changed}
                self.after.setdefault("workflow_nodes", {})[ident] = changed
                self.actions.append(f"updated workflow node {ident!r}: {', '.join(sorted(changed))}")
                if not self.check:
                    current = self.api.request("PATCH", f"workflow_job_template_nodes/{current['id']}/", changed)
        if approval:
            want = {
                "name": approval.get("name") or ident,
                "description": approval.get("description") or "",
                "timeout": int(approval.get("timeout") or 0),
            }
            have = None
            if current.get("unified_job_template") is not None and current.get("id") is not None:
                kind = ((current.get("summary_fields") or {}).get("unified_job_template") or {}).get("type")
                if kind == "workflow_approval_template":
                    have = self.api.request("GET", f"workflow_approval_templates/{current['unified_job_template']}/")
                    have = {k: have.get(k) for k in want}
            if have != want:
                self.actions.append(f"set approval of workflow node {ident!r}")
                self.after.setdefault("approvals", {})[ident] = want
                if have:
                    self.before.setdefault("approvals", {})[ident] = have
                if not self.check:
                    self.api.request(
                        "POST", f"workflow_job_template_nodes/{current['id']}/create_approval_template/", want
                    )
        return int(current["id"]) if current.get("id") is not None else None
