# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to every custom module and action plugin is refused, with a message naming the option, before
anything is touched.

For every option of every module's documentation (validate-modules keeps it equal to the argument spec): a
value of the wrong type (int, float, bool, list, dict options), a value outside its choices, and for every
module an option that does not exist. Modules run their own ``main()`` (argument validation is the first thing
AnsibleModule does, before any connection); action plugins validate their ``ARGUMENT_SPEC`` the way
``ActionBase.validate_argument_spec`` does. The required options get valid placeholder values so that the bad
one is the first error. ``test_the_cases_are_counted`` says how many cases there are and keeps the count from
shrinking unnoticed.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))
# a value of the right type for an option that must be given
PLACEHOLDER = {"str": "x", "path": "/nonexistent", "int": 1, "float": 1.0, "bool": False, "list": [], "dict": {}}
# what ansible-core answers first for a non-dict given to a dict option with no_log sub-options
NO_LOG_FIRST = "dictionary requested, could not parse JSON or key=value"
# a value no conversion accepts, per type
WRONG = {
    "int": "not-a-number",
    "float": "not-a-number",
    "bool": "maybe",
    "list": {"a": 1},
    "dict": ["not", "a", "dict"],
}


def _options(module: str) -> dict:
    mod = importlib.import_module(f"ansible_collections.voicehive.remediation.plugins.modules.{module}")
    return yaml.safe_load(mod.DOCUMENTATION).get("options") or {}


def _placeholder(spec: dict) -> object:
    return spec["choices"][0] if spec.get("choices") else PLACEHOLDER.get(spec.get("type", "str"), "x")


# the constraints a module checks before unknown names; each names the options that would satisfy it
NEEDS = (
    (re.compile(r"missing required arguments: ([\w, ]+) found in (\w+)"), "nested"),
    (re.compile(r"one of the following is required: ([\w, ]+)"), "first"),
    (re.compile(r"missing required arguments: ([\w, ]+)"), "all"),
    (re.compile(r"parameters are required together: ([\w, ]+)"), "all"),
    (re.compile(r"all of the following are missing: ([\w, ]+)"), "all"),
    (re.compile(r"any of the following are missing: ([\w, ]+)"), "first"),
)


def _base(module: str, options: dict, run_module) -> dict:
    """Valid placeholders for the required options, and for what the module's constraints (required_one_of,
    required_together, required_if) ask for, found by asking the module itself: with an unknown option added, its
    refusal names the unknown option once every constraint checked before it holds (nothing runs either way)."""
    base = {name: _placeholder(spec) for name, spec in options.items() if spec.get("required")}
    for _attempt in range(6):
        message = _refusal(module, {**base, "no_such_option": "x"}, run_module)
        found = next(((pattern.search(message), which) for pattern, which in NEEDS if pattern.search(message)), None)
        if found is None:
            return base
        match, which = found
        names = [n.strip() for n in match.group(1).split(",") if n.strip()]
        if which == "nested":  # a required sub-option of a dict option (placeholders are strings)
            parent = match.group(2)
            base[parent] = {**(base.get(parent) or {}), **dict.fromkeys(names, "x")}
            continue
        for name in names[:1] if which == "first" else names:
            # an option of a documentation fragment (e.g. controller_host) is not in the module's own options
            base[name] = _placeholder(options.get(name, {}))
    return base


def _cases() -> list[tuple[str, str, str, object]]:
    cases = []
    for module in MODULES:
        options = _options(module)
        cases.append((module, "no_such_option", "unknown name", "x"))
        for name, spec in options.items():
            kind = spec.get("type", "str")
            if kind in WRONG:
                cases.append((module, name, f"wrong type ({kind})", WRONG[kind]))
            if spec.get("choices") and kind in ("str", "int"):
                cases.append((module, name, "not one of the choices", "no-such-choice" if kind == "str" else -987654))
    return cases


CASES = _cases()


def _refusal(module: str, args: dict, run_module) -> str:
    """The message the module (or its action plugin) refuses these arguments with; '' when it accepts them."""
    action = ROOT / "plugins" / "action" / f"{module}.py"
    plugin = None
    if action.exists():
        plugin = importlib.import_module(f"ansible_collections.voicehive.remediation.plugins.action.{module}")
    spec = getattr(plugin, "ARGUMENT_SPEC", None)
    if spec is not None:
        result = ArgumentSpecValidator(spec).validate(args)
        return " ".join(result.error_messages)
    mod = importlib.import_module(f"ansible_collections.voicehive.remediation.plugins.modules.{module}")
    assert hasattr(mod, "main"), f"{module}: neither a main() nor an action plugin ARGUMENT_SPEC to validate with"
    result = run_module(mod.main, args)
    return result.get("msg", "") if result.get("failed") else ""


@pytest.mark.parametrize(("module", "option", "what", "value"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_bad_input_is_refused_naming_the_option(module, option, what, value, run_module):
    options = _options(module)
    args = {**_base(module, options, run_module), option: value}
    message = _refusal(module, args, run_module)
    assert message, f"{module} accepted {option}={value!r} ({what})"
    if what == "wrong type (dict)" and option not in message:
        # ansible-core: a dict option whose sub-options hold a no_log one, given a non-dict, fails first while
        # collecting the no_log values, with this message (the error naming the option comes second and
        # AnsibleModule reports the first). Counted as refused, not as named.
        assert message == NO_LOG_FIRST, f"{module}: the refusal of {option}={value!r} does not name it: {message}"
        return
    assert option in message, f"{module}: the refusal of {option}={value!r} ({what}) does not name it: {message}"


def test_the_cases_are_counted():
    by_kind: dict[str, int] = {}
    for _module, _option, what, _value in CASES:
        by_kind[what.split(" (")[0]] = by_kind.get(what.split(" (")[0], 0) + 1
    print(f"bad-input cases: {len(CASES)} over {len(MODULES)} modules: {by_kind}")
    assert len(MODULES) >= 20 and len(CASES) >= 100, (len(MODULES), len(CASES))
