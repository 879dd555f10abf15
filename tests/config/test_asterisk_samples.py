"""The sample Asterisk configuration in config/asterisk agrees with itself, with docker-compose.yml and with the app.

Every check here is a mistake that otherwise only shows when a call fails: the dialer cannot log in, an Originate
lands in a context that does not exist, a queue is missing, Atxfer answers "No attended transfer feature code found".
The files are read with a small parser for Asterisk's configuration syntax written below, so the test needs no
Asterisk. docker-compose.yml is only checked when PyYAML is installed (it is not a dependency of the project).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASTERISK_DIR = ROOT / "config" / "asterisk"
COMPOSE_FILE = ROOT / "docker-compose.yml"

# Defaults of the app's settings (config/settings.py: AmiSettings, AgiSettings), copied on purpose: the settings
# module is not imported here, so this test does not depend on how the settings are built.
DEFAULT_AMI_USERNAME = "dialer"
DEFAULT_AMI_PORT = 5038
DEFAULT_AGI_PORT = 4573

# Contexts the dialer originates into or phones and the trunk use (README.md); the captures' doubles must not be here.
DIALER_CONTEXTS = {"outbound", "to-queue", "ivr", "agents", "from-trunk"}
CAPTURE_ONLY_CONTEXTS = {"sim", "sim-agents", "fixture", "fixture-xfer", "click2dial"}

# AMI actions the dialer sends and the write classes that allow each (manager.c / app_queue.c registrations).
ACTION_CLASSES = {
    "Originate": {"originate"},
    "Hangup": {"system", "call"},
    "Redirect": {"call"},
    "Atxfer": {"call"},
    "MixMonitor": {"system", "call"},
    "QueueAdd": {"agent"},
    "QueuePause": {"agent"},
    "QueueRemove": {"agent"},
    "PJSIPShowContacts": {"system"},
    "CoreShowChannels": {"system", "reporting"},
}
# Event classes the dialer consumes: channels/bridges, queues, FullyBooted/Shutdown/PeerStatus, UserEvent, Cdr, VarSet.
NEEDED_READ_CLASSES = {"call", "agent", "system", "user", "cdr", "dialplan"}


# --------------------------------------------------------------------------- the configuration-file parser


@dataclass
class Section:
    name: str
    templates: tuple[str, ...]
    is_template: bool
    entries: list[tuple[str, str]]

    def get(self, key: str) -> str | None:
        found = self.values(key)
        return found[-1] if found else None

    def values(self, key: str) -> list[str]:
        return [value for k, value in self.entries if k == key]


_SECTION = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?$")
_ENTRY = re.compile(r"^([^=]+?)\s*=>?\s*(.*)$")


def _strip_comment(line: str) -> str:
    r"""Drop a ``;`` comment; ``\;`` is a literal semicolon."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if line.startswith("\\;", i):
            out.append(";")
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out).strip()


def parse_conf(text: str) -> list[Section]:
    """Asterisk syntax: ``[name]``, ``[name](!)``, ``[name](tmpl,...)``, ``key = value``, ``key => value``,
    ``;`` comments and ``;-- ... --;`` block comments. Sections may repeat (pjsip.conf), so this is a list."""
    sections: list[Section] = []
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_block:
            in_block = "--;" not in raw
            continue
        if raw.lstrip().startswith(";--"):
            in_block = "--;" not in raw.split(";--", 1)[1]
            continue
        line = _strip_comment(raw)
        if not line or line.startswith("#"):
            continue
        header = _SECTION.match(line)
        if header:
            options = [o.strip() for o in (header.group(2) or "").split(",") if o.strip()]
            templates = tuple(o for o in options if o != "!")
            sections.append(Section(header.group(1).strip(), templates, "!" in options, []))
            continue
        entry = _ENTRY.match(line)
        assert entry, f"line {number} is neither a section nor an entry: {raw!r}"
        assert sections, f"line {number} comes before the first [section]: {raw!r}"
        sections[-1].entries.append((entry.group(1).strip(), entry.group(2).strip()))
    return sections


def load(name: str) -> list[Section]:
    return parse_conf((ASTERISK_DIR / name).read_text(encoding="utf-8"))


def only(sections: list[Section], name: str) -> Section:
    found = [s for s in sections if s.name == name]
    assert len(found) == 1, f"expected one [{name}], found {len(found)}"
    return found[0]


def resolve(sections: list[Section], section: Section) -> dict[str, str]:
    """The section's entries after applying its templates (later values win)."""
    templates = {s.name: s for s in sections if s.is_template}
    merged: dict[str, str] = {}
    for name in section.templates:
        assert name in templates, f"[{section.name}] uses the undefined template [{name}]"
        merged.update(resolve(sections, templates[name]))
    for key, value in section.entries:
        merged[key] = value
    return merged


# --------------------------------------------------------------------------- dialplan helpers


@dataclass(frozen=True)
class Step:
    context: str
    exten: str
    app: str
    args: str


def split_top(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split at ``sep`` outside (), [] and {} - so ``${EXTEN:1}`` or ``$[a ? b]`` stay whole."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == sep and depth == 0 and (maxsplit < 0 or len(parts) < maxsplit):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


_APP_CALL = re.compile(r"^(\w+)\((.*)\)$", re.DOTALL)


def _app_calls(call: str) -> list[tuple[str, str]]:
    """``App(args)`` plus the application that ExecIf runs."""
    match = _APP_CALL.match(call.strip())
    if not match:
        return [(call.strip(), "")]
    app, args = match.groups()
    calls = [(app, args)]
    if app == "ExecIf" and "?" in args:
        calls += _app_calls(split_top(args.split("?", 1)[1], ":")[0])
    return calls


def dialplan_steps(sections: list[Section]) -> list[Step]:
    steps: list[Step] = []
    for section in sections:
        if section.name in ("general", "globals"):
            continue
        exten = ""
        for key, value in section.entries:
            if key == "exten":
                exten, _priority, call = split_top(value, ",", maxsplit=2)
            elif key == "same":
                assert exten, f"[{section.name}]: 'same =>' before any 'exten =>'"
                _priority, call = split_top(value, ",", maxsplit=1)
            else:
                continue
            steps += [Step(section.name, exten, app, args) for app, args in _app_calls(call)]
    return steps


def extensions_of(sections: list[Section], context: str) -> list[str]:
    return [split_top(v, ",", 1)[0] for v in only(sections, context).values("exten")]


def exten_matches(pattern: str, exten: str) -> bool:
    """Asterisk extension matching: ``_`` patterns with X, Z, N, [...], ``.`` and ``!``."""
    if not pattern.startswith("_"):
        return pattern == exten
    regex, i, body = "", 0, pattern[1:]
    while i < len(body):
        char = body[i]
        if char == "[":
            end = body.index("]", i)
            regex += "[" + re.escape(body[i + 1 : end]).replace("\\-", "-") + "]"
            i = end + 1
            continue
        regex += {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(char.upper(), re.escape(char))
        i += 1
    return re.fullmatch(regex, exten) is not None


def goto_destinations(step: Step) -> list[tuple[str, str]]:
    """(context, exten) of each Goto/GotoIf destination, filled in from the step's own context/exten."""
    if step.app == "Goto":
        targets = [step.args]
    elif step.app == "GotoIf":
        targets = [t for t in split_top(step.args.split("?", 1)[1], ":") if t]
    else:
        return []
    result = []
    for target in targets:
        parts = split_top(target, ",")
        if len(parts) == 3:
            result.append((parts[0], parts[1]))
        elif len(parts) == 2:
            result.append((step.context, parts[0]))
        else:
            result.append((step.context, step.exten))
    return result


@pytest.fixture(scope="module")
def dialplan() -> list[Section]:
    return load("extensions.conf")


@pytest.fixture(scope="module")
def steps(dialplan: list[Section]) -> list[Step]:
    return dialplan_steps(dialplan)


@pytest.fixture(scope="module")
def dialplan_globals(dialplan: list[Section]) -> dict[str, str]:
    return dict(only(dialplan, "globals").entries)


def contexts(dialplan: list[Section]) -> set[str]:
    return {s.name for s in dialplan} - {"general", "globals"}


def queue_names() -> set[str]:
    return {s.name for s in load("queues.conf")} - {"general"}


# --------------------------------------------------------------------------- manager.conf


def test_parser_reads_templates_repeats_and_both_assignment_forms() -> None:
    sections = parse_conf(
        "[t](!)\ntype = aor ; note\n[a](t)\nexten => _X.,1,NoOp(a\\;b)\n[a]\ntype=auth\n;--\n[hidden]\n--;\n"
    )
    assert [(s.name, s.templates, s.is_template) for s in sections] == [
        ("t", (), True),
        ("a", ("t",), False),
        ("a", (), False),
    ]
    assert sections[1].entries == [("exten", "_X.,1,NoOp(a;b)")]
    assert resolve(sections, sections[1]) == {"type": "aor", "exten": "_X.,1,NoOp(a;b)"}


def test_ami_listens_where_the_dialer_connects_by_default() -> None:
    general = only(load("manager.conf"), "general")
    assert general.get("enabled") == "yes"
    assert int(general.get("port") or 0) == DEFAULT_AMI_PORT
    # The dialer and the recorded fixtures expect "Timestamp:" on every event.
    assert general.get("timestampevents") == "yes"


def test_ami_user_is_the_default_username_and_may_do_what_the_dialer_does() -> None:
    user = only(load("manager.conf"), DEFAULT_AMI_USERNAME)
    assert user.get("secret"), "the AMI user needs a secret"
    read = {c.strip() for c in (user.get("read") or "").split(",")}
    assert "all" in read or read >= NEEDED_READ_CLASSES, f"read = {sorted(read)} misses events the dialer needs"
    write = {c.strip() for c in (user.get("write") or "").split(",")}
    denied = [action for action, classes in ACTION_CLASSES.items() if "all" not in write and not classes & write]
    assert not denied, f"write = {sorted(write)} does not allow {denied}"
    assert user.values("deny") == ["0.0.0.0/0.0.0.0"], "AMI logins must be limited to the permit lines"


# --------------------------------------------------------------------------- extensions.conf


def test_dialplan_has_the_dialer_contexts_and_none_of_the_capture_doubles(dialplan: list[Section]) -> None:
    assert contexts(dialplan) >= DIALER_CONTEXTS
    assert not contexts(dialplan) & CAPTURE_ONLY_CONTEXTS


def test_goto_destinations_exist(dialplan: list[Section], steps: list[Step]) -> None:
    checked = 0
    for step in steps:
        for context, exten in goto_destinations(step):
            assert context in contexts(dialplan), f"[{step.context}] {step.app}({step.args}): no [{context}]"
            if "$" not in exten:
                patterns = extensions_of(dialplan, context)
                assert any(exten_matches(p, exten) for p in patterns), f"{step.app}: no {exten} in [{context}]"
            checked += 1
    assert checked, "the dialplan should route inbound calls with Goto"


def test_every_queue_in_the_dialplan_is_defined_in_queues_conf(steps: list[Step]) -> None:
    used = [split_top(s.args, ",")[0] for s in steps if s.app == "Queue"]
    assert used
    for name in used:
        assert "$" not in name, f"Queue({name}) cannot be checked; name the queue"
        assert name in queue_names(), f"Queue({name}) but queues.conf has no [{name}]"


def test_every_queue_can_be_originated_into(dialplan: list[Section], steps: list[Step]) -> None:
    # The dialer sends Context=to-queue Exten=<queue>: that extension must queue to that very queue.
    for queue in queue_names():
        queued = {
            split_top(s.args, ",")[0]
            for s in steps
            if s.app == "Queue" and s.context == "to-queue" and s.exten == queue
        }
        assert queued == {queue}, f"[to-queue] {queue} should run Queue({queue}), runs {queued or 'nothing'}"
        assert any(exten_matches(p, queue) for p in extensions_of(dialplan, "to-queue"))


def test_recordings_are_named_after_the_uniqueid(steps: list[Step]) -> None:
    # The app finds a call's recording as /var/spool/asterisk/monitor/<Uniqueid>.wav.
    recordings = [s for s in steps if s.app == "MixMonitor"]
    assert recordings
    for step in recordings:
        filename, *options = split_top(step.args, ",")
        assert filename == "${UNIQUEID}.wav", f"[{step.context}] MixMonitor({step.args})"
        assert "b" in (options[0] if options else ""), f"[{step.context}] records before the agent answers"


def test_agi_calls_reach_the_apps_fastagi_server(steps: list[Step], dialplan_globals: dict[str, str]) -> None:
    agi = [s for s in steps if s.app == "AGI"]
    assert agi
    for step in agi:
        assert step.args.startswith("agi://${AGI_HOST}:${AGI_PORT}/"), f"[{step.context}] AGI({step.args})"
    assert dialplan_globals.get("AGI_HOST")
    assert int(dialplan_globals.get("AGI_PORT", "0")) == DEFAULT_AGI_PORT


def test_dialled_pjsip_endpoints_exist(steps: list[Step], dialplan_globals: dict[str, str]) -> None:
    pjsip = load("pjsip.conf")
    endpoints = {s.name for s in pjsip if not s.is_template and resolve(pjsip, s).get("type") == "endpoint"}
    dialled = 0
    for step in steps:
        target = split_top(step.args, ",")[0] if step.app == "Dial" else ""
        if target.startswith("PJSIP/") and "@" in target:
            endpoint = re.sub(r"\$\{(\w+)\}", lambda m: dialplan_globals.get(m.group(1), m.group(0)), target)
            endpoint = endpoint.split("@", 1)[1]
            assert endpoint in endpoints, f"[{step.context}] Dial({step.args}): no PJSIP endpoint {endpoint}"
            dialled += 1
    assert dialled


# --------------------------------------------------------------------------- queues.conf, features.conf, pjsip.conf


def test_queues_have_no_static_members_and_leave_wrapup_to_the_app() -> None:
    for section in load("queues.conf"):
        if section.name == "general":
            continue
        assert not section.values("member"), f"[{section.name}]: members are added by the dialer (QueueAdd)"
        assert section.get("wrapuptime") == "0", f"[{section.name}]: the app runs wrap-up itself"
        # Options removed in Asterisk 12: Asterisk 22 only warns about them (the events are always sent).
        assert section.get("eventwhencalled") is None
        assert section.get("eventmemberstatus") is None


def test_attended_and_blind_transfer_have_feature_codes() -> None:
    featuremap = only(load("features.conf"), "featuremap")
    # Asterisk 22 has no default atxfer code and AMI Atxfer fails without one (ami-hangup-redirect.txt part C).
    assert featuremap.get("atxfer")
    assert featuremap.get("blindxfer")
    assert featuremap.get("atxfer") != featuremap.get("blindxfer")


def test_pjsip_references_resolve(dialplan: list[Section]) -> None:
    pjsip = load("pjsip.conf")
    typed: dict[str, set[str]] = {}
    for section in pjsip:
        if not section.is_template:
            typed.setdefault(resolve(pjsip, section).get("type", ""), set()).add(section.name)
    assert typed.get("endpoint")
    for section in pjsip:
        options = resolve(pjsip, section)
        if not section.is_template and options.get("type") == "identify":
            assert options.get("endpoint") in typed["endpoint"], f"identify [{section.name}]"
        if section.is_template or options.get("type") != "endpoint":
            continue
        assert options.get("context") in contexts(dialplan), f"[{section.name}] context={options.get('context')}"
        for key, kind in (("auth", "auth"), ("outbound_auth", "auth"), ("aors", "aor"), ("transport", "transport")):
            for ref in filter(None, (r.strip() for r in options.get(key, "").split(","))):
                assert ref in typed.get(kind, set()), f"[{section.name}] {key} = {ref}: no such {kind}"


def test_agent_phones_run_the_agents_context() -> None:
    pjsip = load("pjsip.conf")
    for n in range(1, 6):
        endpoint = [resolve(pjsip, s) for s in pjsip if s.name == f"agent{n}"]
        assert any(o.get("type") == "endpoint" and o.get("context") == "agents" for o in endpoint), f"agent{n}"


# --------------------------------------------------------------------------- docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed; docker-compose.yml is not checked")
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _default(value: str) -> str:
    """The default of a ``${VAR:-default}`` interpolation, or the value itself."""
    match = re.fullmatch(r"\$\{\w+:?-(.*)\}", value)
    return match.group(1) if match else value


def _mounts(service: dict[str, Any]) -> list[list[str]]:
    return [str(v).split(":") for v in service.get("volumes", [])]


def test_compose_mounts_every_asterisk_sample(compose: dict[str, Any]) -> None:
    mounts = {target: (source, mode) for source, target, *mode in _mounts(compose["services"]["asterisk"])}
    samples = sorted(p.name for p in ASTERISK_DIR.glob("*.conf"))
    assert samples
    for name in samples:
        assert f"/etc/asterisk/{name}" in mounts, f"{name} is not mounted, Asterisk would use its sample"
        source, mode = mounts[f"/etc/asterisk/{name}"]
        assert (ROOT / source).resolve() == ASTERISK_DIR / name
        assert mode == ["ro"]


def test_compose_app_settings_match_the_asterisk_files(
    compose: dict[str, Any], dialplan_globals: dict[str, str]
) -> None:
    services = compose["services"]
    env = _environment(services["app"])
    manager = load("manager.conf")
    assert env["CALLCENTER_AMI__HOST"] == "asterisk"
    assert env["CALLCENTER_AMI__HOST"] in services
    assert int(env["CALLCENTER_AMI__PORT"]) == int(only(manager, "general").get("port") or 0)
    user = only(manager, env["CALLCENTER_AMI__USERNAME"])
    assert _default(env["CALLCENTER_AMI__SECRET"]) == user.get("secret"), "AMI secret differs from manager.conf"
    assert int(env["CALLCENTER_AGI__PORT"]) == int(dialplan_globals["AGI_PORT"])
    # Asterisk calls AGI_HOST: it must be the service that runs the FastAGI server (`callcenter serve`).
    agi_service = services.get(dialplan_globals["AGI_HOST"], {})
    assert "serve" in agi_service.get("command", []), f"AGI_HOST={dialplan_globals['AGI_HOST']} is not the app"


def test_compose_network_is_the_one_manager_conf_permits(compose: dict[str, Any]) -> None:
    permits = [
        ipaddress.ip_network(p.replace(" ", ""), strict=False)
        for p in only(load("manager.conf"), DEFAULT_AMI_USERNAME).values("permit")
    ]
    subnets = [ipaddress.ip_network(c["subnet"]) for c in compose["networks"]["default"]["ipam"]["config"]]
    assert subnets
    for subnet in subnets:
        assert any(subnet.subnet_of(p) for p in permits if p.version == subnet.version), f"{subnet} not permitted"


def test_compose_shares_recordings_with_the_app_read_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    monitor = "/var/spool/asterisk/monitor"
    asterisk = {target: source for source, target, *_ in _mounts(services["asterisk"])}
    app = {target: (source, mode) for source, target, *mode in _mounts(services["app"])}
    assert asterisk.get(monitor) in compose["volumes"]
    assert app.get(monitor) == (asterisk[monitor], ["ro"])


def test_compose_rtp_range_equals_the_published_ports(compose: dict[str, Any]) -> None:
    asterisk = compose["services"]["asterisk"]
    (config,) = [c for c in asterisk["configs"] if c["target"] == "/etc/asterisk/rtp.conf"]
    rtp = only(parse_conf(compose["configs"][config["source"]]["content"]), "general")
    rtp_range = f"{rtp.get('rtpstart')}-{rtp.get('rtpend')}"
    published = [str(p).removesuffix("/udp").split(":") for p in asterisk["ports"] if "-" in str(p)]
    # Asterisk picks RTP ports inside the container range; only published ones reach the phones.
    assert published == [[rtp_range, rtp_range]]
