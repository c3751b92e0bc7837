# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.site_info: read the site in the worker process when the play
runs on the controller (``connection: local``, as the collection's playbooks do).

A module run costs about half a second here before it does anything (payload, interpreter start-up,
``ansible.module_utils.basic``), more than all the reads of a site together, and every run starts with
this read. With a local connection the module would run on this same machine anyway, so the same code
(``module_utils/_site_info.py``) runs in-process. With any other connection (a play that delegates to a
bastion, say) the module runs there as usual.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.voicehive.remediation.plugins.module_utils._site_info import (
    SiteInfoError,
    argument_spec,
    down_warnings,
    invalid_options,
    read_site,
)

MODULE = "voicehive.remediation.site_info"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def _runs_here(self) -> bool:
        """Whether the module would run on the controller itself."""
        return getattr(self._connection, "transport", None) in ("local", "ansible.builtin.local")

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        if not self._runs_here():
            result.update(self._execute_module(module_name=MODULE, module_args=self._task.args, task_vars=task_vars))
            return result

        validation, params = self.validate_argument_spec(argument_spec=argument_spec())
        no_log_values = validation._no_log_values
        errors = invalid_options(params)
        if errors:
            raise AnsibleActionFail("Invalid options for site_info: " + "; ".join(errors) + ".")
        try:
            data = read_site(params)
        except SiteInfoError as exc:
            failed = dict(failed=True, msg=str(exc), **exc.fields)
            return dict(result, **remove_values(failed, no_log_values))
        result.update(remove_values(data, no_log_values))
        result["changed"] = False
        warnings = remove_values(down_warnings(data), no_log_values)
        if warnings:
            result["warnings"] = result.get("warnings", []) + warnings
        return result
