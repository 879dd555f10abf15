"""A PBX simulator that speaks real AMI and FastAGI, faithful to Asterisk 22 (see issue 3).

Layout (``callcenter pbx-sim`` runs :func:`pbx_sim.app.serve_pbx_sim`; tests use
:func:`pbx_sim.app.running_pbx_sim`):

* ``ami/protocol.py``    AMI framing: incremental, bounded parser; encoder that keeps field order.
* ``ami/server.py``      TCP server, one session per connection with its own bounded queue and writer task.
* ``ami/actions.py``     the action table and the session actions (Login, Logoff, Challenge, Ping, Events).
* ``ami/channel_actions.py``  Originate, Hangup, Getvar, Setvar, Status, CoreShowChannels.
* ``ami/queue_actions.py``    QueueAdd, QueueRemove, QueuePause, QueueStatus, QueueSummary.
* ``ami/monitor_actions.py``  MixMonitor, StopMixMonitor.
* ``ami/transfer_actions.py`` Redirect, Atxfer; ``ami/dtmf_actions.py`` PlayDTMF;
  ``ami/pjsip_actions.py`` PJSIPShowEndpoints, PJSIPShowContacts.
* ``core/clock.py``      simulated time with a speed factor; every simulated delay goes through it.
* ``core/channels.py``   channels, Local pairs, bridges, Uniqueid/Linkedid and Local counters.
* ``core/events.py``     the event hub and the builders of every event, field for field as in the captures.
* ``core/pbx.py``        the engine: states, bridges, indications, device state and how a hangup spreads.
* ``core/dialplan.py``   runs dialplan applications (NoOp, Answer, Ringing, Wait, Playback, Set, Busy, ...);
  ``core/apps.py`` adds the others: Dial, Queue, MixMonitor, StopMixMonitor, AGI (``core/agi.py``, the FastAGI
  client), SendDTMF (``core/dtmf.py``: how a key travels), GotoIf (``core/gotoif.py``), MusicOnHold
  (``core/moh.py``), AMD and UserEvent (``core/amd.py``), ChanSpy (``core/chanspy.py``).
* ``core/dial.py``       calling a Local channel (app_dial, app_queue) and the Dial application.
* ``core/phones.py``     what a dialled simulated phone does: a customer, an agent's phone, or a dialplan.
* ``core/calls.py``      a dialer call: Originate -> [outbound] Dial -> the simulated customer;
  ``core/app_originate.py`` Originate with Application=; ``core/calllog.py`` the log of customers called.
* ``core/localopt.py``   Local channel optimisation; ``core/atxfer.py`` attended transfer;
  ``core/connected.py`` connected-line updates through Local pairs and bridges.
* ``core/pjsip.py``      PJSIP endpoints, registration (an API: there is no SIP stack) and device state;
  ``core/pjsip_calls.py`` / ``core/pjsip_originate.py`` PJSIP channels; ``world_pjsip.py`` their world section.
* ``core/shutdown.py``   ``core stop now`` / ``core restart now``.
* ``core/queues.py``     queues and members: membership, pause, member status from device state, strategies.
* ``core/queue_app.py``  the Queue application: join, ring members, connect, abandon, timeout, AgentComplete.
* ``core/mixmonitor.py`` MixMonitor recordings as real WAV files; ``core/audio.py`` their simulated speech.
* ``core/inbound.py``    inbound calls arriving as a seeded Poisson process into the dialplan (queues).
* ``world.py``           the world file (customers, agents' phones, queues, inbound traffic, dialplan), seeded;
  ``world_base.py`` / ``world_agents.py`` hold its building blocks and the agents' side.

The specification is the set of real Asterisk 22 captures in ``shared/fixtures/asterisk``; the protocol tests in
``tests/pbx_sim`` replay them against the simulator.
"""
