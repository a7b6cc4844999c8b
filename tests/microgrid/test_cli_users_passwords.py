"""``microgrid users add --password-stdin`` / ``users passwd``: the password reaches the store only as a hash
that signs the user in; bad passwords and missing input are one error line, exit 2, nothing stored."""

from __future__ import annotations

import io
import sqlite3

import pytest

from microgrid.cli import main
from microgrid.store import passwords
from tests.paths import SMALL_SITE


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROGRID_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("MICROGRID_STORE_URL", raising=False)
    monkeypatch.setattr(passwords, "SCRYPT_N", 2**12)
    return tmp_path


def _run(monkeypatch, argv, stdin_text=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    return main(argv)


def _hash(work, name):
    con = sqlite3.connect(next((work / "var").glob("*.sqlite")))
    try:
        return con.execute("select password_hash from users where name = ?", (name,)).fetchone()[0]
    finally:
        con.close()


def test_add_with_password_then_change_it(work, monkeypatch, capsys):
    argv = ["users", "add", "li.wei", "--role", "operator", "--password-stdin", "--site", str(SMALL_SITE)]
    assert _run(monkeypatch, argv, "Putian-ops-2026\n") == 0
    out = capsys.readouterr().out
    assert "dashboard password set for 'li.wei'" in out and "mgs_" in out
    first = _hash(work, "li.wei")
    assert passwords.verify_password("Putian-ops-2026", first) and "Putian-ops-2026" not in first
    assert _run(monkeypatch, ["users", "passwd", "li.wei", "--password-stdin"], "Second-pass-2026\r\n") == 0
    assert "sessions opened with the old one have ended" in capsys.readouterr().out
    second = _hash(work, "li.wei")
    assert passwords.verify_password("Second-pass-2026", second) and not passwords.verify_password("Putian-ops-2026", second)
    assert _run(monkeypatch, ["users", "add", "zhao.li"]) == 0  # token only
    capsys.readouterr()
    assert _run(monkeypatch, ["users", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "password" in rows["li.wei"] and "token only" in rows["zhao.li"]


@pytest.mark.parametrize(("argv", "stdin_text", "words"), [
    (["users", "add", "li.wei", "--password-stdin"], "short\n", "password too short: use at least 10 characters"),
    (["users", "add", "li.wei", "--password-stdin"], "", "standard input is empty"),
    (["users", "passwd", "li.wei"], "", "no terminal to ask for the password: pass --password-stdin"),
    (["users", "passwd", "nobody", "--password-stdin"], "Long-enough-2026\n", "no user named 'nobody'"),
])
def test_bad_passwords_are_one_line_and_store_nothing(work, monkeypatch, capsys, argv, stdin_text, words):
    assert _run(monkeypatch, ["users", "add", "someone", "--site", str(SMALL_SITE)]) == 0
    capsys.readouterr()
    code = _run(monkeypatch, argv, stdin_text)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and words in err and len(err.splitlines()) == 1, err
    con = sqlite3.connect(next((work / "var").glob("*.sqlite")))
    try:
        assert con.execute("select name, password_hash from users").fetchall() == [("someone", None)]
    finally:
        con.close()
