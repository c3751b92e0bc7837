"""Simulators of the VoiceHive lab (orchestrator, Apaleo, LiveKit, notification sink).

Each simulator is a small stdlib HTTP service run as
``PYTHONPATH=lab .venv/bin/python -m sims.<name> --config <json>``. Shared
plumbing lives in :mod:`sims.common`.
"""
