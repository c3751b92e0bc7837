# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/: the runbook map covers every section of the guide and agrees with the roles (their finding ids, safe
and gated actions) and the molecule scenarios; the generated pages (runbook map, one page per role from its
argument specs) are current."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("gen_docs", ROOT / "hack" / "gen_docs.py")
gen_docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gen_docs)

MAP = gen_docs.load_map()["sections"]
FRAMEWORK_DEFAULTS = yaml.safe_load((ROOT / "roles" / "voicehive" / "defaults" / "main.yml").read_text())
GATED = set(FRAMEWORK_DEFAULTS["voicehive_gated_actions"])
CATEGORIES = sorted(r for r in gen_docs.roles() if r != "voicehive")
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def role_text(role: str) -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "roles" / role).rglob("*")) if p.suffix in (".yml", ".j2"))


def role_findings(role: str) -> set[str]:
    """Finding ids a role records: `id: <role>.<cause>` and the judgement's `'<role>.<cause>'` problems."""
    text = role_text(role)
    return set(re.findall(rf"id: ({role}\.[a-z_]+)", text)) | set(re.findall(rf"'({role}\.[a-z_]+)'", text))


def role_actions(role: str) -> set[str]:
    return set(re.findall(r"__voicehive_(?:gate|restart)_action: ([a-z_]+)", role_text(role)))


def guide_sections() -> tuple[set[str], dict[str, list[str]]]:
    """Every "## Section" and "## Section / Sub" of the guide, and each section's "### Issue:" subsections."""
    names, issues, current = set(), {}, None
    for line in (ROOT / "docs" / "troubleshooting-guide.md").read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            names.add(current)
            issues.setdefault(current, [])
        elif line.startswith("### ") and current:
            title = line[4:].strip()
            if title.startswith("Issue:"):
                title = title[len("Issue:") :].strip()
                issues[current].append(f"{current} / {title}")
            names.add(f"{current} / {title}")
    return names, issues


def test_every_guide_section_is_mapped_and_every_mapping_is_a_guide_section():
    names, issues = guide_sections()
    mapped = [s["guide"] for s in MAP]
    assert len(mapped) == len(set(mapped)), "a guide section is mapped twice"
    assert sorted(set(mapped) - names) == [], "mapped sections that are not in docs/troubleshooting-guide.md"
    for section, subsections in issues.items():
        if section == "Overview":
            continue
        if subsections:
            assert sorted(set(subsections) - set(mapped)) == [], f"issues of {section} not mapped"
        else:
            assert any(m == section or m.startswith(section + " / ") for m in mapped), f"{section} not mapped"
    for entry in MAP:
        assert entry.get("role") or entry.get("playbooks") or entry.get("covered_by"), entry["guide"]
        for playbook in entry.get("playbooks", []):
            assert (ROOT / playbook).is_file(), playbook


def test_the_guide_copy_is_the_seed_when_the_seed_is_here():
    seed = ROOT.parent / "shared" / "seed" / "troubleshooting-guide.md"
    if not seed.exists():  # CI's clone has no ../shared: the copy is what the test above reads
        return
    assert seed.read_text() == (ROOT / "docs" / "troubleshooting-guide.md").read_text()


@pytest.mark.parametrize("role", CATEGORIES)
def test_map_agrees_with_the_role(role):
    entries = [e for e in MAP if e.get("role") == role and (e.get("findings") or e.get("molecule"))]
    assert entries, f"role {role} is in no section of docs/runbook-map.yml"
    findings = [f for e in entries for f in e.get("findings", [])]
    safe = {a for e in entries for a in e.get("actions", [])}
    approvals = {a for e in entries for a in e.get("approvals", [])}
    assert len(findings) == len(set(findings)), f"{role}: a finding id is mapped twice"
    assert set(findings) == role_findings(role), f"{role}: finding ids of the map vs the role"
    actions = role_actions(role)
    assert safe | approvals == actions, f"{role}: actions of the map vs the role"
    assert approvals == actions & GATED, f"{role}: the gated actions (voicehive_gated_actions) are the approvals"
    assert not safe & GATED, f"{role}: gated actions listed as safe: {sorted(safe & GATED)}"


def test_every_molecule_scenario_is_mapped_once_to_its_role():
    mapped = [(m, e.get("role")) for e in MAP for m in e.get("molecule", [])]
    assert sorted(scenario for scenario, _role in mapped) == SCENARIOS
    for scenario, role in mapped:
        assert scenario.startswith(role), f"{scenario} is mapped to {role}"


def test_playbook_only_findings_exist():
    for entry in MAP:
        if entry.get("role"):
            continue
        for finding in entry.get("findings", []):
            assert any(finding in p.read_text() for p in (ROOT / "roles" / "voicehive").rglob("*.yml")), finding


def test_generated_pages_are_current():
    pages = gen_docs.pages().items()
    stale = [str(p.relative_to(ROOT)) for p, text in pages if not p.exists() or p.read_text() != text]
    assert stale == [], "run hack/gen-docs"
    assert sorted(p.stem for p in (ROOT / "docs" / "roles").glob("*.md")) == gen_docs.roles()


@pytest.mark.parametrize("role", gen_docs.roles())
def test_role_page_lists_every_variable_of_its_argument_specs(role):
    page = (ROOT / "docs" / "roles" / f"{role}.md").read_text()
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    for entry, body in specs.items():
        assert f"## Entry point `{entry}`" in page
        for name in body.get("options") or {}:
            assert f"| `{name}` |" in page, f"{role}: {name}"
