"""Operator-updatable data shipped with the IVR: service hours and the center's own closed days
(Korean public holidays are computed by ``ivr.closed_days``)."""
