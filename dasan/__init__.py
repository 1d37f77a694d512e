"""Dasan: the composition root (config, CLI, storage wiring, the PBX container)."""

__version__ = "0.1.0"
