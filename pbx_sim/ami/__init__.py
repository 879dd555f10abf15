"""The Asterisk Manager Interface side of the simulator: wire format, server sessions and the action table."""
