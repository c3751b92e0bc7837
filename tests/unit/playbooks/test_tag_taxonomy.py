# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tag taxonomy of DESIGN.md holds for every task the playbooks run.

Every task carries a phase (diagnose/remediate), a category (the role) and a
component tag, or is framework (`always`); no ad-hoc tag exists; the diagnose
playbook contains no remediation task at all.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PHASES = {"diagnose", "remediate"}
CATEGORIES = {
    "authentication",
    "rate_limiting",
    "circuit_breakers",
    "performance",
    "memory",
    "database",
    "pms_connector",
    "livekit",
    "monitoring",
    "security",
    "network",
    "disaster_recovery",
}
COMPONENTS = {
    "kubernetes",
    "redis",
    "postgres",
    "vault",
    "prometheus",
    "alertmanager",
    "apaleo",
    "livekit",
    "dns",
    "route53",
}
TAXONOMY = PHASES | CATEGORIES | COMPONENTS | {"always"}
TASK_LINE = re.compile(r"^\s{6}(?P<name>.+?)\tTAGS: \[(?P<tags>[^\]]*)\]$")


def _ansible(*args: str) -> str:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [
        str(ROOT / ".venv" / "bin" / "ansible-playbook"),
        "-i",
        "localhost,",
        "-e",
        "voicehive_target=localhost",
        *args,
    ]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _tasks(playbook: str) -> list[tuple[str, set[str]]]:
    tasks = []
    for line in _ansible(playbook, "--list-tasks").splitlines():
        m = TASK_LINE.match(line)
        if m:
            tags = {t.strip() for t in m.group("tags").split(",") if t.strip()}
            tasks.append((m.group("name"), tags))
    assert tasks, f"no tasks listed for {playbook}"
    return tasks


@pytest.mark.parametrize(
    "playbook", ["playbooks/diagnose.yml", "playbooks/remediate.yml", "playbooks/health_check.yml"]
)
def test_every_task_is_tagged_with_phase_category_and_component(playbook):
    bad = []
    for name, tags in _tasks(playbook):
        if "always" in tags:
            continue
        missing = [
            kind
            for kind, values in (("phase", PHASES), ("category", CATEGORIES), ("component", COMPONENTS))
            if not tags & values
        ]
        if missing:
            bad.append(f"{name}: missing {', '.join(missing)} tag (has {sorted(tags)})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("playbook", ["playbooks/diagnose.yml", "playbooks/remediate.yml"])
def test_list_tags_shows_only_the_taxonomy(playbook):
    out = _ansible(playbook, "--list-tags")
    found = set()
    for m in re.finditer(r"TASK TAGS: \[([^\]]*)\]", out):
        found |= {t.strip() for t in m.group(1).split(",") if t.strip()}
    assert found, out
    assert found <= TAXONOMY, f"ad-hoc tags: {sorted(found - TAXONOMY)}"


def test_diagnose_playbook_has_no_remediation_task():
    for name, tags in _tasks("playbooks/diagnose.yml"):
        if "always" in tags:
            continue
        assert "diagnose" in tags, f"{name} is not a diagnosis task (tags {sorted(tags)})"
    listed = _ansible("playbooks/diagnose.yml", "--list-tasks")
    # read-only by construction: no remediate.yml/verify.yml task file is imported
    for role_dir in (ROOT / "roles").iterdir():
        remediate = role_dir / "tasks" / "remediate.yml"
        if not remediate.exists():
            continue
        for m in re.finditer(r"^- name: (.+)$", remediate.read_text(), re.M):
            assert f": {m.group(1).strip()}\t" not in listed, f"{role_dir.name} remediation task in diagnose.yml"


def test_diagnose_tasks_also_run_under_remediate_tag():
    for name, tags in _tasks("playbooks/diagnose.yml"):
        if "always" in tags:
            continue
        assert "remediate" in tags, f"{name}: a diagnosis must also carry 'remediate' (remediation re-diagnoses first)"


def _walk_tasks(tasks):
    for task in tasks or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _walk_tasks(task.get(key))


def test_dynamic_includes_give_their_tasks_the_taxonomy():
    """--list-tasks cannot see into include_tasks/include_role: their `apply.tags` must carry the taxonomy."""
    bad = []
    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        for task in _walk_tasks(yaml.safe_load(path.read_text())):
            for action in ("ansible.builtin.include_tasks", "ansible.builtin.include_role"):
                if action not in task:
                    continue
                args = task[action] if isinstance(task[action], dict) else {}
                tags = set(args.get("apply", {}).get("tags", []))
                if "always" in tags:
                    continue
                missing = [
                    kind
                    for kind, values in (("phase", PHASES), ("category", CATEGORIES), ("component", COMPONENTS))
                    if not tags & values
                ]
                if missing or not tags <= TAXONOMY:
                    bad.append(f"{path.relative_to(ROOT)}: {task.get('name')}: apply.tags {sorted(tags)}")
    assert not bad, "\n".join(bad)


def test_component_tags_of_a_category_are_its_declared_components():
    """`--tags <component>` runs every task tagged with it, so the run plan (which reads the components of the
    categories whose voicehive_category_components name it) must count those tasks' categories as running:
    a category's tasks carry only component tags its entry declares."""
    declared = yaml.safe_load((ROOT / "roles/voicehive/defaults/main.yml").read_text())["voicehive_category_components"]
    bad = []
    for name, tags in _tasks("playbooks/remediate.yml"):
        role = name.split(" : ")[0].rsplit(".", 1)[-1] if " : " in name else None
        if "always" in tags or role not in declared:
            continue
        undeclared = (tags & COMPONENTS) - set(declared[role]) - {role}
        if undeclared:
            bad.append(f"{role}: {name.split(' : ', 1)[1]} is tagged {sorted(undeclared)}")
    assert not bad, "tags not in voicehive_category_components:\n" + "\n".join(sorted(set(bad)))


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_every_category_notes_when_it_ends(category):
    """The report's Durations table (roles/voicehive/templates/durations.j2) charges each category the time since
    the mark before it: a category that never notes its end would have its time charged to the next one."""
    mark = f"__{category}_finished_at:"
    tasks = ROOT / "roles" / category / "tasks"
    assert mark in (tasks / "diagnose.yml").read_text(), f"{category}: diagnose.yml does not set {mark}"
    assert mark in (tasks / "verify.yml").read_text(), f"{category}: verify.yml does not set {mark}"
