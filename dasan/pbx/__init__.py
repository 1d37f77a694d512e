"""The PBX as a lightweight container: Asterisk 22 in a Debian forky root filesystem."""
