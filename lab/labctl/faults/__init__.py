"""Fault injection for the lab: one module per troubleshooting-guide issue family."""
