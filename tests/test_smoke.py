from tests.conftest import ApiClient


def test_me(api: ApiClient) -> None:
    response = api.get("/api/v1/me")
    assert response.status_code == 200, response.json
    assert response.json["firm"]["name"] == "Acme Pensions"
