"""security: API keys, the personal-data access log, petitioners encrypted at rest

Petitioners' name, phone, ID number and address become AES-256-GCM ciphertexts bound to
their row and field, phone and ID number also HMAC blind indexes; rows written before this
revision are re-written (with the keys of the environment that runs the migration:
GOV_PII_KEYS, GOV_PII_ACTIVE_KEY, GOV_PII_INDEX_KEY), then the plaintext columns are dropped.
The access log refuses UPDATE, DELETE and TRUNCATE in the database itself.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 21:30:53
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gov_common.security.audit import append_only_ddl
from petitions_api.cases.personal_data import PersonalData, Protector
from petitions_api.config import Settings

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
SEALED = (
    "name_ciphertext",
    "phone_ciphertext",
    "id_number_ciphertext",
    "address_ciphertext",
    "phone_index",
    "id_number_index",
)

_PETITIONERS = sa.table("petitioners", sa.column("case_id"), *(sa.column(c) for c in SEALED))


def _protector() -> Protector:
    return Protector.from_settings(Settings())


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("org_unit", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "personal_data_access_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access_log")),
    )
    for statement in append_only_ddl("personal_data_access_log"):
        op.execute(statement)

    # Petitioners: new columns (nullable until every row is sealed), seal, drop the plaintext.
    for name in SEALED:
        kind = sa.String(length=64) if name.endswith("_index") else sa.Text()
        op.add_column("petitioners", sa.Column(name, kind, nullable=True))
    _seal_existing_rows()
    op.alter_column("petitioners", "name_ciphertext", nullable=False)
    op.drop_index(op.f("ix_petitioners_id_number_key"), table_name="petitioners")
    op.drop_index(op.f("ix_petitioners_phone_key"), table_name="petitioners")
    for name in ("phone_key", "id_number_key", "name", "phone", "id_number", "address"):
        op.drop_column("petitioners", name)
    op.create_index(
        op.f("ix_petitioners_id_number_index"), "petitioners", ["id_number_index"], unique=False
    )
    op.create_index(
        op.f("ix_petitioners_phone_index"), "petitioners", ["phone_index"], unique=False
    )


def _seal_existing_rows() -> None:
    connection = op.get_bind()
    protector = None
    last = None
    while True:
        query = "SELECT case_id, name, phone, id_number, address FROM petitioners"
        params: dict[str, object] = {"batch": BATCH}
        if last is not None:
            query += " WHERE case_id > :last"
            params["last"] = last
        rows = connection.execute(sa.text(query + " ORDER BY case_id LIMIT :batch"), params).all()
        if not rows:
            return
        protector = protector or _protector()
        for case_id, name, phone, id_number, address in rows:
            sealed = protector.seal(case_id, PersonalData(name, phone, id_number, address))
            values = {column: getattr(sealed, column) for column in SEALED}
            connection.execute(
                sa.update(_PETITIONERS).where(_PETITIONERS.c.case_id == case_id).values(values)
            )
        last = rows[-1].case_id


def downgrade() -> None:
    # Back to plaintext (the earlier revisions' shape): only for rolling back a release.
    op.add_column("petitioners", sa.Column("name", sa.String(length=100), nullable=True))
    for name, length in (("phone", 40), ("id_number", 40), ("address", 300)):
        op.add_column("petitioners", sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column("petitioners", sa.Column("phone_key", sa.String(length=40), nullable=True))
    op.add_column("petitioners", sa.Column("id_number_key", sa.String(length=40), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT case_id, name_ciphertext, phone_ciphertext, id_number_ciphertext, "
            "address_ciphertext FROM petitioners"
        )
    ).all()
    protector = _protector() if rows else None
    for row in rows:
        assert protector is not None
        data = protector.open(
            row.case_id,
            name_ciphertext=row.name_ciphertext,
            phone_ciphertext=row.phone_ciphertext,
            id_number_ciphertext=row.id_number_ciphertext,
            address_ciphertext=row.address_ciphertext,
        )
        phone_key = "".join(c for c in data.phone if c.isdigit()) if data.phone else None
        connection.execute(
            sa.text(
                "UPDATE petitioners SET name = :name, phone = :phone, id_number = :id_number, "
                "address = :address, phone_key = :phone_key, id_number_key = :id_number_key "
                "WHERE case_id = :case_id"
            ),
            {
                "case_id": row.case_id,
                "name": data.name,
                "phone": data.phone,
                "id_number": data.id_number,
                "address": data.address,
                "phone_key": phone_key or None,
                "id_number_key": data.id_number.strip().upper() if data.id_number else None,
            },
        )
    op.alter_column("petitioners", "name", nullable=False)
    op.drop_index(op.f("ix_petitioners_phone_index"), table_name="petitioners")
    op.drop_index(op.f("ix_petitioners_id_number_index"), table_name="petitioners")
    for name in SEALED:
        op.drop_column("petitioners", name)
    op.create_index(op.f("ix_petitioners_phone_key"), "petitioners", ["phone_key"], unique=False)
    op.create_index(
        op.f("ix_petitioners_id_number_key"), "petitioners", ["id_number_key"], unique=False
    )
    op.execute("DROP TABLE personal_data_access_log")
    op.execute("DROP FUNCTION personal_data_access_log_append_only()")
    op.drop_table("api_keys")
