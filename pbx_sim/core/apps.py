"""The dialplan applications the simulator runs beyond the basic ones of :mod:`pbx_sim.core.dialplan`."""

from __future__ import annotations

from pbx_sim.core.agi import app_agi
from pbx_sim.core.amd import app_amd, app_userevent
from pbx_sim.core.chanspy import app_chanspy
from pbx_sim.core.dial import app_dial
from pbx_sim.core.dtmf import app_senddtmf
from pbx_sim.core.gotoif import app_gotoif
from pbx_sim.core.mixmonitor import app_mixmonitor, app_stopmixmonitor
from pbx_sim.core.moh import app_musiconhold
from pbx_sim.core.pbx import App
from pbx_sim.core.queue_app import app_queue

APPS: dict[str, App] = {
    "dial": app_dial,
    "queue": app_queue,
    "mixmonitor": app_mixmonitor,
    "stopmixmonitor": app_stopmixmonitor,
    "agi": app_agi,
    "senddtmf": app_senddtmf,
    "chanspy": app_chanspy,
    "musiconhold": app_musiconhold,
    "gotoif": app_gotoif,
    "amd": app_amd,
    "userevent": app_userevent,
}
