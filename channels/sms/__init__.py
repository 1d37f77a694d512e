"""SMS through Kannel: the gateway's processes and config, the wire codec, the HTTP edge."""
