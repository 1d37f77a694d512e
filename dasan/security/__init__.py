"""Deployment safety: default secrets refused outside the demo, secrets, PBX config audit."""
