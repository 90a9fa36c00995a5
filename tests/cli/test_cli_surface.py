"""The command line's surface: bad settings as one clear line (exit 2), what `--help` says, and
the list/revoke commands for users, API keys and accounts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.procs import free_port, spawn, tradewarden, wait_http_ok
from tradewarden.cli import build_parser


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (("--port", "abc"), {}, ("--port", "abc")),
        (("--port", "70000"), {}, ("--port", "70000")),
        (("--port", "0"), {}, ("--port",)),
        ((), {"TRADEWARDEN_PORT": "abc"}, ("TRADEWARDEN_PORT", "abc")),
        ((), {"TRADEWARDEN_PORT": "70000"}, ("TRADEWARDEN_PORT", "70000")),
        ((), {"TRADEWARDEN_DB_POOL_SIZE": "lots"}, ("TRADEWARDEN_DB_POOL_SIZE",)),
        ((), {"TRADEWARDEN_PAPER_CLOCK": "sometimes"}, ("TRADEWARDEN_PAPER_CLOCK",)),
    ],
)
def test_a_bad_setting_is_one_clear_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], names: tuple[str, ...]
) -> None:
    result = tradewarden("run", *args, "--data-dir", str(tmp_path / "data"), cwd=tmp_path,
                         env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(name in lines[0] for name in names), lines[0]
    assert "pydantic" not in lines[0] and "http" not in lines[0]
    assert not (tmp_path / "data").exists()  # nothing written


def test_a_bad_config_file_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "tradewarden.toml"
    config.write_text("port = \n")
    result = tradewarden("run", "--data-dir", str(tmp_path / "data"), cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "tradewarden.toml" in lines[0], result.stderr


def _help(*command: str) -> str:
    result = tradewarden(*command, "--help")
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())  # argparse wraps lines


def test_run_help_names_the_environment_variables_it_honours() -> None:
    text = _help("run")
    for name in ("TRADEWARDEN_PORT", "TRADEWARDEN_HOST", "TRADEWARDEN_DATA_DIR",
                 "TRADEWARDEN_DATABASE_URL", "TRADEWARDEN_PAPER_URL", "TRADEWARDEN_PAPER_CLOCK",
                 "TRADEWARDEN_ADMIN_API_KEY", "TRADEWARDEN_LOG_LEVEL", "TRADEWARDEN_CONFIG"):
        assert name in text, name


def test_demo_help_names_the_data_dir_it_uses(tmp_path: Path) -> None:
    text = _help("demo")
    assert ".tradewarden-demo" in text
    assert "default ./.tradewarden;" not in text


def test_demo_keeps_out_of_the_data_named_by_the_environment(tmp_path: Path) -> None:
    """The demo's help says it never touches the real data: not the database that
    TRADEWARDEN_DATABASE_URL (or TRADEWARDEN_DATA_DIR) names either."""
    port = free_port()
    real = tmp_path / "real-data"
    real.mkdir()
    process = spawn("demo", "--port", str(port), cwd=tmp_path, log=tmp_path / "demo.log",
                    env={"TRADEWARDEN_DATA_DIR": str(real),
                         "TRADEWARDEN_DATABASE_URL": f"sqlite:///{real / 'tradewarden.db'}"})
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert list(real.iterdir()) == []
    assert (tmp_path / ".tradewarden-demo" / "tradewarden.db").exists()


def test_getting_started_lists_every_command_group() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "getting-started.md").read_text()
    parser = build_parser()
    groups = next(a for a in parser._actions if a.dest == "command").choices
    assert groups is not None
    for group in groups:
        assert f"tradewarden {group}" in guide, group


def _data(tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data")]


def test_users_apikeys_and_accounts_are_listed_and_keys_revoked(tmp_path: Path) -> None:
    data = _data(tmp_path)
    assert tradewarden("users", "create", "alice", "--admin", *data).returncode == 0
    assert tradewarden("users", "create", "bob", *data).returncode == 0
    key = tradewarden("apikeys", "create", "--user", "alice", "--name", "bot",
                      *data).stdout.strip().splitlines()[-1]
    assert tradewarden("apikeys", "create", "--user", "bob", *data).returncode == 0
    assert tradewarden("accounts", "add", "--user", "bob", "--broker", "paper",
                       "--name", "bob-paper", *data).returncode == 0

    users = tradewarden("users", "list", *data)
    assert users.returncode == 0, users.stderr
    alice = next(line for line in users.stdout.splitlines() if line.startswith("alice"))
    assert "admin" in alice and "no password" in alice
    assert any(line.startswith("bob") for line in users.stdout.splitlines())

    keys = tradewarden("apikeys", "list", *data)
    assert keys.returncode == 0, keys.stderr
    assert key not in keys.stdout  # only the prefix is ever shown
    bot = next(line for line in keys.stdout.splitlines() if " bot " in f" {line} ")
    key_id = bot.split()[0]
    assert "alice" in bot and "active" in bot and key[:8] in bot
    only_bob = tradewarden("apikeys", "list", "--user", "bob", *data)
    assert "alice" not in only_bob.stdout and "bob" in only_bob.stdout

    revoked = tradewarden("apikeys", "revoke", key_id, *data)
    assert revoked.returncode == 0, revoked.stderr
    again = tradewarden("apikeys", "revoke", key_id, *data)
    assert again.returncode == 2 and "no active API key" in again.stderr
    missing = tradewarden("apikeys", "revoke", "nine", *data)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    bot = next(line for line in tradewarden("apikeys", "list", *data).stdout.splitlines()
               if " bot " in f" {line} ")
    assert "revoked" in bot

    accounts = tradewarden("accounts", "list", *data)
    assert accounts.returncode == 0, accounts.stderr
    row = next(line for line in accounts.stdout.splitlines() if "bob-paper" in line)
    assert "paper" in row and "bob" in row and "Paper (simulated prices)" in row
    assert "active" in row
    remote = tradewarden("accounts", "list", *data,
                         env={"TRADEWARDEN_PAPER_URL": "http://127.0.0.1:9100"})
    assert "standalone broker at http://127.0.0.1:9100" in remote.stdout


def test_a_revoked_key_is_refused_by_the_api(tmp_path: Path) -> None:
    data = _data(tmp_path)
    keys = {}
    for name in ("carol", "dan"):
        assert tradewarden("users", "create", name, *data).returncode == 0
        keys[name] = tradewarden("apikeys", "create", "--user", name, *data).stdout.split()[-1]
    listed = tradewarden("apikeys", "list", "--user", "carol", *data).stdout.splitlines()
    assert tradewarden("apikeys", "revoke", listed[-1].split()[0], *data).returncode == 0
    port = free_port()
    process = spawn("run", "--port", str(port), *data, cwd=tmp_path, log=tmp_path / "run.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/healthz", process)

        def status(key: str) -> int:
            return httpx.get(f"{url}/api/v1/orders", headers={"X-API-Key": key},
                             timeout=10).status_code

        assert status(keys["dan"]) == 200
        assert status(keys["carol"]) == status("tw_not_a_key_0123456789abcdef") != 200
    finally:
        process.terminate()
        process.wait(timeout=30)
