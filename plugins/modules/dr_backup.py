#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_backup
short_description: Back up a site's PostgreSQL tables and Redis keys for disaster recovery, with a manifest
version_added: 0.1.0
description:
  - Writes a new backup directory C(<backup_dir>/<label>-<UTC stamp>/) on the host that runs the module (the
    controller in the collection's playbooks) with mode C(0700), files C(0600).
  - "PostgreSQL: every table of O(postgres.schema) (or O(tables)) read in one C(REPEATABLE READ) snapshot with
    C(COPY ... TO STDOUT), lines sorted, one file per table (C(postgres/<table>.copy)); the sequences' values and
    the tables in foreign-key order go into the manifest. This is a data backup: the schema is the site's
    deployment (its migrations), present in the DR database too."
  - "Redis: every key found with a bounded C(SCAN) (never C(KEYS)), saved with C(DUMP) and C(PTTL) (C(redis.jsonl),
    base64). More than O(max_keys) keys fails the task before anything is written."
  - "C(manifest.json): time, label, source (no credentials), per table rows, bytes and SHA-256, the sequences,
    the Redis key count, bytes and SHA-256, the total size. M(voicehive.remediation.dr_restore) restores from it
    and verifies against it."
  - C(<backup_dir>/latest-<label>.json) is the newest backup's manifest with its C(manifest_path), so that a
    diagnosis finds the newest backup with one file read.
  - Every run makes a new backup (that is its purpose), so it reports RV(ignore:changed=true) outside check mode.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads and counts everything, writes nothing; RV(manifest) says what the backup would hold.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  backup_dir:
    description: Directory of the backups (created with mode C(0700) when missing).
    type: path
    required: true
  label:
    description: Name of the backup's source, usually the site (letters, digits, C(.), C(_), C(-)).
    type: str
    required: true
  tables:
    description: Only these tables of the schema; by default every table.
    type: list
    elements: str
    default: []
  max_keys:
    description: The most Redis keys a backup takes; more fails the task (a backup must be whole).
    type: int
    default: 100000
  postgres:
    description: The PostgreSQL database to back up. At least one of O(postgres) and O(redis) is required.
    type: dict
    suboptions:
      login_host: {description: Host., type: str, required: true}
      port: {description: Port., type: int, default: 5432}
      login_db: {description: Database., type: str, required: true}
      login_user: {description: Role (needs C(SELECT) on the tables)., type: str, required: true}
      login_password: {description: Password., type: str}
      ssl_mode:
        description: libpq sslmode.
        type: str
        default: prefer
        choices: [allow, disable, prefer, require, verify-ca, verify-full]
      ca_cert: {description: CA certificate for C(verify-ca)/C(verify-full)., type: path}
      schema: {description: Schema whose tables are backed up., type: str, default: public}
  redis:
    description: The Redis database to back up.
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
  - module: voicehive.remediation.dr_restore
"""

EXAMPLES = r"""
- name: Back up the primary site's database and Redis
  voicehive.remediation.dr_backup:
    backup_dir: /var/backups/voicehive
    label: prod-eu-west-1
    postgres:
      login_host: "{{ voicehive_postgres_host }}"
      port: "{{ voicehive_postgres_port }}"
      login_db: voicehive
      login_user: voicehive
      login_password: "{{ voicehive_postgres_password }}"
    redis:
      url: "{{ voicehive_redis_url }}"
  register: backup
"""

RETURN = r"""
path:
  description: The backup directory (not written in check mode).
  returned: always
  type: str
  sample: /var/backups/voicehive/prod-eu-west-1-20261207T120000Z
manifest_path:
  description: Path of the manifest.
  returned: always
  type: str
  sample: /var/backups/voicehive/prod-eu-west-1-20261207T120000Z/manifest.json
summary:
  description: Time, age, total bytes, rows per table and the Redis key count.
  returned: always
  type: dict
  sample:
    {label: lab, created_at: "2026-12-07T12:00:00Z", total_bytes: 61200, tables: {calls: 500}, redis_keys: 31}
manifest:
  description: The manifest (sizes, checksums, row and key counts; no data, no credentials).
  returned: always
  type: dict
"""

import os
import re
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.voicehive.remediation.plugins.module_utils import _dr_data as dr
from ansible_collections.voicehive.remediation.plugins.module_utils import _redis
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact_url

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
        backup_dir=dict(type="path", required=True),
        label=dict(type="str", required=True),
        tables=dict(type="list", elements="str", default=[]),
        max_keys=dict(type="int", default=100000, no_log=False),
    )
    return spec


def take_backup(module, psycopg_mod, redis_utils, now):
    p = module.params
    manifest = dict(format=dr.FORMAT, label=p["label"], created_at=dr.utc_iso(now), created_epoch=now, source={})
    files = {}
    if p["postgres"]:
        pg = p["postgres"]
        target = f"{pg['login_host']}:{pg['port']}/{pg['login_db']}"
        try:
            with dr.pg_connect(psycopg_mod, pg, p["timeout"]) as conn:
                snap = dr.pg_snapshot(conn, pg["schema"], p["tables"])
        except dr.DrDataError as exc:
            module.fail_json(msg=f"Cannot back up PostgreSQL at {target}: {exc}.")
        except Exception as exc:
            module.fail_json(msg=f"Cannot back up PostgreSQL at {target}: {exc}".rstrip(".") + ".")
        manifest["source"]["postgres"] = target
        manifest["postgres"] = dict(
            schema=pg["schema"],
            order=snap["order"],
            sequences=snap["sequences"],
            tables={
                name: dict({k: v for k, v in table.items() if k != "data"}, file=f"postgres/{name}.copy")
                for name, table in snap["tables"].items()
            },
        )
        files.update({f"postgres/{name}.copy": table["data"] for name, table in snap["tables"].items()})
    if p["redis"]:
        rp = p["redis"]
        if not redis_utils.HAS_REDIS:
            module.fail_json(
                msg=missing_required_lib(redis_utils.REDIS_LIBRARY), exception=redis_utils.REDIS_IMPORT_ERROR
            )
        try:
            client = dr.redis_connect(redis_utils, rp, p["timeout"])
            entries = dr.redis_dump(client, dr.redis_scan(client, 1000, p["max_keys"]))
        except dr.DrDataError as exc:
            module.fail_json(msg=f"Cannot back up Redis at {redis_utils.redis_target(rp)}: {exc}.")
        except Exception as exc:
            module.fail_json(msg=redis_utils.redis_error_message(rp, exc, "Cannot back up"))
        data = dr.redis_lines(entries)
        manifest["source"]["redis"] = redact_url(rp["url"])
        manifest["redis"] = dict(keys=len(entries), bytes=len(data), sha256=dr.sha256(data), file=dr.REDIS_FILE)
        files[dr.REDIS_FILE] = data
    manifest["total_bytes"] = sum(len(v) for v in files.values())
    return manifest, files


def run_module(module, psycopg_mod, redis_utils):
    p = module.params
    if not re.match(r"^[A-Za-z0-9._-]+$", p["label"]):
        module.fail_json(msg=f"Cannot back up: label {p['label']!r} may only hold letters, digits, '.', '_' and '-'.")
    if p["max_keys"] < 1:
        module.fail_json(msg=f"Cannot back up: max_keys must be at least 1, got {p['max_keys']}.")
    if not p["postgres"] and not p["redis"]:
        module.fail_json(msg="Cannot back up: give postgres, redis or both.")
    now = time.time()
    manifest, files = take_backup(module, psycopg_mod, redis_utils, now)
    path = os.path.join(p["backup_dir"], f"{p['label']}-{dr.utc_stamp(now)}")
    if not module.check_mode:
        try:
            os.makedirs(os.path.join(path, "postgres"), mode=0o700, exist_ok=False)
            for name, data in files.items():
                dr.write_file(os.path.join(path, name), data)
            dr.write_file(os.path.join(path, dr.MANIFEST), module.jsonify(manifest).encode())
            latest = dict(manifest, path=path, manifest_path=os.path.join(path, dr.MANIFEST))
            dr.write_file(dr.latest_path(p["backup_dir"], p["label"]), module.jsonify(latest).encode())
        except OSError as exc:
            module.fail_json(msg=f"Cannot write the backup to {path}: {exc}.")
    module.exit_json(
        changed=True,
        path=path,
        manifest_path=os.path.join(path, dr.MANIFEST),
        manifest=manifest,
        summary=dr.manifest_summary(manifest, now),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(), supports_check_mode=True, required_one_of=[("postgres", "redis")]
    )
    if module.params["postgres"] and not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg (3)"), exception=PSYCOPG_ERROR)
    run_module(module, psycopg if HAS_PSYCOPG else None, _redis)


if __name__ == "__main__":
    main()
