"""The adapter's configuration: a TOML file, overridable per key by environment variables.

``WL_ADAPTER_<SECTION>_<KEY>`` overrides ``[section] key`` (e.g. ``WL_ADAPTER_UPSTREAM_URL``,
``WL_ADAPTER_STORE_URL``). A bad file fails at start with a ``ConfigError`` that names the key.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import socket
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapter.errors import ConfigError, InvalidSubject
from adapter.soap import dn
from adapter.soap.oin import is_oin, is_school_oin

ENV_PREFIX = "WL_ADAPTER_"
SHA256_PATTERN = re.compile(r"^[0-9a-fA-F]{64}$")
VALIDATION_MODES = ("enforce", "report", "off")
SERVER_WORKERS = ("gthread", "gevent")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MUTATIES_PATH = "/wl2/mutaties"  # where SBB pushes MutatieLeerbedrijf (the Afleveradres is a base URL + this)


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # how clients and SBB reach the adapter; default http://host:port
    workers: int = 2
    threads: int = 32
    worker: str = "gevent"  # "gevent": a greenlet per call in flight (serve/greenlets.py); "gthread": a thread per call
    connections: int = 1000  # gevent: calls in flight per worker at most
    max_body_bytes: int = 1024 * 1024
    max_depth: int = 32
    # the shape of a message (adapter/soap/xmlsafe.py): past any of these it is refused before anything reads it
    max_elements: int = 2000
    max_attributes: int = 16
    max_namespaces: int = 64
    max_name_chars: int = 256
    max_attribute_chars: int = 1024
    max_text_chars: int = 65536
    body_timeout_s: float = 20.0  # the whole request body must arrive within this (HTTP 408); 0 = no limit
    # the memory ceiling of a worker (docs/figures.md, "Worker memory"): a worker is replaced after max_requests
    # calls (plus up to max_requests_jitter, so workers do not restart together); glibc's malloc arenas are capped
    max_requests: int = 100000  # a safety net only: 100,000 calls leave a worker where 5,000 do (docs/figures.md)
    max_requests_jitter: int = 10000
    malloc_arena_max: int = 2  # 0 = glibc's allocator left alone (no arena cap, no mmap threshold, no trimming)
    instance_name: str = ""  # this instance in the metrics (label instance); default host:port

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def instance(self) -> str:
        """How the metrics name this instance: ``instance_name``, else host:port (the machine's name for a
        wildcard address, which says nothing about which instance it is)."""
        if self.instance_name:
            return self.instance_name
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


@dataclass(frozen=True)
class UpstreamConfig:
    url: str = "http://127.0.0.1:8081/wl2"
    oin: str = "00000003273462010000"
    timeout_s: float = 10.0  # one attempt's whole answer must have arrived within this
    connect_timeout_s: float = 3.0
    deadline_s: float = 15.0  # all attempts of one call together (read-only operations are retried within it)
    retries: int = 2  # extra attempts for read-only operations after a connection failure, timeout or HTTP 5xx
    retry_backoff_s: float = 0.2  # first pause between attempts, doubling
    client_cert: str = ""
    client_key: str = ""
    ca: str = ""
    pool_size: int = 1000  # as many as calls a gevent worker may have in flight (server.connections)
    breaker_failures: int = 5  # calls failed in a row (998) that open the circuit
    breaker_reset_s: float = 10.0  # how long it stays open before one probe call may close it
    max_response_bytes: int = 16 * 1024 * 1024  # a larger WL 2.0 answer is not read further (998)


@dataclass(frozen=True)
class StoreConfig:
    url: str = "sqlite:///wl-adapter.sqlite"
    # Resolved codes are cached per worker; another process's mapping change (an import, an ID change pushed to
    # another worker or instance) is noticed within this many seconds of its commit. 0: read the store every call.
    mapping_check_s: float = 1.0


@dataclass(frozen=True)
class MutationsConfig:
    subscribe_after_verify: bool = True
    retention_days: int = 30  # delivered mutations are purged this long after delivery
    purge_interval_s: float = 3600.0


# the ways to authenticate SBB's pushes, each with the keys it needs (besides sbb_subject for the first two)
PUSH_WAYS = {
    "listen": ("listen", "certfile", "keyfile", "client_ca"),
    "trusted_proxies": ("trusted_proxies", "subject_header"),
    "allow_unauthenticated": ("allow_unauthenticated",),
}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class PushesConfig:
    """How a push to /wl2/mutaties proves it comes from SBB: exactly one way, or none (then every push is refused)."""

    listen: str = ""  # HOST:PORT of a listener of its own, TLS with a client certificate required
    public_url: str = ""  # how SBB reaches that listener (default https://<server.public_url's host>:<port>)
    certfile: str = ""
    keyfile: str = ""
    client_ca: str = ""  # the CA(s) that issue SBB's client certificate
    sbb_subject: str = ""  # the subject of SBB's certificate (RFC 4514); compared as a DN (adapter/dn.py)
    threads: int = 8  # request threads of the push listener
    trusted_proxies: tuple[str, ...] = ()  # CIDRs of reverse proxies that verified the client certificate
    subject_header: str = ""  # the request header in which they pass the verified subject
    allow_unauthenticated: bool = False  # demo and tests on loopback only
    on_main_listener: bool | None = None  # serve /wl2/mutaties on the WL 1.0 listener (default: see serve_on_main)

    @property
    def way(self) -> str | None:
        """The configured way (a key of PUSH_WAYS), or None."""
        return next((way for way, keys in PUSH_WAYS.items() if any(getattr(self, k) for k in keys)), None)

    @property
    def serve_on_main(self) -> bool:
        """Does the WL 1.0 listener have the /wl2/mutaties route? Never with a listener of its own for pushes;
        else as configured, by default yes: behind a proxy or unauthenticated it accepts pushes, and with no way
        configured it refuses every push (HTTP 403 and a fault naming the missing configuration)."""
        if self.way == "listen":
            return False
        return True if self.on_main_listener is None else self.on_main_listener

    @property
    def networks(self) -> tuple:
        return tuple(ipaddress.ip_network(cidr) for cidr in self.trusted_proxies)

    @property
    def listen_address(self) -> tuple[str, int]:
        return _host_port(self.listen)


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"pushes.listen: expected HOST:PORT (e.g. 0.0.0.0:8443), got {text!r}")
    return host, int(port)


LEGS = ("wl1_request", "wl2_request", "wl2_response", "wl1_response")


@dataclass(frozen=True)
class ValidationPolicy:
    """Per leg and per operation: ``enforce`` (default), ``report`` (log and count, pass on) or ``off``."""

    default: tuple[tuple[str, str], ...] = tuple((leg, "enforce") for leg in LEGS)
    operations: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def mode(self, leg: str, operation: str) -> str:
        for op, legs in self.operations:
            if op == operation:
                for name, mode in legs:
                    if name == leg:
                        return mode
        return dict(self.default)[leg]


def _validation_policy(raw: dict) -> ValidationPolicy:
    if not isinstance(raw, dict):
        raise ConfigError("validation: expected a table")

    def legs(table: dict, where: str) -> dict[str, str]:
        out = {}
        for key, mode in table.items():
            if key not in LEGS:
                raise ConfigError(f"{where}.{key}: unknown leg (known: {', '.join(LEGS)})")
            if mode not in VALIDATION_MODES:
                raise ConfigError(f"{where}.{key}: expected one of {', '.join(VALIDATION_MODES)}, got {mode!r}")
            out[key] = mode
        return out

    ops = raw.get("operations", {})
    if not isinstance(ops, dict):
        raise ConfigError("validation.operations: expected tables [validation.operations.NAME]")
    default = {leg: "enforce" for leg in LEGS} | legs({k: v for k, v in raw.items() if k != "operations"}, "validation")
    return ValidationPolicy(
        default=tuple(default.items()),
        operations=tuple((op, tuple(legs(t, f"validation.operations.{op}").items())) for op, t in ops.items()),
    )


@dataclass(frozen=True)
class AuditConfig:
    enabled: bool = True
    bodies: bool = False
    max_body_chars: int = 4000
    file: str = ""  # also append each record to this JSON-lines file (shared by every worker; read by the console)
    record_requests: bool = False  # record whole requests and answers (licence removed) for `wl-adapter replay`
    record_dir: str = "recordings"
    record_retention_days: int = 7


@dataclass(frozen=True)
class ConsoleConfig:
    """The read-only web console at /console: off unless enabled, and then only with credentials whose hashes are
    configured here (a bearer token, or basic-auth users), sent in the Authorization header."""

    enabled: bool = False
    token_sha256: str = ""  # SHA-256 (hex) of the bearer token
    users: tuple[tuple[str, str], ...] = ()  # (name, "sha256:<hex of the password>") for basic auth
    recent_calls: int = 1000  # how many of the newest audit records the console reads


@dataclass(frozen=True)
class LimitsConfig:
    requests_per_second: float = 0.0  # per school; 0 = no limit
    burst: int = 20


@dataclass(frozen=True)
class NotifyConfig:
    """SMTP for the daily digest mail to each school's BPV office (``wl-adapter mutations digest``)."""

    smtp_host: str = ""  # empty: no digest mails
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""  # set it through WL_ADAPTER_NOTIFY_SMTP_PASSWORD rather than in the file
    from_address: str = ""
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Tenant:
    name: str
    oin: str
    licence_sha256: str
    client_cert: str = ""
    client_key: str = ""
    bpv_email: str = ""  # the school's BPV office: gets the daily digest of withdrawals and code changes
    placement_check: str = ""  # the --out DIR of the school's placement checks: the digest names affected placements


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    mutations: MutationsConfig = field(default_factory=MutationsConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    pushes: PushesConfig = field(default_factory=PushesConfig)
    validation: ValidationPolicy = field(default_factory=ValidationPolicy)
    tenants: tuple[Tenant, ...] = ()
    source: str = ""

    @property
    def afleveradres(self) -> str:
        """Where SBB is asked to push (VerzoekAbonnementMutaties' Afleveradres): the push listener when there is
        one, else the WL 1.0 listener."""
        p = self.pushes
        if p.way != "listen":
            return self.server.base_url + MUTATIES_PATH
        if p.public_url:
            return p.public_url.rstrip("/") + MUTATIES_PATH
        host, port = p.listen_address
        public_host = urllib.parse.urlsplit(self.server.public_url).hostname if self.server.public_url else None
        host = public_host or (self.server.host if host in ("0.0.0.0", "::", "") else host)
        return f"https://{f'[{host}]' if ':' in host else host}:{port}{MUTATIES_PATH}"


_SECTIONS = {"server": ServerConfig, "upstream": UpstreamConfig, "store": StoreConfig, "mutations": MutationsConfig,
             "audit": AuditConfig, "limits": LimitsConfig, "notify": NotifyConfig, "console": ConsoleConfig,
             "pushes": PushesConfig}
_TABLE_KEYS = {("console", "users")}  # keys whose value is a table, read by their own function


def _coerce(key: str, value: Any, typ: type) -> Any:
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            return int(value)
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, str):
            return value
    elif typ is tuple:  # a list of strings; from the environment, comma-separated
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
    raise ConfigError(f"{key}: expected {typ.__name__}, got {value!r}")


def _build(cls: type, data: dict, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix}: expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if (prefix, f.name) not in _TABLE_KEYS}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}: unknown key (known: {', '.join(fields)})")
    types = {"bool": bool, "int": int, "float": float, "str": str, "bool | None": bool, "tuple[str, ...]": tuple}
    kwargs = {k: _coerce(f"{prefix}.{k}", v, types[str(fields[k].type)]) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        missing = re.findall(r"'(\w+)'", str(exc))
        raise ConfigError(f"{prefix}.{missing[0] if missing else '?'}: required key missing") from None


def _env_overrides(raw: dict, environ: dict) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        for section in _SECTIONS:
            if rest.startswith(section + "_"):
                raw.setdefault(section, {})[rest[len(section) + 1:]] = value
                break


def _console_users(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        raise ConfigError('console.users: expected a table of name = "sha256:<64 hex digits>"')
    users = []
    for name, value in raw.items():
        kind, _, digest = str(value).partition(":")
        if not isinstance(value, str) or kind != "sha256" or not SHA256_PATTERN.match(digest):
            raise ConfigError(f'console.users.{name}: expected "sha256:" + 64 hex digits (SHA-256 of the password)')
        users.append((name, digest.lower()))
    return tuple(users)


def _check_console(c: ConsoleConfig) -> None:
    if c.token_sha256 and not SHA256_PATTERN.match(c.token_sha256):
        raise ConfigError("console.token_sha256: expected 64 hex digits (SHA-256 of the token)")
    if c.enabled and not (c.token_sha256 or c.users):
        raise ConfigError("console.enabled: the console needs credentials: token_sha256 or users")
    if c.recent_calls < 1:
        raise ConfigError("console.recent_calls: must be >= 1")


_SHAPE_KEYS = ("max_body_bytes", "max_depth", "max_elements", "max_attributes", "max_namespaces", "max_name_chars",
               "max_attribute_chars", "max_text_chars")


def _check(config: Config) -> None:
    _check_console(config.console)
    for key in _SHAPE_KEYS:
        if getattr(config.server, key) < 1:
            raise ConfigError(f"server.{key}: must be >= 1")
    if config.audit.record_retention_days < 1:
        raise ConfigError("audit.record_retention_days: must be >= 1")
    if config.audit.record_requests and not config.audit.record_dir:
        raise ConfigError("audit.record_dir: required when record_requests = true")
    for key in ("max_requests", "max_requests_jitter", "malloc_arena_max"):
        if getattr(config.server, key) < 0:
            raise ConfigError(f"server.{key}: must be >= 0 (0 = off)")
    if config.server.worker not in SERVER_WORKERS:
        raise ConfigError(f"server.worker: one of {', '.join(SERVER_WORKERS)}, got {config.server.worker!r}")
    if config.server.connections < 1:
        raise ConfigError("server.connections: must be >= 1")
    if config.server.body_timeout_s < 0:
        raise ConfigError("server.body_timeout_s: must be >= 0 (0 = no limit)")
    u = config.upstream
    if not re.match(r"^https?://", u.url):
        raise ConfigError(f"upstream.url: must start with http:// or https://, got {u.url!r}")
    if not is_oin(u.oin):
        raise ConfigError(f"upstream.oin: an OIN is 20 characters, got {u.oin!r}")
    if u.timeout_s <= 0 or u.connect_timeout_s <= 0:
        raise ConfigError("upstream.timeout_s: must be > 0")
    if u.deadline_s < u.timeout_s:
        raise ConfigError(f"upstream.deadline_s: must be at least timeout_s ({u.timeout_s:g})")
    if u.breaker_failures < 1 or u.breaker_reset_s <= 0:
        raise ConfigError("upstream.breaker_failures: must be >= 1 (and breaker_reset_s > 0)")
    if u.max_response_bytes < 1:
        raise ConfigError("upstream.max_response_bytes: must be >= 1")
    if u.retries < 0 or u.retry_backoff_s < 0:
        raise ConfigError("upstream.retries: must be >= 0 (and retry_backoff_s >= 0)")
    if bool(u.client_cert) != bool(u.client_key):
        raise ConfigError("upstream.client_key: client_cert and client_key go together")
    if not 0 <= config.store.mapping_check_s < math.inf:  # NaN and inf would trust a cached code forever
        raise ConfigError("store.mapping_check_s: must be a number >= 0 (0 = read the mapping on every call)")
    if not config.store.url.startswith(("sqlite:", "postgresql")):
        raise ConfigError(f"store.url: expected sqlite:///PATH or postgresql+psycopg://..., got {config.store.url!r}")
    seen: dict[str, str] = {}
    for i, t in enumerate(config.tenants):
        where = f"tenants[{i}]"
        if not is_school_oin(t.oin):
            raise ConfigError(f"{where}.oin: an MBO school OIN is 00000007000 + BRIN (4) + 00000, got {t.oin!r}")
        if not SHA256_PATTERN.match(t.licence_sha256):
            raise ConfigError(f"{where}.licence_sha256: expected 64 hex digits (SHA-256 of the licence key)")
        if t.licence_sha256.lower() in seen:
            other = seen[t.licence_sha256.lower()]
            raise ConfigError(f"{where}.licence_sha256: the same licence is already used by {other}")
        seen[t.licence_sha256.lower()] = t.name
        if bool(t.client_cert) != bool(t.client_key):
            raise ConfigError(f"{where}.client_key: client_cert and client_key go together")
        if t.bpv_email and not EMAIL_PATTERN.match(t.bpv_email):
            raise ConfigError(f"{where}.bpv_email: expected an e-mail address, got {t.bpv_email!r}")
    n = config.notify
    if n.smtp_host and not EMAIL_PATTERN.match(n.from_address):
        raise ConfigError(f"notify.from_address: an e-mail address is needed to send mail, got {n.from_address!r}")
    if not 0 < n.smtp_port < 65536:
        raise ConfigError(f"notify.smtp_port: expected 1..65535, got {n.smtp_port}")
    _check_pushes(config.pushes, config.server)


def _check_pushes(p: PushesConfig, server: ServerConfig) -> None:
    """Exactly one way, wholly configured; anything half-done names its key, so nothing is trusted by accident."""
    ways = [way for way, keys in PUSH_WAYS.items() if any(getattr(p, k) for k in keys)]
    if len(ways) > 1:
        raise ConfigError(f"pushes.{ways[1]}: configure one way to authenticate pushes, not both "
                          f"pushes.{ways[0]} and pushes.{ways[1]}")
    way = ways[0] if ways else None
    for key in PUSH_WAYS.get(way, ()):
        if not getattr(p, key):
            raise ConfigError(f"pushes.{key}: missing; "
                              + ", ".join(f"pushes.{k}" for k in (*PUSH_WAYS[way], "sbb_subject")) + " go together")
    if way in ("listen", "trusted_proxies"):
        if not p.sbb_subject:
            raise ConfigError(f"pushes.sbb_subject: required with pushes.{way} (the subject of SBB's certificate)")
        try:
            dn.parse(p.sbb_subject)
        except InvalidSubject as exc:
            raise ConfigError(f"pushes.sbb_subject: not a distinguished name (RFC 4514): {exc}") from None
    elif p.sbb_subject:
        raise ConfigError("pushes.sbb_subject: only used with pushes.listen or pushes.trusted_proxies")
    if way == "listen":
        _host_port(p.listen)
        if p.on_main_listener:
            raise ConfigError("pushes.on_main_listener: with pushes.listen, pushes are served by that listener only")
        if p.threads < 1:
            raise ConfigError("pushes.threads: must be at least 1")
        if p.public_url and not p.public_url.startswith("https://"):
            raise ConfigError(f"pushes.public_url: must start with https://, got {p.public_url!r}")
    elif p.public_url:
        raise ConfigError("pushes.public_url: only used with pushes.listen "
                          "(else the Afleveradres is server.public_url's)")
    if way == "trusted_proxies":
        for i, cidr in enumerate(p.trusted_proxies):
            try:
                ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise ConfigError(f"pushes.trusted_proxies[{i}]: {exc}") from None
        if not _HEADER_NAME.match(p.subject_header):
            raise ConfigError(f"pushes.subject_header: expected a header name (letters, digits, -), "
                              f"got {p.subject_header!r}")
    if way == "allow_unauthenticated" and not _is_loopback(server.host):
        raise ConfigError(f"pushes.allow_unauthenticated: only for the demo and tests on loopback, and server.host "
                          f"is {server.host!r}; configure pushes.listen or pushes.trusted_proxies")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(path: str | os.PathLike | None = None, environ: dict | None = None) -> Config:
    environ = dict(os.environ if environ is None else environ)
    raw: dict = {}
    source = ""
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _env_overrides(raw, environ)
    unknown = sorted(set(raw) - set(_SECTIONS) - {"tenants", "validation"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section (known: {', '.join([*_SECTIONS, 'validation', 'tenants'])})")
    sections = {name: _build(cls, {k: v for k, v in raw.get(name, {}).items() if (name, k) not in _TABLE_KEYS}
                             if isinstance(raw.get(name, {}), dict) else raw[name], name)
                for name, cls in _SECTIONS.items()}
    if isinstance(raw.get("console"), dict) and "users" in raw["console"]:
        sections["console"] = dataclasses.replace(sections["console"], users=_console_users(raw["console"]["users"]))
    tenants_raw = raw.get("tenants", [])
    if not isinstance(tenants_raw, list):
        raise ConfigError("tenants: expected [[tenants]] tables")
    tenants = tuple(_build(Tenant, t, f"tenants[{i}]") for i, t in enumerate(tenants_raw))
    config = Config(**sections, validation=_validation_policy(raw.get("validation", {})), tenants=tenants,
                    source=source)
    _check(config)
    return config
