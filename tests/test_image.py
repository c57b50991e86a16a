"""The container image: its Dockerfile lints clean, pins what it installs, runs as a numeric
non-root user, and the file set its COPY steps gather installs (not editable) and starts its CMD
to a healthy /healthz. There is no Docker engine here, so the build stage's steps are done as
the Dockerfile does them: the files it copies, a wheel of them, a fresh virtual environment."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"


def instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last = max(index for index, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last:]


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    check = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_image_runs_as_a_numeric_user_that_is_not_root_and_checks_its_health():
    steps = dict(final_stage())
    user = steps["USER"].split(":")
    assert all(part.isdigit() for part in user) and int(user[0]) != 0
    assert steps["HEALTHCHECK"].endswith('CMD ["ewe", "health"]')


def test_the_lock_pins_every_dependency_with_hashes_and_the_image_installs_from_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[<>=\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
              for spec in project["dependencies"]}
    lock = LOCK.read_text()
    pinned = {name.lower() for name in re.findall(r"^([A-Za-z0-9_.\-]+)==", lock, re.M)}
    assert wanted <= pinned, wanted - pinned
    assert all("--hash=sha256:" in block for block in re.split(r"\n(?=[A-Za-z])", lock)
               if "==" in block)
    assert any("--require-hashes" in arguments and "requirements.lock" in arguments
               for name, arguments in instructions() if name == "RUN")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The build stage: the files its COPY steps take, built into a wheel and installed, not
    editable, into a fresh virtual environment (the dependencies are this test run's own)."""
    work = tmp_path_factory.mktemp("image")
    source = work / "src"
    source.mkdir()
    copies = [arguments.split() for name, arguments in instructions()[:_stage_end()]
              if name == "COPY"]
    for *sources, _ in copies:
        for name in sources:
            if name == "requirements.lock":
                continue
            path = ROOT / name
            if path.is_dir():
                shutil.copytree(path, source / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(work / "dist"), str(source)], check=True, timeout=600)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv),
                                                        "platbase": str(venv)}))
    # This run's dependencies, as a plain path: its .pth files (the editable ewe) are not read.
    (purelib / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    wheel = next((work / "dist").glob("ewe-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", str(wheel)], check=True, timeout=600)
    return venv


def _stage_end() -> int:
    steps = instructions()
    return max(index for index, (name, _) in enumerate(steps) if name == "FROM")


def test_the_installed_image_takes_every_package_and_the_shipped_rules_from_itself(installed):
    found = subprocess.run(
        [str(installed / "bin" / "python"), "-c",
         "import center, engine, ewe, streams; from ewe.shipped import SHIPPED_RULES; "
         "print(center.__file__, engine.__file__, streams.__file__, SHIPPED_RULES)"],
        capture_output=True, text=True, check=True, cwd=installed).stdout.split()
    assert all(path.startswith(str(installed)) for path in found), found
    assert (Path(found[-1]) / "duty.yaml").is_file()


def test_the_images_command_starts_and_its_health_check_passes(installed, tmp_path):
    steps = dict(final_stage())
    command = json.loads(steps["ENTRYPOINT"]) + json.loads(steps["CMD"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(installed / "bin" / command[0]), *(
        {"0.0.0.0:8080": f"127.0.0.1:{port}", "/var/lib/ewe/data": str(tmp_path / "data")}
        .get(argument, argument) for argument in command[1:])]
    environment = {**os.environ, "PATH": f"{installed / 'bin'}:{os.environ['PATH']}",
                   "EWE_HEALTH_URL": f"http://127.0.0.1:{port}/healthz"}
    environment.pop("EWE_CONFIG", None)
    health = [str(installed / "bin" / part) if index == 0 else part for index, part in
              enumerate(json.loads(steps["HEALTHCHECK"].split("CMD", 1)[1]))]
    log = open(tmp_path / "ewe.log", "wb")
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if subprocess.run(health, env=environment, capture_output=True,
                              timeout=30).returncode == 0:
                break
            time.sleep(1)
        else:
            pytest.fail(f"{shlex.join(command)} did not become healthy: "
                        f"{(tmp_path / 'ewe.log').read_text()[-3000:]}")
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
