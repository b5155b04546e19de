-- Sample rows written by schema version 1, loaded into db/v1.db.
INSERT INTO parties (id, kind, name, name_key, stage, created_at, updated_at)
VALUES ('01900000-0000-7000-8000-000000000001', 'person', '老客户 Old Customer', '老客户 old customer',
        'stable', '2025-01-02T03:04:05.000000Z', '2025-01-02T03:04:05.000000Z');
INSERT INTO party_roles (party_id, role, since)
VALUES ('01900000-0000-7000-8000-000000000001', 'customer', '2025-01-02');
INSERT INTO external_ids (system, value, party_id)
VALUES ('erp', 'OLD-1', '01900000-0000-7000-8000-000000000001');
INSERT INTO contact_points (id, party_id, kind, value, normalized, created_at)
VALUES ('01900000-0000-7000-8000-000000000002', '01900000-0000-7000-8000-000000000001', 'email',
        'Old@Example.com', 'old@example.com', '2025-01-02T03:04:05.000000Z');
INSERT INTO interactions (id, party_id, channel, direction, at, subject, created_at)
VALUES ('01900000-0000-7000-8000-000000000003', '01900000-0000-7000-8000-000000000001', 'phone',
        'inbound', '2025-02-01T08:00:00.000000Z', '空调维修预约', '2025-02-01T08:00:00.000000Z');
INSERT INTO events (at, actor, entity, entity_id, kind, after)
VALUES ('2025-01-02T03:04:05.000000Z', 'app', 'party', '01900000-0000-7000-8000-000000000001',
        'party.created', '{}');
