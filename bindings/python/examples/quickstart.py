"""A first look at crm from Python (type-checked with mypy --strict, run by
the tests)."""

from __future__ import annotations

import pandas as pd

import crm


def main(path: str = ":memory:") -> pd.DataFrame:
    db = crm.Crm.memory() if path == ":memory:" else crm.Crm(path)
    lin = db.create_party("林 Lin", roles=["customer"], email="lin@example.com", external_ids=["erp:C-1"])
    with db.transaction():
        db.add_tag(lin.id, "vip")
        db.record_interaction(lin.id, "phone", "outbound", "Follow-up on the quote")
    print(db.get_party("erp:C-1"))

    log = crm.load_cdnow()
    summary = crm.summarize(log["customer"], log["date"], log["amount"], "1997-09-30")
    model, info = crm.BgNbd.fit(summary["frequency"], summary["recency"], summary["T"])
    print(model, f"log-likelihood {info.log_likelihood:.1f}")
    scores = model.score(summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"])
    frame = pd.DataFrame({"customer": summary["customer"], **scores})
    print(frame.sort_values("clv", ascending=False).head())
    return frame


if __name__ == "__main__":
    main()
