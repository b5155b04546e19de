"""Sales and service from Python: set-up, imports from columns, and the
reports (profit, pipeline, forecast, SLA, KPIs, customer summary)."""

from __future__ import annotations

import pandas as pd
import pytest

import crm

SETUP = {
    "calendars": [
        {"code": "cn", "time_zone": "Asia/Shanghai", "weekdays": ["09:00-12:00", "13:00-18:00"], "holidays": ["2026-10-01"]}
    ],
    "sla_policies": [
        {
            "code": "default",
            "name": "Std",
            "calendar": "cn",
            "targets": [{"priority": "high", "first_response_minutes": 60, "resolution_minutes": 480}],
        }
    ],
    "pipelines": [
        {
            "code": "b2b",
            "name": "B2B",
            "stages": [
                {"code": "qualify", "name_en": "Qualify", "name_zh": "资格确认", "probability": 10},
                {"code": "propose", "name_en": "Propose", "name_zh": "方案报价", "probability": 50},
            ],
        }
    ],
}


@pytest.fixture
def shop(db: crm.Crm) -> crm.Crm:
    report = db.setup(SETUP)
    assert (report.calendars, report.sla_policies, report.pipelines) == (1, 1, 1)
    db.import_columns("parties", {"external_id": ["erp:c1", "erp:s1"], "name": ["华东电器", "王芳"], "roles": ["customer", "employee"]})
    db.import_columns(
        "products",
        pd.DataFrame({"sku": ["AC"], "name_en": ["Air conditioner"], "name_zh": ["空调"], "unit_cost": ["1800"], "cost_currency": ["CNY"], "price.CNY": ["2999"]}),
    )
    report = db.import_columns(
        "orders",
        {
            "order": ["SO-1", "SO-1", "SO-2"],
            "party": ["erp:c1"] * 3,
            "currency": ["CNY"] * 3,
            "ordered_at": ["2026-03-01", "2026-03-01", "2026-05-10"],
            "owner": ["erp:s1"] * 3,
            "sku": ["AC"] * 3,
            "quantity": [2, 1, 1],
        },
    )
    assert report.created == 3, report.errors
    return db


def test_setup_errors_name_the_element(db: crm.Crm) -> None:
    bad = {"sla_policies": [{"code": "x", "name": "X", "calendar": "missing"}]}
    with pytest.raises(crm.ValidationError, match=r"sla_policies\[0\] \(x\)"):
        db.setup(bad)
    with pytest.raises(crm.ValidationError, match="unknown field `stagse`"):
        db.setup('{"pipelines": [{"code": "b", "name": "B", "stagse": []}]}')


def test_profit_and_kpis(shop: crm.Crm) -> None:
    rows = shop.profit_by_party(currency="CNY")
    assert len(rows) == 1 and rows[0].profit["revenue"] == {"amount": "11996.00", "currency": "CNY"}
    kpi = shop.kpi_report("2026-Q1", "CNY")
    assert kpi.rows[0]["revenue"]["amount"] == "8997.00"
    assert kpi.rows[0]["margin"]["amount"] == "3597.00"


def test_pipeline_forecast_and_sla(shop: crm.Crm) -> None:
    shop.import_columns(
        "opportunities",
        {
            "external_id": ["D1"],
            "party": ["erp:c1"],
            "pipeline": ["b2b"],
            "title": ["Chiller"],
            "amount": ["100000"],
            "currency": ["CNY"],
            "expected_close": ["2026-09-30"],
            "owner": ["erp:s1"],
            "stage": ["propose"],
        },
    )
    report = shop.pipeline_report("b2b", currency="CNY", as_of="2026-09-05")
    assert [r["weighted"]["amount"] for r in report[0].rows] == ["0.00", "50000.00"]
    forecast = shop.forecast("2026", unit="quarter", currency="CNY", as_of="2026-09-05")
    assert forecast and forecast[0].record_type == "ForecastRow"
    shop.import_columns(
        "cases",
        {
            "external_id": ["C1"],
            "party": ["erp:c1"],
            "type": ["repair"],
            "priority": ["high"],
            "channel": ["wechat"],
            "subject": ["空调不制冷"],
            "opened_at": ["2026-09-30 09:00"],
            "assignee": ["erp:s1"],
        },
    )
    sla = shop.sla_report("2026-09")
    assert sla.record_type == "SlaReport" and sla.rows[0]["cases"] == 1


def test_customer_summary_from_orders(shop: crm.Crm) -> None:
    summary = pd.DataFrame(shop.customer_summary("CNY", "2026-06-30"))
    assert list(summary["frequency"]) == [1.0]
    assert summary["party_id"][0] == shop.get_party("erp:c1").id


def test_lifecycle_churn_and_key_accounts(shop: crm.Crm) -> None:
    assignment = shop.assign_lifecycle_stages("CNY", today="2026-06-30")
    assert assignment.record_type == "LifecycleAssignment"
    assert shop.get_party("erp:c1").stage is not None
    causes = shop.churn_causes("2026")
    assert causes.record_type == "ChurnCauses"
    accounts = shop.key_accounts("CNY", accounts=["erp:c1"], today="2026-06-30")
    assert len(accounts) == 1 and accounts[0].record_type == "KeyAccount"


def test_quotes_orders_shipments_and_returns(shop: crm.Crm) -> None:
    quote = shop.create_quote("erp:c1", "CNY", "2026-12-31", [{"sku": "AC", "quantity": 2, "unit_price": "2800.00"}])
    assert quote.record_type == "Quote" and quote.status == "open"
    order = shop.accept_quote(quote.id)
    assert order.status == "confirmed" and order.lines[0]["unit_price"]["amount"] == "2800.00"
    shipment = shop.ship(order.id, [(1, 2)], carrier="SF Express")
    assert shipment.record_type == "Shipment"
    assert shop.get_order(order.id).status == "shipped"
    returned = shop.return_items(order.id, [(1, 1)])
    assert returned.lines[-1]["quantity"] == -1
    other = shop.create_quote("erp:c1", "CNY", "2026-12-31", [{"sku": "AC", "quantity": 1}])
    assert shop.reject_quote(other.id).status == "rejected"
    draft = shop.create_order("erp:c1", "CNY", [{"sku": "AC", "quantity": 1, "discount_bp": 500}], owner="erp:s1")
    assert draft.status == "draft" and draft.lines[0]["discount_bp"] == 500
    assert shop.set_order_status(draft.id, "confirmed").status == "confirmed"
    assert len(shop.orders_of("erp:c1")) == 4
    with pytest.raises(crm.ValidationError, match=r"lines\[0\].quantity"):
        shop.create_order("erp:c1", "CNY", [{"sku": "AC"}])
    with pytest.raises(crm.ValidationError):
        shop.ship(draft.id, [(1, 5)])


def test_opportunities_and_cases(shop: crm.Crm) -> None:
    shop.import_columns(
        "opportunities",
        {"external_id": ["D9"], "party": ["erp:c1"], "pipeline": ["b2b"], "title": ["Pumps"], "amount": ["5000"],
         "currency": ["CNY"], "expected_close": ["2026-09-30"], "stage": ["qualify"]},
    )
    [opportunity] = [e for e in shop.events_since(0, limit=10_000) if e.kind == "opportunity.created"]
    moved = shop.move_opportunity(opportunity.entity_id, "propose")
    assert moved.stage == "propose"
    with pytest.raises(crm.ValidationError, match="needs a reason"):
        shop.close_opportunity(moved.id, False)
    assert shop.close_opportunity(moved.id, False, reason="price").status == "lost"
    case = shop.open_case("erp:c1", "repair", "high", "wechat", "空调不制冷", sla_policy="default", assignee="erp:s1")
    assert case.record_type == "Case" and case.resolution_due is not None
    assert shop.respond_to_case(case.id).first_response_at is not None
    if shop.get_case(case.id).status == "new":
        shop.set_case_status(case.id, "open")
    assert shop.set_case_status(case.id, "waiting", note="parts ordered").status == "waiting"
    assert shop.assign_case(case.id, "erp:s1").assignee == shop.get_party("erp:s1").id
    rated = shop.rate_case(case.id, satisfaction=4)
    assert rated.satisfaction == 4 and shop.get_case(case.id) == rated
    assert [c.id for c in shop.cases("erp:c1")] == [case.id]


def test_workflows(db: crm.Crm) -> None:
    db.register_workflow_type(
        "app",
        {
            "name": "onboarding",
            "states": ["new", "verified", "done"],
            "initial": "new",
            "transitions": [
                {"name": "verify", "from": ["new"], "to": "verified", "required": ["document"]},
                {"name": "finish", "from": ["verified"], "to": "done"},
            ],
        },
    )
    p = db.create_party("Gao")
    instance = db.start_workflow("onboarding", "party", p.id, {"source": "web"})
    assert instance.state == "new"
    with pytest.raises(crm.ValidationError, match="document"):
        db.advance_workflow(instance.id, "verify")
    db.advance_workflow(instance.id, "verify", {"document": "ID card"})
    with pytest.raises(crm.ValidationError):
        db.advance_workflow(instance.id, "verify", {"document": "again"})
    done = db.advance_workflow(instance.id, "finish")
    current, steps = db.get_workflow(instance.id)
    assert current == done and current.state == "done" and len(steps) >= 2
