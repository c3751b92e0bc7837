"""Real PostgreSQL 15 (primary 15432, DR 15433) with pg_stat_statements and the VoiceHive schema."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from .. import paths
from .base import Service

PG_BIN = "/usr/lib/postgresql/15/bin"
OS_USER = "postgres"
DB = "voicehive"
ROLE = "voicehive"

SCHEMA = """
CREATE TABLE IF NOT EXISTS hotels (
    id text PRIMARY KEY,
    name text NOT NULL,
    apaleo_property_id text NOT NULL,
    timezone text NOT NULL DEFAULT 'Europe/Berlin'
);
CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    username text UNIQUE NOT NULL,
    password_hash text NOT NULL,  -- sha256 hex of the password
    hotel_id text REFERENCES hotels(id),
    role text NOT NULL DEFAULT 'frontdesk',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS calls (
    id bigserial PRIMARY KEY,
    hotel_id text REFERENCES hotels(id),
    room_name text NOT NULL,
    caller text,
    status text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    duration_seconds integer
);
CREATE INDEX IF NOT EXISTS calls_hotel_started ON calls (hotel_id, started_at);
CREATE TABLE IF NOT EXISTS sessions (
    id text PRIMARY KEY,
    user_id integer REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked boolean NOT NULL DEFAULT false
);
"""

DUMP_TABLES = ("hotels", "users", "calls", "sessions", "*_seq")
HOTELS = (
    ("hotel-001", "VoiceHive Lab Grand Hotel", "LAB001"),
    ("hotel-002", "VoiceHive Lab Seaside Resort", "LAB002"),
)
USERS = (
    ("frontdesk@hotel-001", "hotel-001", "frontdesk"),
    ("manager@hotel-001", "hotel-001", "manager"),
    ("frontdesk@hotel-002", "hotel-002", "frontdesk"),
    ("ops@voicehive", None, "admin"),
)


def _postgres_can_reach(path: Path) -> bool:
    """Whether the postgres OS user can search ``path`` (every directory above it included)."""
    probe = subprocess.run(["runuser", "-u", OS_USER, "--", "test", "-x", str(path)], check=False)
    return probe.returncode == 0


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


class PostgresService(Service):
    stop_signal = signal.SIGINT  # "fast" shutdown: do not wait for clients
    user = OS_USER

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.start_timeout = 40.0

    @property
    def state(self) -> Path:
        """lab/.state/<name>, or a directory the postgres OS user can reach.

        PostgreSQL runs as the ``postgres`` OS user. When the checkout sits below a directory that
        user cannot search (a 0700 home, as for CI clones under /root), the data directory goes to
        /var/tmp/voicehive-lab-<hash of the checkout>/<name> and lab/.state/<name> links to it.
        """
        cached = getattr(self, "_state", None)
        if cached is not None:
            return cached
        default = paths.state_dir(self.name)
        chosen = default
        if os.geteuid() == 0 and not _postgres_can_reach(default.parent):
            tag = hashlib.sha256(str(paths.STATE.resolve()).encode()).hexdigest()[:12]
            root = Path("/var/tmp") / f"voicehive-lab-{tag}"
            root.mkdir(mode=0o755, exist_ok=True)
            root.chmod(0o755)
            chosen = root / self.name
            chosen.mkdir(exist_ok=True)
            if default.is_symlink() or not default.exists():
                if default.is_symlink():
                    default.unlink()
                default.symlink_to(chosen)
            elif default.is_dir() and not any(default.iterdir()):
                default.rmdir()
                default.symlink_to(chosen)
        self._state = chosen
        return chosen

    @property
    def data(self) -> Path:
        return self.state / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state / "run"

    def markers(self) -> list[str]:
        return [str(self.data), "postgres"]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def check_reachable(self) -> None:
        """The postgres OS user must reach the state dir (a checkout under a 0700 home cannot work)."""
        if os.geteuid() != 0:
            return
        probe = subprocess.run(["runuser", "-u", OS_USER, "--", "test", "-x", str(self.state)], check=False)
        if probe.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL runs as the '{OS_USER}' OS user, which cannot reach {self.state}: "
                "make the checkout's parent directories searchable (chmod o+x) or clone it elsewhere"
            )

    def prepare(self, secrets: dict[str, str]) -> None:
        self.check_reachable()
        for path in (self.state, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)
        if not (self.data / "PG_VERSION").exists():
            if self.data.exists():
                shutil.rmtree(self.data)
            self.data.mkdir(mode=0o700)
            self._chown(self.data)
            cmd = [
                f"{PG_BIN}/initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ]
            if os.geteuid() == 0:
                cmd = ["runuser", "-u", OS_USER, "--", *cmd]
            subprocess.run(cmd, check=True, capture_output=True, cwd="/")
        conf = self.data / "postgresql.conf"
        lab_conf = self.data / "lab.conf"
        lab_conf.write_text(
            "# generated by lab/labctl — do not edit (ALTER SYSTEM still overrides it)\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "shared_preload_libraries = 'pg_stat_statements'\n"
            "pg_stat_statements.track = all\n"
            "max_connections = 100\n"
            "password_encryption = 'scram-sha-256'\n"
            "logging_collector = off\n"
            "log_min_duration_statement = 1000\n"
            "log_connections = off\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
        )
        self._chown(lab_conf)
        text = conf.read_text()
        if "include 'lab.conf'" not in text:
            conf.write_text(text + "\ninclude 'lab.conf'\n")

    def argv(self, secrets: dict[str, str]) -> list[str]:
        return [f"{PG_BIN}/postgres", "-D", str(self.data)]

    # --- connections ------------------------------------------------------------
    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=3,
        )

    def app(self, secrets: dict[str, str]) -> psycopg.Connection:
        return psycopg.connect(
            host=paths.HOST,
            port=self.port,
            user=ROLE,
            password=secrets["postgres_password"],
            dbname=DB,
            autocommit=True,
            connect_timeout=3,
        )

    def healthy(self, secrets: dict[str, str]) -> bool:
        with self.app(secrets) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def booted(self, secrets: dict[str, str]) -> bool:
        """Accepting connections (before the voicehive role exists)."""
        with self.admin() as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def seed(self, secrets: dict[str, str]) -> None:
        with self.admin() as conn:
            # PostgreSQL 15's pg_stat_statements keeps utility statements verbatim: never record the password
            conn.execute("SET pg_stat_statements.track_utility = off")
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(secrets["postgres_password"])
                )
            )
            conn.execute(sql.SQL("GRANT pg_monitor, pg_signal_backend TO {}").format(sql.Identifier(ROLE)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DB), sql.Identifier(ROLE)))
        with self.admin(DB) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(ROLE)))
            conn.execute(SCHEMA)
            self._seed_rows(conn, secrets)

    def _seed_rows(self, conn: psycopg.Connection, secrets: dict[str, str]) -> None:
        digest = password_hash(secrets["demo_user_password"])
        with conn.transaction():
            for hotel in HOTELS:
                conn.execute(
                    "INSERT INTO hotels (id, name, apaleo_property_id) VALUES (%s, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
                    "apaleo_property_id = EXCLUDED.apaleo_property_id",
                    hotel,
                )
            for username, hotel_id, role in USERS:
                conn.execute(
                    "INSERT INTO users (username, password_hash, hotel_id, role) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
                    "hotel_id = EXCLUDED.hotel_id, role = EXCLUDED.role, active = true",
                    (username, digest, hotel_id, role),
                )
            if conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 0:  # type: ignore[index]
                conn.execute(
                    "INSERT INTO calls (hotel_id, room_name, caller, status, started_at, ended_at, duration_seconds) "
                    "SELECT CASE WHEN g % 3 = 0 THEN 'hotel-002' ELSE 'hotel-001' END, "
                    "'room-' || g, '+4930' || lpad(g::text, 7, '0'), "
                    "CASE WHEN g % 25 = 0 THEN 'failed' ELSE 'completed' END, "
                    "now() - make_interval(mins => g * 7), now() - make_interval(mins => g * 7 - 3), 60 + g % 240 "
                    "FROM generate_series(1, 500) AS g"
                )

    def reset(self, secrets: dict[str, str]) -> None:
        with self.admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                (DB,),
            )
            conn.execute("ALTER SYSTEM RESET ALL")
            conn.execute("SELECT pg_reload_conf()")
        self.seed(secrets)
        with self.admin(DB) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
        if self.name == "postgres-primary":
            self.dump(paths.BACKUPS / "voicehive-latest.sql")

    def dump(self, target: Path) -> None:
        """pg_dump of the voicehive database (plain SQL) for the DR restore story."""
        tmp = target.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            subprocess.run(
                [
                    f"{PG_BIN}/pg_dump",
                    "-h",
                    str(self.socket_dir),
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "--no-owner",
                    "--clean",
                    "--if-exists",
                    *[
                        arg
                        for table in ("hotels", "users", "calls", "sessions", "*_seq")
                        for arg in ("-t", f"public.{table}")
                    ],
                    DB,
                ],
                check=True,
                stdout=out,
                stderr=subprocess.PIPE,
            )
        os.replace(tmp, target)
