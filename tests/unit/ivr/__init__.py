"""IVR unit tests."""
