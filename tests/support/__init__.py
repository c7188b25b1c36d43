"""Helpers shared by the tests (and bench/), in one place: servers.py (processes, ports, the test configuration),
soap.py (namespaces, the one envelope builder, the one POST, answers), mutations.py (the bridge's schools, pushes and
admin API), simulator.py (a checking WL 2.0 client), store.py (PostgreSQL, a settable clock), clock.py (a monotonic
clock the test moves), tls.py (generated certificates), fuzzing.py (hypothesis settings). Fixtures are in
tests/conftest.py."""
