"""Parties, contact points and consent, relationships, interactions, tasks,
search, merge, privacy and the change feed — through a database file."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

import crm


def test_open_memory_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    db = crm.Crm(path)
    assert db.path == str(path)
    assert repr(db) == f"Crm('{path}')"
    lin = db.create_party("林 Lin", roles=["customer"], external_ids=["erp:1"])
    del db
    again = crm.Crm(path, must_exist=True)
    assert again.get_party("erp:1") == lin
    memory = crm.Crm.memory()
    assert memory.path is None and memory.count_parties() == 0
    assert crm.__version__ == crm.version() and crm.SCHEMA_VERSION >= 7


def test_a_party_reads_back_as_an_immutable_record(db: crm.Crm) -> None:
    db.define_field("tier", "enum", choices=["gold", "silver"])
    p = db.create_party(
        "华东电器 Huadong",
        kind="organization",
        roles=["customer", "distributor"],
        tags=["vip"],
        email="sales@huadong.cn",
        mobile="+86 138 0013 8000",
        language="zh-CN",
        currency="CNY",
        stage="stable",
        external_ids=["erp:C-1001"],
        fields={"tier": "gold"},
        notes="Key account",
    )
    assert p.record_type == "Party"
    assert (p.name, p.kind, p.language, p.currency) == ("华东电器 Huadong", "organization", "zh-CN", "CNY")
    assert p.fields == {"tier": "gold"} and p.tags == ["vip"]
    assert {c["kind"] for c in p.contacts} == {"email", "mobile"}
    assert "name" in p and p["name"] == p.name
    assert repr(p).startswith("Party(id='") and "name='华东电器 Huadong'" in repr(p)
    with pytest.raises(AttributeError, match="has no field `nmae`"):
        _ = p.nmae
    with pytest.raises(AttributeError):
        p.name = "changed"  # type: ignore[misc]
    assert db.get_party(p.id) == p and hash(db.get_party(p.id)) == hash(p)
    assert db.find_party("erp:missing") is None
    assert p.to_dict()["name"] == p.name and "to_dict" in dir(p)
    assert "name" in p.keys() and crm._crm._time_get_party(db, p.id, 10) > 0


def test_party_changes(db: crm.Crm) -> None:
    db.define_field("score", "integer")
    p = db.create_party("Zhang Wei", roles=["prospect"])
    assert db.update_party(p.id, name="张伟", language="zh-CN", notes="met at fair").name == "张伟"
    assert db.add_tag(p.id, "north").tags == ["north"]
    assert db.remove_tag(p.id, "north").tags == []
    assert db.set_stage(p.id, "growing", reason="first order").stage == "growing"
    assert db.set_field(p.id, "score", 42).fields == {"score": 42}
    assert [x.id for x in db.list_parties(stage="growing")] == [p.id]
    assert db.list_parties(role="customer") == []
    assert db.count_parties() == 1


def test_contact_points_and_consent(db: crm.Crm) -> None:
    p = db.create_party("Li Na")
    contact = db.add_contact(p.id, "email", "li.na@example.com", label="work", consent=["marketing"])
    assert contact.record_type == "ContactPoint" and contact.normalized == "li.na@example.com"
    withdrawn = db.record_consent(contact.id, "marketing", False, source="unsubscribe link")
    assert withdrawn.consents[-1]["granted"] is False


def test_relationships_and_hierarchy(db: crm.Crm) -> None:
    group = db.create_party("Acme Holding", kind="organization")
    sub = db.create_party("Acme Shanghai", kind="organization")
    shop = db.create_party("Acme Pudong", kind="organization")
    db.relate(sub.id, "subsidiary-of", group.id, since=datetime.date(2020, 1, 1))
    edge = db.relate(shop.id, "subsidiary-of", sub.id, since="2021-01-01")
    assert edge.record_type == "Relationship"
    assert [n.party_id for n in db.ancestors(shop.id, "subsidiary-of")] == [sub.id, group.id]
    below = db.descendants(group.id, "subsidiary-of")
    assert {(n.party_id, n.depth) for n in below} == {(sub.id, 1), (shop.id, 2)}
    assert len(db.relationships_of(sub.id)) == 2
    with pytest.raises(crm.ConflictError, match="cycle"):
        db.relate(group.id, "subsidiary-of", shop.id)


def test_interactions_and_tasks(db: crm.Crm) -> None:
    p = db.create_party("Wang Fang")
    i = db.record_interaction(
        p.id, "phone", "outbound", "空调报价", at=datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.timezone.utc), body="quoted"
    )
    assert (i.channel, i.direction, i.at) == ("phone", "outbound", "2026-03-01T09:30:00Z")
    assert [x.id for x in db.interactions_of(p.id)] == [i.id]
    t = db.create_task("Send brochure", "2026-03-02T09:00:00Z", about=p.id, notes="by post")
    assert t.status == "open"
    assert db.complete_task(t.id).status == "done"
    assert [x.id for x in db.tasks_of(p.id)] == [t.id]


def test_search_duplicates_merge_and_unmerge(db: crm.Crm) -> None:
    a = db.create_party("张伟", email="zhang.wei@example.com")
    b = db.create_party("张 伟", email="Zhang.Wei@Example.com")
    assert {h.party_id for h in db.search("张伟")} >= {a.id}
    pairs = db.duplicates()
    assert {pairs[0].a, pairs[0].b} == {a.id, b.id}
    report = db.merge(a.id, b.id)
    assert report.record_type == "MergeReport"
    assert db.get_party(b.id).merged_into == a.id
    assert db.unmerge(b.id).id == b.id


def test_export_erase_and_events(db: crm.Crm) -> None:
    start = db.last_event_seq()
    p = db.create_party("Chen Jie", email="chen@example.com")
    exported = db.export_party(p.id)
    assert exported["party"]["name"] == "Chen Jie"
    db.erase_party(p.id)
    assert db.get_party(p.id).name != "Chen Jie"
    kinds = [e.kind for e in db.events_since(start)]
    assert kinds[0] == "party.created" and "party.erased" in kinds
    assert db.events_since(start, limit=1)[0].seq == start + 1


def test_a_transaction_commits_together_or_not_at_all(db: crm.Crm) -> None:
    p = db.create_party("Zhou")
    with db.transaction() as same:
        assert same is db
        db.add_tag(p.id, "a")
        db.create_party("Inside")
        assert db.get_party(p.id).tags == ["a"]  # reads see the block's writes
    assert db.count_parties() == 2
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.add_tag(p.id, "b")
            db.create_party("Rolled back")
            raise RuntimeError("boom")
    assert db.get_party(p.id).tags == ["a"] and db.count_parties() == 2
    with db.transaction():
        with pytest.raises(crm.ConflictError, match="already open"):
            with db.transaction():
                pass
        with pytest.raises(crm.ConflictError, match="inside `with db.transaction"):
            db.import_columns("parties", {"name": ["X"]})
