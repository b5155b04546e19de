"""Rules, segments, campaigns and loyalty from Python."""

from __future__ import annotations

import crm


def test_segments_rules_and_the_outbox(db: crm.Crm) -> None:
    vip = db.create_party("VIP Li", roles=["customer"], tags=["vip"], email="li@example.com")
    db.create_party("Plain Wang", roles=["customer"])
    change = db.create_segment("vips", '"vip" in tags')
    assert change.record_type == "SegmentChange"
    assert db.segment_members("vips") == [vip.id]
    assert db.matching_parties('"vip" in tags') == [vip.id]
    db.create_rule(
        {
            "name": "welcome-vip",
            "trigger": {"on": "event", "of": "party.tagged"},
            "condition": '"vip" in tags && !("welcomed" in tags)',
            "actions": [{"do": "tag", "tag": "welcomed"}],
        }
    )
    new = db.create_party("New Zhao", roles=["customer"])
    tagged = db.add_tag(new.id, "vip")
    assert "welcomed" in db.get_party(tagged.id).tags
    assert db.outbox() == []


def test_loyalty_points(db: crm.Crm) -> None:
    member = db.create_party("Member Sun", roles=["customer"])
    db.create_loyalty_program({"name": "stars", "currency": "CNY", "earn": "floor(order.total / 10)"})
    entry = db.award_points("stars", member.id, 120, reason="welcome")
    assert entry.record_type == "LedgerEntry" and entry.points == 120
    db.redeem_points("stars", member.id, 20)
    assert db.points_balance("stars", member.id) == 100


def test_campaigns_and_due_work(db: crm.Crm) -> None:
    for i in range(20):
        p = db.create_party(f"Customer {i}", roles=["customer"], tags=["spring"])
        # Half of them agreed to marketing e-mail.
        db.add_contact(p.id, "email", f"c{i}@example.com", consent=["marketing"] if i % 2 else [])
    db.create_segment("spring", '"spring" in tags')
    db.create_campaign(
        {
            "name": "spring-sale",
            "objective": "reactivation",
            "segment": "spring",
            "channel": "email",
            "purpose": "marketing",
            "currency": "CNY",
            "cost_per_message": {"amount": "0.10", "currency": "CNY"},
            "control_bp": 2000,
            "seed": 7,
            "window_days": 30,
            "variants": [{"name": "A", "language": None, "template": "Hello {name}"}],
        }
    )
    run = db.run_campaign("spring-sale")
    assert run.record_type == "CampaignRun"
    assert run.enrolled == 20 and 0 < run.control < 20
    assert run.queued + run.suppressed == run.enrolled - run.control and run.suppressed > 0
    assert len(db.outbox()) == run.queued
    assert {m.reason for m in db.outbox("suppressed")} != {None}
    report = db.campaign_report("spring-sale")
    assert report.record_type == "CampaignReport"
    due = db.run_due()
    assert due.record_type == "DueReport" and due.segments >= 0
