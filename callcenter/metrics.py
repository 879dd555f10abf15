"""The figures operators watch, in Prometheus format (``/metrics``).

One :class:`Metrics` per process, built by the composition root and passed to whatever updates a figure; its own
registry keeps tests and several apps in one process apart.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

AGENT_STATES = ("logged_out", "ready", "reserved", "ringing", "on_call", "wrap_up", "paused", "online_not_taking")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connected_consoles = Gauge(
            "callcenter_connected_consoles", "Browser consoles connected over WebSocket", registry=r
        )
        self.ami_connected = Gauge("callcenter_ami_connected", "1 while the AMI connection is logged in", registry=r)
        self.calls_in_progress = Gauge("callcenter_calls_in_progress", "Calls not yet ended", registry=r)
        self.agents = Gauge("callcenter_agents", "Logged-in agents by state", ["state"], registry=r)
        for state in AGENT_STATES:
            self.agents.labels(state=state)
        self.event_lag = Histogram(
            "callcenter_event_lag_seconds",
            "Time from an event occurring to its delivery by the bus to this process",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.events_published = Counter(
            "callcenter_events_published", "Events published on the bus", ["stream"], registry=r
        )
        self.http_requests = Counter(
            "callcenter_http_requests", "HTTP requests served", ["method", "route", "status"], registry=r
        )
        self.http_seconds = Histogram("callcenter_http_request_seconds", "HTTP request duration", ["route"], registry=r)
        self.logins = Counter("callcenter_logins", "Sign-in attempts by outcome", ["outcome"], registry=r)
        self.database_up = Gauge("callcenter_database_up", "1 when PostgreSQL answered the last check", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
