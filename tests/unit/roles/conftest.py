# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the judgement tests (roles/<role>/templates/judgement.j2 rendered by Ansible's templar)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder


@pytest.fixture(scope="module")
def collection_filters():
    """The collection's filters (log_events, count_by, duration_seconds...) for the templar: its checkout on the
    collections path (tests/unit/conftest.py put it on sys.path). Use it with
    ``pytestmark = pytest.mark.usefixtures("collection_filters")``."""
    paths = [p for p in sys.path if (Path(p) / "ansible_collections" / "voicehive" / "remediation").exists()][:1]
    configured = AnsibleCollectionConfig.collection_finder
    if configured is not None and not set(paths) <= set(AnsibleCollectionConfig.collection_paths):
        # an earlier test configured the finder without the checkout: configure it again with it
        _AnsibleCollectionFinder._remove()  # pylint: disable=protected-access
    if AnsibleCollectionConfig.collection_finder is None:
        # the collection's packages imported before through sys.path (other unit tests) are imported again
        # through the collection finder, which is how the filter loader finds the collection's filters
        for name in [m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")]:
            del sys.modules[name]
        init_plugin_loader(paths)
