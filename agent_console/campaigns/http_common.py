"""What the campaign pages share: the app key of the campaign service and the campaign a URL names."""

from __future__ import annotations

from aiohttp import web

from agent_console.forms import path_id
from agent_console.i18n import Translator
from crm_core.users.service import NotFoundError
from dialer.campaigns.model import Campaign
from dialer.campaigns.service import CampaignService

CAMPAIGNS = web.AppKey("campaign_service", CampaignService)


async def campaign_of(request: web.Request) -> Campaign:
    try:
        return await request.app[CAMPAIGNS].get(path_id(request))
    except NotFoundError:
        raise web.HTTPNotFound() from None


def range_error(tr: Translator, low: int | float, high: int | float) -> str:
    return tr("campaigns.errors.range", low=number_text(low), high=number_text(high))


def number_text(value: float) -> str:
    return f"{value:g}"
