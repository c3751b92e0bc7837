# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input to every role is refused, with a message naming the variable, before anything is changed.

A run refuses bad input at two gates, both before it changes anything:

- the run plan (roles/voicehive/templates/run_plan.j2, rendered by the framework's start.yml before the site is
  read): the collection's own checks of what the values mean, ``problems`` (unknown approvals, missing or malformed
  connection URLs, numbers outside their bounds, malformed addresses, empty lists a category needs...);
- each role's argument spec (meta/argument_specs.yml): ansible-core prepends a ``validate_argument_spec`` task to
  the role, which validates the role's variables (role defaults included, templated) against the entry point's
  options: types, choices, list elements, required options, sub-options.

For every option of every entry point of every role, values of a wrong type, outside the choices, with list
elements of a wrong type, and a required option left out are refused by the argument spec, naming the option:
``ArgumentSpecValidator`` on the role's variables as the action plugin gathers them from the valid site, with the
bad value in their place (the plugin itself agrees, once per role). For every number option a negative and an
absurd value, and for the options whose meaning the collection checks the malformed values of ``SEMANTIC`` (one bad
value each, over the valid site and the role defaults), are refused by the run plan, rendered in-process as the
template lookup of start.yml renders it (checked against the lookup itself), naming the variable. The valid site
has no problem and passes every argument spec. ``test_the_cases_are_counted`` says how many cases there are and
keeps the count from shrinking unnoticed.

Speed: the same templates are rendered hundreds of times, so the module compiles each Jinja source once
(``compiled_once``), renders every plan with one templar, and the number cases share one plan per category and kind
(an option bounded only relative to another, as bad in that plan, gets a plan of its own).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar, trust_as_template
from ansible.utils.vars import combine_vars

pytestmark = pytest.mark.usefixtures("collection_filters", "compiled_once")

ROOT = Path(__file__).resolve().parents[3]
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
RUN_PLAN = ROOT / "roles" / "voicehive" / "templates" / "run_plan.j2"
PLAN_TEXT = RUN_PLAN.read_text()
LOADER = DataLoader()
_jinja_compile = jinja2.Environment.compile  # before the module's compile cache
FRAMEWORK = yaml.safe_load((ROOT / "roles" / "voicehive" / "defaults" / "main.yml").read_text())
CATEGORIES = list(FRAMEWORK["voicehive_category_components"])

# A valid production site (inventories/example-production, without the Vault lookups), the one inventory host of
# group voicehive; every role's defaults come on top of it as a play would see them.
SITE = {
    "inventory_hostname": "prod-eu-west-1",
    "groups": {"all": ["prod-eu-west-1"], "ungrouped": [], "voicehive": ["prod-eu-west-1"]},
    "hostvars": {},
    "voicehive_namespace": "voicehive",
    "voicehive_kube_host": "https://k8s.eu-west-1.voicehive.internal:6443",
    "voicehive_kube_api_key": "kube-token",
    "voicehive_redis_url": "rediss://:redis-password@redis.voicehive.com:6379/0",
    "voicehive_postgres_host": "postgresql.voicehive.com",
    "voicehive_postgres_port": 5432,
    "voicehive_postgres_db": "voicehive",
    "voicehive_postgres_user": "voicehive_ops",
    "voicehive_postgres_password": "postgres-password",
    "voicehive_vault_url": "https://vault.voicehive.com",
    "voicehive_vault_token": "vault-token",
    "voicehive_prometheus_url": "https://prometheus.voicehive.com",
    "voicehive_alertmanager_url": "https://alertmanager.voicehive.com",
    "voicehive_orchestrator_url": "https://api.voicehive.com",
    "voicehive_apaleo_identity_url": "https://identity.apaleo.com",
    "voicehive_apaleo_api_url": "https://api.apaleo.com",
    "voicehive_apaleo_hotel_id": "hotel-001",
    "voicehive_apaleo_property_id": "MUC",
    "voicehive_livekit_url": "wss://livekit.voicehive.com",
    "voicehive_livekit_health_url": "https://livekit.voicehive.com/",
    "voicehive_route53_zone": "voicehive.com.",
    "voicehive_route53_record": "api.voicehive.com",
}


def _defaults() -> dict:
    """Every role's defaults, as templates (the way a play loads them)."""
    merged: dict = {}
    for path in sorted((ROOT / "roles").glob("*/defaults/main.yml")):
        merged.update(LOADER.load_from_file(str(path), trusted_as_template=True) or {})
    return merged


DEFAULTS = _defaults()


def site_vars(overrides: dict | None = None) -> dict:
    """The variables of the valid site (role defaults, then the inventory), with ``overrides`` on top (as extra
    vars)."""
    return {**DEFAULTS, **SITE, **copy.deepcopy(overrides or {})}


# Jinja settings that change the code a template compiles to (the lexer's and the code generator's)
COMPILE_SETTINGS = (
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string", "comment_start_string",
    "comment_end_string", "line_statement_prefix", "line_comment_prefix", "trim_blocks", "lstrip_blocks",
    "newline_sequence", "keep_trailing_newline", "optimized", "is_async",
)  # fmt: skip


@pytest.fixture(scope="module")
def compiled_once():
    """Compile each Jinja source once for this module's hundreds of renders of the same templates (the run plan and
    the role defaults it reads): compiling is about three quarters of a render. A compiled template is Python code
    that depends on its source and the environment's settings only (the key; Ansible's backslash escaping of
    expressions too), never on the variables, which every render still brings and templates afresh.
    test_the_compile_cache_changes_no_plan renders with and without it."""
    try:
        from ansible._internal._templating._jinja_bits import _TemplateCompileContext
    except ImportError:  # another ansible-core: no cache, only slower
        yield
        return
    compile_ = jinja2.Environment.compile
    cache: dict = {}

    def compile_once(self, source, name=None, filename=None, raw=False, defer_init=False):
        if not isinstance(source, str):
            return compile_(self, source, name, filename, raw, defer_init)
        context = _TemplateCompileContext.current(optional=True)
        finalize = getattr(self.finalize, "__func__", self.finalize)
        autoescape = getattr(self.autoescape, "__func__", self.autoescape)
        key = (type(self), source, name, filename, raw, defer_init, context and context.escape_backslashes, finalize,
               autoescape, tuple(sorted(self.extensions)), *(getattr(self, s) for s in COMPILE_SETTINGS))  # fmt: skip
        if key not in cache:
            cache[key] = compile_(self, source, name, filename, raw, defer_init)
        return cache[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jinja2.Environment, "compile", compile_once)
        yield cache


# --------------------------------------------------------------------------------------------
# The argument specs
# --------------------------------------------------------------------------------------------


def _specs(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def _spec_groups() -> list[tuple[str, tuple[str, ...], dict]]:
    """``(role, entry points, options)``: a role's entry points that share their options (YAML anchors) once."""
    groups = []
    for role in ROLES:
        seen: list[tuple[list[str], dict]] = []
        for entry, body in _specs(role).items():
            options = body.get("options") or {}
            same = next((s for s in seen if s[1] == options), None)
            if same is None:
                seen.append(([entry], options))
            else:
                same[0].append(entry)
        groups.extend((role, tuple(entries), options) for entries, options in seen)
    return groups


SPEC_GROUPS = _spec_groups()
OPTIONS = {name: (role, spec) for role, _entries, options in SPEC_GROUPS for name, spec in options.items()}


def _action(spec: dict, templar: Templar, role: str, entry: str):
    """ansible.builtin.validate_argument_spec as ansible-core prepends it to a role (Role._create_validation_task)."""
    from ansible.plugins.loader import action_loader

    task = Task.load(
        {
            "action": "ansible.builtin.validate_argument_spec",
            "args": {
                "argument_spec": spec,
                "provided_arguments": {},
                "validate_args_context": {"type": "role", "name": role, "argument_spec_name": entry},
            },
        }
    )
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))  # the action needs no remote tmp
    return action_loader.get(
        "ansible.builtin.validate_argument_spec",
        task=task,
        connection=connection,
        play_context=None,
        loader=LOADER,
        templar=templar,
        shared_loader_obj=None,
    )


def _plain(value: object) -> object:
    """``value`` with plain Python types (templating tags its strings, which makes the validator's deepcopy of the
    arguments of every case slow; the tags play no part in validation)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


@functools.cache
def _site_args(group: int) -> dict:
    """The role's variables as the action plugin gathers them from the valid site (templated), once per spec."""
    role, entries, options = SPEC_GROUPS[group]
    variables = site_vars()
    action = _action(options, Templar(loader=LOADER, variables=variables), role, entries[0])
    return _plain(action.get_args_from_task_vars(options, variables))


def argspec_refusal(group: int, option: str | None = None, value: object = None, missing: bool = False) -> str:
    """The argument spec's refusal of the valid site with ``option`` set to ``value`` (or left out): what
    validate_argument_spec does (the templated variables combined with the role's parameters, none here), with
    the bad value in place of the site's; '' when the spec accepts it. A TypeError of the validator itself comes
    back as its text (see CORE_SUBOPTIONS_TYPEERROR)."""
    _role, _entries, options = SPEC_GROUPS[group]
    args = dict(_site_args(group))
    provided = {}
    if option is not None:
        args.pop(option, None)
        provided = {} if missing else {option: copy.deepcopy(value)}
    try:
        result = ArgumentSpecValidator(options).validate(combine_vars(args, provided))
    except TypeError as error:
        return f"TypeError: {error}"
    return "\n".join(result.error_messages)


# A value no type conversion of ansible-core accepts, per type (str, path and raw options take anything: ansible-core
# converts lists and dicts to text, so no value has a wrong type for them).
WRONG = {
    "int": (("a word", "not-a-number"), ("a fraction", 1.5), ("a list", [1]), ("a dict", {"a": 1})),
    "float": (("a word", "not-a-number"), ("a list", [1.0]), ("a dict", {"a": 1})),
    "bool": (("a word", "maybe"), ("a number", 2), ("a list", [True]), ("a dict", {"a": 1})),
    "list": (("a dict", {"a": 1}),),
    "dict": (("a list", ["not", "a", "dict"]), ("a number", 5), ("a word", "not a dict"), ("a bool", True)),
}
# ansible-core (2.21): a dict option with sub-options given a number or a boolean makes ArgumentSpecValidator raise
# (set_fallbacks iterates the value) instead of returning an error naming the option. The role's validation task
# fails all the same, before the role's first task, with this text. Counted as refused, not as named.
CORE_SUBOPTIONS_TYPEERROR = re.compile(r"^TypeError: argument of type '(int|bool)' is not iterable$")
WRONG_ELEMENT = {"int": "not-a-number", "float": "not-a-number", "bool": "maybe", "dict": "not a dict"}
UNCHECKED_TYPES = ("str", "path", "raw")


def _suboption_cases(spec: dict) -> list[tuple[str, object]]:
    """A dict option with sub-options, or a list of them: an unknown sub-option, and each required one left out."""
    sub = spec.get("options") or {}
    if not sub:
        return []
    required = [k for k, s in sub.items() if s.get("required")]
    valid = dict.fromkeys(required or list(sub)[:1], "x")
    wrap = (lambda d: [d]) if spec.get("type") == "list" else (lambda d: d)
    cases = [("unknown sub-option", wrap({**valid, "no_such_suboption": "x"}))]
    return cases + [(f"missing sub-option ({k})", wrap({x: v for x, v in valid.items() if x != k})) for k in required]


def _argspec_cases() -> list[tuple[int, str, str, object]]:
    cases = []
    for group, (_role, _entries, options) in enumerate(SPEC_GROUPS):
        for name, spec in options.items():
            kind = spec.get("type", "str")
            cases += [(group, name, f"wrong type ({kind}: {what})", value) for what, value in WRONG.get(kind, ())]
            if kind == "list" and spec.get("elements") in WRONG_ELEMENT:
                element = spec["elements"]
                cases.append((group, name, f"wrong element type ({element})", [WRONG_ELEMENT[element]]))
            if spec.get("choices"):
                cases.append(
                    (group, name, "not one of the choices", ["no-such-choice"] if kind == "list" else "no-such-choice")
                )
            if spec.get("required"):
                cases.append((group, name, "missing", None))
            cases += [(group, name, what, value) for what, value in _suboption_cases(spec)]
    return cases


ARGSPEC_CASES = _argspec_cases()


def _argspec_id(case: tuple) -> str:
    group, name, what, _value = case
    role, entries, _options = SPEC_GROUPS[group]
    return f"{role}[{','.join(entries)}]-{name}-{what}"


@pytest.mark.parametrize(
    ("group", "option", "what", "value"), ARGSPEC_CASES, ids=[_argspec_id(c) for c in ARGSPEC_CASES]
)
def test_the_argument_spec_refuses_naming_the_option(group, option, what, value):
    message = argspec_refusal(group, option, value, missing=what == "missing")
    assert message, f"{_argspec_id((group, option, what, value))}: accepted {value!r}"
    if CORE_SUBOPTIONS_TYPEERROR.match(message):
        assert OPTIONS[option][1].get("options") and what.startswith("wrong type (dict"), message
        return
    assert option in message, f"the refusal of {option}={value!r} ({what}) does not name it: {message}"


@pytest.mark.parametrize("group", range(len(SPEC_GROUPS)), ids=[f"{g[0]}[{','.join(g[1])}]" for g in SPEC_GROUPS])
def test_the_valid_site_passes_the_argument_spec_and_the_plugin_refuses_like_the_cases(group):
    """The action plugin itself, run as ansible-core runs it before the role's first task: the valid site passes,
    and the first bad value of the role's cases is refused with the message the cases see."""
    role, entries, options = SPEC_GROUPS[group]
    variables = site_vars()
    result = _action(options, Templar(loader=LOADER, variables=variables), role, entries[0]).run(task_vars=variables)
    assert not result.get("failed"), result.get("msg")
    assert argspec_refusal(group) == ""
    # a number option: no other option's default is built from it (the cases keep those as the valid site has them)
    _group, option, what, value = next(c for c in ARGSPEC_CASES if c[0] == group and c[2].startswith("wrong type (int"))
    variables = site_vars({option: value})
    result = _action(options, Templar(loader=LOADER, variables=variables), role, entries[0]).run(task_vars=variables)
    assert result.get("failed"), f"{option}={value!r} ({what}) passed the action plugin"
    # the plugin may say more: an option whose default is built from this one is wrong too (the cases keep it valid)
    assert set(argspec_refusal(group, option, value).split("\n")) <= set(result["argument_errors"])


# --------------------------------------------------------------------------------------------
# The run plan
# --------------------------------------------------------------------------------------------


def _plan_variables(overrides: dict | None, run: str | None) -> dict:
    tags: dict = {}
    if run in CATEGORIES:
        tags = {"ansible_run_tags": [run]}
    elif run != "all":
        tags = {"ansible_run_tags": [run] if run else ["all"], "ansible_skip_tags": list(CATEGORIES)}
    return site_vars({**(overrides or {}), **tags})


@functools.cache
def _plan_templar() -> Templar:
    """One templar for every plan (made once the collection's filters are on the plugin path): it keeps the filters
    and tests it looked up; each plan brings its own variables."""
    return Templar(loader=LOADER)


def plan(overrides: dict | None = None, run: str | None = None) -> dict:
    """The run plan of the valid site with ``overrides``, rendered as the template lookup of start.yml renders it
    (backslashes in string literals not escaped), without the lookup's copy of every variable. ``run``: the
    category (``--tags <category>``) or the component (``--tags <component>``, no category) the run selects; None:
    the framework alone (every category skipped); 'all': every category."""
    templar = _plan_templar()
    templar.available_variables = _plan_variables(overrides, run)
    return json.loads(templar.template(trust_as_template(PLAN_TEXT), escape_backslashes=False))


def plan_by_lookup(overrides: dict | None = None, run: str | None = None) -> dict:
    """The run plan exactly as start.yml gets it: the template lookup, then from_yaml."""
    expression = trust_as_template("{{ lookup('ansible.builtin.template', '" + str(RUN_PLAN) + "') | from_yaml }}")
    return Templar(loader=LOADER, variables=_plan_variables(overrides, run)).template(expression)


def _owner(name: str) -> str | None:
    """The category whose run checks ``name``; None for the framework's variables."""
    return next((c for c in CATEGORIES if name.startswith(c + "_")), None)


NEGATIVE = -1
ABSURD = 10**12  # more than any count, port, share or number of seconds a site could mean

# Values the run plan refuses, one at a time, naming the variable: (variable, value, what, run), run as in plan()
# (None: the category that owns the variable, or the framework alone for voicehive_*). Most have a type the argument
# spec accepts and a meaning it cannot check; the last ones have a type it would refuse, but the run plan reads them
# first.
SEMANTIC = (
    # the framework: approvals, connection and notification URLs
    ("voicehive_approved_actions", ["restart_everything"], "an unknown action", None),
    ("voicehive_approved_actions", ["Clear_Sessions"], "an action in the wrong case", None),
    ("voicehive_namespace", "", "empty", None),
    ("voicehive_redis_url", "", "an empty connection URL", "redis"),
    ("voicehive_redis_url", "redis.voicehive.com:6379", "a connection URL without a scheme", "redis"),
    ("voicehive_redis_url", "https://redis.voicehive.com", "a connection URL of another scheme", "redis"),
    ("voicehive_vault_url", "https://", "a connection URL without a host", "vault"),
    ("voicehive_vault_url", "vault.voicehive.com", "a connection URL without a scheme", "vault"),
    ("voicehive_orchestrator_url", "https:/api.voicehive.com", "a connection URL without //", "prometheus"),
    ("voicehive_orchestrator_url", "", "an empty connection URL", "prometheus"),
    ("voicehive_notify_slack_webhook_url", "hooks.slack.com/services/T0/B0/x", "a webhook URL without a scheme", None),
    ("voicehive_notify_pagerduty_url", "events.pagerduty.com/v2/enqueue", "a URL without a scheme", None),
    ("voicehive_notify_webhook_url", "ftp://hooks.voicehive.com/events", "a URL of another scheme", None),
    # authentication
    ("authentication_jwt_min_bytes", 64, "above the bytes of a new secret", None),
    ("authentication_jwt_new_bytes", 8, "a new secret too short to sign with", None),
    ("authentication_redis_memory_warning", 1.5, "a share above 1", None),
    ("authentication_redis_memory_warning", 0, "a share of 0", None),
    ("authentication_api_key_path", "api-keys/static", "a path without {id}", None),
    # circuit breakers
    ("circuit_breakers_dependency_checks", {"tts_service": {"type": "ping"}}, "an unknown check type", None),
    (
        "circuit_breakers_dependency_checks",
        {"tts_service": {"type": "http", "url": "tts.voicehive.com"}},
        "a URL without a scheme",
        None,
    ),
    ("circuit_breakers_thresholds", {"failure_threshold": "-1"}, "a negative threshold", None),
    ("circuit_breakers_thresholds", {"timeout": "half a minute"}, "a threshold that is not a number", None),
    # rate limiting
    ("rate_limiting_trusted_networks", ["10.0.0.5/24"], "a network with host bits", None),
    ("rate_limiting_trusted_networks", ["300.1.2.0/24"], "a malformed IPv4 network", None),
    ("rate_limiting_trusted_networks", ["office.voicehive.com"], "a host name for a network", None),
    ("rate_limiting_trusted_clients", ["ip:203.0.113.300"], "a malformed IP client", None),
    ("rate_limiting_trusted_clients", ["bob"], "a client id without its kind", None),
    ("rate_limiting_raised_limit", 601, "above rate_limiting_max_limit", None),
    ("rate_limiting_allowlist_ttl", 30, "a TTL below a minute", None),
    ("rate_limiting_limit_windows", [], "no window", None),
    ("rate_limiting_limits", {"per_hour": -5}, "a negative limit", None),
    ("rate_limiting_limits", {"per_hour": "lots"}, "a limit that is not a number", None),
    # security
    ("security_block_ips", ["1.2.3.4/33"], "a prefix length above 32", None),
    ("security_block_ips", ["2001:db8::g"], "a malformed IPv6 address", None),
    ("security_block_ips", ["example.com"], "a host name", None),
    ("security_protected_networks", ["10.0.0.1/8"], "a network with host bits", None),
    ("security_enhanced_logging_minutes", 2000, "more than a day", None),
    ("security_rotate_api_key_ids", ["sk_test_123"], "a key without the live prefix", None),
    ("security_api_key_path", "api-keys/static", "a path without {id}", None),
    ("security_window", 30, "a window shorter than a minute", None),
    # performance
    ("performance_max_replicas", 0, "no replica", None),
    ("performance_min_replicas", 20, "above performance_max_replicas", None),
    ("performance_hpa_max_replicas", 20, "above performance_max_replicas", None),
    ("performance_hpa_cpu_utilization", 150, "a percentage above 100", None),
    ("performance_target_cpu_utilization", 101, "a percentage above 100", None),
    ("performance_target_cpu_utilization", 0, "a percentage of 0", None),
    ("performance_raised_pool_size", 5000, "above performance_max_pool_size", None),
    ("performance_cpu_threshold", 1.5, "a share above 1", None),
    ("performance_node_threshold", 1.5, "a share above 1", None),
    ("performance_pool_threshold", 0, "a share of 0", None),
    ("performance_latency_threshold", 0, "no latency", None),
    ("performance_latency_window", "five minutes", "not a Prometheus duration", None),
    # memory
    ("memory_raised_limit", "lots", "not a memory quantity", None),
    ("memory_max_limit", "4 GB", "not a memory quantity", None),
    ("memory_raised_limit", "8Gi", "above memory_max_limit", None),
    ("memory_usage_threshold", 2, "a share above 1", None),
    ("memory_usage_threshold", 0.1, "a share below 0.5", None),
    ("memory_gc_threshold", "often", "not a number", None),
    ("memory_min_ready_replicas", 0, "no ready replica", None),
    ("memory_restart_window", 10, "a window shorter than a minute", None),
    ("memory_deployments", [], "no Deployment", None),
    # database
    ("database_long_query_threshold", 0, "a threshold of 0", None),
    ("database_scale_down_replicas", 0, "scaling the orchestrator to nothing", None),
    ("database_raised_max_connections", 900, "above database_max_connections_limit", None),
    ("database_restart_timeout", 5, "a timeout below 10 seconds", None),
    ("database_pool_exhausted_ratio", 1.5, "a share above 1", None),
    ("database_server_connections_ratio", 0, "a share of 0", None),
    ("database_protected_applications", "pg_dump", "a name, not a list", None),
    # PMS connector
    ("pms_connector_hotels", [], "no hotel", None),
    ("pms_connector_hotels", [{"hotel_id": "hotel 1; rm -rf"}], "a malformed hotel id", None),
    ("pms_connector_hotels", [{"hotel_id": "hotel-001"}, {"hotel_id": "hotel-001"}], "a hotel twice", None),
    ("pms_connector_error_rate", 1.5, "a share above 1", None),
    ("pms_connector_error_rate", 0, "a share of 0", None),
    ("pms_connector_error_window", 10, "a window shorter than a minute", None),
    ("pms_connector_token_retries", 5, "more retries than 3", None),
    ("pms_connector_credentials_path", "pms/apaleo/credentials", "a path without {hotel_id}", None),
    ("pms_connector_health_path", "health/connectors", "a path without its leading /", None),
    ("pms_connector_apaleo_health_path", "health", "a path without its leading /", None),
    ("pms_connector_token_timeout", 0, "a timeout of 0", None),
    # LiveKit
    ("livekit_expected_url", "livekit.voicehive.com", "a URL without a scheme", None),
    ("livekit_expected_url", "wss://", "a URL without a host", None),
    ("livekit_expected_health_url", "livekit.voicehive.com/health", "a URL without a scheme", None),
    ("livekit_probe_timeout", 0, "a timeout of 0", None),
    ("livekit_probe_timeout", 600, "a timeout above a minute", None),
    # monitoring
    ("monitoring_flapping_step", "30 seconds", "not a duration", None),
    ("monitoring_group_wait", "1h", "above monitoring_max_group_wait", None),
    ("monitoring_group_interval", "1s", "below monitoring_min_group_interval", None),
    ("monitoring_alert_thresholds", {"VoiceHiveHighLatency": "high"}, "a threshold that is not a number", None),
    ("monitoring_threshold_max_factor", 0.5, "a factor below 1", None),
    ("monitoring_scrape_jobs", [{"static_configs": [{"targets": ["x:9090"]}]}], "a job without job_name", None),
    ("monitoring_verify_timeout", 1, "a timeout below 5 seconds", None),
    ("monitoring_alert_window", 10, "a window shorter than a minute", None),
    ("monitoring_flapping_starts", 1, "one start", None),
    ("monitoring_metrics_port", 70000, "a port above 65535", None),
    ("monitoring_orchestrator_targets", ["orchestrator.voicehive.svc"], "a target without its port", None),
    # network
    (
        "network_services",
        [{"name": "Redis_Cache", "selector": {"app": "redis"}, "ports": []}],
        "a malformed name",
        None,
    ),
    ("network_services", [{"name": "redis", "selector": {}, "ports": []}], "an empty selector", None),
    ("network_services", [{"name": "redis"}], "a Service without selector and ports", None),
    ("network_endpoints", [{"name": "redis", "url": "redis.voicehive.com:6379"}], "a URL that is not tcp://", None),
    ("network_connect_warn_ms", 0, "a threshold of 0", None),
    ("network_dns_selector", "k8s-app kube-dns", "not a label selector", None),
    # disaster recovery
    ("disaster_recovery_max_backup_age", "yesterday", "not a duration", None),
    ("disaster_recovery_max_backup_age", "0s", "no age", None),
    ("disaster_recovery_dns_mode", "weighted", "not simple or failover", None),
    ("disaster_recovery_dns_ttl", 0, "a TTL of 0", None),
    ("disaster_recovery_dns_ttl", 172800, "a TTL above a day", None),
    ("disaster_recovery_restore", ["postgres", "mysql"], "an unknown store", None),
    ("disaster_recovery_force", "maybe", "not a boolean", None),
    ("disaster_recovery_validate_paths", [], "no path", None),
    ("disaster_recovery_validate_paths", ["health"], "a path without its leading /", None),
    ("disaster_recovery_primary_health_path", "health", "a path without its leading /", None),
    ("disaster_recovery_dr_health_path", "health/dr", "a path without its leading /", None),
    ("disaster_recovery_drill_record", "api.voicehive.com", "the production record", None),
    # values of a type the argument spec would refuse, or turn into something else, which the run plan reads
    # before the role's argument spec is validated: named, not a template error (nor the category's checks dropped)
    ("voicehive_approved_actions", "clear_sessions", "one name, not a list", None),
    ("voicehive_approved_actions", {"clear_sessions": True}, "a dict", None),
    ("voicehive_site_endpoints", {"name": "orchestrator_health"}, "a dict, not a list", None),
    ("voicehive_category_components", ["authentication"], "a list, not a dict", None),
    ("voicehive_redis_url", ["rediss://redis.voicehive.com"], "a list, not a URL", "all"),
    ("voicehive_postgres_port", "five thousand", "not a port", "postgres"),
    ("voicehive_postgres_port", 70000, "a port above 65535", "postgres"),
    ("authentication_api_key_ids", "vh_live_0123456789abcdef", "one key, not a list", None),
    ("authentication_api_key_ids", {"key": "vh_live_0123456789abcdef"}, "a dict", None),
    ("authentication_site_read", ["vault"], "a list, not site_info options", None),
    ("rate_limiting_trusted_networks", "203.0.113.0/28", "one network, not a list", None),
    ("rate_limiting_trusted_clients", {"ip": "203.0.113.10"}, "a dict", None),
    ("rate_limiting_limit_windows", [{"per_minute": 60}], "a window that is not a name", None),
    ("rate_limiting_limits", ["per_hour", 1000], "a list, not a dict", None),
    ("security_block_ips", "198.51.100.7", "one address, not a list", None),
    ("security_protected_networks", {"office": "203.0.113.0/28"}, "a dict", None),
    ("pms_connector_hotels", {"hotel_id": "hotel-001"}, "one hotel, not a list", None),
    ("pms_connector_hotels", [{"property_id": "MUC"}], "a hotel without hotel_id", None),
    ("pms_connector_hotels", [{"hotel_id": 1001}], "a hotel id that is not a string", None),
    ("pms_connector_credentials_path", 5, "a number", None),
    ("monitoring_site_label", ["site"], "a list, not a label", None),
    ("monitoring_site_label", "site-name", "not a Prometheus label name", None),
    ("network_services", [{"selector": {"app": "redis"}}], "a Service without a name", None),
    ("memory_deployments", "orchestrator", "one name, not a list", None),
)


SEMANTIC_IDS = [f"{name}-{what}" for name, _value, what, _run in SEMANTIC]


@pytest.mark.parametrize(("variable", "value", "what", "run"), SEMANTIC, ids=SEMANTIC_IDS)
def test_the_run_plan_refuses_naming_the_variable(variable, value, what, run):
    problems = plan({variable: value}, run=run or _owner(variable))["problems"]
    assert problems, f"the run plan accepts {variable}={value!r} ({what})"
    assert any(variable in problem for problem in problems), f"no problem names {variable}: {problems}"


def _number_options() -> dict[str | None, list[str]]:
    """The int and float options of every argument spec, by the category whose run checks them (None: the
    framework)."""
    owners: dict[str | None, list[str]] = {}
    for name, (_role, spec) in OPTIONS.items():
        if spec.get("type") in ("int", "float"):
            owners.setdefault(_owner(name), []).append(name)
    return owners


NUMBERS = _number_options()
NUMBER_CASES = [(name, kind) for names in NUMBERS.values() for name in names for kind in ("negative", "absurd")]


@functools.cache
def _numbers_plan(owner: str | None, kind: str) -> tuple[str, ...]:
    """The problems of one run plan with every number option of ``owner`` negative (or absurd) at once: 26 renders
    instead of one per option and kind. Each option must still be refused by a problem of its own, one that starts
    with its name, so another option's problem cannot stand in for it."""
    value = NEGATIVE if kind == "negative" else ABSURD
    return tuple(plan(dict.fromkeys(NUMBERS[owner], value), run=owner)["problems"])


@pytest.mark.parametrize(("variable", "kind"), NUMBER_CASES, ids=[f"{name}-{kind}" for name, kind in NUMBER_CASES])
def test_a_negative_or_absurd_number_is_refused_naming_the_variable(variable, kind):
    own = re.compile(rf"^{re.escape(variable)}(?![A-Za-z0-9_])")
    problems = _numbers_plan(_owner(variable), kind)
    if not any(own.match(problem) for problem in problems):
        # bounded by another number option (raised <= limit, min <= max) that is as bad in the shared plan: alone
        problems = plan({variable: NEGATIVE if kind == "negative" else ABSURD}, run=_owner(variable))["problems"]
    assert any(own.match(problem) for problem in problems), f"no problem of {variable} ({kind}): {problems}"


@pytest.mark.parametrize("run", ["all", None, *CATEGORIES])
def test_the_valid_site_has_no_problem(run):
    assert plan(run=run)["problems"] == []


def test_the_compile_cache_changes_no_plan(compiled_once, monkeypatch):
    if compiled_once is None:
        pytest.skip("no compile cache with this ansible-core")
    bad = {"security_block_ips": ["10.0.0.5/24"], "voicehive_redis_url": "redis.voicehive.com:6379"}
    cached = plan(run="security"), plan(bad, run="security")
    assert compiled_once, "the compile cache is not in use"
    assert len(cached[1]["problems"]) == 2, cached[1]
    monkeypatch.setattr("jinja2.Environment.compile", _jinja_compile)
    assert (plan(run="security"), plan(bad, run="security")) == cached


def test_the_template_lookup_renders_the_same_plan():
    """start.yml's lookup (which copies every variable first) and the cases' rendering agree."""
    assert plan_by_lookup(run="all") == plan(run="all")
    bad = {"security_block_ips": ["10.0.0.5/24"], "voicehive_redis_url": "redis.voicehive.com:6379"}
    assert plan_by_lookup(bad, run="security") == plan(bad, run="security")


def test_a_secret_in_a_malformed_url_is_never_shown():
    problems = plan({"voicehive_redis_url": "redis.voicehive.com:6379?password=hunter2-secret"}, run="redis")[
        "problems"
    ]
    assert problems and not any("hunter2" in p for p in problems), problems
    problems = plan({"voicehive_notify_slack_webhook_url": "hooks.slack.com/T0/B0/xoxb-secret"})["problems"]
    assert problems and not any("xoxb" in p for p in problems), problems


def test_the_secret_values_survive_lists_given_as_one_value():
    """secret_values.j2 runs in a no_log task before the run plan's problems stop the run: a list variable given as
    one value is still masked, and never fails there (no_log would hide why)."""
    variables = site_vars(
        {"authentication_api_key_ids": "vh_live_0123456789abcdef", "voicehive_extra_secret_values": "hunter2"}
    )
    template = trust_as_template((ROOT / "roles" / "voicehive" / "templates" / "secret_values.j2").read_text())
    values = json.loads(Templar(loader=LOADER, variables=variables).template(template, escape_backslashes=False))
    assert {"vh_live_0123456789abcdef", "hunter2", "redis-password", "kube-token"} <= set(values)


def test_a_wrong_type_the_run_plan_lets_through_fails_the_argument_spec():
    """tests/integration/test_framework.py makes a category fail after the lock was taken with a value the run plan
    lets through and the role's argument spec refuses: this one."""
    value = {"circuit_breakers_fallback_mode": "not-a-boolean"}
    assert plan(value, run="circuit_breakers")["problems"] == []
    group = next(g for g, (role, _entries, _options) in enumerate(SPEC_GROUPS) if role == "circuit_breakers")
    assert "circuit_breakers_fallback_mode" in argspec_refusal(group, *next(iter(value.items())))


def test_every_bounded_variable_is_a_number_option_of_its_role():
    for owner in ["voicehive", *CATEGORIES]:
        for name in DEFAULTS.get(f"__{owner}_input_bounds", {}):
            role, spec = OPTIONS.get(name, (None, {}))
            assert role == owner and spec.get("type") in ("int", "float"), f"__{owner}_input_bounds: {name}"


def test_the_cases_are_counted():
    kinds: dict[str, int] = {}
    for _group, _option, what, _value in ARGSPEC_CASES:
        kind = "argument spec: " + what.split(" (")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    kinds["run plan: negative number"] = kinds["run plan: absurd number"] = len(NUMBER_CASES) // 2
    kinds["run plan: meaning"] = len(SEMANTIC)
    options = sum(len(options) for _role, _entries, options in SPEC_GROUPS)
    unchecked = sum(spec.get("type", "str") in UNCHECKED_TYPES for _r, _e, o in SPEC_GROUPS for spec in o.values())
    total = len(ARGSPEC_CASES) + len(NUMBER_CASES) + len(SEMANTIC)
    print(
        f"role bad-input cases: {total} over {options} options of {len(ROLES)} roles ({len(SPEC_GROUPS)} distinct"
        f" entry-point specs; {unchecked} str/path/raw options, which ansible-core converts from any type):"
        f" {dict(sorted(kinds.items()))}"
    )
    assert len(ROLES) >= 13 and options >= 325, (len(ROLES), options)
    assert len(ARGSPEC_CASES) >= 620 and len(NUMBER_CASES) >= 200 and len(SEMANTIC) >= 135, (
        len(ARGSPEC_CASES),
        len(NUMBER_CASES),
        len(SEMANTIC),
    )
