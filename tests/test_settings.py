"""Settings.from_env: each error names its variable, secrets stay out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, Settings, merged_environ


@pytest.fixture
def env(rsa_private_key: str) -> dict[str, str]:
    return {"APP_ID": "123", "PRIVATE_KEY": rsa_private_key, "WEBHOOK_SECRET": "hush"}


def test_valid_environment(env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    assert (settings.app_id, settings.webhook_secret) == (123, "hush")
    assert settings.webhook_path == "/api/github/webhooks"
    assert settings.github_graphql_url == "https://api.github.com/graphql"


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"APP_ID": ""}, "APP_ID"),
        ({"APP_ID": "abc"}, "APP_ID"),
        ({"APP_ID": "-3"}, "APP_ID"),
        ({"PRIVATE_KEY": ""}, "PRIVATE_KEY"),
        ({"PRIVATE_KEY": "not a key"}, "PRIVATE_KEY"),
        ({"PRIVATE_KEY": "", "PRIVATE_KEY_PATH": "/no/such/key.pem"}, "PRIVATE_KEY_PATH"),
        ({"WEBHOOK_SECRET": ""}, "WEBHOOK_SECRET"),
        ({"PORT": "http"}, "PORT"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"WEBHOOK_PATH": "hooks"}, "WEBHOOK_PATH"),
        ({"GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL"),
    ],
)
def test_each_error_names_its_variable(
    env: dict[str, str], changes: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**env, **changes})
    assert error.value.variable == variable
    assert str(error.value).startswith(f"{variable}: ")


def test_missing_app_id_says_missing(env: dict[str, str]) -> None:
    del env["APP_ID"]
    with pytest.raises(ConfigError, match=r"^APP_ID: missing"):
        Settings.from_env(env)


def test_key_with_backslash_n_escapes(env: dict[str, str], rsa_private_key: str) -> None:
    env["PRIVATE_KEY"] = rsa_private_key.replace("\n", "\\n")
    assert Settings.from_env(env).private_key == rsa_private_key


def test_key_from_a_path(env: dict[str, str], rsa_private_key: str, tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(rsa_private_key)
    env["PRIVATE_KEY"] = ""
    env["PRIVATE_KEY_PATH"] = str(key_file)
    assert Settings.from_env(env).private_key == rsa_private_key


def test_repr_hides_secrets(env: dict[str, str]) -> None:
    text = repr(Settings.from_env(env))
    assert "hush" not in text
    assert "PRIVATE KEY" not in text
    assert "123" in text


def test_ghes_graphql_url_is_derived(env: dict[str, str]) -> None:
    env["GITHUB_API_URL"] = "https://ghe.example.com/api/v3"
    assert Settings.from_env(env).github_graphql_url == "https://ghe.example.com/api/graphql"


def test_real_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text('# comment\nAPP_ID=1\nexport WEBHOOK_SECRET="from file"\n')
    merged = merged_environ({"APP_ID": "2"}, tmp_path)
    assert merged == {"APP_ID": "2", "WEBHOOK_SECRET": "from file"}
