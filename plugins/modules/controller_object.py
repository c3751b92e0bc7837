#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: controller_object
short_description: Ensure one AWX / Automation Controller object is present or absent, by name
version_added: 0.1.0
description:
  - Makes one object of the AWX (Automation Controller) API v2 look like O(fields) - an organization, a credential
    type, a credential, an execution environment, a project, an inventory, a job template (with its survey and
    credentials), a workflow job template (with its nodes, approval nodes and their links) or a schedule.
  - The object is looked up by O(name) (within O(organization), and for a schedule within its
    O(unified_job_template)); it is created when missing, and otherwise only the fields that differ are changed
    (C(PATCH)). Nothing differing reports RV(ignore:changed=false). Check mode and diff mode are supported.
  - Related objects in O(fields) (C(organization), C(project), C(inventory), C(credential_type),
    C(execution_environment), C(default_environment), C(credential), C(unified_job_template)) are given by name and
    resolved to ids, as C(awx.awx) does.
  - Secret credential inputs are never returned; the controller answers them as C($encrypted$), so they are only
    sent again with O(update_secrets=true).
  - This is the subset of C(awx.awx) that C(playbooks/awx_configure.yml) needs; C(awx.awx) is not part of the
    C(ansible) package this collection is tested with.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.controller
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details:
      - The action plugin runs the module's code in the Ansible worker process on the controller node (it only talks
        to the AWX API), without starting a module per object.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  kind:
    description: The API resource of the object.
    type: str
    required: true
    choices:
      - organizations
      - credential_types
      - credentials
      - execution_environments
      - projects
      - inventories
      - job_templates
      - workflow_job_templates
      - schedules
  name:
    description: The object's name (unique within its organization, for a schedule within its template).
    type: str
    required: true
  state:
    description: Whether the object should exist.
    type: str
    default: present
    choices: [present, absent]
  organization:
    description:
      - Name of the organization the object belongs to; the look-up by O(name) is made within it, and it is set as
        the object's C(organization) where the resource has one.
    type: str
  unified_job_template:
    description:
      - For O(kind=schedules), the name of the job template or workflow job template the schedule launches
        (required then).
    type: str
  fields:
    description:
      - The object's fields as the API names them, related objects by name. C(extra_vars) may be a dictionary.
      - Fields not given are left as they are.
    type: dict
    default: {}
  survey_spec:
    description:
      - For job templates and workflow job templates, the survey (C(name), C(description), C(spec)); replaced when it
        differs. An empty dictionary removes the survey. Not given, the survey is left as it is.
    type: dict
  credentials:
    description:
      - For job templates, the names of exactly the credentials to associate (others are disassociated). Not given,
        the associations are left as they are.
    type: list
    elements: str
  workflow_nodes:
    description:
      - For workflow job templates, exactly the nodes of the workflow (others are deleted), each with a unique
        C(identifier), either a C(unified_job_template) (a template's name) or an C(approval_node) (C(name),
        C(description), C(timeout)), optional C(job_type), C(diff_mode), C(limit), C(job_tags), C(extra_data),
        C(all_parents_must_converge), and the C(success_nodes), C(failure_nodes), C(always_nodes) it leads to (their
        identifiers). Not given, the nodes are left as they are.
    type: list
    elements: dict
  update_secrets:
    description:
      - Send secret credential inputs even when the controller already holds a value (it never shows it, so they
        cannot be compared). With V(true) a credential with secret inputs is always reported changed.
    type: bool
    default: false
notes:
  - A workflow's node links are set after every node exists; a new workflow in check mode reports only that it would
    be created.
seealso:
  - name: AWX API reference
    description: The API v2 this module talks to.
    link: https://ansible.readthedocs.io/projects/awx/en/latest/rest_api/
"""

EXAMPLES = r"""
- name: Ensure the remediation job template with its survey and credentials
  voicehive.remediation.controller_object:
    controller_host: https://awx.example.com
    controller_oauthtoken: "{{ awx_token }}"
    kind: job_templates
    name: VoiceHive - remediate
    fields:
      project: voicehive-remediation
      inventory: voicehive-sites
      playbook: playbooks/remediate.yml
      ask_limit_on_launch: true
      survey_enabled: true
    credentials: [voicehive-kubernetes]
    survey_spec:
      name: Remediation
      description: What to remediate
      spec:
        - {question_name: Site(s), variable: voicehive_target, type: text, required: true, default: voicehive}
  register: __awx_template

- name: Ensure a workflow with an approval node
  voicehive.remediation.controller_object:
    controller_host: https://awx.example.com
    controller_oauthtoken: "{{ awx_token }}"
    kind: workflow_job_templates
    name: VoiceHive - remediate with approval
    organization: VoiceHive
    workflow_nodes:
      - {identifier: dry-run, unified_job_template: VoiceHive - remediate, job_type: check, success_nodes: [approve]}
      - {identifier: approve, approval_node: {name: Approve, timeout: 1800}, success_nodes: [remediate]}
      - {identifier: remediate, unified_job_template: VoiceHive - remediate}

- name: Remove a schedule
  voicehive.remediation.controller_object:
    controller_host: https://awx.example.com
    controller_oauthtoken: "{{ awx_token }}"
    kind: schedules
    name: VoiceHive - health check every 15 minutes
    unified_job_template: VoiceHive - health check
    state: absent
"""

RETURN = r"""
id:
  description: The object's id (V(null) when it does not exist, or would be created in check mode).
  returned: always
  type: int
  sample: 42
actions:
  description: What was (or in check mode would be) done, one sentence each; empty when nothing differed.
  returned: always
  type: list
  elements: str
  sample: ["updated job_tags, ask_limit_on_launch", "associated credential voicehive-vault"]
object:
  description: The object as the controller answers it after the run (secret credential inputs masked).
  returned: when O(state=present) and the object exists
  type: dict
  sample: {id: 42, name: VoiceHive - remediate, playbook: playbooks/remediate.yml}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.voicehive.remediation.plugins.module_utils._controller import (
    CONTROLLER_OBJECT_RULES,
    apply_object,
    controller_from,
    controller_object_argument_spec,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=controller_object_argument_spec(), supports_check_mode=True, **CONTROLLER_OBJECT_RULES
    )
    result = apply_object(module.params, controller_from(module.params), module.check_mode, module._diff, module.warn)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
