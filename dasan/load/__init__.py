"""Load harness: seed traffic through the real PBX and engine (``dasan load``).

Profiles (``profiles/*.yaml``) describe the traffic; ``traffic`` runs SIPp (one consultant
UAS, citizen UACs per call type and stage); ``tracker`` follows the calls through AMI;
``sampler`` measures CPU and memory; ``runner`` orchestrates a bounded run; ``report``,
``view`` and ``plot`` present it. Nothing here is imported by the engine itself.
"""
