"""The daily digest mail to a school's BPV office: new withdrawals and code changes, and the placements they touch.

Why: a withdrawal reaches a school's system only if that system calls ``GeefMutaties``, which no legacy system
does; until then it waits in the store and nobody is told. The digest tells a person. It lists the mutations the
school received since its last digest, and, when the school has run ``check-placements``, the placements of that
last check (``DIR/placements.csv``) at the company concerned. Building the mail is plain data-in/data-out here;
``send`` is the only part that talks SMTP.
"""
from __future__ import annotations

import csv
import io
import json
import smtplib
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from adapter.bpv.check import META_FILE, RESULT_FILE
from adapter.bpv.placements import COLUMNS, parse_date
from adapter.store.model import StoredMutationRow
from adapter.translate.tables import ID_CHANGE

WITHDRAWAL = "ERKENNING_INGETROKKEN"
DIGEST_KINDS = (WITHDRAWAL, ID_CHANGE)
KIND_NL = {WITHDRAWAL: "Intrekking van een erkenning", ID_CHANGE: "Nieuwe LeerbedrijfId"}


@dataclass(frozen=True)
class AffectedPlacement:
    student: str
    crebo: str
    leerweg: str
    begin: str
    end: str


def news(rows: list[StoredMutationRow]) -> list[StoredMutationRow]:
    """The mutations worth a mail: withdrawals and changed LeerbedrijfIds."""
    return [r for r in rows if r.mutation.soort in DIGEST_KINDS]


def read_last_check(check_dir: str) -> list[dict]:
    """The placements of the school's last check, by our column names (the check wrote down which of the school's
    headers is which in check.json); nothing when there is no check or it cannot be read."""
    path = Path(check_dir) / RESULT_FILE if check_dir else None
    if path is None or not path.is_file():
        return []
    try:
        meta = json.loads((path.parent / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    columns = {name: meta.get("columns", {}).get(name, name) for name in COLUMNS}
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=meta.get("delimiter", ","))
    rows = []
    for row in reader:
        if row.get("leerbedrijf_id"):
            by_header = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
            rows.append({**{n: by_header.get(h.strip().lower(), "") for n, h in columns.items()},
                         "leerbedrijf_id": row["leerbedrijf_id"]})
    return rows


def affected(mutation_row: StoredMutationRow, placements: list[dict]) -> list[AffectedPlacement]:
    """Placements of the last check at the mutation's company (for a withdrawal: with that crebo and still running
    on the day it takes effect)."""
    m = mutation_row.mutation
    ids = {m.leerbedrijf_id, m.oud_leerbedrijf_id} - {None}
    out = []
    for row in placements:
        if row.get("leerbedrijf_id") not in ids:
            continue
        v = row
        crebo = v["crebonummer"].zfill(5) if v["crebonummer"].isdigit() else v["crebonummer"]
        if m.soort == WITHDRAWAL:
            if m.crebo and crebo != m.crebo:
                continue
            end = v["einddatum"]
            if end and _iso(end) and _iso(end) < m.ingangsdatum.isoformat():
                continue
        out.append(AffectedPlacement(v["student"], crebo, v["leerweg"], v["begindatum"], v["einddatum"]))
    return out


def _iso(text: str) -> str:
    """A date from placements.csv as YYYY-MM-DD for comparing ('' when it is not a date)."""
    d = parse_date(text)
    return d.isoformat() if d else ""


def compose(school: str, to: str, sender: str, day: date, rows: list[StoredMutationRow],
            placements: list[dict], check_dir: str) -> EmailMessage:
    lines = [f"Beste BPV-administratie van {school},", "",
             f"Sinds de vorige samenvatting kwamen er {len(rows)} wijziging(en) van SBB binnen die uw "
             "leerlingadministratie moet verwerken:", ""]
    for r in rows:
        m = r.mutation
        lines.append(f"* {KIND_NL[m.soort]}: LeerbedrijfId {m.leerbedrijf_id}"
                     + (f" (was {m.oud_leerbedrijf_id})" if m.oud_leerbedrijf_id else "")
                     + (f", crebo {m.crebo}" if m.crebo else "") + f", ingangsdatum {m.ingangsdatum.isoformat()}"
                     + (f" - {m.toelichting}" if m.toelichting else ""))
        touched = affected(r, placements)
        for p in touched:
            lines.append(f"    - plaatsing van {p.student}: crebo {p.crebo} {p.leerweg}, "
                         f"{p.begin} t/m {p.end or 'open'}")
        if placements and not touched:
            lines.append("    - geen plaatsingen in de laatste controle")
    lines += [""]
    if not check_dir:
        lines.append("(Er is geen plaatsingscontrole ingesteld: de getroffen plaatsingen staan hier niet bij.)")
    elif not placements:
        lines.append(f"(Geen plaatsingscontrole gevonden in {check_dir}: voer wl-adapter check-placements uit.)")
    lines += ["Volgnummers " + ", ".join(str(r.volgnummer) for r in rows) + " (GeefMutaties).", "",
              "-- ", "wl-adapter (this is the daily digest of withdrawals and LeerbedrijfId changes)"]
    msg = EmailMessage()
    msg["Subject"] = f"WL-adapter: {len(rows)} wijziging(en) in erkenningen voor {school} ({day.isoformat()})"
    msg["From"] = sender
    msg["To"] = to
    msg.set_content("\n".join(lines))
    return msg


def send(notify, message: EmailMessage) -> None:
    """One message through the configured SMTP server (STARTTLS and login when configured)."""
    with smtplib.SMTP(notify.smtp_host, notify.smtp_port, timeout=notify.timeout_s) as smtp:
        if notify.smtp_starttls:
            smtp.starttls()
        if notify.smtp_user:
            smtp.login(notify.smtp_user, notify.smtp_password)
        smtp.send_message(message)
