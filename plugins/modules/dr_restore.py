#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_restore
short_description: Restore a disaster-recovery backup into PostgreSQL and Redis, and verify it against its manifest
version_added: 0.1.0
description:
  - Restores a backup written by M(voicehive.remediation.dr_backup) (its C(manifest.json)) into the database
    and/or the Redis given, then reads them again and verifies them against the manifest.
  - Every backup file is checked against its SHA-256 in the manifest before anything is written.
  - "PostgreSQL: compares each table with the backup first (rows and checksum of the sorted C(COPY) text, columns)
    and the sequences. Only when something differs, the backed-up tables are emptied (C(TRUNCATE)) and loaded
    (C(COPY ... FROM STDIN)) and the sequences set (C(setval)), all in one transaction: a failure leaves the
    database as it was. The tables must exist (the schema is the site's deployment)."
  - "Redis: compares each backed-up key (C(DUMP) payloads) and writes only those missing or different, with
    C(RESTORE ... REPLACE) and the TTL they have left (keys that would have expired since the backup are left
    out). Keys that are not in the backup are kept and counted (C(extra_keys) of RV(redis)); nothing is flushed."
  - A second run finds everything identical and changes nothing.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Compares only; RV(postgres) and RV(redis) say what would be restored.
  diff_mode:
    support: full
    details: Rows per table and the Redis keys that differ, before and after (counts, never values).
  platform:
    platforms: posix
options:
  manifest:
    description: Path of the backup's C(manifest.json).
    type: path
    required: true
  components:
    description: What to restore; by default what the manifest holds and the options give.
    type: list
    elements: str
    choices: [postgres, redis]
  postgres:
    description: The PostgreSQL database to restore into.
    type: dict
    suboptions:
      login_host: {description: Host., type: str, required: true}
      port: {description: Port., type: int, default: 5432}
      login_db: {description: Database., type: str, required: true}
      login_user:
        description: Role (needs C(TRUNCATE), C(INSERT) on the tables and C(UPDATE) on the sequences).
        type: str
        required: true
      login_password: {description: Password., type: str}
      ssl_mode:
        description: libpq sslmode.
        type: str
        default: prefer
        choices: [allow, disable, prefer, require, verify-ca, verify-full]
      ca_cert: {description: CA certificate for C(verify-ca)/C(verify-full)., type: path}
      schema: {description: Schema of the tables., type: str, default: public}
  redis:
    description: The Redis database to restore into.
    type: dict
    suboptions:
      url:
        description: Redis URL (C(redis://:password@host:port/db), C(rediss://) for TLS).
        type: str
        required: true
      validate_certs: {description: Verify the server certificate with TLS., type: bool, default: true}
      ca_certs: {description: CA bundle for TLS., type: path}
  timeout:
    description: Seconds to wait for a connection.
    type: float
    default: 10.0
requirements:
  - psycopg 3 (with O(postgres)); redis >= 5.0.0 (with O(redis))
seealso:
  - module: voicehive.remediation.dr_backup
"""

EXAMPLES = r"""
- name: Restore the newest backup into the DR site
  voicehive.remediation.dr_restore:
    manifest: /var/backups/voicehive/prod-eu-west-1-20261207T120000Z/manifest.json
    postgres:
      login_host: "{{ voicehive_postgres_host }}"
      port: "{{ voicehive_postgres_port }}"
      login_db: voicehive
      login_user: voicehive
      login_password: "{{ voicehive_postgres_password }}"
    redis:
      url: "{{ voicehive_redis_url }}"
  register: restore
"""

RETURN = r"""
verified:
  description: Every restored component matches the manifest afterwards (in check mode, before).
  returned: always
  type: bool
postgres:
  description:
    - C(restored) (it wrote), C(identical_before), C(verified), C(tables) before and after (C(name),
      C(expected_rows), C(rows), C(identical)), C(sequences_behind).
  returned: when PostgreSQL is restored
  type: dict
redis:
  description:
    - C(restored) (keys written), C(expected) (backed-up keys not expired), C(expired), C(differ_before),
      C(differ_after), C(present_after), C(extra_keys) (keys on the target not in the backup), C(verified).
  returned: when Redis is restored
  type: dict
backup:
  description: The backup's time, age, size and counts.
  returned: always
  type: dict
"""

import os
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.voicehive.remediation.plugins.module_utils import _dr_data as dr
from ansible_collections.voicehive.remediation.plugins.module_utils import _redis

try:
    import psycopg

    HAS_PSYCOPG = True
    PSYCOPG_ERROR = None
except ImportError:
    HAS_PSYCOPG = False
    PSYCOPG_ERROR = traceback.format_exc()


def argument_spec():
    spec = dr.option_specs()
    spec.update(
        manifest=dict(type="path", required=True),
        components=dict(type="list", elements="str", choices=["postgres", "redis"]),
    )
    return spec


def restore_postgres(module, psycopg_mod, manifest, directory):
    p = module.params
    pg = p["postgres"]
    mpg = manifest["postgres"]
    target = f"{pg['login_host']}:{pg['port']}/{pg['login_db']}"
    files = {
        name: dr.read_backup_file(directory, mpg["tables"][name]["file"], mpg["tables"][name]["sha256"])
        for name in mpg["order"]
    }
    try:
        with dr.pg_connect(psycopg_mod, pg, p["timeout"]) as conn:
            before = dr.pg_compare(mpg, dr.pg_snapshot(conn, pg["schema"], mpg["order"]))
            after = before
            if not before["identical"] and not module.check_mode:
                dr.pg_restore(conn, pg["schema"], mpg, files)
                after = dr.pg_compare(mpg, dr.pg_snapshot(conn, pg["schema"], mpg["order"]))
    except dr.DrDataError as exc:
        module.fail_json(msg=f"Cannot restore PostgreSQL at {target}: {exc}.")
    except Exception as exc:
        module.fail_json(
            msg=f"Cannot restore PostgreSQL at {target}: {str(exc).strip()}".rstrip(".")
            + ". Nothing was changed there."
        )
    return dict(
        restored=not before["identical"] and not module.check_mode,
        identical_before=before["identical"],
        verified=after["identical"],
        tables_before=before["tables"],
        tables=after["tables"],
        sequences_behind=after["sequences_behind"],
    )


def restore_redis(module, redis_utils, manifest, directory, age):
    p = module.params
    rp = p["redis"]
    mr = manifest["redis"]
    entries = dr.redis_parse(dr.read_backup_file(directory, mr["file"], mr["sha256"]))
    try:
        client = dr.redis_connect(redis_utils, rp, p["timeout"])
        before = dr.redis_compare(client, entries, age)
        written = 0
        after = before
        if before["differ"] and not module.check_mode:
            written = dr.redis_restore(client, before["differ"], age)
            after = dr.redis_compare(client, entries, age)
        dbsize = int(client.dbsize())
    except Exception as exc:
        module.fail_json(msg=redis_utils.redis_error_message(rp, exc, "Cannot restore the backup into"))
    return dict(
        restored=written,
        expected=after["expected"],
        expired=after["expired"],
        differ_before=len(before["differ"]),
        differ_after=len(after["differ"]),
        present_after=after["present"],
        extra_keys=max(0, dbsize - after["present"]),
        verified=after["identical"],
    )


def run_module(module, psycopg_mod, redis_utils):
    p = module.params
    try:
        manifest = dr.load_manifest(p["manifest"])
    except dr.DrDataError as exc:
        module.fail_json(msg=f"Cannot restore: {exc}.")
    directory = os.path.dirname(p["manifest"])
    wanted = p["components"] or [c for c in ("postgres", "redis") if manifest.get(c) and p[c]]
    for component in wanted:
        if not manifest.get(component):
            module.fail_json(msg=f"Cannot restore {component}: the backup {p['manifest']} holds no {component} data.")
        if not p[component]:
            module.fail_json(msg=f"Cannot restore {component}: give the {component} connection options.")
    if not wanted:
        module.fail_json(msg="Cannot restore: nothing to restore (give postgres and/or redis matching the backup).")
    if "redis" in wanted and not redis_utils.HAS_REDIS:
        module.fail_json(msg=missing_required_lib(redis_utils.REDIS_LIBRARY), exception=redis_utils.REDIS_IMPORT_ERROR)
    age = time.time() - float(manifest.get("created_epoch", time.time()))
    result = dict(changed=False, backup=dr.manifest_summary(manifest))
    diff = dict(before={}, after={})
    try:
        if "postgres" in wanted:
            out = restore_postgres(module, psycopg_mod, manifest, directory)
            result["postgres"] = out
            result["changed"] |= not out["identical_before"]
            diff["before"]["postgres_rows"] = {x["name"]: x["rows"] for x in out["tables_before"]}
            diff["after"]["postgres_rows"] = (
                {x["name"]: x["expected_rows"] for x in out["tables"]}
                if module.check_mode
                else {x["name"]: x["rows"] for x in out["tables"]}
            )
        if "redis" in wanted:
            out = restore_redis(module, redis_utils, manifest, directory, age)
            result["redis"] = out
            result["changed"] |= out["differ_before"] > 0
            diff["before"]["redis_keys_differing"] = out["differ_before"]
            diff["after"]["redis_keys_differing"] = 0 if module.check_mode else out["differ_after"]
    except dr.DrDataError as exc:
        module.fail_json(msg=f"Cannot restore: {exc}. Nothing was changed.")
    checks = [result[c]["verified"] for c in wanted]
    result["verified"] = (
        all(checks)
        if not module.check_mode
        else all(result[c]["identical_before"] if c == "postgres" else result[c]["differ_before"] == 0 for c in wanted)
    )
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(), supports_check_mode=True, required_one_of=[("postgres", "redis")]
    )
    if module.params["postgres"] and not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg (3)"), exception=PSYCOPG_ERROR)
    run_module(module, psycopg if HAS_PSYCOPG else None, _redis)


if __name__ == "__main__":
    main()
