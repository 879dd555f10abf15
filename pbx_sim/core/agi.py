"""``AGI(agi://host[:port]/script,arg1,...)``: the simulated channel as Asterisk 22's FastAGI client (res_agi).

The channel connects to the FastAGI server (port 4573 unless given), sends the ``agi_*`` environment field for field
as agi-ivr-menu shows (``agi_network``, ``agi_network_script``, ``agi_request``, ..., ``agi_arg_N``, an empty line)
and runs the server's commands, one LF-ended line each, answering as res_agi does: ``200 result=...``; a ``520-``
block with the command's usage (its XML description) for a wrong syntax; ``510 Invalid or unknown command``; ``511``
for a command not allowed once the channel is hung up. Each command is framed on AMI by ``AGIExecStart`` and
``AGIExecEnd`` (``CommandId``: a random number, ``ast_random()``; ``ResultCode``/``Result``: 200 ``Success``, 520
``Usage``, -1 ``Failure``, 200 ``Unknown Result`` when EXEC's application failed, 510, 511).

Hangups, as in the capture: once the channel is hung up (the HANGUP command: ``SoftHangupRequest`` Cause 32; the
caller hanging up; an AMI Hangup) the command running then answers ``-1`` and the server gets a bare ``HANGUP``
line; from then on only the commands allowed on a dead channel run (GET/SET VARIABLE, EXEC, NOOP, VERBOSE). The
channel stays (:attr:`Channel.hold_hangup`) until the server closes the socket: then ``AGISTATUS`` is ``HANGUP``
and the channel is hung up (``SoftHangupRequest`` 16, ``Hangup`` with the cause that reached it, 0 for the HANGUP
command). A server that closes on a live channel: ``AGISTATUS=SUCCESS`` and the dialplan goes on; a server that
cannot be reached: ``AGISTATUS=FAILURE`` and the dialplan goes on (a script path rather than ``agi://``:
``NOTFOUND``, the simulator has no scripts).

Keys (:mod:`pbx_sim.core.dtmf`) reach only a command reading them (WAIT FOR DIGIT, GET DATA, the escape digits of
STREAM FILE and SAY); the others are lost, as res_agi reads and drops frames between commands. A sound lasts what
the world's ``[sounds]`` says; ``endpos`` counts its 8 kHz samples in 20 ms frames. EXEC runs the simulated dialplan
applications (the channel's Application then stays the executed one, as the CDR's LastApplication in the capture).
Commands simulated: ANSWER, HANGUP, CHANNEL STATUS, GET VARIABLE, SET VARIABLE, STREAM FILE, WAIT FOR DIGIT, GET DATA,
SAY DIGITS, SAY NUMBER, EXEC, NOOP, VERBOSE; any other is answered 510 (and logged), though Asterisk knows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

import structlog

from pbx_sim.core import events as ev
from pbx_sim.core.channels import UNKNOWN, Channel, Indication, State, var_key
from pbx_sim.core.dialplan import APPS as BASIC_APPS
from pbx_sim.core.dialplan import BUILTIN
from pbx_sim.core.dtmf import KEYS
from pbx_sim.core.pbx import Pbx

log = structlog.get_logger("pbx_sim")

AGI_PORT = 4573
CONNECT_TIMEOUT = 2.0  # MAX_AGI_CONNECT, simulated seconds
VERSION = "22.10.1"
RATE = 8000  # samples a second of the sound files
FRAME = 160  # samples a frame (20 ms): endpos is where the stream had read to
GETDATA_FIRST, GETDATA_NEXT = 6.0, 2.0  # ast_app_getdata's timeouts when GET DATA gives none
EXPLICIT = 32  # AST_SOFTHANGUP_EXPLICIT: the Cause of the HANGUP command's SoftHangupRequest
APPUNLOAD = 16  # AST_SOFTHANGUP_APPUNLOAD: the dialplan ends once the AGI is over
PRESENTATION_UNAVAILABLE = 67  # AST_PRES_NUMBER_NOT_AVAILABLE: no caller id at all

C_INT = re.compile(r"\s*[+-]?\d+")


class Outcome(Enum):
    """What a command handler returned, as AGIExecEnd reports it (ResultCode, Result)."""

    SUCCESS = (200, "Success")
    FAILURE = (-1, "Failure")
    USAGE = (520, "Usage")
    UNKNOWN = (200, "Unknown Result")  # EXEC returns its application's -1 / -2 as the handler's result


class Hangup(Exception):
    """The channel was hung up while a command waited on it (the command answers -1)."""


def c_int(text: str) -> int | None:
    """``sscanf(text, "%d")``: the leading integer, or None."""
    match = C_INT.match(text)
    return int(match.group()) if match else None


def c_atoi(text: str) -> int:
    return c_int(text) or 0


def parse_args(line: str) -> list[str]:
    """res_agi's parse_args: words split at blanks, ``"..."`` quotes (``""`` is an empty word), ``\\`` escapes."""
    words: list[list[str]] = []
    quoted = escaped = False
    blank = True
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and blank:
                words.append([])
                blank = False
        elif char in " \t" and not quoted and not escaped:
            blank = True
        elif char == "\\" and not escaped:
            escaped = True
        else:
            if blank:
                words.append([])
                blank = False
            words[-1].append(char)
            escaped = False
    return ["".join(word) for word in words]


def number_files(num: int) -> list[str]:
    """The sound files ast_say_number_full_en plays for ``num``."""
    if num == 0:
        return ["digits/0"]
    files = ["digits/minus"] if num < 0 else []
    num = abs(num)
    for unit, word in ((1_000_000, "digits/million"), (1000, "digits/thousand")):
        if num >= unit:
            files += [*number_files(num // unit), word]
            num %= unit
    if num >= 100:
        files += [f"digits/{num // 100}", "digits/hundred"]
        num %= 100
    if num >= 20:
        files.append(f"digits/{num // 10 * 10}")
        num %= 10
    if num:
        files.append(f"digits/{num}")
    return files


DIGIT_FILES = {"*": "digits/star", "#": "digits/pound", "-": "digits/minus"}


def digit_files(text: str) -> list[str]:
    """The sound files ast_say_digit_str plays for ``text``."""
    return [f"digits/{c}" if c.isdigit() else DIGIT_FILES[c] for c in text if c.isdigit() or c in DIGIT_FILES]


Reply = tuple[Outcome, str]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Handler = Callable[["AgiSession", list[str]], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    handler: Handler
    dead: bool  # allowed once the channel is hung up
    usage: str  # the XML description, as ast_xmldoc_build_description renders it


class AgiSession:
    """One FastAGI conversation of a channel: the running command, the keys it reads, the hangup."""

    def __init__(
        self,
        pbx: Pbx,
        chan: Channel,
        streams: Streams,
        request: str,
        script: str,
        args: list[str],
    ) -> None:
        self.pbx = pbx
        self.chan = chan
        self.reader, self.writer = streams
        self.request = request
        self.script = script
        self.args = args
        self.rng = random.Random(f"pbx-sim-agi:{pbx.seed}:{chan.uniqueid}")  # noqa: S311 - ids, not secrets
        self.task = asyncio.current_task()
        self.hungup = False  # a hangup reached the channel
        self.cause = 0  # ... with this cause (none for the HANGUP command)
        self.dead = False  # the server was told (HANGUP): only dead-channel commands run
        self.busy = False  # a command runs
        self._gone = asyncio.Event()  # set with hungup
        self._wake = asyncio.Event()  # a key the running command reads, or the hangup
        self._keys = ""  # the keys the running command reads
        self._pressed = ""

    # ------------------------------------------------------------ the wire
    def _send(self, text: str) -> None:
        if not self.writer.is_closing():
            self.writer.write(text.encode("utf-8", "surrogateescape"))

    def environment(self) -> str:
        chan = self.chan
        known = chan.caller_num != UNKNOWN or chan.caller_name != UNKNOWN
        fields = [("agi_network", "yes")]
        if self.script:
            fields.append(("agi_network_script", self.script))
        fields += [
            ("agi_request", self.request),
            ("agi_channel", chan.name),
            ("agi_language", chan.language),
            ("agi_type", chan.tech),
            ("agi_uniqueid", chan.uniqueid),
            ("agi_version", VERSION),
            ("agi_callerid", "unknown" if chan.caller_num == UNKNOWN else chan.caller_num),
            ("agi_calleridname", "unknown" if chan.caller_name == UNKNOWN else chan.caller_name),
            ("agi_callingpres", "0" if known else str(PRESENTATION_UNAVAILABLE)),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", chan.context),
            ("agi_extension", chan.exten),
            ("agi_priority", str(chan.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", chan.accountcode),
            ("agi_threadid", str(139_000_000_000_000 + self.rng.randrange(2**40))),  # a pthread_t
            *((f"agi_arg_{n}", arg) for n, arg in enumerate(self.args, start=1)),
        ]
        return "".join(f"{key}: {value}\n" for key, value in fields) + "\n"

    async def run(self) -> None:
        """Converse until the server closes the socket."""
        self._send(self.environment())
        while True:
            try:
                line = await self.reader.readline()
            except OSError:
                return
            if not line:
                return
            await self._execute(line.decode("utf-8", "surrogateescape").removesuffix("\n"))
            if self.hungup:
                self._tell_hangup()

    async def _execute(self, text: str) -> None:
        command_id = str(self.rng.randrange(2**31))
        self.pbx.emit("AGIExecStart", ev.AGI, ev.agi_exec(self.chan, command_id, text))
        argv = parse_args(text)
        command = find_command(argv)
        if command is None:
            if argv:
                log.warning("pbx_sim_agi_unknown_command", channel=self.chan.name, command=text)
            self._end(command_id, text, (510, "Invalid or unknown command"))
            self._send("510 Invalid or unknown command\n")
            return
        if self.dead and not command.dead:
            message = "Command Not Permitted on a dead channel or intercept routine"
            self._end(command_id, text, (511, message))
            self._send(f"511 {message}\n")
            return
        self.busy = True
        try:
            outcome, reply = await command.handler(self, argv)
        finally:
            self.busy = False
        self._end(command_id, text, outcome.value)
        if outcome is Outcome.USAGE:
            reply = f"520-Invalid command syntax.  Proper usage follows:\n{command.usage}\n520 End of proper usage.\n"
        self._send(reply)

    def _end(self, command_id: str, text: str, result: tuple[int, str]) -> None:
        self.pbx.emit("AGIExecEnd", ev.AGI, ev.agi_exec(self.chan, command_id, text, result))

    # ------------------------------------------------------------ hangup
    def hold(self, cause: int) -> bool:
        """:attr:`Channel.hold_hangup`: the channel stays until the server closes (not if the AGI is ending)."""
        if self.task is None or self.task.cancelling():
            return False
        self.hung_up(cause)
        return True

    def hung_up(self, cause: int) -> None:
        if not self.hungup:
            self.hungup, self.cause = True, cause
        self._gone.set()
        self._wake.set()
        if not self.busy:
            self._tell_hangup()

    def _tell_hangup(self) -> None:
        if not self.dead:
            self.dead = True
            self._send("HANGUP\n")

    # ------------------------------------------------------------ what commands wait for
    def on_dtmf(self, digit: str) -> None:
        """:attr:`Channel.on_dtmf`: a key counts only while a command reads it."""
        if digit in self._keys and not self._pressed:
            self._pressed = digit
            self._wake.set()

    async def wait_key(self, seconds: float | None, keys: str) -> str:
        """Up to ``seconds`` (None: no limit) for one of ``keys``: that key, or "" when the time is up."""
        if self.hungup:
            raise Hangup
        self._keys, self._pressed = keys, ""
        self._wake.clear()
        try:
            limit = None if seconds is None else self.pbx.clock.real(seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), limit)
        finally:
            self._keys = ""
        if self.hungup:
            raise Hangup
        return self._pressed

    def samples(self, sound: str) -> int:
        return int(self.pbx.world.sound_seconds(sound) * RATE)

    async def play(self, sound: str, keys: str, start: int = 0) -> tuple[int, int]:
        """Stream ``sound`` from sample ``start``, stopped by one of ``keys``: (the key's code, 0 when the sound
        ended or -1 on a hangup; the sample the stream reached)."""
        total = self.samples(sound)
        began = self.pbx.clock.now()
        try:
            key = await self.wait_key(max(0, total - start) / RATE, keys)
        except Hangup:
            code = -1
        else:
            if not key:
                return 0, total
            code = ord(key)
        frames = -(-int((self.pbx.clock.now() - began) * RATE) // FRAME)
        return code, min(total, start + frames * FRAME)

    async def say(self, files: list[str], keys: str) -> int:
        """Play ``files`` one after another (SAY ...): the code of a key in ``keys``, 0, or -1 on a hangup."""
        for sound in files:
            code, _ = await self.play(sound, keys)
            if code:
                return code
        return 0

    async def run_app(self, name: str, data: str) -> int:
        """EXEC: a simulated dialplan application, stopped by a hangup; 0, -1 (it failed) or -2 (unknown)."""
        impl = self.pbx.apps.get(name.lower()) or BASIC_APPS.get(name.lower())
        if impl is None:
            log.warning("pbx_sim_agi_exec_unknown_application", channel=self.chan.name, application=name)
            return -2
        if self.hungup:
            return -1
        self.chan.app, self.chan.appdata = name, data
        job = asyncio.ensure_future(impl(self.pbx, self.chan, data))
        gone = asyncio.ensure_future(self._gone.wait())
        try:
            await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not job.done():
                job.cancel()
        if self.hungup or not job.done() or job.cancelled():
            return -1
        return 0 if job.result() else -1

    def variable(self, name: str) -> str | None:
        """GET VARIABLE: a channel variable, a channel value (CHANNEL, UNIQUEID, CALLERID(num), ...) or a global."""
        builtin = BUILTIN.get(name.upper())
        if name.endswith(")"):
            value = builtin(self.chan) if builtin is not None else None
            return "" if value == UNKNOWN else value
        value = self.chan.get_var(name)
        if value is None and builtin is not None:
            value = builtin(self.chan)
        return value if value is not None else self.pbx.globals.get(var_key(name))


# ------------------------------------------------------------------ commands
async def _answer(s: AgiSession, argv: list[str]) -> Reply:
    if s.chan.state != State.UP:
        s.pbx.new_state(s.chan, State.UP)
        s.pbx.indicate(s.chan, Indication.ANSWER)
    return Outcome.SUCCESS, "200 result=0\n"


async def _hangup(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) > 2:
        return Outcome.USAGE, ""
    target = s.chan if len(argv) == 1 else s.pbx.find(argv[1])
    if target is None:
        return Outcome.SUCCESS, "200 result=-1\n"
    if target is s.chan:
        s.pbx.emit("SoftHangupRequest", ev.CALL, ev.with_cause(s.chan, EXPLICIT))
        s.hung_up(0)
    else:
        s.pbx.hangup(target, 16, soft=True)
    return Outcome.SUCCESS, "200 result=1\n"


async def _channel_status(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) > 3:
        return Outcome.USAGE, ""
    target = s.chan if len(argv) == 2 else s.pbx.find(argv[2])
    return Outcome.SUCCESS, f"200 result={int(target.state) if target is not None else -1}\n"


async def _get_variable(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) != 3:
        return Outcome.USAGE, ""
    value = s.variable(argv[2])
    return Outcome.SUCCESS, "200 result=0\n" if value is None else f"200 result=1 ({value})\n"


async def _set_variable(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) != 4:
        return Outcome.USAGE, ""
    s.pbx.set_var(s.chan, argv[2], argv[3])
    return Outcome.SUCCESS, "200 result=1\n"


async def _stream_file(s: AgiSession, argv: list[str]) -> Reply:
    if not 4 <= len(argv) <= 5:
        return Outcome.USAGE, ""
    offset = c_int(argv[4]) if len(argv) == 5 else 0
    if offset is None:
        return Outcome.USAGE, ""
    code, endpos = await s.play(argv[2], argv[3], max(0, offset))
    s.pbx.set_var(s.chan, "PLAYBACKSTATUS", "FAILED" if code else "SUCCESS")
    return (Outcome.SUCCESS if code >= 0 else Outcome.FAILURE), f"200 result={code} endpos={endpos}\n"


async def _wait_for_digit(s: AgiSession, argv: list[str]) -> Reply:
    timeout = c_int(argv[3]) if len(argv) == 4 else None
    if timeout is None:
        return Outcome.USAGE, ""
    try:
        key = await s.wait_key(None if timeout < 0 else timeout / 1000, KEYS)
    except Hangup:
        return Outcome.FAILURE, "200 result=-1\n"
    return Outcome.SUCCESS, f"200 result={ord(key) if key else 0}\n"


async def _read_digits(s: AgiSession, prompt: str, most: int, first: float | None, then: float | None) -> str | None:
    """ast_app_getdata / ast_readstring: the prompt (any key stops it), then keys until ``#``, ``most`` keys or a
    timeout (``first`` for the first key, ``then`` between keys). None: -1 (a hangup, or no room for a key)."""
    code, _ = await s.play(prompt, KEYS) if prompt else (0, 0)
    if code < 0 or most == 0:
        return None
    key, got, limit = chr(code) if code else "", "", first
    while True:
        try:
            key = key or await s.wait_key(limit, KEYS)
        except Hangup:
            return None
        if not key:
            return f"{got} (timeout)"
        if key == "#":
            return got or "#"
        got += key
        if len(got) >= most:
            return got
        key, limit = "", then


async def _get_data(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) < 3:
        return Outcome.USAGE, ""
    timeout = c_atoi(argv[3]) if len(argv) >= 4 else 0
    most = c_atoi(argv[4]) if len(argv) >= 5 else 1024
    first, then = (GETDATA_FIRST, GETDATA_NEXT) if timeout == 0 else (None, None)
    if timeout > 0:
        first = then = timeout / 1000
    got = await _read_digits(s, argv[2], most, first, then)
    return Outcome.SUCCESS, f"200 result={-1 if got is None else got}\n"


async def _say_digits(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) != 4 or c_int(argv[2]) is None:
        return Outcome.USAGE, ""
    code = await s.say(digit_files(argv[2]), argv[3])
    return (Outcome.SUCCESS if code >= 0 else Outcome.FAILURE), f"200 result={code}\n"


async def _say_number(s: AgiSession, argv: list[str]) -> Reply:
    number = c_int(argv[2]) if 4 <= len(argv) <= 5 else None
    if number is None:
        return Outcome.USAGE, ""
    code = await s.say(number_files(number), argv[3])
    return (Outcome.SUCCESS if code >= 0 else Outcome.FAILURE), f"200 result={code}\n"


async def _exec(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) < 2:
        return Outcome.USAGE, ""
    result = await s.run_app(argv[1], argv[2] if len(argv) >= 3 else "")
    return (Outcome.SUCCESS if result == 0 else Outcome.UNKNOWN), f"200 result={result}\n"


async def _noop(s: AgiSession, argv: list[str]) -> Reply:
    return Outcome.SUCCESS, "200 result=0\n"


async def _verbose(s: AgiSession, argv: list[str]) -> Reply:
    if len(argv) < 2:
        return Outcome.USAGE, ""
    log.info("pbx_sim_agi_verbose", channel=s.chan.name, message=argv[1])
    return Outcome.SUCCESS, "200 result=1\n"


# The usage texts: res_agi's XML descriptions, paragraphs on their own lines, blanks folded as xmldoc does.
# WAIT FOR DIGIT's is checked against agi-ivr-menu.
COMMANDS = (
    Command(("answer",), _answer, False, (
        "Answers channel if not already in answer state. Returns <literal>-1</literal> on channel failure, or "
        "<literal>0</literal> if successful.")),
    Command(("channel", "status"), _channel_status, False, (
        "Returns the status of the specified <replaceable>channelname</replaceable>. If no channel name is given "
        "then returns the status of the current channel.\nReturn values:\n"
        "    <enum>0</enum> - Channel is down and available.\n    <enum>1</enum> - Channel is down, but reserved.\n"
        "    <enum>2</enum> - Channel is off hook.\n    <enum>3</enum> - Digits (or equivalent) have been dialed.\n"
        "    <enum>4</enum> - Line is ringing.\n    <enum>5</enum> - Remote end is ringing.\n"
        "    <enum>6</enum> - Line is up.\n    <enum>7</enum> - Line is busy.")),
    Command(("exec",), _exec, True, (
        "Executes <replaceable>application</replaceable> with given <replaceable>options</replaceable>.\n"
        "Returns whatever the <replaceable>application</replaceable> returns, or <literal>-2</literal> on failure "
        "to find <replaceable>application</replaceable>.")),
    Command(("get", "data"), _get_data, False, (
        "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
        "Returns the digits received from the channel at the other end.")),
    Command(("get", "variable"), _get_variable, True, (
        "Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set. Returns "
        "<literal>1</literal> if <replaceable>variablename</replaceable> is set and returns the variable in "
        "parentheses.\nExample return code: 200 result=1 (testvariable)")),
    Command(("hangup",), _hangup, False, (
        "Hangs up the specified channel. If no channel name is given, hangs up the current channel")),
    Command(("noop",), _noop, True, "Does nothing."),
    Command(("say", "digits"), _say_digits, False, (
        "Say a given digit string, returning early if any of the given DTMF digits are received on the channel. "
        "Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical "
        "value of the digit if one was pressed or <literal>-1</literal> on error/hangup.")),
    Command(("say", "number"), _say_number, False, (
        "Say a given number, returning early if any of the given DTMF digits are received on the channel.  Returns "
        "<literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical value of "
        "the digit if one was pressed or <literal>-1</literal> on error/hangup.")),
    Command(("set", "variable"), _set_variable, True, "Sets a variable to the current channel."),
    Command(("stream", "file"), _stream_file, False, (
        "Send the given file, allowing playback to be interrupted by the given digits, if any. Returns "
        "<literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical value of "
        "the digit if one was pressed, or <literal>-1</literal> on error or if the channel was disconnected. If "
        "musiconhold is playing before calling stream file it will be automatically stopped and will not be "
        "restarted after completion.")),
    Command(("verbose",), _verbose, True, (
        "Sends <replaceable>message</replaceable> to the console via verbose message system. "
        "<replaceable>level</replaceable> is the verbose level (1-4). Always returns <literal>1</literal>")),
    Command(("wait", "for", "digit"), _wait_for_digit, False, (
        "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit. Returns "
        "<literal>-1</literal> on channel failure, <literal>0</literal> if no digit is received in the timeout, or "
        "the numerical value of the ascii of the digit if one is received. Use <literal>-1</literal> for the "
        "<replaceable>timeout</replaceable> value if you desire the call to block indefinitely.")),
)  # fmt: skip


def find_command(argv: list[str]) -> Command | None:
    """res_agi's find_command: the command whose words begin ``argv`` (any case); the rest are its arguments."""
    for command in COMMANDS:
        size = len(command.words)
        if len(argv) >= size and all(a.lower() == w for a, w in zip(argv, command.words, strict=False)):
            return command
    return None


# ------------------------------------------------------------------ the application
def _server(url: str) -> tuple[str, int, str] | None:
    """``agi://host[:port][/script]`` -> (host, port, script), None if it is not a FastAGI address."""
    if not url.lower().startswith("agi://"):
        return None
    address, _, script = url[6:].partition("/")
    try:
        parts = urlsplit(f"//{address}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port or AGI_PORT, script


async def _connect(pbx: Pbx, chan: Channel, url: str, host: str, port: int) -> Streams | None:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), pbx.clock.real(CONNECT_TIMEOUT))
    except (OSError, TimeoutError) as exc:
        log.warning("pbx_sim_agi_connect_failed", channel=chan.name, url=url, error=str(exc))
        return None


async def app_agi(pbx: Pbx, chan: Channel, data: str) -> bool:
    url, *args = data.split(",")
    url = url.strip()
    server = _server(url)
    if server is None:  # a script on this machine: the simulator has none (res_agi: "File does not exist")
        log.warning("pbx_sim_agi_not_fastagi", channel=chan.name, url=url)
        pbx.set_var(chan, "AGISTATUS", "NOTFOUND")
        return True
    host, port, script = server
    streams = await _connect(pbx, chan, url, host, port)
    if streams is None:
        pbx.set_var(chan, "AGISTATUS", "FAILURE")
        return True
    session = AgiSession(pbx, chan, streams, url, script, args)
    chan.hold_hangup, chan.on_dtmf = session.hold, session.on_dtmf
    try:
        await session.run()
    finally:
        chan.hold_hangup = chan.on_dtmf = None
        streams[1].close()
    if not session.hungup:
        pbx.set_var(chan, "AGISTATUS", "SUCCESS")
        return True
    pbx.set_var(chan, "AGISTATUS", "HANGUP")
    pbx.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, APPUNLOAD))
    pbx.hangup(chan, session.cause, soft=False)
    return False
