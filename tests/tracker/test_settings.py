"""Configuration: defaults from SPEC section 1, and one clear line for any bad value."""

from __future__ import annotations

import pytest

from tracker.errors import ConfigError
from tracker.settings import load_settings

pytestmark = pytest.mark.any_engine


def test_defaults_follow_the_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # tmp_path is a Path

    settings = load_settings()

    assert (settings.database_url, settings.host, settings.port, settings.base_url) == (
        "sqlite+aiosqlite:///./var/tracker.db",
        "127.0.0.1",
        8080,
        "http://127.0.0.1:8080",
    )
    assert (settings.smtp_url, settings.zoom_webhook_secret, settings.credit_grace_minutes) == (
        None,
        None,
        90,
    )
    assert (settings.scheduler, settings.mail_from) == ("on", "webinars@localhost")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_PORT", "9090")
    monkeypatch.setenv("TRACKER_BASE_URL", "https://cme.example.org/")
    monkeypatch.setenv("TRACKER_SCHEDULER", "off")

    settings = load_settings()

    assert (settings.port, settings.base_url, settings.scheduler) == (
        9090,
        "https://cme.example.org",
        "off",
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRACKER_PORT", "eighty", "TRACKER_PORT: Input should be a valid integer"),
        ("TRACKER_PORT", "70000", "TRACKER_PORT: Input should be less than or equal to 65535"),
        (
            "TRACKER_DATABASE_URL",
            "mysql://db/tracker",
            "TRACKER_DATABASE_URL: driver 'mysql' is not supported",
        ),
        ("TRACKER_DATABASE_URL", "not a url", "TRACKER_DATABASE_URL: not a database URL"),
        (
            "TRACKER_BASE_URL",
            "cme.example.org",
            "TRACKER_BASE_URL: must be an absolute http(s) URL",
        ),
        ("TRACKER_SMTP_URL", "http://mail", "TRACKER_SMTP_URL: must look like smtp://"),
        ("TRACKER_SCHEDULER", "maybe", "TRACKER_SCHEDULER: Input should be 'on' or 'off'"),
        (
            "TRACKER_DEFAULT_TIMEZONE",
            "Mars/Olympus",
            "TRACKER_DEFAULT_TIMEZONE: unknown IANA timezone",
        ),
        (
            "TRACKER_DEFAULT_TIMEZONE",
            "localtime",
            "TRACKER_DEFAULT_TIMEZONE: unknown IANA timezone 'localtime'",
        ),
        (
            "TRACKER_CREDIT_GRACE_MINUTES",
            "-5",
            "TRACKER_CREDIT_GRACE_MINUTES: Input should be greater",
        ),
    ],
)
def test_bad_value_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    text = str(caught.value)
    assert text.startswith(f"configuration error: {message}")
    assert "\n" not in text


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # tmp_path is a Path
    (tmp_path / ".env").write_text("TRACKER_PORT=8181\n")  # type: ignore[operator]

    assert load_settings().port == 8181


def test_certificate_identity_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An accreditation statement set in English only is printed verbatim on French certificates
    too; unset, each language gets ACCME's statement naming the provider."""
    from schedules.wording import CreditLabels
    from tracker.services.context import mail_settings

    monkeypatch.setenv("TRACKER_PROVIDER_NAME", "Institut Pasteur")
    monkeypatch.setenv("TRACKER_CERTIFICATE_SIGNATORY_NAME", "Dr Hélène Dupont")
    monkeypatch.setenv("TRACKER_CERTIFICATE_SIGNATORY_TITLE", "Directrice scientifique")
    default = mail_settings(load_settings(), CreditLabels()).certificate
    monkeypatch.setenv("TRACKER_ACCREDITATION_STATEMENT", "Accredited by ACCME (#123).")
    english_only = mail_settings(load_settings(), CreditLabels()).certificate
    monkeypatch.setenv("TRACKER_ACCREDITATION_STATEMENT_FR", "Accrédité par l’ACCME (n° 123).")
    both = mail_settings(load_settings(), CreditLabels()).certificate

    assert (default.signatory_name, default.signatory_title) == (
        "Dr Hélène Dupont",
        "Directrice scientifique",
    )
    assert [default.accreditation(lang, "Institut Pasteur") for lang in ("en", "fr")] == [
        "Institut Pasteur is accredited by the Accreditation Council for Continuing Medical "
        "Education (ACCME) to provide continuing medical education for physicians.",
        "L’organisme Institut Pasteur est accrédité par l’Accreditation Council for Continuing "
        "Medical Education (ACCME) pour dispenser la formation médicale continue aux médecins.",
    ]
    assert [english_only.accreditation(lang, "Institut Pasteur") for lang in ("en", "fr")] == [
        "Accredited by ACCME (#123).",
        "Accredited by ACCME (#123).",
    ]
    assert [both.accreditation(lang, "Institut Pasteur") for lang in ("en", "fr")] == [
        "Accredited by ACCME (#123).",
        "Accrédité par l’ACCME (n° 123).",
    ]


def test_an_overlong_signatory_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_CERTIFICATE_SIGNATORY_NAME", "x" * 201)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert str(raised.value) == (
        "configuration error: TRACKER_CERTIFICATE_SIGNATORY_NAME: "
        "String should have at most 200 characters"
    )
