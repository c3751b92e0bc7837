"""``python -m sims.orchestrator``."""

from sims.orchestrator import main

main()
