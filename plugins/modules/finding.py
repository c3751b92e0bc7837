#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: finding
short_description: Record a diagnosis finding, or mark it resolved or unresolved
version_added: 0.1.0
description:
  - Records one finding of a diagnosis in the host fact C(voicehive_findings), the list the run report is
    written from. A finding with the same O(id) is replaced in place; a new one is appended.
  - "Two forms:"
  - "B(record) - any of O(category), O(severity), O(summary), O(evidence), O(remediation), O(component) given:
    a complete finding; O(severity), O(summary) and O(component) are required, O(category) defaults to the
    part of O(id) before the dot."
  - "B(status update) - only O(id), O(status) and optionally O(evidence_after): the verify step after a
    remediation marks the recorded finding V(resolved) or V(unresolved) and keeps the evidence seen after
    the remediation next to the original evidence. Updating an id that was not recorded in this run fails."
  - The arguments are validated strictly (unknown options, a malformed id, an unknown severity or component
    are refused with a message naming the problem).
  - Every value is redacted before it is stored, see O(secret_values).
  - Runs on the controller (an action plugin); it changes nothing on the site, so it always reports
    RV(ignore:changed=false) and behaves the same in check mode.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - voicehive.remediation.findings
options:
  id:
    description:
      - Stable identifier, V(<category>.<name>) in lower-case snake_case (C(^[a-z_]+\.[a-z_]+$)),
        for example V(circuit_breakers.stuck_open).
    type: str
    required: true
  category:
    description:
      - Guide category (role name) the finding belongs to. Defaults to the part of O(id) before the dot.
    type: str
  severity:
    description:
      - How bad it is. A V(critical) finding still unresolved after remediation fails the run.
      - Required when recording.
    type: str
    choices: [critical, warning, info]
  summary:
    description:
      - One or two sentences a person reads first; whitespace is collapsed. Required when recording.
    type: str
  evidence:
    description:
      - What the diagnosis saw (dictionary, list or any value), stored as is after redaction. Defaults to V({}).
    type: raw
  remediation:
    description:
      - Name of the recommended remediation action, or empty when there is none. Defaults to V("").
    type: str
  component:
    description:
      - Component(s) involved, a name or a list of names, from V(kubernetes), V(redis), V(postgres), V(vault),
        V(prometheus), V(alertmanager), V(apaleo), V(livekit), V(dns), V(route53). Required when recording.
    type: raw
  status:
    description:
      - V(open) when found; V(resolved) or V(unresolved) after the remediation's verify step.
    type: str
    choices: [open, resolved, unresolved]
    default: open
  evidence_after:
    description:
      - What the verify step saw after the remediation. Stored next to O(evidence).
    type: raw
attributes:
  check_mode:
    details: Records the same in check mode.
notes:
  - The fact is registered like M(ansible.builtin.set_fact) does (ansible-core 2.19 and later), so it
    replaces a C(voicehive_findings) set earlier with M(ansible.builtin.set_fact).
seealso:
  - module: voicehive.remediation.record_action
  - module: voicehive.remediation.report
"""

EXAMPLES = r"""
- name: Record breakers stuck open while their dependency is healthy
  voicehive.remediation.finding:
    id: circuit_breakers.stuck_open
    severity: critical
    summary: Circuit breaker pms_connector is open although Apaleo answers.
    evidence:
      breakers: {pms_connector: {state: open, failure_count: 12}}
    remediation: reset_circuit_breaker
    component: [redis, apaleo]
    secret_values: "{{ __voicehive_secret_values }}"
  register: __circuit_breakers_finding

- name: Mark the finding resolved after the reset
  voicehive.remediation.finding:
    id: circuit_breakers.stuck_open
    status: resolved
    evidence_after:
      breakers: {pms_connector: {state: closed}}
  register: __circuit_breakers_verified
"""

RETURN = r"""
finding:
  description: The finding as stored (redacted).
  returned: success
  type: dict
  contains:
    id:
      description: The O(id).
      type: str
      sample: circuit_breakers.stuck_open
    category:
      description: The O(category).
      type: str
      sample: circuit_breakers
    severity:
      description: The O(severity).
      type: str
      sample: critical
    status:
      description: The O(status).
      type: str
      sample: open
    summary:
      description: The O(summary).
      type: str
      sample: Circuit breaker pms_connector is open although Apaleo answers.
    component:
      description: The O(component) as a list.
      type: list
      elements: str
      sample: [redis, apaleo]
    remediation:
      description: The O(remediation).
      type: str
      sample: reset_circuit_breaker
    evidence:
      description: The O(evidence).
      type: raw
      sample: {breakers: {pms_connector: {state: open}}}
    evidence_after:
      description: The O(evidence_after), once given.
      type: raw
      returned: when given
      sample: {breakers: {pms_connector: {state: closed}}}
    recorded_at:
      description: When the finding was recorded, UTC ISO 8601.
      type: str
      sample: "2026-11-28T16:00:00Z"
    updated_at:
      description: When the status was last set to something other than V(open), UTC ISO 8601.
      type: str
      returned: after a status update
      sample: "2026-11-28T16:05:00Z"
ansible_facts:
  description: The updated list of findings of the host.
  returned: success
  type: dict
  contains:
    voicehive_findings:
      description: Every finding recorded in this run, in the order recorded.
      type: list
      elements: dict
      sample: [{id: circuit_breakers.stuck_open, severity: critical, status: open}]
"""
