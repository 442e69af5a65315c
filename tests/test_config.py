from pathlib import Path

from kiosk import create_app
from kiosk.config import env_settings


def test_secret_key_is_generated_once_and_reused(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert len(first) == 64 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_instance_config_then_environment(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text('BASE_URL = "http://from-instance:8000"\nKIOSK_IDLE_SECONDS = 30\n')
    monkeypatch.setenv("KIOSK_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert Path(app.instance_path) == tmp_path.resolve()
    assert app.config["BASE_URL"] == "http://from-instance:8000"
    assert app.config["KIOSK_IDLE_SECONDS"] == 30
    monkeypatch.setenv("KIOSK_BASE_URL", "http://from-env:9000/")
    monkeypatch.setenv("KIOSK_SECRET_KEY", "from-env")
    monkeypatch.setenv("KIOSK_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    app = create_app()
    assert app.config["BASE_URL"] == "http://from-env:9000"
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("other.db")


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path.resolve() / 'kiosk.sqlite3'}"


def test_env_values_are_typed():
    assert env_settings({"KIOSK_KIOSK_IDLE_SECONDS": "45", "KIOSK_PROXY_FIX": "true", "OTHER": "x"}) == {
        "KIOSK_IDLE_SECONDS": 45, "PROXY_FIX": True}


def test_the_kiosk_never_waits_long_on_a_donor_who_has_gone():
    """Issue 19: a line stands behind every donor. A questionnaire left alone frees the kiosk within
    90 s, the "still there?" countdown included, and a ticket within 30 s (the defaults)."""
    from kiosk.config import DefaultConfig as defaults

    assert defaults.KIOSK_QUESTIONNAIRE_IDLE_SECONDS + defaults.KIOSK_STILL_THERE_SECONDS <= 90
    assert defaults.KIOSK_IDLE_SECONDS + defaults.KIOSK_STILL_THERE_SECONDS <= 90
    assert defaults.KIOSK_TICKET_SECONDS <= 30
