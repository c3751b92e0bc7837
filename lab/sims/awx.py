"""AWX API v2 simulator: the subset ``voicehive.remediation.controller_object`` and ``playbooks/awx_configure.yml`` use.

Run: ``PYTHONPATH=lab .venv/bin/python -m sims.awx --config awx.json``

Config keys: ``host`` (127.0.0.1), ``port`` (18052), ``state_dir`` (required), ``token`` (required: the Bearer
token of the admin), ``admin_password`` (HTTP Basic as ``admin``), ``read_tokens`` (tokens that may only read:
writes answer 403), ``lab_token`` (required for ``/_lab``), ``playbooks_root`` (the directory every project's
playbooks are looked up in: a job template naming a playbook that is not a file there is refused like AWX refuses
it, "Playbook not found for project.").

What it does as AWX does: list answers ``{count, next, previous, results}`` (``page_size`` up to 200, relative
``next`` links), filtering by any field (``?name=``, ``?organization=``), 400 with field errors for missing required
fields, unknown related ids and duplicate names (per organization where AWX scopes them so), secret credential
inputs answered as ``$encrypted$`` (and kept when ``$encrypted$`` is sent back), managed credential types that
cannot be changed, ``survey_spec`` validation, credential association (one credential per type), workflow nodes
with success/failure/always links (same workflow, no cycles), approval templates made by a node's
``create_approval_template``, schedules whose ``rrule`` is validated (DTSTART + one RRULE, no SECONDLY, COUNT up
to 999) and that get a ``next_run``.

The store is ``<state_dir>/awx-state.json`` (persisted on every write); ``POST /_lab/reset`` returns it to the seed
(organization ``Default``, the managed credential types). ``GET /_lab/state`` counts objects and requests (reads
and writes per method), without any secret.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import logging
import os
import re
import secrets
import threading
from typing import Any
from urllib.parse import urlencode

from dateutil import rrule as dateutil_rrule

from sims.common import (
    HTTPError,
    JSONHandler,
    LabHTTPServer,
    load_config,
    parse_args,
    route,
    serve,
    setup_logging,
    write_json_atomic,
)

LOG = logging.getLogger("sims.awx")
ENCRYPTED = "$encrypted$"
API = "/api/v2"

# every field each resource answers with, and its default; "required" fields have no default (None) and are listed
# in REQUIRED
FIELDS: dict[str, dict[str, Any]] = {
    "organizations": {"name": None, "description": "", "max_hosts": 0, "default_environment": None},
    "credential_types": {"name": None, "description": "", "kind": "cloud", "inputs": {}, "injectors": {}},
    "credentials": {"name": None, "description": "", "organization": None, "credential_type": None, "inputs": {}},
    "execution_environments": {
        "name": None,
        "description": "",
        "organization": None,
        "image": None,
        "credential": None,
        "pull": "",
    },
    "projects": {
        "name": None,
        "description": "",
        "organization": None,
        "scm_type": "",
        "scm_url": "",
        "scm_branch": "",
        "scm_clean": False,
        "scm_update_on_launch": False,
        "credential": None,
        "default_environment": None,
        "allow_override": False,
    },
    "inventories": {"name": None, "description": "", "organization": None, "variables": "", "kind": ""},
    "job_templates": {
        "name": None,
        "description": "",
        "job_type": "run",
        "inventory": None,
        "project": None,
        "playbook": "",
        "execution_environment": None,
        "forks": 0,
        "limit": "",
        "verbosity": 0,
        "extra_vars": "",
        "job_tags": "",
        "skip_tags": "",
        "timeout": 0,
        "diff_mode": False,
        "allow_simultaneous": False,
        "survey_enabled": False,
        "ask_variables_on_launch": False,
        "ask_limit_on_launch": False,
        "ask_tags_on_launch": False,
        "ask_skip_tags_on_launch": False,
        "ask_job_type_on_launch": False,
        "ask_diff_mode_on_launch": False,
        "ask_inventory_on_launch": False,
        "ask_credential_on_launch": False,
        "ask_verbosity_on_launch": False,
    },
    "workflow_job_templates": {
        "name": None,
        "description": "",
        "organization": None,
        "inventory": None,
        "limit": "",
        "extra_vars": "",
        "allow_simultaneous": False,
        "survey_enabled": False,
        "ask_variables_on_launch": False,
        "ask_inventory_on_launch": False,
        "ask_limit_on_launch": False,
    },
    "workflow_job_template_nodes": {
        "workflow_job_template": None,
        "unified_job_template": None,
        "identifier": None,
        "job_type": None,
        "job_tags": None,
        "limit": None,
        "diff_mode": None,
        "extra_data": {},
        "all_parents_must_converge": False,
    },
    "workflow_approval_templates": {"name": None, "description": "", "timeout": 0},
    "schedules": {
        "name": None,
        "description": "",
        "unified_job_template": None,
        "rrule": None,
        "enabled": True,
        "extra_data": {},
    },
}
REQUIRED = {
    "organizations": ("name",),
    "credential_types": ("name",),
    "credentials": ("name", "credential_type"),
    "execution_environments": ("name", "image"),
    "projects": ("name", "organization"),
    "inventories": ("name", "organization"),
    "job_templates": ("name", "project", "playbook"),
    "workflow_job_templates": ("name",),
    "workflow_job_template_nodes": (),
    "workflow_approval_templates": ("name",),
    "schedules": ("name", "unified_job_template", "rrule"),
}
# related fields: resource they point at
RELATED = {
    "organization": ("organizations",),
    "credential_type": ("credential_types",),
    "credential": ("credentials",),
    "default_environment": ("execution_environments",),
    "execution_environment": ("execution_environments",),
    "project": ("projects",),
    "inventory": ("inventories",),
    "unified_job_template": ("job_templates", "workflow_job_templates", "workflow_approval_templates"),
    "workflow_job_template": ("workflow_job_templates",),
}
# where a name is unique: globally (None) or per the value of a field
UNIQUE_BY = {
    "organizations": None,
    "credential_types": ("kind",),
    "credentials": ("organization", "credential_type"),
    "execution_environments": ("organization",),
    "projects": ("organization",),
    "inventories": ("organization",),
    "job_templates": ("organization",),
    "workflow_job_templates": ("organization",),
    "schedules": ("unified_job_template",),
}
CHOICES = {
    ("job_templates", "job_type"): ("run", "check"),
    ("workflow_job_template_nodes", "job_type"): (None, "run", "check"),
    ("projects", "scm_type"): ("", "git", "svn", "insights", "archive"),
    ("execution_environments", "pull"): ("", "always", "missing", "never"),
    ("credential_types", "kind"): ("cloud", "net"),
}
TYPE_NAMES = {
    "job_templates": "job_template",
    "workflow_job_templates": "workflow_job_template",
    "workflow_approval_templates": "workflow_approval_template",
}
LINKS = ("success_nodes", "failure_nodes", "always_nodes")
SURVEY_TYPES = ("text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect")
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


def _managed_types() -> list[dict[str, Any]]:
    return [
        {
            "name": "OpenShift or Kubernetes API Bearer Token",
            "kind": "kubernetes",
            "managed": True,
            "namespace": "kubernetes_bearer_token",
            "inputs": {
                "fields": [
                    {"id": "host", "label": "OpenShift or Kubernetes API Endpoint", "type": "string"},
                    {
                        "id": "bearer_token",
                        "label": "API authentication bearer token",
                        "type": "string",
                        "secret": True,
                    },
                    {"id": "verify_ssl", "label": "Verify SSL", "type": "boolean", "default": False},
                    {
                        "id": "ssl_ca_cert",
                        "label": "Certificate Authority data",
                        "type": "string",
                        "secret": True,
                        "multiline": True,
                    },
                ],
                "required": ["host", "bearer_token"],
            },
            "injectors": {},
        },
        {
            "name": "Source Control",
            "kind": "scm",
            "managed": True,
            "namespace": "scm",
            "inputs": {
                "fields": [
                    {"id": "username", "label": "Username", "type": "string"},
                    {"id": "password", "label": "Password", "type": "string", "secret": True},
                    {
                        "id": "ssh_key_data",
                        "label": "SCM Private Key",
                        "type": "string",
                        "secret": True,
                        "multiline": True,
                    },
                ],
            },
            "injectors": {},
        },
    ]


def validate_rrule(value: Any) -> str | None:
    """AWX's rules for a schedule's ``rrule``; the error sentence, or None when it is valid."""
    if not isinstance(value, str) or not value.strip():
        return "This field may not be blank."
    text = value.strip()
    if len(re.findall(r"DTSTART", text)) != 1:
        return (
            "Multiple DTSTART is not supported."
            if "DTSTART" in text
            else "DTSTART required in rrule. Value should start with: DTSTART:YYYYMMDDTHHMMSSZ"
        )
    if len(re.findall(r"RRULE:", text)) != 1:
        return "RRULE required in rrule." if "RRULE:" not in text else "Multiple RRULEs are not supported."
    if not re.match(r"DTSTART(;TZID=[^:]+)?:\d{8}T\d{6}Z? ", text):
        return "Valid DTSTART required in rrule. Value should start with: DTSTART:YYYYMMDDTHHMMSSZ"
    if "FREQ=" not in text:
        return "FREQ required in rrule."
    if "FREQ=SECONDLY" in text:
        return "SECONDLY is not supported."
    count = re.search(r"COUNT=(\d+)", text)
    if count and int(count.group(1)) > 999:
        return "COUNT > 999 is unsupported."
    if re.search(r"BYDAY=[^;]*[+-]?\d", text):
        return "BYDAY with numeric prefix not supported"
    try:
        dateutil_rrule.rrulestr(text.replace(" RRULE:", "\nRRULE:"), forceset=True)
    except (ValueError, TypeError) as exc:
        return f"rrule parsing failed validation: {exc}"
    return None


def next_run(value: str) -> str | None:
    """The first occurrence after now, ISO 8601 UTC."""
    rule = dateutil_rrule.rrulestr(value.strip().replace(" RRULE:", "\nRRULE:"), forceset=True)
    now = datetime.datetime.now(datetime.UTC)
    try:
        upcoming = rule.after(now)
    except TypeError:  # a naive DTSTART
        upcoming = rule.after(now.replace(tzinfo=None))
    return upcoming.strftime("%Y-%m-%dT%H:%M:%SZ") if upcoming else None


class AWXState:
    """The controller's store: objects per resource, links between workflow nodes, survey specs, associations."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        """Load the store from ``state_dir`` or seed it."""
        self.cfg = cfg
        self.path = os.path.join(cfg["state_dir"], "awx-state.json")
        self.lock = threading.RLock()
        self.counters: dict[str, int] = {}
        self.data: dict[str, Any] = {}
        if os.path.exists(self.path):
            self.data = load_config(self.path)
        else:
            self.reset()

    def reset(self) -> None:
        """The seed: organization Default and the managed credential types."""
        with self.lock:
            self.data = {"next_id": 1, "objects": {name: {} for name in FIELDS}, "surveys": {}, "jt_credentials": {}}
            self.create("organizations", {"name": "Default"})
            for managed in _managed_types():
                self.create("credential_types", managed, managed=True)
            self.counters = {}
            self.save()

    def save(self) -> None:
        """Persist the store."""
        with self.lock:
            write_json_atomic(self.path, self.data)

    def count(self, name: str) -> None:
        """Increment a request counter."""
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1

    # -- objects
    def table(self, resource: str) -> dict[str, dict[str, Any]]:
        """The objects of a resource by id (string keys, as JSON keeps them)."""
        return self.data["objects"][resource]

    def get(self, resource: str, obj_id: Any) -> dict[str, Any]:
        """One object or 404."""
        try:
            return self.table(resource)[str(int(obj_id))]
        except (KeyError, TypeError, ValueError):
            raise HTTPError(404, {"detail": "Not found."}) from None

    def find_related(self, field: str, value: Any) -> tuple[str, dict[str, Any]] | None:
        """The object a related field's id points at, with its resource."""
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        for resource in RELATED[field]:
            obj = self.table(resource).get(str(value))
            if obj is not None:
                return resource, obj
        return None

    def validate(self, resource: str, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """The object ``body`` makes (on top of ``current``), or 400 with AWX's field errors."""
        known = FIELDS[resource]
        merged = copy.deepcopy(current) if current else {k: copy.deepcopy(v) for k, v in known.items()}
        errors: dict[str, Any] = {}
        for field, value in body.items():
            if field not in known:
                continue  # AWX (Django REST framework) ignores fields it does not know
            merged[field] = value
        for field in REQUIRED[resource]:
            if merged.get(field) in (None, ""):
                errors[field] = ["This field is required."] if field not in body else ["This field may not be null."]
        for field, value in body.items():
            if field not in known or value is None:
                continue
            default = known[field]
            if isinstance(default, bool) and not isinstance(value, bool):
                errors[field] = ["Must be a valid boolean."]
            elif (
                isinstance(default, int)
                and not isinstance(default, bool)
                and (isinstance(value, bool) or not isinstance(value, int))
            ):
                errors[field] = ["A valid integer is required."]
            elif field in RELATED:
                found = self.find_related(field, value)
                if found is None:
                    errors[field] = [f'Invalid pk "{value}" - object does not exist.']
            elif (resource, field) in CHOICES and value not in CHOICES[(resource, field)]:
                errors[field] = [f'"{value}" is not a valid choice.']
            elif isinstance(default, str) and not isinstance(value, str):
                errors[field] = ["Not a valid string."]
        if not errors:
            errors.update(self._resource_rules(resource, merged, current))
        if not errors and resource in UNIQUE_BY and merged.get("name"):
            errors.update(self._unique(resource, merged, current))
        if errors:
            raise HTTPError(400, errors)
        return merged

    def _resource_rules(self, resource: str, obj: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        if resource == "credential_types" and current and current.get("managed"):
            raise HTTPError(403, {"detail": "Modifications not allowed for managed credential types"})
        if resource == "credentials":
            ctype = self.get("credential_types", obj["credential_type"])
            errors.update(self._credential_inputs(ctype, obj, current))
        if resource == "projects" and obj.get("scm_type") == "git" and not obj.get("scm_url"):
            errors["scm_url"] = ["SCM URL is required."]
        if resource == "job_templates":
            if obj.get("inventory") is None and not obj.get("ask_inventory_on_launch"):
                errors["inventory"] = ["Must either set a default value or ask to prompt on launch."]
            root = self.cfg.get("playbooks_root")
            playbook = str(obj.get("playbook") or "")
            if root and playbook and (".." in playbook.split("/") or not os.path.isfile(os.path.join(root, playbook))):
                errors["playbook"] = ["Playbook not found for project."]
            if obj.get("project") is not None:
                obj["organization"] = self.get("projects", obj["project"]).get("organization")
        if resource == "schedules":
            problem = validate_rrule(obj.get("rrule"))
            if problem:
                errors["rrule"] = [problem]
            else:
                obj["next_run"] = next_run(obj["rrule"]) if obj.get("enabled") else None
            found = self.find_related("unified_job_template", obj.get("unified_job_template"))
            if found and found[0] == "workflow_approval_templates":
                errors["unified_job_template"] = ["Cannot schedule an approval template."]
        if resource == "workflow_job_template_nodes" and not isinstance(obj.get("extra_data"), dict):
            errors["extra_data"] = ["Must be a dictionary."]
        if resource == "schedules" and not isinstance(obj.get("extra_data"), dict):
            errors["extra_data"] = ["Must be a dictionary."]
        return errors

    def _credential_inputs(
        self, ctype: dict[str, Any], obj: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        inputs = obj.get("inputs")
        if not isinstance(inputs, dict):
            return {"inputs": ["Must be a dictionary."]}
        fields = {f["id"]: f for f in (ctype.get("inputs") or {}).get("fields", [])}
        old = (current or {}).get("inputs") or {}
        problems: dict[str, list[str]] = {}
        for key, value in list(inputs.items()):
            if key not in fields:
                problems[key] = [f"'{key}' is not a valid field for {ctype['name']}"]
            elif value == ENCRYPTED and fields[key].get("secret"):
                if key in old:
                    inputs[key] = old[key]  # $encrypted$ sent back keeps the stored secret
                else:
                    problems[key] = ["$encrypted$ is a reserved keyword and may not be used for this field."]
            elif fields[key].get("type") == "boolean" and not isinstance(value, bool):
                problems[key] = ["Must be a valid boolean."]
            elif fields[key].get("type", "string") == "string" and not isinstance(value, str):
                problems[key] = ["Not a valid string."]
        for key in (ctype.get("inputs") or {}).get("required", []):
            if inputs.get(key) in (None, ""):
                problems.setdefault(key, [f"required for {ctype['name']}"])
        return {"inputs": problems} if problems else {}

    def _unique(self, resource: str, obj: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        scope = UNIQUE_BY.get(resource)
        for other in self.table(resource).values():
            if current is not None and other["id"] == current["id"]:
                continue
            if other.get("name") != obj["name"]:
                continue
            if scope is None or all(other.get(f) == obj.get(f) for f in scope):
                what = {"organizations": "Organization"}.get(resource, resource.rstrip("s").replace("_", " ").title())
                where = " and ".join(scope) if scope else ""
                msg = (
                    f"{what} with this Name already exists."
                    if not where
                    else (f"{what} with this Name and {where.replace('_', ' ').title()} already exists.")
                )
                return {"__all__": [msg]}
        return {}

    def create(self, resource: str, body: dict[str, Any], managed: bool = False) -> dict[str, Any]:
        """A new object (validated), persisted."""
        with self.lock:
            obj = self.validate(resource, body, None) if not managed else {**FIELDS[resource], **body}
            obj["id"] = self.data["next_id"]
            self.data["next_id"] += 1
            obj["type"] = TYPE_NAMES.get(resource, resource[:-1] if resource.endswith("s") else resource)
            if resource == "credential_types":
                obj.setdefault("managed", managed)
            if resource == "workflow_job_template_nodes":
                obj["identifier"] = obj.get("identifier") or secrets.token_hex(16)
                for link in LINKS:
                    obj[link] = []
            self.table(resource)[str(obj["id"])] = obj
            self.save()
            return obj

    def update(self, resource: str, obj_id: Any, body: dict[str, Any]) -> dict[str, Any]:
        """Change an object (validated), persisted."""
        with self.lock:
            current = self.get(resource, obj_id)
            merged = self.validate(resource, body, current)
            current.clear()
            current.update(merged)
            self.save()
            return current

    def delete(self, resource: str, obj_id: Any) -> None:
        """Remove an object and what hangs off it (nodes, schedules, links, surveys, associations)."""
        with self.lock:
            obj = self.get(resource, obj_id)
            if resource == "credential_types":
                if obj.get("managed"):
                    raise HTTPError(403, {"detail": "Deletion not allowed for managed credential types"})
                if any(c["credential_type"] == obj["id"] for c in self.table("credentials").values()):
                    raise HTTPError(403, {"detail": "Credential types that are in use cannot be deleted"})
            del self.table(resource)[str(obj["id"])]
            key = f"{resource}:{obj['id']}"
            self.data["surveys"].pop(key, None)
            if resource == "job_templates":
                self.data["jt_credentials"].pop(str(obj["id"]), None)
            if resource in ("job_templates", "workflow_job_templates", "workflow_approval_templates"):
                for sched in list(self.table("schedules").values()):
                    if sched["unified_job_template"] == obj["id"]:
                        del self.table("schedules")[str(sched["id"])]
                for node in self.table("workflow_job_template_nodes").values():
                    if node["unified_job_template"] == obj["id"]:
                        node["unified_job_template"] = None
            if resource == "workflow_job_templates":
                for node in list(self.table("workflow_job_template_nodes").values()):
                    if node["workflow_job_template"] == obj["id"]:
                        self.delete("workflow_job_template_nodes", node["id"])
            if resource == "workflow_job_template_nodes":
                for node in self.table("workflow_job_template_nodes").values():
                    for link in LINKS:
                        if obj["id"] in node[link]:
                            node[link].remove(obj["id"])
            if resource == "credentials":
                for creds in self.data["jt_credentials"].values():
                    if obj["id"] in creds:
                        creds.remove(obj["id"])
            self.save()

    def render(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as the API answers it: secret inputs masked, a ``url`` and ``summary_fields``."""
        shown = copy.deepcopy(obj)
        shown["url"] = f"{API}/{resource}/{obj['id']}/"
        if resource == "credentials":
            ctype = self.table("credential_types").get(str(obj["credential_type"])) or {}
            secret_ids = {f["id"] for f in (ctype.get("inputs") or {}).get("fields", []) if f.get("secret")}
            shown["inputs"] = {
                k: (ENCRYPTED if k in secret_ids and v not in (None, "") else v) for k, v in obj["inputs"].items()
            }
            shown["kind"] = ctype.get("kind")
        summary: dict[str, Any] = {}
        for field in RELATED:
            if field in shown and shown[field] is not None:
                found = self.find_related(field, shown[field])
                if found:
                    summary[field] = {"id": found[1]["id"], "name": found[1].get("name"), "type": found[1]["type"]}
        shown["summary_fields"] = summary
        return shown

    # -- workflow graph
    def _reachable(self, start: int, target: int) -> bool:
        nodes = self.table("workflow_job_template_nodes")
        todo, seen = [start], set()
        while todo:
            current = todo.pop()
            if current == target:
                return True
            if current in seen:
                continue
            seen.add(current)
            node = nodes.get(str(current)) or {}
            for link in LINKS:
                todo.extend(node.get(link, []))
        return False

    def link(self, parent_id: Any, link: str, child_id: Any, disassociate: bool) -> None:
        """Associate (or disassociate) ``child`` as a ``link`` of ``parent`` with AWX's checks."""
        with self.lock:
            parent = self.get("workflow_job_template_nodes", parent_id)
            try:
                child = self.get("workflow_job_template_nodes", child_id)
            except HTTPError:
                raise HTTPError(
                    400, {"msg": f"Related Workflow Job Template Node with id {child_id} not found."}
                ) from None
            if disassociate:
                if child["id"] in parent[link]:
                    parent[link].remove(child["id"])
                self.save()
                return
            if child["workflow_job_template"] != parent["workflow_job_template"]:
                raise HTTPError(400, {"Error": "Cannot associate a node of another workflow."})
            if child["id"] == parent["id"]:
                raise HTTPError(400, {"Error": "Cycle detected."})
            if any(child["id"] in parent[other] for other in LINKS if other != link):
                raise HTTPError(400, {"Error": "Relationship not allowed."})
            if child["id"] in parent[link]:
                return
            if self._reachable(child["id"], parent["id"]):
                raise HTTPError(400, {"Error": "Cycle detected."})
            parent[link].append(child["id"])
            self.save()

    # -- surveys
    @staticmethod
    def survey_problem(spec: Any) -> str | None:
        """AWX's survey_spec checks; the error sentence or None."""
        if not isinstance(spec, dict):
            return "Survey spec must be a JSON object."
        for key in ("name", "description"):
            if key not in spec:
                return f"'{key}' missing from survey spec."
        if not isinstance(spec.get("spec"), list):
            return "'spec' must be a list of items."
        if not spec["spec"]:
            return "'spec' doesn't contain any items."
        variables = set()
        for idx, question in enumerate(spec["spec"]):
            if not isinstance(question, dict):
                return f"Survey question {idx} is not a json object."
            for key in ("type", "question_name", "variable", "required"):
                if key not in question:
                    return f"'{key}' missing from survey question {idx}."
            if question["type"] not in SURVEY_TYPES:
                allowed = ", ".join(SURVEY_TYPES)
                return (
                    f"'{question['type']}' in survey question {idx} is not one of '{allowed}' allowed question types."
                )
            if question["variable"] in variables:
                return f"'variable' '{question['variable']}' duplicated in survey question {idx}."
            variables.add(question["variable"])
            default = question.get("default")
            if question["type"] in ("multiplechoice", "multiselect"):
                choices = question.get("choices")
                if isinstance(choices, str):
                    choices = choices.split("\n")
                if not isinstance(choices, list) or not choices:
                    return f"Survey question {idx} of type {question['type']} must have choices."
                given = default if isinstance(default, list) else str(default or "").split("\n")
                if default not in (None, "") and any(d not in choices for d in given if d != ""):
                    return f"Default choice must be answered from the choices listed in survey question {idx}."
            if (
                question["type"] == "integer"
                and default not in (None, "")
                and (isinstance(default, bool) or not isinstance(default, int))
            ):
                return f"Value {default} for '{question['variable']}' expected to be of type integer."
        return None

    def public_state(self) -> dict[str, Any]:
        """Counts of objects and requests, nothing secret."""
        with self.lock:
            return {
                "objects": {name: len(objs) for name, objs in self.data["objects"].items()},
                "counters": dict(self.counters),
            }


class AWXHandler(JSONHandler):
    """HTTP interface of the AWX simulator."""

    server_version = "awx-sim/24.6"

    @property
    def state(self) -> AWXState:
        """The shared store."""
        return self.app

    def before_request(self) -> None:
        """Authenticate every API call but ``/api/v2/ping/``; read-only tokens may not write."""
        if self.url_path.startswith("/_lab/") or self.url_path == f"{API}/ping/":
            return
        self.state.count(self.command)
        cfg = self.state.cfg
        auth = self.headers.get("Authorization", "")
        token = self.bearer_token()
        ok, read_only = False, False
        if token:
            ok = secrets.compare_digest(token, str(cfg["token"]))
            read_only = token in (cfg.get("read_tokens") or [])
            ok = ok or read_only
        elif auth[:6].lower() == "basic " and cfg.get("admin_password"):
            try:
                user, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            ok = user == "admin" and secrets.compare_digest(password, str(cfg["admin_password"]))
        if not ok:
            self.state.count("401")
            detail = (
                "Authentication credentials were not provided."
                if not auth
                else "Invalid token."
                if token
                else ("Invalid username/password.")
            )
            raise HTTPError(
                401, {"detail": detail}, {"WWW-Authenticate": "Bearer realm=api authorization_url=/api/o/authorize/"}
            )
        if read_only and self.command in WRITE_METHODS:
            self.state.count("403")
            raise HTTPError(403, {"detail": "You do not have permission to perform this action."})

    # -- helpers
    def page(self, resource: str, objects: list[dict[str, Any]]) -> None:
        """A paginated list, filtered by the query's field values."""
        params = dict(self.query)
        try:
            size = max(1, min(200, int(params.pop("page_size", 25))))
            number = max(1, int(params.pop("page", 1)))
        except ValueError:
            raise HTTPError(400, {"detail": "Invalid page."}) from None
        params.pop("order_by", None)
        for key, wanted in params.items():
            objects = [
                o
                for o in objects
                if (key in o and str(o[key] if o[key] is not None else "") == wanted)
                or (key in o and o[key] is None and wanted.lower() in ("none", "null"))
            ]
        objects.sort(key=lambda o: o["id"])
        start = (number - 1) * size
        chunk = objects[start : start + size]
        if start and not chunk:
            raise HTTPError(404, {"detail": "Invalid page."})

        def link(num: int) -> str | None:
            if num < 1 or (num - 1) * size >= len(objects):
                return None
            return f"{self.url_path}?{urlencode({**params, 'page_size': size, 'page': num})}"

        self.send_json(
            200,
            {
                "count": len(objects),
                "next": link(number + 1),
                "previous": link(number - 1) if number > 1 else None,
                "results": [self.state.render(resource, o) for o in chunk],
            },
        )

    def resource_name(self, resource: str) -> str:
        """404 for resources the simulator does not serve."""
        if resource not in FIELDS or (resource == "workflow_job_template_nodes" and self.command == "POST"):
            raise HTTPError(404, {"detail": "Not found."})
        return resource

    # -- public API
    @route("GET", f"{API}/ping/")
    def ping(self) -> None:
        """AWX's unauthenticated ping."""
        self.send_json(200, {"ha": False, "version": "24.6.1", "active_node": "awx-sim", "instances": []})

    @route("GET", f"{API}/me/")
    def me(self) -> None:
        """The authenticated user."""
        self.send_json(
            200,
            {
                "count": 1,
                "next": None,
                "previous": None,
                "results": [{"id": 1, "username": "admin", "is_superuser": True}],
            },
        )

    @route("GET", f"{API}/(?P<resource>[a-z_]+)/")
    def list_objects(self, resource: str) -> None:
        """List a resource (``ping`` and ``me`` are answered here: this route's pattern is the longer one)."""
        if resource == "ping":
            self.ping()
            return
        if resource == "me":
            self.me()
            return
        self.page(self.resource_name(resource), list(self.state.table(resource).values()))

    @route("POST", f"{API}/(?P<resource>[a-z_]+)/")
    def create_object(self, resource: str) -> None:
        """Create an object."""
        if resource == "workflow_approval_templates":
            raise HTTPError(405, {"detail": 'Method "POST" not allowed.'})
        obj = self.state.create(self.resource_name(resource), self.json_body())
        LOG.info("created %s %s (%s)", resource, obj["id"], obj.get("name") or obj.get("identifier"))
        self.send_json(201, self.state.render(resource, obj))

    @route("GET", f"{API}/(?P<resource>[a-z_]+)/(?P<obj_id>[0-9]+)/")
    def get_object(self, resource: str, obj_id: str) -> None:
        """One object."""
        self.send_json(200, self.state.render(resource, self.state.get(self.resource_name(resource), obj_id)))

    @route("PATCH", f"{API}/(?P<resource>[a-z_]+)/(?P<obj_id>[0-9]+)/")
    def patch_object(self, resource: str, obj_id: str) -> None:
        """Change an object."""
        if resource == "workflow_approval_templates":
            raise HTTPError(405, {"detail": 'Method "PATCH" not allowed.'})
        body = self.json_body()
        if resource == "workflow_job_template_nodes":
            body.pop("workflow_job_template", None)
        obj = self.state.update(self.resource_name(resource), obj_id, body)
        self.send_json(200, self.state.render(resource, obj))

    @route("DELETE", f"{API}/(?P<resource>[a-z_]+)/(?P<obj_id>[0-9]+)/")
    def delete_object(self, resource: str, obj_id: str) -> None:
        """Delete an object."""
        self.state.delete(self.resource_name(resource), obj_id)
        self.send_bytes(204, b"", "application/json")

    @route("GET", f"{API}/(?P<resource>job_templates|workflow_job_templates)/(?P<obj_id>[0-9]+)/survey_spec/")
    def get_survey(self, resource: str, obj_id: str) -> None:
        """The survey spec, ``{}`` when there is none."""
        obj = self.state.get(resource, obj_id)
        self.send_json(200, self.state.data["surveys"].get(f"{resource}:{obj['id']}", {}))

    @route("POST", f"{API}/(?P<resource>job_templates|workflow_job_templates)/(?P<obj_id>[0-9]+)/survey_spec/")
    def post_survey(self, resource: str, obj_id: str) -> None:
        """Replace the survey spec (validated)."""
        obj = self.state.get(resource, obj_id)
        spec = self.json_body()
        problem = self.state.survey_problem(spec)
        if problem:
            raise HTTPError(400, {"error": problem})
        with self.state.lock:
            self.state.data["surveys"][f"{resource}:{obj['id']}"] = spec
            self.state.save()
        self.send_bytes(200, b"", "application/json")

    @route("DELETE", f"{API}/(?P<resource>job_templates|workflow_job_templates)/(?P<obj_id>[0-9]+)/survey_spec/")
    def delete_survey(self, resource: str, obj_id: str) -> None:
        """Remove the survey spec."""
        obj = self.state.get(resource, obj_id)
        with self.state.lock:
            self.state.data["surveys"].pop(f"{resource}:{obj['id']}", None)
            self.state.save()
        self.send_bytes(204, b"", "application/json")

    @route("GET", f"{API}/job_templates/(?P<obj_id>[0-9]+)/credentials/")
    def jt_credentials(self, obj_id: str) -> None:
        """The credentials associated with a job template."""
        obj = self.state.get("job_templates", obj_id)
        ids = self.state.data["jt_credentials"].get(str(obj["id"]), [])
        self.page("credentials", [self.state.get("credentials", i) for i in ids])

    @route("POST", f"{API}/job_templates/(?P<obj_id>[0-9]+)/credentials/")
    def jt_associate(self, obj_id: str) -> None:
        """Associate (``{"id": N}``) or disassociate (``"disassociate": true``) a credential."""
        obj = self.state.get("job_templates", obj_id)
        body = self.json_body()
        if not isinstance(body.get("id"), int):
            raise HTTPError(400, {"msg": '"id" field must be an integer.'})
        try:
            cred = self.state.get("credentials", body["id"])
        except HTTPError:
            raise HTTPError(400, {"msg": f"Related Credential with id {body['id']} not found."}) from None
        with self.state.lock:
            ids = self.state.data["jt_credentials"].setdefault(str(obj["id"]), [])
            if body.get("disassociate"):
                if cred["id"] in ids:
                    ids.remove(cred["id"])
            elif cred["id"] not in ids:
                ctype = self.state.get("credential_types", cred["credential_type"])
                if any(self.state.get("credentials", i)["credential_type"] == ctype["id"] for i in ids):
                    raise HTTPError(400, {"error": f"Cannot assign multiple {ctype['name']} credentials."})
                ids.append(cred["id"])
            self.state.save()
        self.send_bytes(204, b"", "application/json")

    @route("GET", f"{API}/workflow_job_templates/(?P<obj_id>[0-9]+)/workflow_nodes/")
    def wf_nodes(self, obj_id: str) -> None:
        """The nodes of a workflow."""
        wf = self.state.get("workflow_job_templates", obj_id)
        nodes = [
            n
            for n in self.state.table("workflow_job_template_nodes").values()
            if n["workflow_job_template"] == wf["id"]
        ]
        self.page("workflow_job_template_nodes", nodes)

    @route("POST", f"{API}/workflow_job_templates/(?P<obj_id>[0-9]+)/workflow_nodes/")
    def wf_add_node(self, obj_id: str) -> None:
        """Add a node (its identifier unique in the workflow)."""
        wf = self.state.get("workflow_job_templates", obj_id)
        body = self.json_body()
        body["workflow_job_template"] = wf["id"]
        ident = body.get("identifier")
        if ident and any(
            n["identifier"] == ident and n["workflow_job_template"] == wf["id"]
            for n in self.state.table("workflow_job_template_nodes").values()
        ):
            raise HTTPError(
                400,
                {
                    "__all__": [
                        "Workflow job template node with this Workflow job template and Identifier already exists."
                    ]
                },
            )
        obj = self.state.create("workflow_job_template_nodes", body)
        self.send_json(201, self.state.render("workflow_job_template_nodes", obj))

    @route(
        "GET",
        f"{API}/workflow_job_template_nodes/(?P<obj_id>[0-9]+)/(?P<link>success_nodes|failure_nodes|always_nodes)/",
    )
    def node_links(self, obj_id: str, link: str) -> None:
        """The nodes one node leads to on success / failure / always."""
        node = self.state.get("workflow_job_template_nodes", obj_id)
        self.page("workflow_job_template_nodes", [self.state.get("workflow_job_template_nodes", i) for i in node[link]])

    @route(
        "POST",
        f"{API}/workflow_job_template_nodes/(?P<obj_id>[0-9]+)/(?P<link>success_nodes|failure_nodes|always_nodes)/",
    )
    def node_link(self, obj_id: str, link: str) -> None:
        """Associate or disassociate a following node."""
        body = self.json_body()
        if not isinstance(body.get("id"), int):
            raise HTTPError(400, {"msg": '"id" field must be an integer.'})
        self.state.link(obj_id, link, body["id"], bool(body.get("disassociate")))
        self.send_bytes(204, b"", "application/json")

    @route("POST", f"{API}/workflow_job_template_nodes/(?P<obj_id>[0-9]+)/create_approval_template/")
    def node_approval(self, obj_id: str) -> None:
        """Make the node an approval node: a new approval template (the previous one of the node is replaced)."""
        node = self.state.get("workflow_job_template_nodes", obj_id)
        body = self.json_body()
        with self.state.lock:
            template = self.state.create(
                "workflow_approval_templates",
                {k: v for k, v in body.items() if k in ("name", "description", "timeout")},
            )
            old = node.get("unified_job_template")
            if old is not None and str(old) in self.state.table("workflow_approval_templates"):
                del self.state.table("workflow_approval_templates")[str(old)]
            node["unified_job_template"] = template["id"]
            self.state.save()
        self.send_json(201, self.state.render("workflow_approval_templates", template))

    # -- lab controls
    @route("GET", "/_lab/state")
    def lab_state(self) -> None:
        """Object and request counts."""
        self.require_lab_token(str(self.state.cfg.get("lab_token", "")))
        self.send_json(200, self.state.public_state())

    @route("POST", "/_lab/reset")
    def lab_reset(self) -> None:
        """Back to the seed."""
        self.require_lab_token(str(self.state.cfg.get("lab_token", "")))
        self.state.reset()
        self.send_json(200, self.state.public_state())


def build_server(cfg: dict[str, Any]) -> LabHTTPServer:
    """Create the (not yet serving) AWX simulator server."""
    return LabHTTPServer((cfg.get("host", "127.0.0.1"), int(cfg.get("port", 18052))), AWXHandler, AWXState(cfg))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = parse_args("VoiceHive lab AWX simulator", argv)
    cfg = load_config(args.config)
    setup_logging(cfg.get("log_level", "INFO"))
    serve(build_server(cfg), "awx")


if __name__ == "__main__":
    main()
