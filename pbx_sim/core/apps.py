"""The dialplan applications the simulator runs beyond the basic ones of :mod:`pbx_sim.core.dialplan`."""

from __future__ import annotations

from pbx_sim.core.dial import app_dial
from pbx_sim.core.mixmonitor import app_mixmonitor, app_stopmixmonitor
from pbx_sim.core.pbx import App
from pbx_sim.core.queue_app import app_queue

APPS: dict[str, App] = {
    "dial": app_dial,
    "queue": app_queue,
    "mixmonitor": app_mixmonitor,
    "stopmixmonitor": app_stopmixmonitor,
}
