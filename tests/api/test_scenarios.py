"""Scenario uploads: valid files stored and listed; every bad upload gets a clear 4xx naming what is wrong."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Api
from wattbit.scenario import load_scenario

TOML = Path(load_scenario("japan-2022").source_path or "").read_text(encoding="utf-8")


def upload(api: Api, name: str, data: bytes, role: str = "operator") -> tuple[int, dict]:
    r = api.client.post("/api/v1/scenarios", files={"file": (name, data, "application/toml")}, headers=api.auth(role))
    return r.status_code, r.json()


def test_upload_list_and_fetch_a_scenario(api: Api) -> None:
    text = TOML.replace('name = "japan-2022"', 'name = "my-spring"', 1)
    status, body = upload(api, "my-spring.toml", text.encode())
    assert status == 201, body
    assert body["name"] == "my-spring" and body["source"] == "upload" and body["created_by"] == "ann-operator"
    sites = {s["id"]: s for s in body["summary"]["sites"]}
    assert sites["fukushima"]["label"] == {"id": "fukushima", "en": "Fukushima (Okuma)", "ja": "福島（大熊町）"}
    assert sites["ishikari"]["area"]["ja"] == "北海道"
    listed = api.client.get("/api/v1/scenarios", headers=api.auth("viewer")).json()
    assert [s["id"] for s in listed][:1] == [body["id"]] and "builtin-japan-2022" in {s["id"] for s in listed}
    full = api.client.get(f"/api/v1/scenarios/{body['id']}", headers=api.auth("viewer")).json()
    assert full["toml"] == text
    audit = api.client.get("/api/v1/ops/audit", headers=api.auth("viewer")).json()
    assert (audit[0]["actor"], audit[0]["action"], audit[0]["target"]) == (
        "ann-operator",
        "scenario.upload",
        body["id"],
    )


def test_malformed_toml_names_the_line(api: Api) -> None:
    status, body = upload(api, "broken.toml", b'[scenario]\nname = "x"\n[period\nstart = 1\n')
    assert status == 422 and body["error"] == "invalid_toml"
    assert body["file"] == "broken.toml" and body["row"] == 3 and "not valid TOML" in body["message"]


def test_an_invalid_field_is_named_with_its_value_and_what_was_expected(api: Api) -> None:
    bad = TOML.replace("gpu_count = 2048", "gpu_count = -5", 1)
    status, body = upload(api, "bad.toml", bad.encode())
    assert status == 422 and body["error"] == "invalid_scenario" and body["file"] == "bad.toml"
    fields = {p["field"]: p for p in body["problems"]}
    assert fields["sites[0].it.gpu_count"]["value"] == -5
    assert "greater than" in fields["sites[0].it.gpu_count"]["message"]


def test_oversized_uploads_get_413_before_they_are_read(api: Api) -> None:
    status, body = upload(api, "big.toml", b"#" * (300 * 1024))
    assert status == 413 and body["error"] == "too_large" and "262,144" in body["expected"]
    r = api.client.post("/api/v1/scenarios", content=b"x" * (2 * 1024 * 1024), headers={
        **api.auth("operator"), "Content-Type": "multipart/form-data; boundary=zz"})  # fmt: skip
    assert r.status_code == 413


def test_path_tricks_in_file_names_and_data_paths_are_refused(api: Api) -> None:
    for name in ("../evil.toml", "/etc/passwd.toml", "a/b.toml", "..toml", "x.txt", ".hidden.toml", "a\x00.toml"):
        status, body = upload(api, name, TOML.encode())
        assert status in (400, 422), (name, status)
        if status == 400:
            assert body["error"] == "bad_filename" and "no folders" in body["expected"]
    outside = TOML.replace('weather = { builtin = "japan-2022:fukushima" }',
                           'weather = { path = "../../../etc/weather.csv", reader = "epw" }', 1)  # fmt: skip
    status, body = upload(api, "outside.toml", outside.encode())
    assert status == 422, body
    assert body["error"] in ("path_outside_data_root", "invalid_scenario")
    assert "etc/passwd" not in str(body)


def test_not_utf8_and_viewer_uploads_are_refused(api: Api) -> None:
    status, body = upload(api, "latin.toml", "name = 'caf\xe9'".encode("latin-1"))
    assert status == 422 and body["error"] == "not_utf8"
    status, body = upload(api, "ok.toml", TOML.encode(), role="viewer")
    assert status == 403


def test_unknown_scenarios_and_runs_are_404(api: Api) -> None:
    for path in ("/api/v1/scenarios/s-nope", "/api/v1/runs/r-nope", "/api/v1/runs/" + "x" * 300):
        r = api.client.get(path, headers=api.auth("viewer"))
        assert r.status_code == 404 and r.json()["error"] == "not_found"
