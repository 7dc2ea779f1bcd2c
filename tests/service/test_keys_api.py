"""/v1/keys: a key's name is unique, revoked keys' included, and a taken name is a clear 409, never a 500."""

from __future__ import annotations

import threading

from proposal_router.service.domain import keys
from tests.service.conftest import Service


def create(service: Service, name: str, role: str = "screener") -> tuple[int, dict[str, str]]:
    response = service.client.post("/v1/keys", json={"name": name, "role": role}, headers=service.headers("admin"))
    return response.status_code, response.json()


def test_a_taken_name_is_refused_in_chinese(service: Service) -> None:
    assert create(service, "督查室 王科长")[0] == 201
    for name in ("督查室 王科长", "  督查室 王科长 ", "reviewer tester"):  # the fixture's keys count too
        status, body = create(service, name, "admin")
        assert status == 409, body
        assert f"已有名为“{name.strip()}”的密钥" in body["detail"] and "key" not in body
    with service.state.sessions() as session:
        names = [k.name for k in keys.list_keys(session)]
    assert names.count("督查室 王科长") == 1 and names.count("reviewer tester") == 1


def test_a_revoked_key_keeps_its_name(service: Service) -> None:
    status, made = create(service, "临时")
    assert status == 201
    assert service.client.delete(f"/v1/keys/{made['prefix']}", headers=service.headers("admin")).status_code == 200
    status, body = create(service, "临时")
    assert status == 409 and "已吊销" in body["detail"]


def test_a_blank_name_is_refused(service: Service) -> None:
    status, body = create(service, "   ")
    assert status == 422 and "名称不能为空" in body["detail"]


def test_two_admins_creating_the_same_name_at_once_make_one_key(service: Service) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        statuses.append(create(service, "同名")[0])

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    with service.state.sessions() as session:
        assert [k.name for k in keys.list_keys(session)].count("同名") == 1
