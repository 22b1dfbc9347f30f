"""Every error code of the API: 422 bad fields, 413 too large, 400 bad UTF-8; none of them crash or hang."""

from __future__ import annotations

import pytest

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("body, needle", [
    ({"text": ""}, "text"),
    ({"text": "   \n\t "}, "empty or whitespace"),
    ({"text": 42}, "valid string"),
    ({"text": ["a"]}, "valid string"),
    ({"text": "ok", "evidence": "yes"}, "evidence"),
    ({"text": "ok", "threshold": 2}, "threshold"),
    ({"text": "ok", "lang": "fr"}, "lang"),
    ({"text": "ok", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"articles": [{"text": "ok", "extra": 1}]}, "articles.0.extra"),
    ({"articles": [{"text": " "}]}, "articles.0.text"),
    ({"articles": []}, "articles"),
    ({}, "either `text`"),
    ({"text": "a", "articles": [{"text": "b"}]}, "either `text`"),
    ({"articles": [{"text": "b"}], "id": "x"}, "inside each item"),
    ([1, 2], "JSON object"),
])
def test_bad_fields_are_422_with_a_clear_message(client, body, needle):
    r = client.post("/v1/classify", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["error_type"] == "validation" and needle in err["error"] and err["detail"]


def test_malformed_json_is_422(client):
    r = client.post("/v1/classify", content=b'{"text": "abc"', headers=JSON)
    assert r.status_code == 422 and r.json()["error"] == "body is not valid JSON"


def test_lone_surrogate_is_422(client):
    r = client.post("/v1/classify", content=b'{"text": "abc \\ud800 def"}', headers=JSON)
    assert r.status_code == 422


def test_invalid_utf8_is_400(client):
    r = client.post("/v1/classify", content=b'{"text": "Bawaslu \xff\xfe menemukan"}', headers=JSON)
    assert r.status_code == 400
    assert r.json()["error_type"] == "bad_encoding" and "UTF-8" in r.json()["error"]


def test_body_over_1mb_is_413(client):
    big = b'{"text": "' + b"a" * 1_000_100 + b'"}'
    r = client.post("/v1/classify", content=big, headers=JSON)
    assert r.status_code == 413 and r.json()["error_type"] == "too_large"


def test_streamed_body_over_1mb_is_413(client):
    def chunks():
        yield b'{"text": "'
        for _ in range(20):
            yield b"b" * 60_000
        yield b'"}'

    r = client.post("/v1/classify", content=chunks(), headers=JSON)
    assert r.status_code == 413


def test_more_than_64_articles_is_413(client):
    r = client.post("/v1/classify", json={"articles": [{"text": "pemilu"}] * 65})
    assert r.status_code == 413 and "64" in r.json()["error"]
    assert client.post("/v1/classify", json={"articles": [{"text": "pemilu"}] * 64}).status_code == 200


def test_odd_but_valid_text_is_classified(client):
    for text in ["\u200b", "\x00\x01", "🙂" * 50, "a" * 5000, ".\n.\n.", "ÁÉÍ" * 100, "\u0301e"]:
        r = client.post("/v1/classify", json={"text": text})
        assert r.status_code == 200, (text, r.text)


def test_wrong_method_is_405(client):
    r = client.get("/v1/classify")
    assert r.status_code == 405 and r.json()["error_type"] == "method_not_allowed"


def test_service_still_answers_after_errors(client):
    assert client.post("/v1/classify", json={"text": "Pilkada berjalan damai."}).status_code == 200


@pytest.mark.parametrize("raw, needle", [
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    (b'"just a string"', "JSON object"),
    (b"", "Field required"),
])
def test_hostile_bodies_are_422_not_500(client, raw, needle):
    r = client.post("/v1/classify", content=raw, headers=JSON)
    assert r.status_code == 422 and needle in r.json()["error"]
