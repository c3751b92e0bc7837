"""labctl: orchestration of the local VoiceHive lab (services, seeding, faults)."""
