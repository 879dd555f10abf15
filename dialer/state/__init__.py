"""The dialer's pure state machines (agents, calls) and the Asterisk code tables they read.

Nothing here does I/O or reads the clock: every function is given ``now``, so the machines can be tested,
replayed and simulated at full speed. The service layer (``dialer.agents.service``) stores and publishes.
"""
