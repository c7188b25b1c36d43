"""`wl-adapter demo` (the README's "run the main job" command) starts everything and its example call works."""
import subprocess
import sys

from tests.support.servers import ROOT, free_port


def test_demo_starts_and_its_example_call_answers(tmp_path):
    port, sim_port = free_port(), free_port()
    r = subprocess.run([sys.executable, "-m", "adapter", "demo", "--check", "--port", str(port),
                        "--sim-port", str(sim_port), "--leerbedrijven", "200", "--workdir", str(tmp_path / "demo")],
                       cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"http://127.0.0.1:{port}/wl1?wsdl" in r.stdout
    assert "DEMO-ROC-ZADKINE-2026" in r.stdout
    assert "check: the example call answered signaalcode 0" in r.stdout
    assert "added" in r.stdout  # the simulator's code mapping was imported


def test_demo_restart_reconciles_stale_subscriptions_and_fresh_empties_the_store(tmp_path):
    """Restarting the demo starts a new simulator that knows none of the store's subscriptions: a restart
    re-asks for them (withdrawals would never arrive otherwise), and --fresh starts from an empty store."""
    from datetime import datetime, timezone

    from adapter.cli.demo import DEMO_SCHOOL_OIN
    from adapter.store import Store

    workdir = tmp_path / "demo"
    workdir.mkdir()
    store_url = f"sqlite:///{workdir / 'adapter.sqlite'}"
    store = Store(store_url)
    store.migrate()
    stale = "0c0ffee0-0000-4000-8000-000000000001"
    store.upsert_subscription(DEMO_SCHOOL_OIN, "100003", "25180", stale, datetime.now(timezone.utc))
    store.close()

    def demo(*extra):
        r = subprocess.run([sys.executable, "-m", "adapter", "demo", "--check", "--port", str(free_port()),
                            "--sim-port", str(free_port()), "--leerbedrijven", "50", "--workdir", str(workdir),
                            *extra], cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
        store = Store(store_url)
        try:
            return r.stdout, store.list_subscriptions(), store.list_subscription_intents()
        finally:
            store.close()

    out, active, pending = demo()
    assert "subscriptions sync:" in out and stale in out and "re-subscribe" in out
    assert stale not in {s.abonnement_id for s in active}
    assert ("100003", "25180") in {(i.leerbedrijf_id, i.crebo) for i in pending} | {
        (s.leerbedrijf_id, s.crebo) for s in active}

    out, active, pending = demo("--fresh")
    assert "fresh: removed the demo store" in out and "subscriptions sync:" not in out
    assert "100003" not in {s.leerbedrijf_id for s in active} | {i.leerbedrijf_id for i in pending}
