"""Everything one simulator process holds: the register, subscriptions, proposals, pushes, log, scenarios."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from adapter.simulator import DEFAULT_OIN
from adapter.simulator.messagelog import MessageLog
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

    def today(self) -> dt.date:
        return self.fixed_today or dt.date.today()
