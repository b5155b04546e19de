"""``crm``: an embeddable customer-relationship-management library.

Open a database, keep customers, their contact points and consent,
relationships, interactions, orders, cases, loyalty and campaigns in it,
and analyse them — the purchase models of the CLV literature included::

    import crm

    db = crm.Crm("customers.db")           # or crm.Crm.memory()
    lin = db.create_party("林 Lin", roles=["customer"], email="lin@example.com")
    with db.transaction():
        db.add_tag(lin.id, "vip")
        db.record_interaction(lin.id, "phone", "outbound", "Follow-up")

    log = crm.load_cdnow()
    s = crm.summarize(log["customer"], log["date"], log["amount"], "1997-09-30")
    model, info = crm.BgNbd.fit(s["frequency"], s["recency"], s["T"])

Records come back as immutable :class:`Record` objects; bulk results as
dicts of numpy arrays (``pandas.DataFrame(result)`` works). Errors are the
classes of :mod:`crm.exceptions`, all under :class:`CrmError`.
"""

from __future__ import annotations

from crm._crm import (
    SCHEMA_VERSION,
    BgBb,
    BgNbd,
    Crm,
    GammaGamma,
    MbgNbd,
    ParetoNbd,
    Record,
    Transaction,
    load_cdnow,
    rfm,
    summarize,
    version,
)
from crm.exceptions import (
    ConflictError,
    CorruptDatabaseError,
    CrmError,
    IncompatibleVersionError,
    InputError,
    InternalError,
    NotFoundError,
    PluginError,
    StorageError,
    ValidationError,
)

__version__ = version()

__all__ = [
    "SCHEMA_VERSION",
    "BgBb",
    "BgNbd",
    "ConflictError",
    "CorruptDatabaseError",
    "Crm",
    "CrmError",
    "GammaGamma",
    "IncompatibleVersionError",
    "InputError",
    "InternalError",
    "MbgNbd",
    "NotFoundError",
    "ParetoNbd",
    "PluginError",
    "Record",
    "StorageError",
    "Transaction",
    "ValidationError",
    "load_cdnow",
    "rfm",
    "summarize",
    "version",
]
