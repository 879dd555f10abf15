"""A PBX simulator that speaks real AMI and FastAGI, faithful to Asterisk 22 (see issue 3).

Layout (``callcenter pbx-sim`` runs :func:`pbx_sim.app.serve_pbx_sim`; tests use
:func:`pbx_sim.app.running_pbx_sim`):

* ``ami/protocol.py``    AMI framing: incremental, bounded parser; encoder that keeps field order.
* ``ami/server.py``      TCP server, one session per connection with its own bounded queue and writer task.
* ``ami/actions.py``     the action table and the session actions (Login, Logoff, Challenge, Ping, Events).
* ``ami/channel_actions.py``  Originate, Hangup, Getvar, Setvar, Status, CoreShowChannels.
* ``core/clock.py``      simulated time with a speed factor; every simulated delay goes through it.
* ``core/channels.py``   channels, Local pairs, bridges, Uniqueid/Linkedid and Local counters.
* ``core/events.py``     the event hub and the builders of every event, field for field as in the captures.
* ``core/pbx.py``        the engine: states, bridges, indications and how a hangup spreads.
* ``core/dialplan.py``   runs dialplan applications (NoOp, Answer, Ringing, Wait, Playback, Set, Busy, ...).
* ``core/calls.py``      a dialer call: Originate -> [outbound] Dial -> the simulated customer.
* ``world.py``           the world file (customers by number pattern, dialplan of answered calls), seeded.

The specification is the set of real Asterisk 22 captures in ``shared/fixtures/asterisk``; the protocol tests in
``tests/pbx_sim`` replay them against the simulator.
"""
