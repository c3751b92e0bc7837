#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: report
short_description: Write the run report of a site (JSON and Markdown) and work out the outcome
version_added: 0.1.0
description:
  - Writes C(<report_dir>/<site>-<UTC timestamp YYYYmmddTHHMMSSZ>.json) and C(.md) on the controller with the
    run's metadata, findings with their evidence, actions with before/after diffs, what needs approval, errors
    and durations per category. If a report of that name exists, C(-2), C(-3)... is appended.
  - Files are written atomically (temporary file, then rename) with mode C(0640); missing directories are
    created with mode C(0750).
  - Everything is redacted before it is written or returned, see O(secret_values).
  - "Outcome, first match wins:
    V(failed) - an entry in O(errors), an action with status V(failed), or, when remediating outside check mode,
    a critical finding that is not resolved;
    V(healthy) / V(findings_open) - diagnose or health_check phase without / with findings;
    V(healthy) - remediate phase without findings (V(action_required) if an action was skipped);
    V(action_required) - an action skipped because it needs approval, its budget is exhausted or its guard
    failed, or, outside check mode, a warning finding that is not resolved;
    V(findings_open) - check mode with findings not resolved (nothing was changed);
    V(resolved) - every critical and warning finding is resolved (info findings may stay open)."
  - Runs on the controller (an action plugin). Writing the report is not a change to the site, so it always
    reports RV(ignore:changed=false), and it writes the report in check mode too.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - voicehive.remediation.findings
options:
  site:
    description:
      - Name of the site (the inventory host), used in the file name. Letters, digits, V(.), V(_), V(-).
    type: str
    required: true
  report_dir:
    description:
      - Directory of the reports. A relative path is relative to the working directory of the run.
    type: path
    default: reports
  run_id:
    description:
      - Identifier of the run.
    type: str
    default: ""
  launched_by:
    description:
      - "Who or what launched the run, for example C({via: awx, awx_job_id: 4711, awx_user: alice}) or
        C({via: cli, user: bob})."
    type: dict
    default: {}
  phase:
    description:
      - V(diagnose) for a read-only run, V(remediate) for a run that may act, V(health_check) for the scheduled
        read-only sweep (C(playbooks/health_check.yml)).
      - With V(health_check) the report also holds O(synthetic) and C(since_previous), what changed since the
        newest earlier health-check report of the same site in O(report_dir) (outcome, new and cleared findings,
        severity changes, synthetic checks failing or recovered, checks more than twice as slow).
    type: str
    choices: [diagnose, remediate, health_check]
    required: true
  check_mode:
    description:
      - Whether the run is a check-mode run. Defaults to the check mode of the task.
    type: bool
  started_at:
    description:
      - When the run started, ISO 8601. Used for the duration.
    type: str
    default: ""
  category_durations:
    description:
      - Seconds each category took, category name to seconds.
    type: dict
    default: {}
  site_read:
    description:
      - What the run read from the site, component name to C({available, elapsed_ms, error}), that is the
        C(components) of M(voicehive.remediation.site_info).
    type: dict
    default: {}
  findings:
    description:
      - The findings of the run, the C(voicehive_findings) fact (see M(voicehive.remediation.finding)).
    type: list
    elements: dict
    default: []
  actions:
    description:
      - The actions of the run, the C(voicehive_actions) fact (see M(voicehive.remediation.record_action)).
    type: list
    elements: dict
    default: []
  errors:
    description:
      - "Parts of the run that could not complete, for example C({category: redis, task: ..., error: ...}).
        Any entry makes the outcome V(failed)."
    type: list
    elements: raw
    default: []
  synthetic:
    description:
      - The health check's synthetic checks, each C({name, target, ok, status, elapsed_ms, detail}) (other keys
        are dropped). Kept in the report only with O(phase=health_check).
    type: list
    elements: dict
    default: []
  recovery:
    description:
      - "What a disaster-recovery run (C(playbooks/dr_failover.yml), C(dr_failback.yml), C(dr_drill.yml)) measured,
        kept in the report as C(recovery) when given, for example C({operation: failover, rto_seconds: 41.2,
        rpo_seconds: 930, backup: ..., validated_at: ...}): RTO from the start of the run to the validated site,
        RPO the age of the restored backup."
    type: dict
    default: {}
attributes:
  check_mode:
    details: Writes the report in check mode too; it records that the run was a check-mode run.
seealso:
  - module: voicehive.remediation.finding
  - module: voicehive.remediation.record_action
"""

EXAMPLES = r"""
- name: Write the run report
  voicehive.remediation.report:
    site: "{{ voicehive_site }}"
    report_dir: "{{ voicehive_report_dir }}"
    run_id: "{{ __voicehive_run_id }}"
    launched_by: "{{ __voicehive_launched_by }}"
    phase: remediate
    check_mode: "{{ ansible_check_mode }}"
    started_at: "{{ __voicehive_started_at }}"
    category_durations: "{{ lookup('ansible.builtin.template', 'durations.j2') | from_yaml }}"
    findings: "{{ voicehive_findings }}"
    actions: "{{ voicehive_actions }}"
    errors: "{{ voicehive_errors }}"
    secret_values: "{{ __voicehive_secret_values }}"
  register: __voicehive_report

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ __voicehive_report.console }}"
"""

RETURN = r"""
outcome:
  description: The outcome of the run (see the description).
  returned: success
  type: str
  sample: resolved
paths:
  description: Absolute paths of the files written.
  returned: success
  type: dict
  contains:
    json:
      description: The JSON report.
      type: str
      sample: /runner/project/reports/prod-eu-west-1-20261128T160000Z.json
    md:
      description: The Markdown report.
      type: str
      sample: /runner/project/reports/prod-eu-west-1-20261128T160000Z.md
summary:
  description: Counts and lists for notifications, C(set_stats) and the run's final assertion.
  returned: success
  type: dict
  contains:
    findings:
      description: Number of findings.
      type: int
      sample: 2
    findings_by_severity:
      description: Findings per severity (V(critical), V(warning), V(info)).
      type: dict
      sample: {critical: 1, warning: 1, info: 0}
    findings_by_status:
      description: Findings per status (V(open), V(resolved), V(unresolved)).
      type: dict
      sample: {open: 0, resolved: 1, unresolved: 1}
    actions:
      description: Number of action records.
      type: int
      sample: 2
    actions_by_status:
      description: Action records per status.
      type: dict
      sample: {done: 1, skipped_needs_approval: 1}
    changed:
      description: Action records with status V(done) that changed something.
      type: int
      sample: 1
    would_change:
      description: Action records with status V(would_change) (check mode).
      type: int
      sample: 0
    unresolved_critical:
      description: Ids of critical findings that are not resolved.
      type: list
      elements: str
      sample: []
    unresolved_warning:
      description: Ids of warning findings that are not resolved.
      type: list
      elements: str
      sample: [circuit_breakers.dependency_down]
    needs_approval:
      description: Names of the actions skipped because they need approval.
      type: list
      elements: str
      sample: [enable_fallback_mode]
    budget_exhausted:
      description: Names of the actions skipped because their budget is exhausted.
      type: list
      elements: str
      sample: []
    guard_failed:
      description: Names of the actions skipped because their guard failed.
      type: list
      elements: str
      sample: []
    failed_actions:
      description: V(<action> on <target>) of the actions that failed.
      type: list
      elements: str
      sample: []
    errors:
      description: Number of O(errors).
      type: int
      sample: 0
console:
  description: A compact fixed-width table of findings and actions, one line per item, for a debug task.
  returned: success
  type: list
  elements: str
  sample:
    - "prod-eu-west-1: RESOLVED (remediate)"
    - "SEVERITY  STATUS      FINDING                              SUMMARY"
    - "critical  resolved    circuit_breakers.stuck_open          Circuit breaker pms_connector is open..."
"""
