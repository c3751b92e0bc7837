# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.pms_token, which gets (and may store) an Apaleo access token.

The module's code runs in the worker process with a local connection (plugins/plugin_utils/_in_process.py); it
needs the Kubernetes API server only with store=kubernetes_secret.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.module_utils._pms_token import (
    CONSTRAINTS,
    argument_spec,
    invalid_options_message,
    perform,
    validate_params,
)
from ansible_collections.voicehive.remediation.plugins.plugin_utils._in_process import InProcessAction


class ActionModule(InProcessAction):
    MODULE = "voicehive.remediation.pms_token"

    def run_here(self, result):
        params, no_log_values = self.validated(argument_spec(), **CONSTRAINTS)
        errors = validate_params(params)
        if errors:
            raise AnsibleActionFail(invalid_options_message(errors))
        module = self.stand_in(params, no_log_values)
        return self.finish(result, perform(module), module.no_log_values, module.warnings)
