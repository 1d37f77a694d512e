"""Static pages of the CTI web edge (HTML, JS, CSS; no build step, nothing from a CDN).

Served from memory by ``cti.web.pages``; this package only holds the files.
"""
