"""`engine serve` as an app would meet it: a live server on loopback, a real HTTP client."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.conftest import API_KEY as KEY
from tests.e2e.conftest import serving
from tests.hardening.conftest import run_engine


def test_ready_once_the_promoted_model_is_loaded(api):
    ready = api.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["model_version"] == 1


def test_recommendations_with_explanations_for_a_known_listener(api):
    answer = api.get("/v1/users/user_0001/recommendations", params={"k": 5, "explain": "true"})
    body = answer.json()
    assert answer.status_code == 200 and (body["version"], body["cold_start"]) == (1, False)
    assert len(body["recommendations"]) == 5
    assert all(r["explanation"]["text"] for r in body["recommendations"])
    song = body["recommendations"][0]["song_id"]
    explained = api.get(f"/v1/users/user_0001/songs/{song}/explanation").json()
    assert (explained["song_id"], explained["rank"]) == (song, 1)


def test_a_new_listener_gets_popular_songs_within_genres(api):
    body = api.get("/v1/users/nobody/recommendations", params={"k": 3}).json()
    assert body["cold_start"] and len(body["recommendations"]) == 3


def _plays(user, songs):
    return [{"user_id": user, "song_id": song, "ms_played": 180_000,
             "played_at": f"2026-11-30T10:{minute:02d}:00Z"} for minute, song in enumerate(songs)]


def test_posted_plays_turn_a_new_listeners_popular_list_personal(api):
    listener = "posted_listener"
    before = api.get(f"/v1/users/{listener}/recommendations", params={"k": 10}).json()
    assert before["cold_start"]
    songs = [r["song_id"] for r in api.get("/v1/users/user_0002/recommendations",
                                           params={"k": 8}).json()["recommendations"]]
    plays = _plays(listener, songs)
    assert api.post("/v1/plays", json={"plays": plays}).status_code == 401
    bad = api.post("/v1/plays", json={"plays": [*plays, {**plays[0], "played_at": "last tuesday"}]},
                   headers={"X-API-Key": KEY})
    assert bad.status_code == 422 and bad.json()["field"] == f"plays[{len(plays)}].played_at"
    assert api.get(f"/v1/users/{listener}/recommendations").json()["cold_start"]  # nothing was stored

    stored = api.post("/v1/plays", json={"plays": plays}, headers={"X-API-Key": KEY}).json()
    assert (stored["plays_stored"], stored["folded_in"]) == (len(plays), [listener])
    after = api.get(f"/v1/users/{listener}/recommendations", params={"k": 10, "explain": "true"}).json()
    assert not after["cold_start"] and "folded into it" in after["notices"][0]
    listed = [r["song_id"] for r in after["recommendations"]]
    assert len(listed) == 10 and listed != [r["song_id"] for r in before["recommendations"]]
    assert not set(listed) & set(songs)  # what they played is not offered again
    history = {h["song_id"] for r in after["recommendations"]
               for h in r["explanation"]["influential_history"]}
    assert history and history <= set(songs)  # explained by the plays just posted
    again = api.post("/v1/plays", json={"plays": plays}, headers={"X-API-Key": KEY}).json()
    assert again["plays_stored"] == 0  # a play posted twice counts once


def test_similar_songs_leave_the_song_itself_out(api):
    song = api.get("/v1/users/user_0001/recommendations", params={"k": 1}).json()["recommendations"][0]
    similar = api.get(f"/v1/songs/{song['song_id']}/similar", params={"k": 4}).json()["similar"]
    assert len(similar) == 4 and song["song_id"] not in {s["song_id"] for s in similar}
    assert [s["rank"] for s in similar] == [1, 2, 3, 4]


def test_a_batch_answers_every_listener_in_order(api):
    answer = api.post("/v1/recommendations", json={"user_ids": ["user_0002", "user_0003"], "k": 2})
    assert [r["user_id"] for r in answer.json()["results"]] == ["user_0002", "user_0003"]


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), [
    ("get", "/v1/users/user_0001/recommendations?k=0", None, 422, "k"),
    ("get", "/v1/users/user_0001/recommendations?k=ten", None, 422, "k"),
    ("get", "/v1/users/user_0001/recommendations?at=noon", None, 422, "at"),
    ("get", "/v1/users/user_0001/songs/track_0001/explanation?at=2024-99-01", None, 422, "at"),
    ("post", "/v1/recommendations", {"user_ids": [], "k": 2}, 422, "user_ids"),
    ("post", "/v1/recommendations", {"user_ids": ["u"], "k": "x"}, 422, "k"),
    ("get", "/v1/users/user_0001/songs/no-such-song/explanation", None, 404, None),
    ("get", "/v1/songs/no-such-song/similar", None, 404, None),
    ("get", "/v1/users/nobody/recommendations?genres=Polka", None, 404, None),
    ("get", "/v1/users/user_0001/recommendations?model_version=99", None, 404, None),
    ("post", "/v1/plays", {"plays": []}, 422, "plays"),
    ("post", "/v1/plays", {"plays": [{"user_id": "u", "song_id": "s", "ms_played": 0,
                                      "played_at": "2026-01-01T00:00:00"}]}, 422, "plays[0].ms_played"),
    ("post", "/v1/plays", {"plays": [{"user_id": "u", "artist_name": "A", "ms_played": 5,
                                      "played_at": "2026-01-01T00:00:00"}]}, 422, "plays[0].song_id"),
])
def test_bad_requests_get_a_json_error_naming_the_field(api, method, path, body, status, field):
    answer = api.request(method.upper(), path, json=body, headers={"X-API-Key": KEY})
    assert answer.status_code == status
    assert answer.json()["error"] and answer.json()["field"] == field


def test_promotion_needs_the_key_and_the_server_follows_it(api):
    assert api.post("/v1/models/2/promote").status_code == 401
    assert api.post("/v1/models/2/promote", headers={"X-API-Key": "wrong"}).status_code == 401
    promoted = api.post("/v1/models/2/promote", headers={"X-API-Key": KEY})
    assert promoted.status_code == 200 and promoted.json()["status"] == "promoted"
    assert api.get("/v1/users/user_0001/recommendations").json()["version"] == 2
    assert [v["status"] for v in api.get("/v1/models").json()] == ["retired", "promoted"]
    api.post("/v1/models/1/promote", headers={"X-API-Key": KEY})
    assert api.get("/v1/users/user_0001/recommendations").json()["version"] == 1


def test_metrics_count_requests_and_name_the_model(api):
    api.get("/health/ready")
    text = api.get("/metrics").text
    assert 'engine_http_requests_total{route="/health/ready",status="200"}' in text
    assert "engine_http_request_seconds_bucket" in text and "engine_model_version 1.0" in text


def test_the_openapi_schema_is_served(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/users/{user_id}/recommendations", "/v1/songs/{song_id}/similar",
            "/v1/models/{version}/promote"} <= set(paths)


def test_the_configured_model_kind_answers(served_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(served_data, data)
    assert run_engine(data, "train", "--model", "popularity", "--no-promote").returncode == 0  # v3
    with serving(data, ENGINE_MODEL__KIND="popularity") as client:
        answer = client.get("/v1/users/user_0001/recommendations").json()
        assert (answer["model"], answer["version"]) == ("popularity", 3)
        assert client.get("/v1/users/user_0001/recommendations?model_version=1").status_code == 422


def test_insecure_is_refused_off_loopback(served_data):
    result = run_engine(served_data, "serve", "--host", "0.0.0.0", "--insecure")
    assert result.returncode == 2 and "loopback" in result.stderr
