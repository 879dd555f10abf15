"""The texts the live client script shows, taken from the one catalogue and handed to the page as JSON."""

from __future__ import annotations

from agent_console.i18n import Translator
from dialer.state.agent import AgentStatus

CONNECTION_STATUSES = ("connecting", "live", "reconnecting", "signed_out", "forbidden")


def client_labels(tr: Translator) -> dict[str, dict[str, str]]:
    return {
        "state": {status.value: tr(f"live.state.{status.value}") for status in AgentStatus},
        "status": {status: tr(f"live.status.{status}") for status in CONNECTION_STATUSES},
    }
