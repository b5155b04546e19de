"""Property: what goes in comes back equal (hypothesis)."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crm

names = st.text(alphabet=string.ascii_letters + "张伟李娜王芳 -'.", min_size=1, max_size=40).filter(
    lambda s: s.strip() != ""
)
tags = st.lists(st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12), max_size=4, unique=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=names,
    kind=st.sampled_from(["person", "organization"]),
    roles=st.lists(st.sampled_from(["customer", "prospect", "distributor", "agent", "partner", "employee"]), unique=True),
    tags=tags,
    notes=st.one_of(st.none(), st.text(max_size=80)),
    language=st.sampled_from([None, "zh-CN", "en"]),
)
def test_a_party_reads_back_equal(
    db: crm.Crm, name: str, kind: str, roles: list[str], tags: list[str], notes: str | None, language: str | None
) -> None:
    created = db.create_party(name, kind=kind, roles=roles, tags=tags, notes=notes, language=language)
    stored = db.get_party(created.id)
    assert stored == created
    assert stored.name == name.strip() or stored.name == name
    assert sorted(stored.tags) == sorted(tags)
    assert sorted(r["role"] for r in stored.roles) == sorted(roles)
