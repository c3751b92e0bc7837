# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.controller_object: the same reconciliation, run in the controller's own
process (a configuration of ~50 objects would otherwise start ~50 module processes).

The documentation is in plugins/modules/controller_object.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.voicehive.remediation.plugins.module_utils._controller import (
    CONTROLLER_OBJECT_RULES,
    apply_object,
    controller_from,
    controller_object_argument_spec,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        try:
            _validation, args = self.validate_argument_spec(
                argument_spec=controller_object_argument_spec(), **CONTROLLER_OBJECT_RULES
            )
        except AnsibleActionFail as exc:
            raise AnsibleActionFail(f"Cannot apply the controller object: {exc.message}") from None
        warnings: list[str] = []
        outcome = apply_object(
            args, controller_from(args), bool(self._task.check_mode), bool(self._task.diff), warnings.append
        )
        result.update(outcome)
        if warnings:
            result["warnings"] = warnings
        return result
