"""Settings come from keyword arguments, then RAWAN_* environment variables, then a settings file."""

from __future__ import annotations

from serve.config import Settings


def test_environment_and_settings_file(tmp_path, monkeypatch):
    env_file = tmp_path / "rawan.env"
    env_file.write_text("RAWAN_TOKEN_BUDGET=4096\nRAWAN_MAX_WAIT_MS=2.5\nRAWAN_ADMIN_TOKEN=from-file\n"
                        "RAWAN_PORT=9001\n")
    monkeypatch.setenv("RAWAN_PORT", "9002")
    monkeypatch.setenv("RAWAN_THREADS", "3")
    s = Settings(_env_file=env_file, queue_size=10)
    assert (s.token_budget, s.max_wait_ms, s.threads, s.queue_size) == (4096, 2.5, 3, 10)
    assert s.port == 9002  # environment beats the file
    assert s.admin_secret() == "from-file" and "from-file" not in repr(s)


def test_defaults_match_the_issue(monkeypatch):
    for key in ("RAWAN_MAX_BODY_BYTES", "RAWAN_MAX_ARTICLES", "RAWAN_ADMIN_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    s = Settings(_env_file=None)
    assert s.max_body_bytes == 1_000_000 and s.max_articles == 64 and s.admin_secret() is None
    assert s.batching and s.max_wait_ms <= 10 and s.host == "127.0.0.1"
