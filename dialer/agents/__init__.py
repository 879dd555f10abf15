"""Agent states in PostgreSQL: the current state of each agent, the log of his periods, and the daily report."""
