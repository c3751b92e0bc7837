#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: remediation_budget
short_description: Check or consume the per-site budget of repeated remediations
version_added: 0.1.0
description:
  - Limits how often the same remediation (O(action)) runs on the same O(target) of a site, so a
    remediation that does not stick escalates to a person instead of looping (restarting the same
    deployment every five minutes, say).
  - "The uses are stored in the cluster, in the ConfigMap O(configmap) of O(namespace): one data key
    per action and target holding a JSON list of the epoch seconds of its uses, for example key
    C(rollout_restart.2Fdeployment.2Forchestrator) with value C([1795968000,1795968900]). Every write
    drops the uses older than O(window)."
  - "Data key encoding: V(<action>/<target>) with every character outside C([A-Za-z0-9_-]) written as
    C(.XX), its UTF-8 bytes in upper-case hex (so V(/) becomes C(.2F) and V(.) becomes C(.2E)).
    The encoding is reversible and always a valid ConfigMap key; RV(key) returns it."
  - O(state=check) only reads. O(state=consume) records one use when the budget allows it; when the
    budget is exhausted it records nothing and returns RV(exhausted=true) without failing, so the
    caller can escalate.
  - Writes create the ConfigMap when missing, or replace it with the C(resourceVersion) that was read,
    retrying on conflicts, so concurrent runs never lose or double-count a use.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - voicehive.remediation.kubernetes.in_process
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
options:
  namespace:
    description:
      - Namespace of the ConfigMap, the site's VoiceHive namespace.
    type: str
    required: true
  configmap:
    description:
      - Name of the ConfigMap that holds the budgets.
    type: str
    default: voicehive-remediation-budget
  action:
    description:
      - Name of the remediation, for example V(rollout_restart) or V(reset_breaker).
    type: str
    required: true
  target:
    description:
      - What the remediation acts on, for example V(deployment/orchestrator) or V(breaker/pms_connector).
    type: str
    required: true
  budget:
    description:
      - How many uses of O(action) on O(target) are allowed within O(window). At least V(1).
    type: int
    default: 3
  window:
    description:
      - Length of the sliding window in seconds. At least V(1).
    type: int
    default: 3600
  state:
    description:
      - V(check) reports the budget without recording anything.
      - V(consume) records one use if the budget allows it.
    type: str
    choices: [check, consume]
    default: check
attributes:
  check_mode:
    details:
      - Nothing is written; the result is what O(state=consume) would return.
notes:
  - "RBAC: C(get), C(create), C(update) on C(configmaps) in O(namespace)."
  - The clock is the controller's; keep controllers in NTP sync.
seealso:
  - module: voicehive.remediation.lease_lock
"""

EXAMPLES = r"""
- name: Take one restart of the orchestrator out of the budget
  voicehive.remediation.remediation_budget:
    namespace: voicehive
    action: rollout_restart
    target: deployment/orchestrator
    budget: "{{ voicehive_remediation_budget }}"
    window: "{{ voicehive_remediation_budget_window }}"
    state: consume
  register: __memory_budget

- name: Escalate instead of restarting again
  ansible.builtin.debug:
    msg: >-
      Restarted {{ __memory_budget.used }} times within {{ __memory_budget.window }} s;
      next use possible in {{ __memory_budget.retry_after }} s.
  when: __memory_budget.exhausted

- name: Only look at the budget
  voicehive.remediation.remediation_budget:
    namespace: voicehive
    action: reset_breaker
    target: breaker/pms_connector
  register: __breaker_budget
"""

RETURN = r"""
allowed:
  description:
    - Whether the remediation may run. For O(state=consume), whether a use was recorded (would be, in check mode).
    - For O(state=check), whether at least one use is left.
  returned: always
  type: bool
  sample: true
exhausted:
  description: Whether the budget is used up (for O(state=consume), the use was refused and nothing recorded).
  returned: always
  type: bool
  sample: false
used:
  description: Uses within the window, including the one just recorded.
  returned: always
  type: int
  sample: 1
remaining:
  description: Uses still allowed within the window.
  returned: always
  type: int
  sample: 2
budget:
  description: The O(budget) applied.
  returned: always
  type: int
  sample: 3
window:
  description: The O(window) applied, in seconds.
  returned: always
  type: int
  sample: 3600
oldest:
  description: Epoch seconds of the oldest use within the window, V(null) when there is none.
  returned: always
  type: int
  sample: 1795968000
retry_after:
  description: When exhausted, seconds until the oldest use leaves the window; else V(0).
  returned: always
  type: int
  sample: 0
uses:
  description: Epoch seconds of the uses within the window, oldest first.
  returned: always
  type: list
  elements: int
  sample: [1795968000]
key:
  description: The ConfigMap data key of O(action) and O(target).
  returned: always
  type: str
  sample: rollout_restart.2Fdeployment.2Forchestrator
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import operation_main
from ansible_collections.voicehive.remediation.plugins.module_utils._remediation_budget import OPERATION


def main() -> None:
    operation_main(OPERATION)


if __name__ == "__main__":
    main()
