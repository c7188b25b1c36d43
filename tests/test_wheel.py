"""The built wheel ships the frozen contracts and works on its own.

Builds the wheel from a copy of the tracked source files (so the working tree gets no build/ or egg-info litter,
and other people's uncommitted work does not leak in),
checks that adapter/wsdl and adapter/xsd (symlinks in the source tree) land in it as real files and that the compiled
walk of WL 2.0 answers (setup.py) does, installs it into
a fresh virtual environment (dependencies from the package registry, through pip's cache) and runs
``wl-adapter validate`` from an unrelated directory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

WSDLS = {"adapter/wsdl/wl1.wsdl", "adapter/wsdl/wl2.wsdl"}
XSDS = {"adapter/xsd/wl1.xsd", "adapter/xsd/wl2.xsd", "adapter/xsd/ws-addr.xsd"}
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                "*.sqlite", "*.db", "var")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args, cwd, timeout=600) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
                       timeout=timeout)
    return r


def _copy_source(dest: Path) -> None:
    """The files git tracks (what CI checks out), symlinks kept; the whole tree when this is no git checkout."""
    r = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if r.returncode != 0 or not r.stdout:
        shutil.copytree(ROOT, dest, symlinks=True, ignore=IGNORE)
        return
    for name in r.stdout.decode().split("\0"):
        if not name:
            continue
        source, target = ROOT / name, dest / name
        if not source.is_symlink() and not source.exists():  # deleted in the working tree
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    _copy_source(src)
    assert (src / "adapter" / "xsd").is_symlink(), "the test expects the source layout: adapter/xsd -> ../xsd"
    out = tmp / "dist"
    r = _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, src], cwd=tmp)
    if r.returncode != 0:  # e.g. no setuptools/wheel in this environment: let build fetch them
        r = _run([sys.executable, "-m", "build", "--wheel", "--outdir", out, src], cwd=tmp)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (whl,) = out.glob("wl_adapter-*.whl")
    return whl


def test_wheel_contains_the_contracts_as_real_files(wheel):
    with zipfile.ZipFile(wheel) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        for name in WSDLS | XSDS:
            assert name in infos, f"{name} missing from {wheel.name}"
            info = infos[name]
            mode = info.external_attr >> 16
            assert not (mode and (mode & 0o170000) == 0o120000), f"{name} is stored as a symlink"
            top = ROOT / name.split("/", 1)[1]  # adapter/xsd/wl1.xsd -> xsd/wl1.xsd
            assert zf.read(name) == top.read_bytes(), f"{name} differs from the frozen {top.relative_to(ROOT)}"
        assert "adapter/cli/__init__.py" in infos and "adapter/contracts.py" in infos
        # the compiled parts (setup.py), without their C sources or their .pyx
        for part in ("adapter/wl2/_walk.", "adapter/soap/_markup.", "adapter/soap/_scan."):
            assert [n for n in infos if n.startswith(part)] == \
                [next(n for n in infos if n.startswith(part) and n.endswith(".so"))], part
        # the console's templates and stylesheet are package data: it must work without the source tree
        assert {"adapter/console/templates/call.html", "adapter/console/static/console.css"} <= set(infos)
        entry_points = zf.read(next(n for n in infos if n.endswith(".dist-info/entry_points.txt"))).decode()
        assert "wl-adapter = adapter.cli:main" in entry_points


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    r = _run([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    assert r.returncode == 0, r.stderr
    r = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], cwd=venv.parent)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return venv


def test_installed_package_uses_its_compiled_parts(installed, tmp_path):
    r = _run([installed / "bin" / "python", "-c", "from adapter.wl2 import reader; from adapter.soap import xmlbuild, "
              "xmlsafe; print(reader.WALK, xmlbuild.WRITER, xmlsafe.SCAN)"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["compiled"] * 3


def test_installed_package_reads_its_own_contracts(installed, tmp_path):
    r = _run([installed / "bin" / "python", "-c",
              "from adapter import contracts; print(contracts.XSD_DIR); print(contracts.WSDL_DIR)"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    xsd_dir, wsdl_dir = map(Path, r.stdout.split())
    site = installed.resolve()
    for d in (xsd_dir, wsdl_dir):
        assert site in d.resolve().parents, f"{d} is not inside the fresh venv: the source tree leaked in"
        assert d.is_dir() and not d.is_symlink()
    assert sorted(p.name for p in xsd_dir.iterdir() if p.suffix == ".xsd") == ["wl1.xsd", "wl2.xsd", "ws-addr.xsd"]


def test_installed_command_validates_from_an_unrelated_directory(installed, tmp_path):
    cmd = installed / "bin" / "wl-adapter"
    good = [EXAMPLES / "wl1" / "Zoeken" / "request.xml", EXAMPLES / "wl2" / "MutatieLeerbedrijf" / "request.xml"]
    # copies, so that nothing about the source tree is reachable from the working directory or the paths
    for p in good:
        shutil.copy(p, tmp_path / f"{p.parent.parent.name}-{p.name}")
    r = _run([cmd, "validate", "wl1-request.xml", "wl2-request.xml"], cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["wl1-request.xml: valid", "wl2-request.xml: valid"]

    shutil.copy(EXAMPLES / "invalid" / "wl2-postcode-with-space.xml", tmp_path / "bad.xml")
    r = _run([cmd, "validate", "bad.xml"], cwd=tmp_path, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("bad.xml:") and ": Postcode: " in r.stdout
