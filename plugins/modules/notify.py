#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: notify
short_description: Post a run message to Slack, PagerDuty and a generic webhook, all at once
version_added: 0.1.0
description:
  - Posts the run's message to every configured channel at the same time - a Slack incoming webhook, PagerDuty's
    Events API v2 (on escalations only) and a generic webhook receiving the run's summary as JSON.
  - A channel that does not answer, or answers with an error, is a warning naming the variable to check; it never
    fails the task. The bundled Slack and PagerDuty modules hard-code their vendors' hosts, so plain HTTP posts are
    used (the URLs are per-site settings).
  - Runs on the controller (an action plugin). Telling people is not a change to a site, so it reports
    RV(ignore:changed=false); the playbooks do not notify in check mode.
  - Every text is redacted with O(secret_values) before it is sent.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - voicehive.remediation.findings
attributes:
  check_mode:
    details: Posts in check mode too; the playbooks skip notifications in check mode.
options:
  event:
    description: What happened - the run V(start)ed, V(finish)ed, or needs a person (V(escalation)).
    type: str
    required: true
    choices: [start, finish, escalation]
  site:
    description: The site.
    type: str
    required: true
  phase:
    description: V(diagnose), V(remediate) or V(health_check).
    type: str
    required: true
    choices: [diagnose, remediate, health_check]
  run_id:
    description: The run id.
    type: str
    default: ""
  text:
    description: The one-line message.
    type: str
    required: true
  outcome:
    description: The run's outcome (V(started) at the start).
    type: str
    default: started
  summary:
    description: The report's summary, sent to the generic webhook.
    type: dict
    default: {}
  escalation_contacts:
    description: Sent to the generic webhook on escalations.
    type: list
    elements: dict
    default: []
  slack_webhook_url:
    description: Slack incoming webhook URL (a secret); empty means no Slack message.
    type: str
    default: ""
  pagerduty_url:
    description: PagerDuty Events API v2 endpoint.
    type: str
    default: https://events.pagerduty.com/v2/enqueue
  pagerduty_routing_key:
    description: PagerDuty integration routing key (a secret); empty means no page. Only escalations page.
    type: str
    default: ""
  webhook_url:
    description: Generic webhook receiving the event as JSON (a secret); empty means none.
    type: str
    default: ""
  timeout:
    description: Seconds per post.
    type: float
    default: 10.0
  validate_certs:
    description: Verify the receivers' certificates.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Send the end-of-run notifications
  voicehive.remediation.notify:
    event: finish
    site: "{{ voicehive_site }}"
    phase: remediate
    run_id: "{{ __voicehive_run_id }}"
    text: "[voicehive.remediation] prod-eu-west-1 remediate finish: resolved"
    outcome: resolved
    slack_webhook_url: "{{ voicehive_notify_slack_webhook_url }}"
    webhook_url: "{{ voicehive_notify_webhook_url }}"
    secret_values: "{{ __voicehive_secret_values }}"
"""

RETURN = r"""
delivered:
  description: Per channel posted to, the HTTP status of the answer (V(null) when nothing answered).
  returned: always
  type: dict
  sample: {slack: 200, webhook: 202}
"""
