"""Operator-updatable data shipped with the IVR: service hours and Korean public holidays."""
