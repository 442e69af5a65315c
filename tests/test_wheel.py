"""The wheel works on its own. templates/ and static/ sit beside the package in the repository;
built into a wheel and installed into a fresh virtual environment outside the checkout, the
package must still serve every role's page and its static files, upgrade its database (the
migrations), speak Vietnamese (the translations) and write the pass sheet (its CSS).

The new environment borrows this one's dependencies through a .pth line instead of
downloading them again; it does not borrow the checkout: the test runs from a folder outside
it and checks that `kiosk` is imported from the new environment's site-packages."""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import flask
import pytest

from tests.support.client import Client, expect
from tests.support.flows import sign_in
from tests.support.server import ROOT, Server, environment, free_port


pytestmark = [pytest.mark.database_free,  # the PostgreSQL pass leaves it out (tools/test.sh)
              pytest.mark.slow]

# What the build reads (pyproject.toml, setup.py, the readme) and what it packs.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "kiosk", "templates", "static")


def run(*command: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def build_wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    """The wheel, built from a copy of the checkout's files: a build in the checkout itself would
    leave build/ there, whose stale copies a later build would pack again."""
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source), cwd=tmp_path,
        env=env)
    (wheel,) = dist.glob("kiosk-*.whl")
    return wheel


def fresh_environment(tmp_path: Path, wheel: Path, env: dict[str, str]) -> Path:
    """A new virtual environment with the wheel installed; its dependencies borrowed from this one."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    site_packages = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                             cwd=tmp_path, env=env).strip())
    # A .pth line puts the directory on sys.path after the venv's own site-packages; the .pth
    # files in it (this checkout's editable install among them) are not read.
    dependencies = Path(flask.__file__).resolve().parent.parent
    assert dependencies == Path(sysconfig.get_path("purelib")).resolve()
    (site_packages / "kiosk_test_dependencies.pth").write_text(f"{dependencies}\n")
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel),
        cwd=tmp_path, env=env)
    return venv


def test_the_wheel_serves_every_role_and_writes_the_passes(tmp_path):
    env = environment(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    wheel = build_wheel(tmp_path, env)
    venv = fresh_environment(tmp_path, wheel, env)
    python, kiosk = venv / "bin" / "python", venv / "bin" / "kiosk"
    elsewhere = tmp_path / "elsewhere"  # a working folder outside the checkout
    elsewhere.mkdir()

    found = run(str(python), "-c", "import kiosk; print(kiosk.__file__); print(kiosk.ROOT)", cwd=elsewhere,
                env=env).split()
    package = Path(found[0]).resolve().parent
    assert package.is_relative_to(venv.resolve() / "lib") and package.parent.name == "site-packages", found
    assert not package.is_relative_to(ROOT), found
    assert Path(found[1]).resolve() == package  # templates/ and static/ found inside the installed package
    assert (package / "templates" / "base.html").is_file() and (package / "static" / "css" / "passes.css").is_file()
    assert (package / "migrations" / "env.py").is_file()
    assert (package / "translations" / "vi" / "LC_MESSAGES" / "messages.mo").is_file()

    instance = tmp_path / "instance"
    port = free_port()
    app_env = environment(KIOSK_INSTANCE_PATH=str(instance), PYTHONDONTWRITEBYTECODE="1")
    server = Server(tmp_path / "server.log", port=port, cwd=elsewhere, env=app_env,
                    command=[str(kiosk), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"])
    visitor, nurse, organiser = Client(server.url), Client(server.url), Client(server.url)
    try:
        with server.start(timeout=60):
            for path in ("/", "/kiosk/XNC", "/display", "/auth/sign-in"):
                page = expect(visitor.get(path), 200, what=path).text
                assert '<html lang="vi">' in page, path
            assert "Đăng nhập" in page  # the Vietnamese catalogue, from the wheel
            for path, kind in (("/static/css/app.css", "text/css"), ("/static/js/app.js", "javascript")):
                response = expect(visitor.get(path), 200, what=path)
                assert kind in response.headers["content-type"] and len(response.text) > 100, path
            # The nurse's and the organiser's pages, signed in with the accounts `--demo` wrote down.
            accounts = dict(line.split(" ", 1) for line in (instance / "demo_accounts.txt").read_text().splitlines())
            for staff, username, path in ((nurse, "yta", "/nurse/XNC"), (organiser, "bantochuc", "/admin")):
                expect(staff.get(path), 302, 303, what=f"{path} before signing in")
                sign_in(staff, username, accounts[username])
                response = staff.get(path)
                if response.status == 302:  # the console opens on the open drive's page
                    response = staff.get(response.location)
                expect(response, 200, what=f"{path} for {username}")
    finally:
        for client in (visitor, nurse, organiser):
            client.close()
    assert server.bad_log_lines() == []

    sheet = tmp_path / "passes.html"
    said = run(str(kiosk), "passes", "--out", str(sheet), cwd=elsewhere, env=app_env)
    assert "passes ->" in said, said
    html = sheet.read_text(encoding="utf-8")
    assert html.count("<svg") >= 200  # a QR code for each of the demo's donors
    assert (package / "static" / "css" / "passes.css").read_text().strip()[:200] in html  # the sheet's own CSS
