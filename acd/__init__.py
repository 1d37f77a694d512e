"""ACD: language- and skill-based distribution of waiting calls to consultants.

``acd.core.decide`` is the pure routing core (its docstring is the driver's contract);
``acd.policy`` the policy; ``acd.erlang`` the queueing formulas; ``acd.roster`` and
``acd.services`` the operator's data; ``acd.sim`` the simulator behind ``dasan sim``.
"""
