"""Helper process of the db-performance fault: N sessions running long queries, held until terminated.

Run as `python -m labctl.faults.pgsleeper --port 15432 --sessions 12 --seconds 900`.
Each session is a real PostgreSQL backend (application_name `voicehive-report-worker`) in state
`active`, which is what the guide's pg_stat_activity queries look for.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import psycopg

from .. import secrets as lab_secrets

APP_NAME = "voicehive-report-worker"


def hold(port: int, seconds: int, ready: threading.Semaphore) -> None:
    try:
        conn = psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="voicehive",
            password=lab_secrets.get("postgres_password"),
            dbname="voicehive",
            application_name=APP_NAME,
            autocommit=True,
        )
    except psycopg.Error as exc:
        print(f"pgsleeper: cannot connect: {exc}", file=sys.stderr)
        ready.release()
        return
    ready.release()
    try:
        conn.execute(
            "SELECT c.hotel_id, pg_sleep(%s) FROM calls c WHERE c.id = (SELECT min(id) FROM calls)", (seconds,)
        )
    except psycopg.Error as exc:
        print(f"pgsleeper: session ended: {type(exc).__name__}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=15432)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=900)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ready = threading.Semaphore(0)
    threads = [
        threading.Thread(target=hold, args=(args.port, args.seconds, ready), daemon=True) for _ in range(args.sessions)
    ]
    for thread in threads:
        thread.start()
    for _ in threads:
        ready.acquire()
    print(f"pgsleeper: {args.sessions} sessions holding connections", flush=True)
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
