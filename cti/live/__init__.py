"""Live call state from AMI: a pure reducer (``reducer``) over immutable snapshots
(``model``) and the service that feeds it, resyncs it and publishes changes (``service``)."""
