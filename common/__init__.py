"""Shared foundations: small pure helpers every package may use.

Invariant: ``common`` imports no package of this project (not ``dasan``, ``ivr``, ``acd``,
``cti`` nor ``recordings``); the arrows only ever point into it.
"""
