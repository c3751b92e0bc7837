#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: record_action
short_description: Record what a remediation did (or would do, or why it did not act)
version_added: 0.1.0
description:
  - Appends one record to the host fact C(voicehive_actions), the list the run report is written from,
    with the O(action) on its O(target), the O(finding) it answers, the state O(before) and O(after), whether it
    O(changed) anything, the approval and the outcome O(status).
  - Every attempt is its own record (records are never replaced), so a retried action shows twice.
  - In check mode (of the play, or O(check_mode=true)) an action recorded with O(changed=true) and status
    V(done) is stored with status V(would_change).
  - Every value is redacted before it is stored, see O(secret_values).
  - Runs on the controller (an action plugin); it changes nothing on the site, so it always reports
    RV(ignore:changed=false), and behaves the same in check mode.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - voicehive.remediation.findings
options:
  action:
    description:
      - Name of the remediation action in snake_case, for example V(reset_circuit_breaker). Gated actions use
        the names of C(voicehive_gated_actions).
    type: str
    required: true
  target:
    description:
      - What the action acts on, for example V(circuit_breaker/pms_connector) or V(deployment/orchestrator).
    type: str
    required: true
  finding:
    description:
      - Id of the finding the action answers (V(<category>.<name>)). Empty for an action forced without a finding.
    type: str
  before:
    description:
      - State before the action (any value). The report shows it against O(after) as a diff.
    type: raw
  after:
    description:
      - State after the action, or the state it would produce in check mode.
    type: raw
  changed:
    description:
      - Whether the action changed (in check mode, would change) the site.
    type: bool
    default: false
  approved:
    description:
      - The approval of a gated action, V(true) / V(false) or the approver's name (which also sets
        O(approved_by)). Leave unset for actions that need no approval.
    type: raw
  approved_by:
    description:
      - Who approved the action (the AWX user, or the CLI user that passed C(voicehive_approved_actions)).
    type: str
  check_mode:
    description:
      - Whether the run is a check-mode run. Defaults to the check mode of the task.
    type: bool
  status:
    description:
      - Outcome of the action. Defaults to V(done), or V(would_change) for a changing action in check mode.
      - V(skipped_needs_approval), V(skipped_budget_exhausted), V(skipped_guard_failed) make the run end
        C(action_required); V(failed) makes it end C(failed).
    type: str
    choices: [done, would_change, skipped_needs_approval, skipped_budget_exhausted, skipped_guard_failed, failed]
  reason:
    description:
      - Why the action ran, was skipped or failed, for a person reading the report. Whitespace is collapsed.
    type: str
    default: ""
attributes:
  check_mode:
    details: Records the same in check mode, with status V(would_change) for changing actions.
notes:
  - The fact is registered like M(ansible.builtin.set_fact) does (ansible-core 2.19 and later), so it
    replaces a C(voicehive_actions) set earlier with M(ansible.builtin.set_fact).
seealso:
  - module: voicehive.remediation.finding
  - module: voicehive.remediation.report
"""

EXAMPLES = r"""
- name: Record the reset of circuit breaker pms_connector
  voicehive.remediation.record_action:
    action: reset_circuit_breaker
    target: circuit_breaker/pms_connector
    finding: circuit_breakers.stuck_open
    before: {state: open, failure_count: 12}
    after: {state: closed, failure_count: 0}
    changed: true
    secret_values: "{{ __voicehive_secret_values }}"
  register: __circuit_breakers_recorded

- name: Record that a gated action waits for approval
  voicehive.remediation.record_action:
    action: enable_fallback_mode
    target: deployment/orchestrator
    finding: circuit_breakers.dependency_down
    approved: false
    status: skipped_needs_approval
    reason: enable_fallback_mode is gated; approve it to run it.
  register: __circuit_breakers_gated
"""

RETURN = r"""
record:
  description: The action record as stored (redacted).
  returned: success
  type: dict
  contains:
    action:
      description: The O(action).
      type: str
      sample: reset_circuit_breaker
    target:
      description: The O(target).
      type: str
      sample: circuit_breaker/pms_connector
    finding:
      description: The O(finding), V(null) when none.
      type: str
      sample: circuit_breakers.stuck_open
    category:
      description: The category of O(finding) (the part before the dot), V(null) when none.
      type: str
      sample: circuit_breakers
    status:
      description: The stored status (see O(status)).
      type: str
      sample: done
    changed:
      description: The O(changed).
      type: bool
      sample: true
    check_mode:
      description: Whether the run was a check-mode run.
      type: bool
      sample: false
    approved:
      description: V(true) / V(false) for gated actions, V(null) for actions that need no approval.
      type: bool
      sample: true
    approved_by:
      description: Who approved, V(null) when unknown.
      type: str
      sample: alice
    before:
      description: The O(before).
      type: raw
      sample: {state: open}
    after:
      description: The O(after).
      type: raw
      sample: {state: closed}
    reason:
      description: The O(reason).
      type: str
      sample: ""
    recorded_at:
      description: When the record was made, UTC ISO 8601.
      type: str
      sample: "2026-11-28T16:00:00Z"
ansible_facts:
  description: The updated list of action records of the host.
  returned: success
  type: dict
  contains:
    voicehive_actions:
      description: Every action recorded in this run, in order.
      type: list
      elements: dict
      sample: [{action: reset_circuit_breaker, target: circuit_breaker/pms_connector, status: done}]
"""
