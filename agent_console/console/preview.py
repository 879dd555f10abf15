"""What the console shows of a preview record: the card, its call history and the warning, as JSON for the page.

Pure: the caller loads the record, its calls, the campaign's dispositions and the warning; times are shown in the
call center's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent_console.i18n import Translator
from dialer.callbacks.model import RecordWarning
from dialer.campaigns.model import Disposition, DispositionAction, ordered
from dialer.campaigns.repository import CallRecord
from dialer.pools.model import PoolRecord


def local_time(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%d.%m.%Y %H:%M") if at else ""


def agent_dispositions(dispositions: Sequence[Disposition]) -> list[Disposition]:
    """The outcomes an agent may choose: the campaign's active ones the dialer does not set by itself."""
    return [d for d in ordered(dispositions) if d.active and d.outcome is None]


def outcome_text(call: CallRecord, labels: dict[str, str], tr: Translator) -> str:
    """An attempt's outcome as the agent reads it: its disposition's label, else what the call came to."""
    if call.disposition:
        return labels.get(call.disposition, call.disposition)
    text = tr(f"campaigns.call_status.{call.status}")
    if call.failure:
        text += f" ({tr(f'campaigns.failure.{call.failure}')})"
    return text


def record_view(
    record: PoolRecord,
    history: Sequence[CallRecord],
    dispositions: Sequence[Disposition],
    warning: tuple[RecordWarning, int],
    zone: ZoneInfo,
    tr: Translator,
) -> dict[str, Any]:
    labels = {d.code: d.label for d in dispositions}
    found, hidden = warning
    warnings: list[str] = []
    for callback in found.callbacks:
        text = tr("console.preview.warn_callback", at=local_time(callback.due_at, zone))
        warnings.append(f"{text} {callback.note}".strip())
    if hidden:
        warnings.append(tr("console.preview.warn_hidden_callbacks", n=hidden))
    if found.notes:
        warnings.append(tr("console.preview.warn_notes", n=found.notes, at=local_time(found.last_note_at, zone)))
    return {
        "record": {
            "id": record.id,
            "name": record.name,
            "phone": record.phone,
            "city": record.city or "",
            "region": record.region or "",
            "custom": [[str(k), "" if v is None else str(v)] for k, v in record.custom_fields.items()],
            "attempts": record.attempts,
        },
        "history": [
            {
                "at": local_time(call.dialed_at, zone),
                "outcome": outcome_text(call, labels, tr),
                "note": call.note or "",
            }
            for call in history
        ],
        "warnings": warnings,
        "dispositions": [
            {"code": d.code, "label": d.label, "callback": d.action is DispositionAction.CALLBACK}
            for d in agent_dispositions(dispositions)
        ],
    }
