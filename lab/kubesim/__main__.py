"""Command line: ``python -m kubesim --config FILE`` runs the emulator; ``python -m kubesim init`` prepares it.

``init --state-dir DIR [--port 16443] [--host 127.0.0.1] [--seed FILE ...] [--force-certs]`` writes
``DIR/kubesim/{ca.crt,ca.key,server.crt,server.key,config.json}`` and ``DIR/kubeconfig`` and keeps
the admin token in ``DIR/secrets.json`` (``kube_admin_token``). It prints the config path.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any


def _run(config_path: str) -> int:
    from kubesim.server import Kubesim, make_server

    with open(config_path, encoding="utf-8") as fh:
        config: dict[str, Any] = json.load(fh)
    sim = Kubesim(config)
    server = make_server(sim)
    sim.start()
    logging.getLogger("kubesim").info("kubesim listening on https://%s (rv %s)", sim.server_address, sim.store.rv)
    print(f"kubesim ready on https://{sim.server_address}", flush=True)

    def stop(_signum: int, _frame: Any) -> None:
        server.shutting_down = True
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.shutting_down = True
        sim.stop()
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "init":
        from kubesim.certs import init

        parser = argparse.ArgumentParser(prog="python -m kubesim init", description="prepare kubesim's state dir")
        parser.add_argument("--state-dir", required=True)
        parser.add_argument("--port", type=int, default=16443)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--seed", action="append", help="seed YAML file (repeatable; default: the VoiceHive seed)")
        parser.add_argument("--force-certs", action="store_true", help="regenerate the CA and serving certificate")
        args = parser.parse_args(argv[1:])
        print(init(args.state_dir, args.port, args.host, args.seed, args.force_certs))
        return 0
    parser = argparse.ArgumentParser(prog="python -m kubesim", description="Kubernetes API emulator")
    parser.add_argument("--config", required=True, help="config JSON (see lab/README.md)")
    args = parser.parse_args(argv)
    return _run(args.config)


if __name__ == "__main__":
    sys.exit(main())
