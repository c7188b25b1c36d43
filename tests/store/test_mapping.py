"""Code mapping: imports through the real CLI (all or nothing, every bad line named) and through the API,
and following SBB's ID changes, chains included."""
from __future__ import annotations

import pytest

from adapter.errors import MappingImportError
from adapter.store import Store
from tests.support.servers import wl_adapter


def _import(tmp_path, store_url, content: bytes | str, name="codes.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path, wl_adapter("mapping", "import", str(path), "--store-url", store_url)


def _mapping(store_url, *codes):
    s = Store(store_url)
    try:
        return {code: s.resolve_code(code) for code in codes}
    finally:
        s.close()


def test_cli_imports_a_good_file_and_is_idempotent(tmp_path, store_url):
    content = "code_leerbedrijf,leerbedrijf_id\n99ZZ9999JJ0001602,100000123\n\nOLD-2, 7 \n"
    _, run = _import(tmp_path, store_url, content)
    assert (run.returncode, run.stdout.strip()) == (0, "added 2, updated 0, unchanged 0"), run.stderr
    _, again = _import(tmp_path, store_url, content)
    assert (again.returncode, again.stdout.strip()) == (0, "added 0, updated 0, unchanged 2"), again.stderr
    _, changed = _import(tmp_path, store_url, "OLD-2,8\nNEW,9\n", "next.csv")
    assert changed.stdout.strip() == "added 1, updated 1, unchanged 0"
    assert _mapping(store_url, "99ZZ9999JJ0001602", "OLD-2", "NEW", "code_leerbedrijf") == {
        "99ZZ9999JJ0001602": "100000123", "OLD-2": "8", "NEW": "9", "code_leerbedrijf": None}


def test_cli_reads_bom_and_semicolons(tmp_path, store_url):
    _, run = _import(tmp_path, store_url, "\ufeffCodeLeerbedrijf;LeerbedrijfId\r\nA1;11\r\n\"B;2\";12\r\n".encode())
    assert (run.returncode, run.stdout.strip()) == (0, "added 2, updated 0, unchanged 0"), run.stderr
    assert _mapping(store_url, "A1", "B;2") == {"A1": "11", "B;2": "12"}


def test_cli_rejects_a_bad_file_whole_and_names_every_bad_line(tmp_path, store_url):
    path, run = _import(tmp_path, store_url, "\n".join([
        "GOOD,1",                   # 1
        ",2",                       # 2 empty code
        "X" * 41 + ",3",            # 3 too long
        "C,12a",                    # 4 not an id
        "D,1234567890123",          # 5 id too long
        "E,5,extra",                # 6 column count
        "GOOD,1",                   # 7 same pair again: fine
        "GOOD,2",                   # 8 conflicting duplicate
        "F",                        # 9 column count
    ]) + "\n")
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[1] for line in lines] == ["2", "3", "4", "5", "6", "8", "9"]
    assert all(line.startswith(f"{path}:") for line in lines)
    assert "empty" in lines[0] and "41 characters" in lines[1] and "'12a'" in lines[2]
    assert "columns" in lines[4] and "line 1" in lines[5]
    assert "nothing was loaded" in run.stderr
    assert _mapping(store_url, "GOOD") == {"GOOD": None}


def test_cli_unreadable_file(tmp_path, store_url):
    run = wl_adapter("mapping", "import", str(tmp_path / "missing.csv"), "--store-url", store_url)
    assert run.returncode == 2 and "cannot read" in run.stderr
    _, latin1 = _import(tmp_path, store_url, "Caf\xe9,1\n".encode("latin-1"))
    assert latin1.returncode == 2 and "not UTF-8" in latin1.stderr


def test_cli_reads_the_store_url_from_the_config(tmp_path, store_url):
    config = tmp_path / "adapter.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n')
    csv = tmp_path / "codes.csv"
    csv.write_text("K,42\n")
    run = wl_adapter("mapping", "import", str(csv), "--config", str(config))
    assert run.returncode == 0, run.stderr
    assert _mapping(store_url, "K") == {"K": "42"}


def test_import_via_the_api_reports_bad_lines(store):
    with pytest.raises(MappingImportError) as err:
        store.import_mappings([(3, "A", "1"), (4, "", "x"), (9, "B", "2", "3")])
    assert [p.line for p in err.value.problems] == [4, 9]
    assert "code_leerbedrijf is empty; leerbedrijf_id 'x' is not 1 to 12 digits" == err.value.problems[0].reason
    assert store.resolve_code("A") is None


def test_add_mapping_validates_and_upserts(store):
    store.add_mapping("OLD", "1")
    store.add_mapping("OLD", "2")
    assert store.resolve_code("OLD") == "2"
    with pytest.raises(ValueError, match="not 1 to 12 digits"):
        store.add_mapping("OLD", "abc")


def test_follow_id_change_moves_codes_and_chains_end_at_the_newest(store):
    store.import_mappings([(1, "CODE-A", "100"), (2, "CODE-B", "100"), (3, "CODE-C", "300")])
    store.follow_id_change("100", "200")
    assert [store.resolve_code(c) for c in ("CODE-A", "CODE-B", "100", "CODE-C")] == ["200", "200", "200", "300"]
    store.follow_id_change("200", "201")
    assert [store.resolve_code(c) for c in ("CODE-A", "100", "200", "CODE-C")] == ["201", "201", "201", "300"]
    # an import naming a replaced id stores the newest one
    result = store.import_mappings([(1, "LATE", "100")])
    assert (result.added, store.resolve_code("LATE")) == (1, "201")
    assert store.resolve_locally("555") == "555" and store.resolve_locally("200") == "201"
    assert store.resolve_locally("UNKNOWN") is None
