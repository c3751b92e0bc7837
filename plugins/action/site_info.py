# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.site_info: read the site in the worker process when the play
runs on the controller (``connection: local``, as the collection's playbooks do).

A module run costs about half a second here before it does anything (payload, interpreter start-up,
``ansible.module_utils.basic``), more than all the reads of a site together, and every run starts with
this read. With a local connection the module would run on this same machine anyway, so the same code
(``module_utils/_site_info.py``) runs in-process. With any other connection (a play that delegates to a
bastion, say) the module runs there as usual (``plugin_utils/_in_process.py``).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.module_utils._site_info import (
    SiteInfoError,
    argument_spec,
    down_warnings,
    invalid_options,
    read_site,
)
from ansible_collections.voicehive.remediation.plugins.plugin_utils._in_process import InProcessAction


class ActionModule(InProcessAction):
    MODULE = "voicehive.remediation.site_info"

    def run_here(self, result):
        params, no_log_values = self.validated(argument_spec())
        errors = invalid_options(params)
        if errors:
            raise AnsibleActionFail("Invalid options for site_info: " + "; ".join(errors) + ".")
        try:
            data = read_site(params)
        except SiteInfoError as exc:
            return self.finish(result, dict(failed=True, msg=str(exc), **exc.fields), no_log_values)
        return self.finish(result, dict(data, changed=False), no_log_values, down_warnings(data))
