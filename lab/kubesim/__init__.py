"""kubesim: a Kubernetes API emulator for the VoiceHive lab (HTTPS, kubectl- and kubernetes.core-compatible)."""

__version__ = "0.1.0"
