"""`wl-adapter demo` (the README's "run the main job" command) starts everything and its example call works."""
import subprocess
import sys

from helpers import ROOT, free_port


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
