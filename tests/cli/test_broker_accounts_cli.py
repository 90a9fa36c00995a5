"""``accounts add --option``, ``accounts list``, ``accounts default`` and
``apikeys create --account``: clear errors, states, and secrets kept out of the file and the
output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewarden.cli import main
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, ApiKeys, Users

SECRET = "zq7SecretOfTheKiteApp"
TOKEN = "zq7AccessTokenOfToday"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data(tmp_path: Path) -> tuple[str, str]:
    return ("--data-dir", str(tmp_path / "data"))


def _db(data: tuple[str, str]) -> Database:
    return Database(f"sqlite:///{Path(data[1]) / 'tradewarden.db'}")


def _kite(*options: str, name: str = "zk1") -> list[str]:
    return ["accounts", "add", "--user", "alice", "--broker", "kite", "--name", name,
            *[part for option in options for part in ("--option", option)]]


def test_kite_account_secrets_stay_out_of_the_file_and_the_output(
        capsys: pytest.CaptureFixture[str], data: tuple[str, str]) -> None:
    outputs: list[str] = []

    def run(*args: str) -> tuple[int, str]:
        code, out, err = _run(capsys, *args, *data)
        outputs.extend((out, err))
        return code, out

    assert run("users", "create", "alice")[0] == 0
    code, out = run(*_kite("api_key=kiteapp1", f"api_secret={SECRET}",
                           f"access_token={TOKEN}", "base_url=http://127.0.0.1:9/"))
    assert code == 0 and "added kite account zk1" in out
    assert run(*_kite("api_key=kiteapp2", f"api_secret={SECRET}", name="zk2"))[0] == 0
    assert run("accounts", "add", "--user", "alice", "--broker", "paper", "--name", "pp1",
               "--option", "cash=1000")[0] == 0

    code, listed = run("accounts", "list", "--user", "alice")
    assert code == 0
    rows = {line.split()[1]: line for line in listed.splitlines()[1:]}
    assert "error (no adapter for broker kite yet)" in rows["zk1"]
    assert "Zerodha Kite Connect" in rows["zk2"]
    assert "ready" in rows["pp1"] and "Paper" in rows["pp1"]

    code, out = run("accounts", "default", "pp1")
    assert code == 0 and "alice's default account" in out
    code, out = run("apikeys", "create", "--user", "alice", "--account", "zk1")
    assert code == 0 and "acting on account zk1" in out
    key = out.strip().splitlines()[-1]
    code, keys = run("apikeys", "list")
    assert "zk1" in keys

    for text in outputs:
        assert SECRET not in text and TOKEN not in text
    files = [p for p in Path(data[1]).iterdir() if p.name.startswith("tradewarden.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert b"kiteapp1" in raw, "the plain options are in the file"
    assert SECRET.encode() not in raw and TOKEN.encode() not in raw

    db = _db(data)
    try:
        with db.read() as session:
            alice = Users(session).require("alice")
            by_name = {a.name: a for a in Accounts(session).for_user(alice.id)}
            assert by_name["zk1"].state == "ready"  # stored: it has a session token
            assert by_name["zk2"].state == "login_required"
            assert by_name["pp1"].is_default and not by_name["zk1"].is_default
            assert ApiKeys(session).owner_of(key) == (alice, by_name["zk1"].id)
    finally:
        db.close()


@pytest.mark.parametrize(("options", "message"), [
    (("api_key=k",), "missing required option api_secret"),
    (("api_key=k", f"api_secret={SECRET}", "token=x"), "unknown option(s) for kite: token"),
    (("api_key=k", f"api_secret={SECRET}", "base_url=nowhere"), "option base_url must be"),
    (("api_key",), "--option must be KEY=VALUE"),
    (("api_key=k", "api_key=j"), "option api_key given twice"),
])
def test_bad_options_exit_2_and_write_nothing(capsys: pytest.CaptureFixture[str],
                                              data: tuple[str, str], options: tuple[str, ...],
                                              message: str) -> None:
    assert _run(capsys, "users", "create", "alice", *data)[0] == 0
    code, out, err = _run(capsys, *_kite(*options), *data)
    assert code == 2 and message in err and "Traceback" not in err
    assert SECRET not in out + err
    db = _db(data)
    try:
        with db.read() as session:
            assert Accounts(session).all() == []
    finally:
        db.close()


def test_default_and_binding_errors(capsys: pytest.CaptureFixture[str],
                                    data: tuple[str, str]) -> None:
    for name in ("alice", "bob"):
        assert _run(capsys, "users", "create", name, *data)[0] == 0
    assert _run(capsys, "accounts", "add", "--user", "bob", "--broker", "paper",
                "--name", "b1", *data)[0] == 0
    code, _, err = _run(capsys, "apikeys", "create", "--user", "alice", "--account", "b1", *data)
    assert code == 2 and "alice has no account named 'b1'" in err
    code, _, err = _run(capsys, "accounts", "default", "nope", *data)
    assert code == 2 and "no account named 'nope'" in err
    code, _, err = _run(capsys, "accounts", "default", "b1", "--user", "alice", *data)
    assert code == 2 and "no account named 'b1'" in err
    code, _, err = _run(capsys, "accounts", "add", "--user", "bob", "--broker", "paper",
                        "--name", "b2", "--cash", "5", "--option", "cash=6", *data)
    assert code == 2 and "starting cash once" in err
