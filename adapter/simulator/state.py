"""Everything one simulator process holds: the register, subscriptions, proposals, pushes, journal, scenarios, and
the server's sockets (for network faults). ``reset`` returns all of it to a freshly started simulator's state."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from adapter.simulator import DEFAULT_OIN
from adapter.simulator.messagelog import MessageLog
from adapter.simulator.netfaults import ServerSockets
from adapter.simulator.pushes import PushSender
from adapter.simulator.register import Register
from adapter.simulator.scenarios import Scenarios
from adapter.simulator.subscriptions import Subscriptions, Voordracht


@dataclass
class Simulator:
    register: Register
    pushes: PushSender
    scenarios: Scenarios
    oin: str = DEFAULT_OIN
    fixed_today: dt.date | None = None  # --today; else the real date
    subscriptions: Subscriptions = field(default_factory=Subscriptions)
    voordrachten: list[Voordracht] = field(default_factory=list)
    messages: MessageLog = field(default_factory=MessageLog)
    sockets: ServerSockets | None = None  # set when served by `wl-adapter simulate`
    admin_port: int | None = None  # --admin-port: the admin API also answers there (and only there while refusing)

    def __post_init__(self) -> None:
        self.pushes.journal = self.messages

    @property
    def seed(self) -> int:
        return self.register.seed

    def today(self) -> dt.date:
        return self.fixed_today or dt.date.today()

    def reset(self, seed: int | None = None, leerbedrijven: int | None = None) -> None:
        """Back to the state of a fresh start (optionally with another data set): the seed's register, no
        subscriptions, proposals, pushes or scenarios, an empty journal, the SOAP port open."""
        seed = self.seed if seed is None else seed
        count = len(self.register.companies) if leerbedrijven is None else leerbedrijven
        register = Register.generated(seed, count)  # built first: the old state answers until the swap
        with self.register.lock:
            self.register = register
            self.subscriptions = Subscriptions()
            self.voordrachten = []
        self.pushes.reset()
        self.scenarios.clear(seed)
        if self.sockets is not None:
            self.sockets.reopen()
        self.messages.clear()
