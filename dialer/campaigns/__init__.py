"""Campaigns: dial modes, calling rules, dispositions, call records and the dialer that runs them."""
