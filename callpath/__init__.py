"""The call path: one citizen call (``callflow``), the recording guard's driver
(``recguard``), call-backs (``callbacks``) and what AMI tells the ACD (``acd_ami``).

Invariants:
- Between the features and the composition root (``.importlinter``): it may use ``ivr``,
  ``acd``, ``cti``, ``recordings`` and ``common``, never ``dasan``.
- Each piece is built from what it needs (``callpath.ports`` and the small setup dataclasses
  of each module), never from the engine, so each is built in unit tests from fakes.
"""
