"""Several PBX nodes behind one Kamailio front, on one machine (``dasan cluster``)."""
