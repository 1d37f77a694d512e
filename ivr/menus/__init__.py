"""Menu files shipped with Dasan (``dasan120.yaml``: the 120 Dasan Call Center)."""
