"""The service images' Dockerfiles and the shared .dockerignore, read as text (no Docker needed).

Each image is built from the repository root with `docker build -f services/<service>/Dockerfile .`
(`make images`): a builder stage installs scenergy-common and the service into /opt/venv with the
pinned constraints, and a python:3.11-slim runtime stage copies only that venv and runs as uid 10001.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The service's main server: the image's default command.
MAIN_PROCESS = {
    "admin-api": "admin-api-http",
    "credits": "credits-grpc",
    "audit": "audit-grpc",
    "generation": "generation-grpc",
    "payments": "payments-webhooks",
}
SERVICES = sorted(MAIN_PROCESS)
RUNTIME_BASE = "python:3.11-slim"
VENV = "/opt/venv"


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with comments dropped and `\\` continuations joined."""
    result: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        result.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the last instruction ends with a line continuation"
    return result


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append(Stage(base=words[0], name=name))
        else:
            assert result or ins.keyword == "ARG", f"{ins.keyword} before the first FROM"
            if result:
                result[-1].instructions.append(ins)
    return result


def env_values(stage: Stage) -> dict[str, str]:
    """ENV in the `KEY=value KEY2=value2` form (the legacy `ENV KEY value` form is refused)."""
    values: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            assert "=" in word, f"use ENV KEY=value, not {args!r}"
            key, _, value = word.partition("=")
            values[key] = value
    return values


def dockerfile(service: str) -> str:
    return (ROOT / "services" / service / "Dockerfile").read_text()


def scripts(service: str) -> dict[str, str]:
    with (ROOT / "services" / service / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["project"]["scripts"])


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` (relative to the context) out, as its .dockerignore rules say.

    A pattern matches the path or one of its parent directories; `**/` also matches no directory;
    the last matching pattern wins and `!` re-includes.
    """
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        forms = {pattern}
        while pattern.startswith("**/"):
            pattern = pattern[3:]
            forms.add(pattern)
        if any(_match(c, form) for c in candidates for form in forms):
            result = not negate
    return result


def _match(path: str, pattern: str) -> bool:
    # Docker's `*` stops at `/` and `**` crosses it; fnmatch's `*` crosses it, so compare segment-wise
    # unless the pattern has `**`.
    if "**" in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    p_parts, parts = pattern.split("/"), path.split("/")
    return len(p_parts) == len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, p_parts, strict=True))


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_service_has_a_dockerfile() -> None:
    with_pyproject = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
    assert with_pyproject == SERVICES, "a new service needs a Dockerfile, a line in MAIN_PROCESS and `make images`"
    for name in SERVICES:
        assert (ROOT / "services" / name / "Dockerfile").is_file()


def test_parser_reads_continuations_comments_and_stages() -> None:
    text = 'FROM a:1 AS b\n# note\nRUN x \\\n  # inner\n  && y\nFROM c:2\nENV A=1 B="two words"\nCMD ["z"]\n'
    parsed = stages(text)
    assert [(s.base, s.name) for s in parsed] == [("a:1", "b"), ("c:2", None)]
    assert parsed[0].all("RUN") == ["x  && y"]
    assert env_values(parsed[1]) == {"A": "1", "B": "two words"}


def test_builds_in_two_stages_with_a_slim_runtime(service: str) -> None:
    parsed = stages(dockerfile(service))
    assert len(parsed) >= 2, "a builder stage and a runtime stage"
    assert parsed[-1].base == RUNTIME_BASE
    builder_names = {s.name for s in parsed[:-1]}
    assert None not in builder_names, "name every build stage (FROM … AS name)"


def test_builder_installs_common_and_the_service_with_the_constraints(service: str) -> None:
    parsed = stages(dockerfile(service))
    runs = [run for stage in parsed[:-1] for run in stage.all("RUN")]
    installs = [shlex.split(run) for run in runs if "pip install" in run]
    assert len(installs) == 1, f"one pip install in the builder, found {installs}"
    words = installs[0]
    constraint = [words[n + 1] for n, w in enumerate(words[:-1]) if w in ("-c", "--constraint")]
    assert constraint == ["constraints.txt"]
    assert "--no-cache-dir" in words
    assert "./libs/common" in words and f"./services/{service}" in words
    assert "-e" not in words and "--editable" not in words, "the image installs the packages, not links to sources"
    copied = " ".join(arg for stage in parsed[:-1] for arg in stage.all("COPY"))
    for source in ("constraints.txt", "libs/common", f"services/{service}"):
        assert source in copied, f"the builder must COPY {source}"
    assert any(run.split()[:4] == ["python", "-m", "venv", VENV] for run in runs), "the builder creates /opt/venv"


def test_runtime_copies_only_the_venv(service: str) -> None:
    runtime = stages(dockerfile(service))[-1]
    copies = runtime.all("COPY") + runtime.all("ADD")
    assert copies, "the runtime stage copies the builder's venv"
    for args in copies:
        words = args.split()
        assert any(w.startswith("--from=") for w in words), f"the runtime copies nothing from the context: {args}"
        assert words[-2:] == [VENV, VENV], f"only the venv: {args}"


def test_runtime_runs_as_the_unprivileged_user(service: str) -> None:
    runtime = stages(dockerfile(service))[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage sets a USER"
    user, _, group = users[-1].partition(":")
    assert user == "10001", "a numeric uid, so Kubernetes' runAsNonRoot can check it"
    assert group in ("", "10001")
    runs = " ".join(runtime.all("RUN"))
    assert re.search(r"groupadd\b.*--gid 10001 scenergy", runs)
    assert re.search(r"useradd\b.*--uid 10001 --gid 10001\b.*\bscenergy\b", runs)


def test_runtime_environment_and_workdir(service: str) -> None:
    runtime = stages(dockerfile(service))[-1]
    assert runtime.all("WORKDIR")[-1] == "/app"
    env = env_values(runtime)
    assert env["PATH"].split(":")[0] == f"{VENV}/bin"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env.get("HOME", "/tmp").startswith("/tmp"), "a read-only root: $HOME must be the writable /tmp"


def test_default_command_is_the_main_console_script(service: str) -> None:
    runtime = stages(dockerfile(service))[-1]
    assert not runtime.all("ENTRYPOINT"), "no entrypoint: the chart picks the process with `command`"
    cmds = runtime.all("CMD")
    assert len(cmds) == 1
    command = json.loads(cmds[0])  # exec form: a JSON array, no shell in between
    assert isinstance(command, list) and command, "CMD in exec form"
    assert command[0] in scripts(service), f"{command[0]} is not a console script of {service}"
    assert command == [MAIN_PROCESS[service]]


def test_other_processes_come_from_the_same_installed_package(service: str) -> None:
    # The chart runs workers, runners, the sink, migrations and CLIs from this image: they are the
    # service's console scripts, on PATH because the service itself is installed into /opt/venv.
    names = scripts(service)
    assert MAIN_PROCESS[service] in names
    assert any(name.endswith("-migrate") for name in names), "every service ships its migration command"
    modules = {target.partition(":")[0].split(".")[0] for target in names.values()}
    assert modules == {service.replace("-", "_")}


def test_labels_follow_the_opencontainers_keys(service: str) -> None:
    runtime = stages(dockerfile(service))[-1]
    labels: dict[str, str] = {}
    for args in runtime.all("LABEL"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            labels[key] = value
    assert labels, "the runtime stage has labels"
    assert all(key.startswith("org.opencontainers.image.") for key in labels)
    for key in ("title", "description", "version", "revision", "created"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"org.opencontainers.image.{key}"
    assert service in labels["org.opencontainers.image.title"]


def test_dockerignore_matcher() -> None:
    patterns = ["var", "**/__pycache__", "services/*/tests", "!keep/me", "keep"]
    assert ignored("var/secrets/key", patterns)
    assert ignored("__pycache__/a.pyc", patterns)
    assert ignored("libs/common/src/x/__pycache__/a.pyc", patterns)
    assert ignored("services/credits/tests/unit/test_a.py", patterns)
    assert not ignored("services/credits/src/credits/tests.py", patterns)
    assert not ignored("libs/var.py", patterns)
    assert ignored("keep/me", patterns), "the last matching pattern wins"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "var/secrets/admin_password",
        "var/objects/assets/admin/xy/job_1.png",
        "libs/common/src/scenergy/common/__pycache__/metrics.cpython-311.pyc",
        "services/credits/src/credits/__pycache__/config.cpython-311.pyc",
        "__pycache__/x.pyc",
    ],
)
def test_dockerignore_excludes_local_artefacts(path: str) -> None:
    assert ignored(path, dockerignore_patterns())


def _package_files(root: Path) -> list[str]:
    skip = ("__pycache__", ".egg-info", ".mypy_cache")
    return [
        str(p.relative_to(ROOT))
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.endswith(skip) for part in p.relative_to(ROOT).parts)
    ]


def test_dockerignore_keeps_what_the_images_install(service: str) -> None:
    patterns = dockerignore_patterns()
    needed = ["constraints.txt", "libs/common/pyproject.toml", f"services/{service}/pyproject.toml"]
    needed += _package_files(ROOT / "libs" / "common" / "src")
    needed += _package_files(ROOT / "services" / service / "src")
    assert any("/migrations/" in path for path in needed), "the migrations ship in the package"
    left_out = [path for path in needed if ignored(path, patterns)]
    assert not left_out, f"excluded from the build context but installed by the image: {left_out[:10]}"
